"""The continuous-batching scheduler keeps every step inside the plan's M domains."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from jitwarm.server._scheduler import Scheduler, Sequence
from jitwarm.server._warmup import dense_sweep_m_values


def _drain(sched: Scheduler, *, token: int = 7) -> list:
    steps = []
    while sched.has_work():
        step = sched.next_step()
        assert step is not None
        steps.append(step)
        sched.commit(step, [token if i.wants_token else None for i in step.items])
    return steps


@settings(max_examples=60, deadline=None)
@given(
    prompts=st.lists(st.tuples(st.integers(1, 300), st.integers(1, 6)), min_size=1, max_size=30),
    budget=st.integers(1, 128),
    max_seqs=st.integers(1, 8),
)
def test_steps_stay_inside_the_planned_domains(prompts, budget, max_seqs):
    sched = Scheduler(max_batched_tokens=budget, max_running_seqs=max_seqs)
    seqs = [Sequence(i, [i % 256] * length, out) for i, (length, out) in enumerate(prompts)]
    for s in seqs:
        sched.add(s)
    steps = _drain(sched)
    for step in steps:
        if step.phase == "prefill":
            assert 1 <= step.rows <= budget
        else:
            assert 1 <= step.rows <= max_seqs
    # every prompt token is prefilled exactly once, in order, and every sequence gets its tokens
    fed: dict[int, list[int]] = {s.rid: [] for s in seqs}
    for step in steps:
        if step.phase == "prefill":
            for item in step.items:
                fed[item.seq.rid] += item.tokens
    assert all(fed[s.rid] == s.prompt for s in seqs)
    assert all(len(s.output) == s.max_tokens for s in seqs)


def test_decode_and_prefill_alternate_when_both_wait():
    sched = Scheduler(max_batched_tokens=4, max_running_seqs=4)
    sched.add(Sequence(1, [1], 5))
    step = sched.next_step()
    sched.commit(step, [9])
    sched.add(Sequence(2, [1, 2, 3, 4, 5, 6, 7, 8], 2))
    phases = []
    for _ in range(4):
        step = sched.next_step()
        phases.append(step.phase)
        sched.commit(step, [9 if i.wants_token else None for i in step.items])
    assert phases == ["decode", "prefill", "decode", "prefill"]


def test_a_finished_prefill_with_one_token_never_decodes():
    sched = Scheduler(max_batched_tokens=16, max_running_seqs=4)
    sched.add(Sequence(1, [1, 2, 3], 1))
    steps = _drain(sched)
    assert [s.phase for s in steps] == ["prefill"]


def test_dense_sweep_is_the_seeds():
    ms = dense_sweep_m_values(8192)
    assert ms[:3] == [1, 2, 3] and 2048 in ms and 2049 not in ms
    assert ms[2048:2051] == [2064, 2080, 2096] and ms[-1] == 8192
    assert dense_sweep_m_values(100) == list(range(1, 101))
