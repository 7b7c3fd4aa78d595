"""SM100 DeepJIT sources against the library's own generator: every GEMM kernel the presets
plan on sm100, for both 2.8 builds, rendered by jitwarm's port and by DeepGEMM's
``SM100FP8FP4Gemm1D1DRuntime::compile_and_launch`` compiled from the pinned wheel on this CPU
(the generator oracle, tests/_generator_oracle.py), which picks its configuration with its own
heuristic. No B200 is involved: nothing here says the kernels load on one."""

from __future__ import annotations

import random
from dataclasses import asdict

import pytest

from _generator_oracle import generator_oracle_for, launcher_tag
from jitwarm.deepjit import unrendered_kernels
from jitwarm.deepjit._generators import GENERATORS, RenderContext
from jitwarm.models._loader import load_model
from jitwarm.mset import MSet
from jitwarm.plan import Family, Plan, PlanEntry, plan_serving
from jitwarm.plan._schema import PlanKernel
from jitwarm.plan._select import sm100_problem
from jitwarm.profiles import get_profile
from jitwarm.selection._sm100 import partition_m_sm100
from jitwarm.serving import ServingConfig

BUILDS = {"2.8.0": "tokenspeed-deepgemm-2.8.0", "2.8.2": "tokenspeed-deepgemm-2.8.2"}
GEMMS = {
    Family.FP8_GEMM_NT: ("Normal", "sm100_fp8_fp4_gemm_1d1d"),
    Family.M_GROUPED_CONTIGUOUS: (
        "MGroupedContiguous",
        "sm100_m_grouped_fp8_fp4_gemm_contiguous_1d1d",
    ),
    Family.M_GROUPED_MASKED: ("MGroupedMasked", "sm100_m_grouped_fp8_fp4_gemm_masked_1d1d"),
    Family.FP8_EINSUM: ("Batched", "sm100_fp8_bmm"),
}
# (preset, serving): the presets' sm100 configurations, and a few more for shape variety.
PLANS = [
    ("deepseek-v3", {"tp": 8}),
    ("deepseek-v3", {"tp": 4, "ep": 4}),
    ("deepseek-v3", {"tp": 1}),
    ("deepseek-v4-flash", {"tp": 4}),
    ("deepseek-v4-flash", {"tp": 2, "max_batched_tokens": 16384}),
]


def _plans(build: str) -> list[Plan]:
    return [
        plan_serving(load_model(name), ServingConfig(arch="sm100", **serving), build=BUILDS[build])
        for name, serving in PLANS
    ]


def _gemm_kernels(plan: Plan) -> list[tuple[PlanEntry, PlanKernel]]:
    return [(e, k) for e in plan.entries if e.family in GEMMS and e.kernels for k in e.kernels]


def _query(entry: PlanEntry, m: int, num_sms: int) -> str:
    gemm_type, _ = GEMMS[entry.family]
    gran_k = entry.conventions.scale_recipe[2]
    return (
        f"gemm {gemm_type} {m} {entry.n} {entry.k} {entry.num_groups} {num_sms} {gran_k} "
        f"{entry.conventions.out_dtype}"
    )


@pytest.mark.parametrize("build", BUILDS)
def test_every_planned_sm100_gemm_source_is_the_librarys(build: str) -> None:
    oracle = generator_oracle_for(build)
    profile = get_profile(BUILDS[build])
    cases = []
    for plan in _plans(build):
        ctx = RenderContext(profile=profile, arch="sm100", num_sms=plan.num_sms)
        for entry, kernel in _gemm_kernels(plan):
            members = [m for lo, hi in kernel.m_ranges for m in (lo, hi)]
            for m in sorted({kernel.m, *members}):  # the kernel's M and every range edge
                cases.append((entry, kernel, ctx, _query(entry, m, plan.num_sms)))
    assert len(cases) > 500 and {e.family for e, *_ in cases} == set(GEMMS)
    answers = oracle.render([q for *_, q in cases])
    wrong = []
    for (entry, kernel, ctx, query), (_, arch, source) in zip(cases, answers, strict=True):
        tag, mine = GENERATORS[("sm100", entry.family)](entry, kernel, ctx)
        expected_tag = launcher_tag(oracle.wheel, GEMMS[entry.family][1])
        assert arch is None, query  # the identity epilogue keeps DeepJIT's default arch
        if (tag, mine) != (expected_tag, source):
            wrong.append(f"{query}: jitwarm {tag}\n{mine}\nDeepGEMM {expected_tag}\n{source}")
    assert not wrong, f"{len(wrong)} of {len(cases)} differ, first: {wrong[0]}"


