"""jitwarm's SM90 selection model against DeepGEMM's own SM90 heuristic (the oracle: the pinned
2.8.0 and 2.8.2 wheels' headers compiled on this CPU): every exact entry of every preset's plan
at every reachable M, and random shapes, SM counts and block-size multiples."""

from __future__ import annotations

import random

import pytest

from _oracle import gemm_query, launcher_desc, oracle_for, parse_gemm_answer
from jitwarm.errors import ConfigError
from jitwarm.models._loader import list_presets, load_model
from jitwarm.plan import Selection, plan_serving
from jitwarm.plan._select import sm90_problem
from jitwarm.selection._sm90 import GemmProblem, GemmType, KernelType, SM90KernelConfig, select_sm90
from jitwarm.serving import ServingConfig

BUILDS = ("2.8.0", "2.8.2")
_DTYPES = {KernelType.K1D2D: "fp8", KernelType.K1D1D: "fp8", KernelType.NO_SF: "bf16"}


def _query(problem: GemmProblem, m: int) -> str:
    p = problem
    desc_m, expected_m, expected_groups = launcher_desc(p.gemm_type.value, m, p.num_groups)
    ab = _DTYPES[p.kernel_type]
    return gemm_query(
        "sm90",
        p.gemm_type.value,
        p.kernel_type.value,
        desc_m,
        p.n,
        p.k,
        p.num_groups,
        (ab, ab, p.out_dtype),
        p.num_sms,
        expected_m=expected_m,
        expected_groups=expected_groups,
        alignment=p.mk_alignment,
        block_n_multiple_of=p.block_n_multiple_of,
        with_accumulation=p.with_accumulation,
    )


def _as_model(answer: str) -> tuple:
    """The oracle's answer in the model's terms (cluster (1, 2) multicasts A)."""
    f = parse_gemm_answer(answer)
    return (
        f["block_m"],
        f["block_n"],
        f["block_k"],
        f["num_stages"],
        f["cluster_m"] * f["cluster_n"],
        f["cluster_n"] > 1,
        f["swizzle_a"],
        f["swizzle_b"],
        f["swizzle_cd"],
        f["num_tma_threads"],
        f["num_math_threads"],
        f["smem_size"],
    )


def _of(config: SM90KernelConfig) -> tuple:
    c = config
    return (
        c.block_m,
        c.block_n,
        c.block_k,
        c.num_stages,
        c.multicast,
        c.multicast_on_a,
        c.swizzle_a_bytes,
        c.swizzle_b_bytes,
        c.swizzle_d_bytes,
        c.num_tma_threads,
        c.num_math_threads,
        c.smem_bytes,
    )


def _compare(oracle, points: dict[tuple[GemmProblem, int], tuple]) -> None:
    items = list(points.items())
    answers = oracle.ask([_query(p, m) for (p, m), _ in items])
    wrong = [
        f"{p} M={m}: jitwarm {mine}, DeepGEMM {answer}"
        for ((p, m), mine), answer in zip(items, answers, strict=True)
        if _as_model(answer) != mine
    ]
    assert not wrong, f"{len(wrong)} of {len(items)} points differ, first: " + "; ".join(wrong[:3])


def _serving_configs():
    for tp in (1, 2, 4, 8):
        for ep in sorted({1, tp}):
            for draft in (0, 1):
                yield {"tp": tp, "ep": ep, "spec_draft_tokens": draft, "max_batched_tokens": 8192}


def _preset_points() -> dict[tuple[GemmProblem, int], tuple]:
    """(problem, M) -> the config the plan assigned, for every exact entry of every preset plan."""
    points: dict[tuple[GemmProblem, int], tuple] = {}
    for name in list_presets():
        model = load_model(name)
        for serving in _serving_configs():
            try:
                cfg = ServingConfig.build(**serving)
                plan = plan_serving(model, cfg)
            except ConfigError:
                continue  # a shape that cannot be sharded this way
            for e in plan.entries:
                if e.selection is not Selection.EXACT:
                    continue
                problem = sm90_problem(
                    e.family,
                    e.n,
                    e.k,
                    e.num_groups,
                    e.conventions,
                    num_sms=plan.num_sms,
                    mk_alignment=cfg.mk_alignment,
                )
                assert problem is not None
                for kernel in e.kernels or ():
                    mine = _of(SM90KernelConfig(**kernel.params))
                    for lo, hi in kernel.m_ranges:
                        for m in range(lo, hi + 1):
                            points[problem, m] = mine
    return points


@pytest.fixture(scope="module")
def preset_points() -> dict[tuple[GemmProblem, int], tuple]:
    return _preset_points()


@pytest.mark.parametrize("build", BUILDS)
def test_every_preset_plan_entry_at_every_m_matches_the_library(build, preset_points) -> None:
    oracle = oracle_for(build)
    assert len(preset_points) > 100_000  # every M of every entry, not a sample
    _compare(oracle, preset_points)


def _random_problem(rng: random.Random) -> GemmProblem:
    gemm_type = rng.choice(list(GemmType))
    kernel_type = rng.choice(
        [KernelType.K1D2D, KernelType.K1D2D, KernelType.K1D1D, KernelType.NO_SF]
    )
    if gemm_type is GemmType.M_GROUPED_MASKED and kernel_type is KernelType.K1D1D:
        kernel_type = KernelType.K1D2D
    out = "bf16" if kernel_type is KernelType.K1D2D else rng.choice(["bf16", "fp32"])
    return GemmProblem(
        gemm_type=gemm_type,
        kernel_type=kernel_type,
        n=16 * rng.randint(1, 1024),
        k=128 * rng.randint(1, 64),
        num_groups=1 if gemm_type is GemmType.NORMAL else rng.randint(1, 64),
        out_dtype=out,
        num_sms=2 * rng.randint(4, 80),
        mk_alignment=rng.choice([64, 128, 256]),
        with_accumulation=kernel_type is KernelType.NO_SF and rng.random() < 0.3,
        block_n_multiple_of=rng.choice([1, 1, 2, 8, 32, 48]),
    )


@pytest.mark.parametrize("build", BUILDS)
def test_random_shapes_sm_counts_and_multiples_match_the_library(build) -> None:
    oracle = oracle_for(build)
    rng = random.Random(90)
    points: dict[tuple[GemmProblem, int], tuple] = {}
    while len(points) < 20_000:
        problem = _random_problem(rng)
        for _ in range(40):
            m = rng.choice([rng.randint(1, 64), rng.randint(1, 4096), rng.randint(1, 1 << 17)])
            try:
                points[problem, m] = _of(select_sm90(problem, m))
            except ConfigError:
                break  # the library asserts too (checked below)
    _compare(oracle, points)
