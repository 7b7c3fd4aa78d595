"""SM100 DSA-indexer DeepJIT sources against the library's own generator: the prefill
MQA-logits, paged MQA-logits and paged-metadata kernels the presets plan on sm100 (V4-Flash TP4,
V3.2 TP8 with 3 draft tokens), for both 2.8 builds, and random shapes, rendered by jitwarm's
port and by ``sm100_mqa_logits`` / ``sm100_paged_mqa_logits`` /
``sm100_paged_mqa_logits_metadata`` of the pinned wheel's ``impls/sm100_mqa_logits.hpp``
compiled on this CPU (tests/_generator_oracle.py), called with what the build's
``apis/attention.hpp`` passes. No B200 is involved."""

from __future__ import annotations

import random

import pytest

from _generator_oracle import generator_oracle_for
from jitwarm.deepjit import unrendered_kernels
from jitwarm.deepjit._generators import GENERATORS, RenderContext
from jitwarm.models import load_model
from jitwarm.plan import FP4_MQA_LOGITS_CALL, Family, Plan, PlanEntry, PlanKernel, plan_serving
from jitwarm.profiles import get_profile
from jitwarm.serving import ServingConfig

BUILDS = {"2.8.0": "tokenspeed-deepgemm-2.8.0", "2.8.2": "tokenspeed-deepgemm-2.8.2"}
PLANS = [
    ("deepseek-v4-flash", {"tp": 4}),
    ("deepseek-v3.2", {"tp": 8, "spec_draft_tokens": 3}),
    ("deepseek-v3.2", {"tp": 8, "max_running_seqs": 1024}),
]
# What each build's fp8_fp4_paged_mqa_logits hands its SM100 launcher besides the plan's values:
# 2.8.0 takes FP32 weights with FP32 logits (BF16 weights need BF16 logits); 2.8.2 on SM100
# takes BF16 weights, writes BF16 logits and takes indexed (varlen) requests only.
API_CALL = {"2.8.0": ("0", "fp32", "fp32"), "2.8.2": ("1", "bf16", "bf16")}
# The metadata call: 2.8.0 as the paged call (no indices), 2.8.2 on SM100 indexed requests only.
META_VARLEN = {"2.8.0": "0", "2.8.2": "1"}
# What each build's fp8_fp4_mqa_logits (prefill) hands its launcher for logits and weights:
# 2.8.0 as for the paged call; 2.8.2 on SM100 BF16 weights and logits, compressed logits only
# (max_seqlen_k > 0, no clean_logits).
PREFILL_DTYPES = {"2.8.0": ("fp32", "fp32"), "2.8.2": ("bf16", "bf16")}
PREFILL_MAX_SEQLEN_K = 4096  # what a compressed call passes (any width > 0)


def _plans(build: str) -> list[Plan]:
    return [
        plan_serving(load_model(name), ServingConfig(arch="sm100", **serving), build=BUILDS[build])
        for name, serving in PLANS
    ]


def _paged_query(build: str, entry: PlanEntry, num_sms: int) -> str:
    d = entry.dims
    varlen, logits, weights = API_CALL[build]
    if build == "2.8.0":
        logits = entry.conventions.out_dtype
    return (
        f"paged {d['heads']} {d['head_dim']} {d.get('next_n', 1)} {d['block_kv']} fp4 {num_sms} "
        f"{varlen} {logits} {weights}"
    )


def _mqa_query(build: str, entry: PlanEntry, kernel: PlanKernel, num_sms: int) -> str:
    d, p = entry.dims, kernel.params
    logits, weights = PREFILL_DTYPES[build]
    if build == "2.8.0":
        logits = entry.conventions.out_dtype
        clean, compressed = p["clean_logits"], p["compressed_logits"]
    else:
        clean, compressed = False, True
    schedule = p.get("schedule_meta", FP4_MQA_LOGITS_CALL["schedule_meta"])
    return (
        f"mqa {d['heads']} {d['head_dim']} fp4 {num_sms} {int(clean)} "
        f"{PREFILL_MAX_SEQLEN_K if compressed else 0} {logits} {weights} {int(schedule)}"
    )


def _with_params(kernel: PlanKernel, **params: object) -> PlanKernel:
    return kernel.model_copy(update={"params": {**kernel.params, **params}})


def _meta_query(build: str, entry: PlanEntry, rows: int, num_sms: int) -> str:
    return f"pmeta {rows} {entry.dims.get('next_n', 1)} {num_sms} {META_VARLEN[build]}"