@pytest.mark.parametrize("build", BUILDS)
def test_random_shapes_render_as_the_library(build: str) -> None:
    """fp8_gemm_nt at random N, K, M and SM counts, through the plan's own selection."""
    oracle = generator_oracle_for(build)
    profile = get_profile(BUILDS[build])
    rng = random.Random(1100)
    cases = []
    base = _plans(build)[0]
    template = next(e for e in base.entries if e.family is Family.FP8_GEMM_NT)
    for _ in range(60):
        n, k = rng.randrange(128, 16385, 128), rng.randrange(128, 16385, 128)
        sms = rng.choice((148, 132, 120, 96))
        entry = template.model_copy(update={"n": n, "k": k})
        problem = sm100_problem(
            entry.family, n, k, 1, entry.conventions, num_sms=sms, mk_alignment=128
        )
        ctx = RenderContext(profile=profile, arch="sm100", num_sms=sms)
        m_values = MSet.from_ranges([(1, rng.choice((64, 4096, 20000)))])
        for cfg, ranges in partition_m_sm100(problem, m_values):
            kernel = PlanKernel(m=ranges[-1][1], m_ranges=ranges, params=asdict(cfg))
            cases.append((entry, kernel, ctx, _query(entry, kernel.m, sms)))
    answers = oracle.render([q for *_, q in cases])
    for (entry, kernel, ctx, query), (_, _, source) in zip(cases, answers, strict=True):
        assert GENERATORS[("sm100", entry.family)](entry, kernel, ctx)[1] == source, query


@pytest.mark.parametrize("build", BUILDS)
@pytest.mark.parametrize(
    ("model", "serving"),
    [("deepseek-v4-flash", {"tp": 4}), ("deepseek-v3.2", {"tp": 8, "spec_draft_tokens": 3})],
)
def test_sm100_preset_plans_leave_nothing_unrendered(
    build: str, model: str, serving: dict[str, int]
) -> None:
    """The prefill indexer kernel included: its plan kernel records the schedule_meta it bakes."""
    plan = plan_serving(
        load_model(model), ServingConfig(arch="sm100", **serving), build=BUILDS[build]
    )
    assert any(e.family is Family.FP4_MQA_LOGITS for e in plan.entries)
    assert unrendered_kernels(plan, get_profile(BUILDS[build])) == []


@pytest.mark.parametrize("build", BUILDS)
def test_hc_prenorm_sources_are_the_librarys(build: str) -> None:
    """tf32_hc_prenorm_gemm: every planned split count of V4-Flash, and random N, K, splits."""
    oracle = generator_oracle_for(build)
    profile = get_profile(BUILDS[build])
    plan = plan_serving(
        load_model("deepseek-v4-flash"), ServingConfig(arch="sm100", tp=4), build=BUILDS[build]
    )
    [entry] = [e for e in plan.entries if e.family is Family.TF32_HC_PRENORM]
    ctx = RenderContext(profile=profile, arch="sm100", num_sms=plan.num_sms)
    cases = [(entry, kernel) for kernel in entry.kernels]
    rng = random.Random(24)
    for _ in range(200):
        n, k = rng.randrange(8, 129, 8), rng.randrange(64, 32769, 64)
        splits = rng.choice((1, 2, 4, 8, 16))
        kernel = PlanKernel(
            m=rng.randint(1, 8192), m_ranges=[(1, 1)], params={"num_splits": splits}
        )
        cases.append((entry.model_copy(update={"n": n, "k": k}), kernel))
    queries = [f"hc {e.n} {e.k} {k.m} {k.params['num_splits']}" for e, k in cases]
    answers = oracle.render(queries)
    for (e, kernel), query, (tag, arch, source) in zip(cases, queries, answers, strict=True):
        assert arch is None, query
        assert GENERATORS[("sm100", e.family)](e, kernel, ctx) == (tag, source), query
