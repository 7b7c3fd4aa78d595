"""Prune plans first (bytes to free), executes second; plan membership follows one rule."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from _cubin import age, gemm_source, real_cubin, render_kernel_cu, write_entry
from jitwarm.cache import PlanIndex, PruneReason, plan_prune, scan_cache
from jitwarm.dgenv import CacheRoots
from jitwarm.errors import UsageError
from jitwarm.models._loader import load_model
from jitwarm.plan import Plan, plan_serving
from jitwarm.plan._schema import Family
from jitwarm.serving import ServingConfig


@pytest.fixture(scope="module")
def plan() -> Plan:
    return plan_serving(load_model("deepseek-v3.2"), ServingConfig(tp=8))


def _predicted(plan: Plan, family: Family) -> list[str]:
    return [
        kn.template_args
        for e in plan.entries
        if e.family is family
        for kn in e.kernels or []
        if kn.template_args
    ]


def test_exact_rule_uses_predicted_template_args(plan: Plan) -> None:
    index = PlanIndex.from_plan(plan)
    args = _predicted(plan, Family.FP8_GEMM_NT)
    assert args and all(index.needs(Family.FP8_GEMM_NT, "sm90_fp8_gemm_1d2d", a) for a in args)
    other_sms = args[0].replace(", 132, GemmType", ", 114, GemmType")
    assert not index.needs(Family.FP8_GEMM_NT, "sm90_fp8_gemm_1d2d", other_sms)
    grouped = _predicted(plan, Family.M_GROUPED_MASKED)
    assert not index.needs(Family.FP8_GEMM_NT, "sm90_fp8_gemm_1d2d", grouped[0])


def test_baked_dims_rule_for_families_without_predictions(plan: Plan) -> None:
    index = PlanIndex.from_plan(plan)
    mqa = "64, 128, false, 4, 64, 3, 128, 512, cute::float_e4m3_t"
    assert index.needs(Family.MQA_LOGITS, "sm90_fp8_mqa_logits", mqa)
    assert not index.needs(
        Family.MQA_LOGITS, "sm90_fp8_mqa_logits", mqa.replace("64, 128", "32, 128", 1)
    )
    paged = "1, 64, 128, 64, false, false, 3, 3, 256, 128, 512, float"
    assert index.needs(Family.PAGED_MQA_LOGITS, "sm90_fp8_paged_mqa_logits", paged)
    assert not index.needs(
        Family.PAGED_MQA_LOGITS,
        "sm90_fp8_paged_mqa_logits",
        "2" + paged[1:].replace(", 1,", ", 2,"),
    )
    meta = "sm90_paged_mqa_logits_metadata"
    assert index.needs(Family.PAGED_MQA_METADATA, meta, "32, 256, 132, false")
    assert index.needs(Family.PAGED_MQA_METADATA, meta, "256, 256, 132, false")
    assert not index.needs(Family.PAGED_MQA_METADATA, meta, "512, 256, 132, false")
    # transpose_fp32 with sf_k = 7168 / 128 = 56 serves the K=7168 GEMMs
    assert index.needs(None, "transpose_fp32", "128, 64, 56")
    assert not index.needs(None, "transpose_fp32", "128, 64, 57")
    assert not index.needs(None, "sm90_bf16_gemm", "1, 2, 3")
    assert not index.needs(Family.TF32_HC_PRENORM, "sm90_tf32_hc_prenorm_gemm", "24, 7168, 64")


def _cache(root: Path, plan: Plan) -> dict[str, Path]:
    cubin = real_cubin()
    needed = _predicted(plan, Family.FP8_GEMM_NT)[:3]
    stale = needed[0].replace(", 132, GemmType", ", 114, GemmType")
    out = {}
    for i, a in enumerate([*needed, stale]):
        out[f"e{i}"] = write_entry(
            root,
            "sm90_fp8_gemm_1d2d",
            f"{i:032x}",
            source=gemm_source(a),
            cubin=cubin + bytes(i * 1000),
        )  # distinct sizes
    out["helper"] = write_entry(
        root,
        "transpose_fp32",
        "f" * 32,
        source=render_kernel_cu("transpose_fp32", "128, 64, 56"),
        cubin=cubin,
    )
    now = time.time()
    for i, name in enumerate(["e0", "e1", "e2", "e3", "helper"]):
        age(out[name], (5 - i) * 86400, now=now)  # e0 oldest ... helper newest
    return out


def test_prune_by_plan_plans_then_executes(tmp_path: Path, plan: Plan) -> None:
    paths = _cache(tmp_path, plan)
    strategy = plan_prune(scan_cache(tmp_path), plan=plan)
    assert [(i.entry.path, i.reason) for i in strategy.items] == [
        (paths["e3"], PruneReason.NOT_IN_PLAN)
    ]
    assert strategy.expected_freed_bytes == strategy.items[0].entry.size_bytes
    assert paths["e3"].exists()  # nothing happens before execute
    assert strategy.execute() == 1
    assert not paths["e3"].exists() and all(paths[k].exists() for k in ("e0", "e1", "e2", "helper"))
    assert strategy.execute() == 0  # already gone: skipped, not an error
    assert not any((tmp_path / "jitwarm-trash").iterdir())


def test_prune_by_age_and_by_size_budget(tmp_path: Path, plan: Plan) -> None:
    paths = _cache(tmp_path, plan)
    info = scan_cache(tmp_path)
    by_age = plan_prune(info, older_than_s=3.5 * 86400)
    assert {i.entry.path for i in by_age.items} == {paths["e0"], paths["e1"]}
    sizes = {e.path: e.size_bytes for e in info.entries}
    budget = sizes[paths["helper"]] + sizes[paths["e3"]]
    by_size = plan_prune(info, max_size_bytes=budget)
    assert [i.entry.path for i in by_size.items] == [paths[k] for k in ("e0", "e1", "e2")]
    assert all(i.reason == PruneReason.SIZE for i in by_size.items)
    assert by_size.kept_bytes <= budget


def test_prune_needs_a_criterion_and_spares_read_only_roots(tmp_path: Path, plan: Plan) -> None:
    _cache(tmp_path / "ro", plan)
    (tmp_path / "w").mkdir()
    info = scan_cache(CacheRoots(tmp_path / "w", (tmp_path / "ro",)))
    with pytest.raises(UsageError, match="needs a criterion"):
        plan_prune(info)
    assert plan_prune(info, older_than_s=0).items == ()


def test_positional_rule_for_hc_prenorm() -> None:
    plan = plan_serving(load_model("deepseek-v4-flash"), ServingConfig(tp=8))
    index = PlanIndex.from_plan(plan)
    name = "sm90_tf32_hc_prenorm_gemm"
    # argument layout as measured on the H100 (ground truth), with this plan's N and K
    assert index.needs(Family.TF32_HC_PRENORM, name, "24, 16384, 64, 32, 64, 1, 128, 12, 128, 128")
    assert not index.needs(
        Family.TF32_HC_PRENORM, name, "24, 28672, 64, 32, 64, 1, 128, 12, 128, 128"
    )
    assert not index.needs(
        Family.TF32_HC_PRENORM, name, "16384, 24, 64, 32, 64, 1, 128, 12, 128, 128"
    )


def test_upstream_jit_indexer_entries_are_kept(tmp_path: Path) -> None:
    """2.5.0 names its indexer kernels smxx_* (its own _C extension says so); the kernels an
    H200 compiled for deepseek-v4-flash --tp 4 (tests/data/deepgemm-2.5.0-h200) must all be
    needed by that plan, or export --plan ships a bundle without them."""
    import json

    from _wheels import unpacked_wheel

    truth = json.loads(
        (Path(__file__).parent / "data/deepgemm-2.5.0-h200/indexer-kernels.json").read_text()
    )
    ext = next((unpacked_wheel("2.5.0") / "deep_gemm").glob("_C*.so")).read_bytes()
    for folder_name in truth["build_names"].values():
        assert f"\0{folder_name}\0".encode() in ext  # the name compiler->build is given
    plan = plan_serving(
        load_model("deepseek-v4-flash"), ServingConfig(tp=4), build="tokenspeed-deepgemm-2.5.0"
    )
    index = PlanIndex.from_plan(plan)
    for kernel in truth["kernels"]:
        name = truth["build_names"][kernel["kernel_symbol"]]
        family = {
            "smxx_fp8_mqa_logits": Family.MQA_LOGITS,
            "smxx_clean_logits": Family.MQA_LOGITS,
            "smxx_fp8_paged_mqa_logits": Family.PAGED_MQA_LOGITS,
        }.get(name, Family.PAGED_MQA_METADATA)
        assert index.needs(family, name, kernel["template_args"]), kernel
    # and through the cache scan: the family comes from the folder's name
    for i, kernel in enumerate(truth["kernels"]):
        name = truth["build_names"][kernel["kernel_symbol"]]
        impl = kernel["kernel_symbol"]
        write_entry(
            tmp_path,
            name,
            f"{i:016x}",
            source=render_kernel_cu(impl, kernel["template_args"]),
            cubin=real_cubin(),
        )
    info = scan_cache(tmp_path)
    assert len(info.entries) == len(truth["kernels"])
    strategy = plan_prune(info, plan=plan)
    assert not strategy.items, [i.entry.name for i in strategy.items]