def _check(build: str, cases: list[tuple[PlanEntry, PlanKernel, RenderContext, str]]) -> None:
    answers = generator_oracle_for(build).render([q for *_, q in cases])
    wrong = []
    for (entry, kernel, ctx, query), (tag, arch, source) in zip(cases, answers, strict=True):
        assert arch is None, query
        mine = GENERATORS[("sm100", entry.family)](entry, kernel, ctx)
        if mine != (tag, source):
            wrong.append(f"{query}: jitwarm {mine[0]}\n{mine[1]}\nDeepGEMM {tag}\n{source}")
    assert not wrong, f"{len(wrong)} of {len(cases)} differ, first: {wrong[0]}"


@pytest.mark.parametrize("build", BUILDS)
def test_planned_paged_indexer_sources_are_the_librarys(build: str) -> None:
    profile = get_profile(BUILDS[build])
    cases = []
    for plan in _plans(build):
        ctx = RenderContext(profile=profile, arch="sm100", num_sms=plan.num_sms)
        for entry in plan.entries:
            for kernel in entry.kernels or ():
                if entry.family is Family.FP4_PAGED_MQA_LOGITS:
                    cases.append((entry, kernel, ctx, _paged_query(build, entry, plan.num_sms)))
                elif entry.family is Family.PAGED_MQA_METADATA:
                    for rows in sorted({r for lo, hi in kernel.m_ranges for r in (lo, hi)}):
                        query = _meta_query(build, entry, rows, plan.num_sms)
                        cases.append((entry, kernel, ctx, query))
    families = {e.family for e, *_ in cases}
    assert families == {Family.FP4_PAGED_MQA_LOGITS, Family.PAGED_MQA_METADATA}
    # 2.8.2's metadata kernels per thread count: rows up to 512, 2048, then more (1024 seqs x 4)
    metadata = {(id(k), q) for e, k, _, q in cases if e.family is Family.PAGED_MQA_METADATA}
    assert len(metadata) >= 6
    _check(build, cases)


@pytest.mark.parametrize("build", BUILDS)
def test_planned_prefill_indexer_sources_are_the_librarys(build: str) -> None:
    """Every planned fp8_fp4_mqa_logits kernel, as planned (no schedule_meta, what engines
    pass) and with a schedule_meta workspace, which its kernel bakes."""
    profile = get_profile(BUILDS[build])
    cases = []
    for plan in _plans(build):
        ctx = RenderContext(profile=profile, arch="sm100", num_sms=plan.num_sms)
        for entry in plan.entries:
            if entry.family is not Family.FP4_MQA_LOGITS:
                continue
            for kernel in entry.kernels or ():
                assert kernel.params["schedule_meta"] is False  # the plan records the call's
                for with_schedule in (kernel, _with_params(kernel, schedule_meta=True)):
                    query = _mqa_query(build, entry, with_schedule, plan.num_sms)
                    cases.append((entry, with_schedule, ctx, query))
    assert len(cases) == 2 * len(PLANS)
    _check(build, cases)
    # The flag reaches the source: the two variants are two kernels.
    mine = {GENERATORS[("sm100", e.family)](e, k, c)[1] for e, k, c, _ in cases[:2]}
    assert len(mine) == 2


@pytest.mark.parametrize("build", BUILDS)
def test_random_prefill_indexer_shapes_render_as_the_library(build: str) -> None:
    profile = get_profile(BUILDS[build])
    plan = _plans(build)[0]
    prefill = next(e for e in plan.entries if e.family is Family.FP4_MQA_LOGITS)
    rng = random.Random(200)
    cases = []
    for _ in range(120):
        sms = rng.choice((148, 132, 120, 96, 8))
        ctx = RenderContext(profile=profile, arch="sm100", num_sms=sms)
        dims = {"heads": rng.randrange(4, 129, 4), "head_dim": rng.choice((64, 128))}
        entry = prefill.model_copy(update={"dims": dims})
        # 2.8.0 bakes (compressed, clean): any pair but both; 2.8.2 neither.
        clean, compressed = rng.choice(((True, False), (False, True), (False, False)))
        kernel = _with_params(
            prefill.kernels[0],
            clean_logits=clean,
            compressed_logits=compressed,
            schedule_meta=rng.random() < 0.5,
        )
        cases.append((entry, kernel, ctx, _mqa_query(build, entry, kernel, sms)))
    _check(build, cases)


