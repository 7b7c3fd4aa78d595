"""jitwarm's SM100 selection model against DeepGEMM's own SM100 heuristics (the oracle: the
pinned 2.8.0 and 2.8.2 wheels' headers compiled on this CPU). A CI-sized sample here; the full
run (over 1,000,000 points per build) is benchmarks/oracle_sm100.py, its result committed in
benchmarks/results/oracle-sm100.json."""

from __future__ import annotations

import random

import pytest

from _oracle import (
    answer_fields,
    mega_fields,
    mega_query,
    oracle_for,
    random_m,
    random_mega_problem,
    random_sm100_problem,
    sm100_fields,
    sm100_query,
)
from jitwarm.errors import ConfigError
from jitwarm.mset import MSet
from jitwarm.selection._sm90 import GemmType
from jitwarm.selection._sm100 import (
    MegaMoEProblem,
    SM100GemmProblem,
    partition_m_sm100,
    partition_tokens_mega_moe,
    select_mega_moe,
    select_sm100,
    sm100_rules,
)

BUILDS = {"2.8.0": "sm100-2.8.0", "2.8.2": "sm100-2.8.2"}


def _gemm_mismatches(oracle, points: list[tuple[SM100GemmProblem, int]]) -> list[str]:
    answers = oracle.ask([sm100_query(p, m) for p, m in points])
    wrong = []
    for (p, m), answer in zip(points, answers, strict=True):
        try:
            mine: tuple | str = sm100_fields(select_sm100(p, m), p.num_sms)
        except ConfigError as exc:
            mine = f"err {exc}"
        theirs = answer_fields(answer)
        if mine != theirs and not (isinstance(mine, str) and isinstance(theirs, str)):
            wrong.append(f"{p} M={m}: jitwarm {mine}, DeepGEMM {answer}")
    return wrong


@pytest.mark.parametrize("build", BUILDS)
def test_gemm_choice_matches_the_library_on_random_points(build) -> None:
    oracle = oracle_for(build)
    rng = random.Random(100)
    points = []
    for _ in range(1500):
        problem = random_sm100_problem(rng)
        points += [(problem, random_m(rng)) for _ in range(20)]
    wrong = _gemm_mismatches(oracle, points)
    assert not wrong, f"{len(wrong)} of {len(points)} differ, first: " + "; ".join(wrong[:3])


@pytest.mark.parametrize("build", BUILDS)
def test_partition_matches_the_library_at_every_m(build) -> None:
    """partition_m_sm100 (one evaluation per bucket) against the library at every M."""
    oracle = oracle_for(build)
    rng = random.Random(7)
    points, expected = [], []
    for _ in range(12):
        problem = random_sm100_problem(rng)
        m_values = MSet.span(1, 3000) | MSet.span(60_000, 61_000)
        start = len(points)
        for config, ranges in partition_m_sm100(problem, m_values):
            # Ranges span runs of given values: they hold only given M once intersected.
            for m in MSet.from_ranges(ranges) & m_values:
                points.append((problem, m))
                expected.append(sm100_fields(config, problem.num_sms))
        assert len(points) - start == len(m_values)  # every given M in exactly one kernel
    answers = oracle.ask([sm100_query(p, m) for p, m in points])
    wrong = [
        f"{p} M={m}" for (p, m), a, e in zip(points, answers, expected, strict=True)
        if answer_fields(a) != e
    ]  # fmt: skip
    assert not wrong, f"{len(wrong)} of {len(points)} differ, first: {wrong[:3]}"


@pytest.mark.parametrize("build", BUILDS)
def test_mega_moe_block_config_matches_the_library(build) -> None:
    oracle = oracle_for(build)
    rules = sm100_rules(BUILDS[build])
    rng = random.Random(4)
    points = []
    for _ in range(300):
        problem = random_mega_problem(rng)
        points += [(problem, rng.randint(0, 1 << 15)) for _ in range(30)]
    answers = oracle.ask([mega_query(p, t) for p, t in points])
    wrong = [
        f"{p} tokens={t}: jitwarm {mega_fields(select_mega_moe(p, t, rules))}, DeepGEMM {a}"
        for (p, t), a in zip(points, answers, strict=True)
        if answer_fields(a) != mega_fields(select_mega_moe(p, t, rules))
    ]
    assert not wrong, f"{len(wrong)} of {len(points)} differ, first: " + "; ".join(wrong[:3])


@pytest.mark.parametrize("build", BUILDS)
def test_mega_moe_partition_matches_the_library_at_every_token_count(build) -> None:
    oracle = oracle_for(build)
    rules = sm100_rules(BUILDS[build])
    problem = MegaMoEProblem(num_ranks=4, num_experts=256, num_topk=6)  # V4-Flash, EP 4
    parts = partition_tokens_mega_moe(problem, MSet.span(1, 16384), rules)
    points = [(t, c) for c, ranges in parts for t in MSet.from_ranges(ranges) & MSet.span(1, 16384)]
    answers = oracle.ask([mega_query(problem, t) for t, _ in points])
    assert [answer_fields(a) for a in answers] == [mega_fields(c) for _, c in points]
    assert len(points) == 16384


def test_grouped_layouts_do_not_depend_on_m() -> None:
    """The library's one grouped layout (checked against it above): one kernel for any M."""
    for gemm_type in (GemmType.M_GROUPED_CONTIGUOUS, GemmType.M_GROUPED_MASKED):
        problem = SM100GemmProblem(gemm_type, n=4096, k=7168, num_groups=64, b_dtype="fp4")
        assert len(partition_m_sm100(problem, MSet.span(1, 100_000))) == 1
