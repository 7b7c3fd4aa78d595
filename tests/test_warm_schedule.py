"""The scheduler: longest first, and never two workers on one known kernel."""

from hypothesis import given
from hypothesis import strategies as st
from tests._warm_items import work_item

from jitwarm.warmer._items import WorkItem
from jitwarm.warmer._schedule import Scheduler


def item(i: int, est: float, key: str | None) -> WorkItem:
    return work_item(i, (i + 1,), key, est)


def test_longest_first_ties_by_id() -> None:
    s = Scheduler([item(0, 1.0, "a"), item(1, 5.0, "b"), item(2, 3.0, "c"), item(3, 5.0, "d")])
    order = []
    while (nxt := s.take()) is not None:
        order.append(nxt.item_id)
    assert order == [1, 3, 2, 0]


def test_same_kernel_waits_until_the_first_finishes() -> None:
    s = Scheduler([item(0, 9.0, "k"), item(1, 8.0, "k"), item(2, 1.0, None)])
    first = s.take()
    assert first is not None and first.item_id == 0
    second = s.take()  # item 1 shares kernel "k" with the running item 0: skipped
    assert second is not None and second.item_id == 2
    assert s.take() is None and s.pending == 1
    s.finish(0)
    third = s.take()
    assert third is not None and third.item_id == 1
    s.finish(1)
    s.finish(2)
    assert s.done


def test_unknown_kernels_run_side_by_side() -> None:
    s = Scheduler([item(i, 1.0, None) for i in range(3)])
    assert [s.take() is not None for _ in range(3)] == [True, True, True]


@given(
    keys=st.lists(st.sampled_from(["a", "b", "c", None]), min_size=1, max_size=30),
    workers=st.integers(1, 6),
    seed=st.randoms(use_true_random=False),
)
def test_simulated_workers_never_share_a_kernel(keys: list[str | None], workers: int, seed) -> None:  # type: ignore[no-untyped-def]
    s = Scheduler([item(i, float(seed.randint(1, 9)), k) for i, k in enumerate(keys)])
    running: list[WorkItem] = []
    done: list[int] = []
    while not s.done:
        while len(running) < workers and (nxt := s.take()) is not None:
            live = [r.kernel_key for r in running if r.kernel_key is not None]
            assert nxt.kernel_key is None or nxt.kernel_key not in live
            running.append(nxt)
        assert running, "scheduler stalled with items pending"
        finished = running.pop(seed.randrange(len(running)))
        s.finish(finished.item_id)
        done.append(finished.item_id)
    assert sorted(done) == list(range(len(keys)))
