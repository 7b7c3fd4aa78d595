"""The SM90 selection model against kernels captured from DeepGEMM on an H100, plus properties."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import jitwarm
from _data import SM90_H100_GROUND_TRUTH
from jitwarm.selection import _sm90 as sm90
from jitwarm.selection._sm90 import (
    GemmProblem,
    GemmType,
    KernelType,
    SM90KernelConfig,
    partition_m_sm90,
    select_sm90,
)

GROUND_TRUTH = SM90_H100_GROUND_TRUTH


def _load_ground_truth() -> dict | None:
    if not GROUND_TRUTH.is_file():
        return None
    return json.loads(GROUND_TRUTH.read_text())


GT = _load_ground_truth()


@pytest.fixture
def gt() -> dict:
    if GT is None:
        pytest.skip(f"SM90 ground truth not found at {GROUND_TRUTH} (lives outside the repo)")
    return GT


def _fp8_nt(n: int, k: int) -> GemmProblem:
    return GemmProblem(GemmType.NORMAL, KernelType.K1D2D, n, k)


# Families in `other_families` that are SM90 GEMMs: key in the data -> (problem, M).
# fp8_einsum "bhr,hdr->bhd" is a batched 1D2D GEMM with h groups, N = d, K = r (h=16, d=128,
# r=512 in the capture).
_CONTIG = GemmProblem(GemmType.M_GROUPED_CONTIGUOUS, KernelType.K1D2D, 4096, 7168, num_groups=8)
_MASKED = GemmProblem(GemmType.M_GROUPED_MASKED, KernelType.K1D2D, 4096, 7168, num_groups=8)
_EINSUM = GemmProblem(GemmType.BATCHED, KernelType.K1D2D, 128, 512, num_groups=16)


def _bf16_point(key: str) -> tuple[GemmProblem, int]:
    m, _, suffix = key.partition("_")
    out = {"": "bf16", "fp32out": "fp32"}[suffix]
    return GemmProblem(GemmType.NORMAL, KernelType.NO_SF, 4096, 7168, out_dtype=out), int(m)


FAMILIES: dict[str, Callable[[str], tuple[GemmProblem, int]]] = {
    "m_grouped_contig": lambda key: (_CONTIG, int(key)),
    "m_grouped_masked": lambda key: (_MASKED, int(key)),
    "bf16_gemm_nt": _bf16_point,
    "fp8_einsum": lambda key: (_EINSUM, int(key)),
}
# Not GEMM selection (fixed per shape, or not captured): out of this model's scope.
UNMODELLED = {"tf32_hc", "paged_meta", "mqa_logits", "paged_mqa_logits"}


@dataclass(frozen=True)
class _Point:
    problem: GemmProblem
    m: int
    kernel: str  # hash of the generated source
    template_args: str


def _check_points(points: list[_Point]) -> None:
    """Every point renders verbatim, and the model's partition groups M values exactly as the
    captured kernel hashes do."""
    wrong = [
        (p.problem, p.m, got, p.template_args)
        for p in points
        if (got := select_sm90(p.problem, p.m).template_args(p.problem)) != p.template_args
    ]
    assert not wrong, f"{len(wrong)} points differ, first: {wrong[0]}"

    model_kernel: dict[tuple[GemmProblem, int], tuple[GemmProblem, int]] = {}
    for problem in {p.problem for p in points}:
        ms = sorted(p.m for p in points if p.problem == problem)
        for index, (_, ranges) in enumerate(partition_m_sm90(problem, ms)):
            for m in ms:
                if any(lo <= m <= hi for lo, hi in ranges):
                    assert (problem, m) not in model_kernel, f"M={m} in two kernels"
                    model_kernel[problem, m] = (problem, index)
    assert len(model_kernel) == len(points), "partition lost some M values"

    # Same model kernel <=> same captured kernel: the pairing must be one-to-one.
    by_model: dict[tuple[GemmProblem, int], set[str]] = {}
    by_hash: dict[str, set[tuple[GemmProblem, int]]] = {}
    for p in points:
        kernel = model_kernel[p.problem, p.m]
        by_model.setdefault(kernel, set()).add(p.kernel)
        by_hash.setdefault(p.kernel, set()).add(kernel)
    split = {h: ks for h, ks in by_hash.items() if len(ks) > 1}
    merged = {k: hs for k, hs in by_model.items() if len(hs) > 1}
    assert not split, f"one captured kernel split by the model: {split}"
    assert not merged, f"captured kernels merged by the model: {merged}"


@pytest.mark.parametrize("shape", sorted(GT["fp8_gemm_nt"]) if GT else ["(no data)"])
def test_fp8_gemm_nt_matches_capture(gt: dict, shape: str) -> None:
    n, k = map(int, shape.split("x"))
    problem = _fp8_nt(n, k)
    points = [
        _Point(problem, int(m), v["kernel"], v["template_args"])
        for m, v in gt["fp8_gemm_nt"][shape].items()
    ]
    assert len(points) == 287  # 1..32 and 64j, 64j+1 up to 8192
    _check_points(points)


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_other_family_matches_capture(gt: dict, family: str) -> None:
    points = []
    for key, v in gt["other_families"][family]["points"].items():
        assert v["error"] is None, f"{family} {key}: {v['error']}"
        problem, m = FAMILIES[family](key)
        points.append(_Point(problem, m, v["kernel"], v["template_args"]))
    assert points
    _check_points(points)


def test_every_captured_family_is_modelled_or_listed(gt: dict) -> None:
    assert set(gt["other_families"]) == set(FAMILIES) | UNMODELLED
    assert gt["num_sms"] == 132


def test_known_distinct_kernel_counts(gt: dict) -> None:
    # README: distinct kernels over M = 1..8192 per shape.
    expected = {"4096x7168": 19, "2112x7168": 24, "24576x1536": 7, "7168x16384": 13, "32768x512": 6}
    for shape, count in expected.items():
        n, k = map(int, shape.split("x"))
        assert len(partition_m_sm90(_fp8_nt(n, k), range(1, 8193))) == count, shape


# -- properties ---------------------------------------------------------------------------------


@st.composite
def problems(draw: st.DrawFn) -> GemmProblem:
    gemm_type = draw(st.sampled_from(list(GemmType)))
    kinds = [KernelType.K1D2D, KernelType.NO_SF]
    if gemm_type is not GemmType.M_GROUPED_MASKED:
        kinds.append(KernelType.K1D1D)
    kernel_type = draw(st.sampled_from(kinds))
    out = "bf16" if kernel_type is KernelType.K1D2D else draw(st.sampled_from(["bf16", "fp32"]))
    dims = [128, 512, 576, 1536, 2112, 4096, 7168, 16384, 24576]
    return GemmProblem(
        gemm_type,
        kernel_type,
        n=draw(st.one_of(st.sampled_from(dims), st.integers(1, 70_000))),
        k=draw(st.one_of(st.sampled_from(dims), st.integers(1, 20_000))),
        num_groups=draw(st.integers(1, 64)),
        out_dtype=out,
        num_sms=draw(st.sampled_from([132, 114, 78, 16, 2])),
        mk_alignment=draw(st.sampled_from([64, 128, 256])),
        with_accumulation=draw(st.booleans()),
        block_n_multiple_of=draw(st.sampled_from([1, 2, 8, 32, 48])),
    )


m_sets = st.lists(
    st.one_of(st.integers(1, 80), st.integers(1, 9000), st.integers(1, 140_000)),
    min_size=1,
    max_size=40,
)


@settings(max_examples=150, deadline=None)
@given(problem=problems(), ms=m_sets)
def test_partition_covers_each_m_once_and_agrees_with_select(
    problem: GemmProblem, ms: list[int]
) -> None:
    parts = partition_m_sm90(problem, ms)
    values = sorted(set(ms))
    configs = [config for config, _ in parts]
    assert len(set(configs)) == len(configs)
    owner: dict[int, SM90KernelConfig] = {}
    spans = sorted((lo, hi, config) for config, ranges in parts for lo, hi in ranges)
    for (_, hi, _), (lo, _, _) in itertools.pairwise(spans):
        assert hi < lo  # ranges are disjoint
    for lo, hi, config in spans:
        assert lo in values and hi in values and lo <= hi
        for m in values:
            if lo <= m <= hi:
                assert m not in owner
                owner[m] = config
    assert sorted(owner) == values
    for m in values:  # the pruned search equals the exhaustive one
        assert owner[m] == select_sm90(problem, m), m
    firsts = [min(lo for lo, _ in ranges) for _, ranges in parts]
    assert firsts == sorted(firsts)


def _bucket(problem: GemmProblem, m: int) -> tuple[int, int]:
    """The M interval on which the facts say the choice is constant."""
    floor = 1
    if problem.gemm_type is GemmType.M_GROUPED_CONTIGUOUS:
        step = problem.mk_alignment
    elif problem.gemm_type is GemmType.M_GROUPED_MASKED:
        step = 64
    elif m <= 16:
        return 1, 16
    elif m <= 32:
        return 17, 32
    else:
        step, floor = 64, 33
    q = -(-m // step)
    return max(floor, (q - 1) * step + 1), q * step


@settings(max_examples=150, deadline=None)
@given(problem=problems(), m=st.integers(1, 140_000))
def test_choice_is_constant_on_its_bucket(problem: GemmProblem, m: int) -> None:
    lo, hi = _bucket(problem, m)
    assert lo <= m <= hi
    assert select_sm90(problem, lo) == select_sm90(problem, m) == select_sm90(problem, hi)


@dataclass(frozen=True)
class _Ranges:  # the duck type partition_m_sm90 accepts (jitwarm.mset.MSet has it)
    ranges: tuple[tuple[int, int], ...]


@settings(max_examples=60, deadline=None)
@given(problem=problems(), ms=m_sets)
def test_input_forms_agree(problem: GemmProblem, ms: list[int]) -> None:
    expected = partition_m_sm90(problem, sorted(set(ms)))
    assert partition_m_sm90(problem, list(reversed(ms)) + ms) == expected
    assert partition_m_sm90(problem, _Ranges(tuple((m, m) for m in ms))) == expected
    lo, hi = min(ms), max(ms)
    dense = partition_m_sm90(problem, range(lo, hi + 1))
    assert dense == partition_m_sm90(problem, list(range(lo, hi + 1)))
    assert dense == partition_m_sm90(
        problem, _Ranges(((lo, (lo + hi) // 2), ((lo + hi) // 2 + 1, hi)))
    )


def test_rejects_m_below_one() -> None:
    problem = _fp8_nt(4096, 7168)
    with pytest.raises(ValueError):
        select_sm90(problem, 0)
    with pytest.raises(ValueError):
        partition_m_sm90(problem, [0, 5])
    assert partition_m_sm90(problem, []) == []


def test_unbaked_dims_render_as_zero() -> None:
    problem = GemmProblem(GemmType.NORMAL, KernelType.K1D2D, 4096, 7168, compiled_dims="")
    args = select_sm90(problem, 1).template_args(problem).split(", ")
    assert args[1:4] == ["0", "0", "0"]


def test_partition_evaluates_once_per_bucket(monkeypatch: pytest.MonkeyPatch) -> None:
    # One heuristic evaluation per 64-wide bucket, not per M (per-M takes tens of seconds).
    calls = 0
    real = sm90._select_pruned

    def counting(regime: object, m: int) -> SM90KernelConfig:
        nonlocal calls
        calls += 1
        return real(regime, m)

    monkeypatch.setattr(sm90, "_select_pruned", counting)
    parts = partition_m_sm90(_fp8_nt(4096, 7168), list(range(1, 131_073)))
    assert sum(hi - lo + 1 for _, ranges in parts for lo, hi in ranges) == 131_072
    assert calls <= 2 + 131_072 // 64 + 1


def test_model_imports_neither_torch_nor_numpy() -> None:
    code = (
        "import sys, jitwarm.selection._sm90 as s; "
        "assert not {'torch', 'numpy', 'deep_gemm'} & set(sys.modules), sorted(sys.modules)"
    )
    src = str(Path(jitwarm.__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}
    subprocess.run([sys.executable, "-c", code], check=True, env=env)