def test_a_plan_without_schedule_meta_renders_the_default() -> None:
    """Plans made before the prefill kernel recorded ``schedule_meta`` mean no workspace."""
    profile = get_profile(BUILDS["2.8.0"])
    plan = _plans("2.8.0")[0]
    entry = next(e for e in plan.entries if e.family is Family.FP4_MQA_LOGITS)
    [kernel] = entry.kernels
    old = kernel.model_copy(
        update={"params": {k: v for k, v in kernel.params.items() if k != "schedule_meta"}}
    )
    ctx = RenderContext(profile=profile, arch="sm100", num_sms=plan.num_sms)
    _check("2.8.0", [(entry, old, ctx, _mqa_query("2.8.0", entry, kernel, plan.num_sms))])


def test_2_8_0_prefill_refuses_what_its_api_refuses() -> None:
    """Compressed and cleaned logits at once (the API asserts); BF16 logits (the baked weights
    dtype is then open)."""
    profile = get_profile(BUILDS["2.8.0"])
    plan = _plans("2.8.0")[0]
    [i] = [i for i, e in enumerate(plan.entries) if e.family is Family.FP4_MQA_LOGITS]
    entry = plan.entries[i]
    both = _with_params(entry.kernels[0], clean_logits=True, compressed_logits=True)
    bf16 = entry.conventions.model_copy(update={"out_dtype": "bf16"})
    for changed, detail in (
        (entry.model_copy(update={"kernels": [both]}), "cannot be cleaned"),
        (entry.model_copy(update={"conventions": bf16}), "weights dtype"),
    ):
        entries = list(plan.entries)
        entries[i] = changed
        gaps = unrendered_kernels(plan.model_copy(update={"entries": entries}), profile)
        [gap] = [g for g in gaps if g.entry_index == i]
        assert gap.reason.value == "not_renderable" and detail in gap.detail


@pytest.mark.parametrize("build", BUILDS)
def test_random_paged_indexer_shapes_render_as_the_library(build: str) -> None:
    profile = get_profile(BUILDS[build])
    plan = _plans(build)[0]
    paged = next(e for e in plan.entries if e.family is Family.FP4_PAGED_MQA_LOGITS)
    meta = next(e for e in plan.entries if e.family is Family.PAGED_MQA_METADATA)
    rng = random.Random(100)
    cases = []
    for _ in range(120):
        sms = rng.choice((148, 132, 120, 96))
        ctx = RenderContext(profile=profile, arch="sm100", num_sms=sms)
        dims = {
            "heads": rng.randrange(4, 129, 4),
            "head_dim": rng.choice((64, 128)),
            "block_kv": rng.choice((32, 64, 128)),
            "next_n": rng.randint(1, 4) if build == "2.8.0" else 1,
        }
        entry = paged.model_copy(update={"dims": dims})
        cases.append((entry, paged.kernels[0], ctx, _paged_query(build, entry, sms)))
        rows = rng.randint(1, 8192)
        # 2.8.2 bakes a thread count from the rows, which the plan records; the library's
        # generator derives its own from the rows (a wrong one here would differ).
        threads = {"num_threads": 256 if rows <= 512 else 512 if rows <= 2048 else 1024}
        kernel = PlanKernel(m=rows, m_ranges=[(rows, rows)], params=threads)
        m_dims = {"block_kv": dims["block_kv"], "next_n": dims["next_n"]}
        m_entry = meta.model_copy(update={"dims": m_dims})
        cases.append((m_entry, kernel, ctx, _meta_query(build, m_entry, rows, sms)))
    _check(build, cases)


def test_bf16_logits_of_2_8_0_stay_unrendered() -> None:
    """2.8.0 bakes the weights dtype, which BF16 logits leave open (FP32 or BF16)."""
    plan = plan_serving(
        load_model("deepseek-v4-flash"), ServingConfig(arch="sm100", tp=4), build=BUILDS["2.8.0"]
    )
    [i] = [i for i, e in enumerate(plan.entries) if e.family is Family.FP4_PAGED_MQA_LOGITS]
    entry = plan.entries[i]
    conventions = entry.conventions.model_copy(update={"out_dtype": "bf16"})
    entries = list(plan.entries)
    entries[i] = entry.model_copy(update={"conventions": conventions})
    gaps = unrendered_kernels(
        plan.model_copy(update={"entries": entries}), get_profile(BUILDS["2.8.0"])
    )
    [gap] = [g for g in gaps if g.entry_index == i]
    assert gap.reason.value == "not_renderable" and "weights dtype" in gap.detail
