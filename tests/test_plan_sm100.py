"""SM100 plans are exact: DeepSeek-V4-Flash as the seed serves it (EP 4, mega-MoE, FP8xFP4
indexer, 2 and 4 draft tokens) and DeepSeek-V3, for both 2.8 builds, checked kernel by kernel
against the library's own heuristics (the oracle). Also the tests that would have caught the
seed's warmup mistakes (its review findings, /work/shared/seed/tokenspeed-pr-398.txt)."""

from __future__ import annotations

import json
from importlib import resources

import pytest

from _cli import run
from _oracle import (
    MetadataThreads,
    answer_fields,
    mega_fields,
    mega_query,
    oracle_for,
    sm100_fields,
    sm100_query,
)
from jitwarm.models._loader import load_model
from jitwarm.mset import MSet
from jitwarm.plan import Family, Plan, Selection, plan_serving
from jitwarm.plan._estimate import MEDIAN_COMPILE_S, estimate_compile
from jitwarm.plan._select import sm100_problem
from jitwarm.selection._sm100 import MegaMoEBlockConfig, MegaMoEProblem, SM100KernelConfig
from jitwarm.serving import ServingConfig

BUILDS = {"2.8.0": "tokenspeed-deepgemm-2.8.0", "2.8.2": "tokenspeed-deepgemm-2.8.2"}
V4_SEED = {"tp": 4, "ep": 4, "moe_path": "mega", "arch": "sm100"}


def _v4(build: str, draft: int, **extra: object) -> Plan:
    serving = ServingConfig(**{**V4_SEED, "spec_draft_tokens": draft, **extra})
    return plan_serving(load_model("deepseek-v4-flash"), serving, build=BUILDS[build])


def _v3(build: str) -> Plan:
    serving = ServingConfig(tp=8, arch="sm100")
    return plan_serving(load_model("deepseek-v3"), serving, build=BUILDS[build])


def _preset(name: str) -> dict:
    return json.loads((resources.files("jitwarm.models") / "presets" / f"{name}.json").read_text())


def _check_against_oracle(plan: Plan, build: str) -> int:
    """Every M of every GEMM and mega-MoE entry: the kernel the plan puts it in is the one the
    library picks. Returns the number of points checked."""
    oracle = oracle_for(build)
    queries, expected = [], []
    ep = plan.serving.ep
    for e in plan.entries:
        if e.family is Family.MEGA_MOE:
            problem = MegaMoEProblem(ep, e.num_groups * ep, e.dims["top_k"])
            for kn in e.kernels or ():
                fields = mega_fields(MegaMoEBlockConfig(**kn.params))
                for t in MSet.from_ranges(kn.m_ranges):
                    queries.append(mega_query(problem, t))
                    expected.append(fields)
            continue
        args = (e.family, e.n, e.k, e.num_groups, e.conventions)
        gemm = sm100_problem(*args, num_sms=plan.num_sms, mk_alignment=128)
        if gemm is None:
            continue
        assert e.selection is Selection.EXACT
        for kn in e.kernels or ():
            fields = sm100_fields(SM100KernelConfig(**kn.params), plan.num_sms)
            for m in MSet.from_ranges(kn.m_ranges):
                queries.append(sm100_query(gemm, m))
                expected.append(fields)
    answers = oracle.ask(queries)
    wrong = [q for q, a, x in zip(queries, answers, expected, strict=True) if answer_fields(a) != x]
    assert not wrong, f"{len(wrong)} of {len(queries)} points differ, first: {wrong[:3]}"
    return len(queries)


def _every_m_in_one_kernel(plan: Plan) -> None:
    for e in plan.entries:
        assert e.kernels, f"{e.key} is {e.selection.value}"
        members = [MSet.from_ranges(kn.m_ranges) for kn in e.kernels]
        assert sum(len(m) for m in members) == len(e.mset), e.key
        union = MSet()
        for kn, m in zip(e.kernels, members, strict=True):
            assert kn.m in m
            union = union | m
        assert union == e.mset, e.key


@pytest.mark.parametrize("build", BUILDS)
@pytest.mark.parametrize("draft", [2, 4])
def test_v4_flash_seed_configuration_plans_exactly(build: str, draft: int) -> None:
    plan = _v4(build, draft)
    assert not plan.sweep_entries
    _every_m_in_one_kernel(plan)
    assert _check_against_oracle(plan, build) > 40_000
    assert any(BUILDS[build].split("-")[-1] in n and "sm100" in n for n in plan.notes)


@pytest.mark.parametrize("build", BUILDS)
def test_v3_on_sm100_plans_exactly(build: str) -> None:
    plan = _v3(build)
    assert not plan.sweep_entries
    _every_m_in_one_kernel(plan)
    assert _check_against_oracle(plan, build) > 60_000
    # The SM100 grouped layouts do not read M: one kernel per expert GEMM shape.
    for e in plan.entries:
        if e.family in (Family.M_GROUPED_CONTIGUOUS, Family.M_GROUPED_MASKED):
            assert len(e.kernels or ()) == 1


def test_build_without_an_sm100_model_sweeps_and_says_why() -> None:
    serving = ServingConfig(**V4_SEED)
    plan = plan_serving(load_model("deepseek-v4-flash"), serving, build="tokenspeed-deepgemm-2.5.0")
    assert plan.sweep_entries
    assert any("no sm100 selection model" in n for n in plan.notes)
    estimate = estimate_compile(plan)
    assert estimate.is_upper_bound and "upper bound" in estimate.describe()
    assert estimate.total_kernels < plan.num_calls  # kernels, never calls


