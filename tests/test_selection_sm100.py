"""Properties of the SM100 model that the oracle comparisons do not cover: partitioning costs one
heuristic evaluation per constant-choice bucket (or per mega-MoE piece, by bisection), never one
per M value, and bad problems are one clear error."""

from __future__ import annotations

import math

import pytest

from jitwarm.errors import ConfigError
from jitwarm.mset import MSet
from jitwarm.selection import _sm100 as sm100
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


def _counting(monkeypatch: pytest.MonkeyPatch, name: str) -> list[int]:
    calls: list[int] = []
    real = getattr(sm100, name)

    def wrapper(*args):
        calls.append(1)
        return real(*args)

    monkeypatch.setattr(sm100, name, wrapper)
    return calls


@pytest.mark.parametrize("multiple", [1, 3, 32])
def test_partition_evaluates_once_per_bucket_not_per_m(monkeypatch, multiple) -> None:
    problem = SM100GemmProblem(GemmType.NORMAL, n=7168, k=2048, block_m_multiple_of=multiple)
    m_max = 200_000
    calls = _counting(monkeypatch, "_choose")
    parts = partition_m_sm100(problem, MSet.span(1, m_max))
    assert len(calls) <= m_max // 16 + 3  # buckets at least 16 wide, plus the regime cuts
    assert sum(len(MSet.from_ranges(r) & MSet.span(1, m_max)) for _, r in parts) == m_max
    monkeypatch.undo()
    for m in (1, 31, 32, 33, 64, 65, 4097, m_max):  # each M sits in its own kernel's ranges
        config = select_sm100(problem, m)
        assert any(c == config and m in MSet.from_ranges(r) for c, r in parts)


def test_partition_of_a_list_equals_that_of_ranges() -> None:
    problem = SM100GemmProblem(GemmType.BATCHED, n=1024, k=4096, num_groups=2)
    values = [1, 2, 17, 63, 64, 65, 129, 1000, 1001, 8191]
    assert partition_m_sm100(problem, values) == partition_m_sm100(problem, MSet.of(values))


def test_mega_moe_partition_bisects_pieces(monkeypatch) -> None:
    problem = MegaMoEProblem(num_ranks=8, num_experts=256, num_topk=8)
    rules = sm100_rules("sm100-2.8.2")
    width = 1 << 16
    pieces = len({sm100._mega_piece(problem, t) for t in range(1, width + 1)})
    calls = _counting(monkeypatch, "_mega_piece")
    parts = partition_tokens_mega_moe(problem, MSet.span(1, width), rules)
    assert len(calls) <= pieces * (math.log2(width) + 2) < width / 20
    monkeypatch.undo()
    for t in (1, 10, 100, 1000, 5000, width):
        config = select_mega_moe(problem, t, rules)
        assert any(c == config and t in MSet.from_ranges(r) for c, r in parts)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"num_sms": 147},
        {"a_dtype": "fp16"},
        {"a_dtype": "bf16", "b_dtype": "fp8"},
        {"out_dtype": "fp8"},
        {"gemm_type": GemmType.M_GROUPED_CONTIGUOUS, "mk_alignment": 0},
    ],
)
def test_bad_problems_are_config_errors(kwargs) -> None:
    base = {"gemm_type": GemmType.NORMAL, "n": 4096, "k": 7168}
    with pytest.raises(ConfigError):
        SM100GemmProblem(**{**base, **kwargs})


def test_unknown_model_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="no SM100 selection model"):
        sm100_rules("sm100-9.9")