def test_estimate_counts_distinct_kernels() -> None:
    plan = _v4("2.8.0", 2)
    estimate = estimate_compile(plan)
    assert not estimate.is_upper_bound
    assert estimate.total_kernels == plan.num_kernels
    assert estimate.seconds == plan.num_kernels * MEDIAN_COMPILE_S


# -- the seed's review findings -------------------------------------------------------------


def test_indexer_kernels_use_the_indexer_dimensions() -> None:
    """Finding: the seed warmed fp8_fp4_mqa_logits with the MLA head_dim/kv_lora_rank."""
    config = _preset("deepseek-v4-flash")
    plan = _v4("2.8.2", 2)
    logits = [
        e for e in plan.entries if e.family in (Family.FP4_MQA_LOGITS, Family.FP4_PAGED_MQA_LOGITS)
    ]
    assert {e.family for e in logits} == {Family.FP4_MQA_LOGITS, Family.FP4_PAGED_MQA_LOGITS}
    for e in logits:
        assert e.dims["heads"] == config["index_n_heads"]
        assert e.dims["head_dim"] == config["index_head_dim"] != config["head_dim"]
        assert e.conventions.ab_dtype == "fp8xfp4"
    wq_b = [e for e in plan.entries if any(".indexer.wq_b" in m.name for m in e.modules)]
    assert [e.n for e in wq_b] == [config["index_n_heads"] * config["index_head_dim"]]


@pytest.mark.parametrize("build", BUILDS)
def test_mega_moe_covers_every_per_expert_tile_the_library_picks(build: str) -> None:
    """Finding: the seed swept raw token counts (16..256 and the max), which skips the
    per-expert tiles 512..4096-token prefills pick. The plan's kernels are exactly the library's
    block configs over every token count, and more than the seed's sweep reaches."""
    oracle = oracle_for(build)
    plan = _v4(build, 2)
    (entry,) = [e for e in plan.entries if e.family is Family.MEGA_MOE]
    problem = MegaMoEProblem(4, entry.num_groups * 4, entry.dims["top_k"])
    tokens = list(entry.mset)
    library = {answer_fields(a) for a in oracle.ask([mega_query(problem, t) for t in tokens])}
    planned = {mega_fields(MegaMoEBlockConfig(**kn.params)) for kn in entry.kernels or ()}
    assert planned == library
    seed_sweep = [16 * i for i in range(1, 17)] + [entry.mset.max]
    seeded = {answer_fields(a) for a in oracle.ask([mega_query(problem, t) for t in seed_sweep])}
    assert seeded < planned


def test_v4_einsum_output_projection_is_planned_exactly() -> None:
    """Finding: the seed's scanner dropped the wo_a BMM layers (fp8_einsum) from its warmup."""
    plan = _v4("2.8.0", 2)
    (einsum,) = [e for e in plan.entries if e.family is Family.FP8_EINSUM]
    assert einsum.selection is Selection.EXACT and len(einsum.kernels or ()) > 1
    assert einsum.conventions.gemm_type == "Batched" and einsum.mset.max == 8192
    _check_against_oracle(plan.model_copy(update={"entries": [einsum]}), "2.8.0")


@pytest.mark.parametrize("draft", [2, 4])
@pytest.mark.parametrize("build", BUILDS)
def test_draft_tokens_multiply_the_decode_indexer_rows(build: str, draft: int) -> None:
    """Finding: the seed's metadata warmup ceiling lacked the speculative multiplier. Verify
    flattens batch x (draft + 1) rows into the decode indexer; on 2.8.2 the metadata kernel
    bakes a thread count from those rows (the generator's own line, compiled here)."""
    plan = _v4(build, draft, max_running_seqs=256)
    rows = 256 * (draft + 1)
    (meta,) = [e for e in plan.entries if e.family is Family.PAGED_MQA_METADATA]
    paged = [e for e in plan.entries if e.family is Family.FP4_PAGED_MQA_LOGITS]
    assert meta.mset.max == rows and all(e.mset.max == rows for e in paged)
    generator = MetadataThreads(build)
    threads = dict(zip(meta.mset, generator.threads(list(meta.mset)), strict=True))
    if generator.bakes_threads:
        assert meta.selection is Selection.BUCKETS
        for kn in meta.kernels or ():
            assert {threads[m] for m in MSet.from_ranges(kn.m_ranges)} == {kn.params["num_threads"]}
        assert len(meta.kernels or ()) == len(set(threads.values())) > 1
    else:  # 2.8.0 renders next_n, flags, split_kv and the SM count only
        assert meta.selection is Selection.INVARIANT and len(meta.kernels or ()) == 1


def test_kernels_explains_an_sm100_shape(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(
        capsys, "kernels", "--family", "fp8_gemm_nt", "--n", "4096", "--k", "7168",
        "--m-max", "4096", "--arch", "sm100", "--json",
    )  # fmt: skip
    assert code == 0, err
    data = json.loads(out)
    assert data["model"] == "sm100-2.8.0" and data["selection"] == "exact"
    assert sum(len(MSet.from_ranges(k["m_ranges"])) for k in data["kernels"]) == 4096
    assert {k["swap_ab"] for k in data["kernels"]} == {True, False}
