import json
import subprocess
import sys

import pytest

from jitwarm.errors import ConfigError, ManifestError
from jitwarm.models._loader import load_model
from jitwarm.mset import MSet
from jitwarm.plan import Family, Plan, Selection, plan_serving
from jitwarm.serving import ServingConfig


def _plan(model: str = "deepseek-v3", **serving: object) -> Plan:
    return plan_serving(load_model(model), ServingConfig.build(**serving))


def _entries(plan: Plan, family: Family) -> list:
    return [e for e in plan.entries if e.family is family]


def _shapes(plan: Plan, family: Family) -> set[tuple[int, int, int]]:
    return {(e.n, e.k, e.num_groups) for e in _entries(plan, family)}


def test_deepseek_v3_tp8_linear_shapes_after_sharding() -> None:
    plan = _plan(tp=8)
    assert _shapes(plan, Family.FP8_GEMM_NT) == {
        (2112, 7168, 1),  # fused q_a + kv_a (1536 + 512 + 64), replicated
        (3072, 1536, 1),  # q_b: 128 heads x 192 / 8
        (4096, 512, 1),  # kv_b: 128 x (128 + 128) / 8
        (7168, 2048, 1),  # o_proj: K = 128 x 128 / 8
        (4608, 7168, 1),  # dense gate_up: 2 x 18432 / 8
        (7168, 2304, 1),  # dense down: 18432 / 8
        (512, 7168, 1),  # shared expert gate_up: 2 x 2048 / 8
        (7168, 256, 1),  # shared expert down
    }
    # Experts TP-sharded (ep 1): every rank holds all 256 experts, 1/8 of each.
    assert _shapes(plan, Family.M_GROUPED_CONTIGUOUS) == {(512, 7168, 256), (7168, 256, 256)}


def test_expert_parallel_keeps_whole_experts_and_local_groups() -> None:
    plan = _plan(tp=8, ep=8)
    assert _shapes(plan, Family.M_GROUPED_MASKED) == {(4096, 7168, 32), (7168, 2048, 32)}


def test_per_expert_m_of_masked_decode_follows_tokens_topk_experts_and_ep() -> None:
    # Seed finding: per-expert M buckets were missed; every expected_m a decode batch makes
    # must be planned, not just the raw token counts.
    plan = _plan(tp=8, ep=8, max_running_seqs=256)
    masked = _entries(plan, Family.M_GROUPED_MASKED)[0]
    want = {(t * 8 * 8 + 256) // 256 for t in range(1, 257)}
    assert set(masked.mset) == want
    assert masked.mset.max == 65
    covered = set().union(*(set(MSet.from_ranges(kn.m_ranges)) for kn in masked.kernels))
    assert covered == want


def test_contiguous_total_rows_are_aligned_and_reach_the_worst_case() -> None:
    plan = _plan(tp=8, ep=8, max_batched_tokens=4096)
    contig = _entries(plan, Family.M_GROUPED_CONTIGUOUS)[0]
    assert all(m % 128 == 0 for m in contig.mset)
    # 8 senders x 4096 tokens x 8 experts each, plus per-expert padding of 32 local experts
    assert contig.mset.max >= 8 * 4096 * 8


def test_indexer_uses_indexer_dims_not_mla_dims() -> None:
    # Seed finding: the indexer's logits were warmed with MLA head_dim / kv_lora_rank.
    plan = _plan("deepseek-v3.2", tp=8)
    (logits,) = _entries(plan, Family.MQA_LOGITS)
    assert logits.dims == {"heads": 64, "head_dim": 128}
    wq_b = [
        e
        for e in _entries(plan, Family.FP8_GEMM_NT)
        if any("indexer.wq_b" in m.name for m in e.modules)
    ]
    assert [(e.n, e.k) for e in wq_b] == [(64 * 128, 1536)]  # replicated, not TP-split


def test_draft_tokens_multiply_decode_batches() -> None:
    # Seed finding: the metadata kernel is keyed on align(batch x (draft + 1), 32).
    plain = _plan("deepseek-v3.2", tp=8, max_running_seqs=100)
    spec = _plan("deepseek-v3.2", tp=8, max_running_seqs=100, spec_draft_tokens=3)
    (meta_plain,) = _entries(plain, Family.PAGED_MQA_METADATA)
    (meta_spec,) = _entries(spec, Family.PAGED_MQA_METADATA)
    assert max(k.params["aligned_batch"] for k in meta_plain.kernels) == 128
    assert meta_spec.mset.max == 400
    assert max(k.params["aligned_batch"] for k in meta_spec.kernels) == 416
    assert meta_spec.selection is Selection.BUCKETS
    # Decode GEMM rows grow too when they exceed the prefill budget.
    big = _plan(tp=8, max_batched_tokens=256, max_running_seqs=128, spec_draft_tokens=3)
    assert max(e.mset.max for e in _entries(big, Family.FP8_GEMM_NT)) == 512


def test_metadata_buckets_are_32_wide() -> None:
    plan = _plan("deepseek-v3.2", tp=8, max_running_seqs=70)
    (meta,) = _entries(plan, Family.PAGED_MQA_METADATA)
    assert [(k.params["aligned_batch"], k.m_ranges) for k in meta.kernels] == [
        (32, [[1, 32]]),
        (64, [[33, 64]]),
        (96, [[65, 70]]),
    ]


def test_v4_grouped_output_projection_is_planned() -> None:
    # Seed finding: the fp8_einsum path was not warmed.
    plan = _plan("deepseek-v4-flash", tp=4)
    (einsum,) = _entries(plan, Family.FP8_EINSUM)
    assert (einsum.n, einsum.k, einsum.num_groups) == (1024, 64 * 512 // 8, 8 // 4)
    assert einsum.selection is Selection.EXACT and einsum.kernels
    (hc,) = _entries(plan, Family.TF32_HC_PRENORM)
    assert (hc.n, hc.k) == (24, 4 * 4096)
    assert not _entries(plan, Family.M_GROUPED_CONTIGUOUS)  # MXFP4 experts: not DeepGEMM here
    assert any("MXFP4" in note for note in plan.notes)


def test_cuda_graph_sizes_bound_decode_only_servers() -> None:
    plan = _plan(
        tp=8, role="decode", max_running_seqs=64, cuda_graph_batch_sizes=(1, 2, 4, 8, 16, 32)
    )
    rows = {m for e in _entries(plan, Family.FP8_GEMM_NT) for m in e.mset}
    # graph sizes, then eager batches above the largest graph
    assert rows == {1, 2, 4, 8, 16, 32, *range(33, 65)}
    assert not _entries(plan, Family.M_GROUPED_CONTIGUOUS)


def test_every_m_is_in_exactly_one_kernel() -> None:
    for model in ("deepseek-v3", "deepseek-v3.2", "deepseek-v4-flash", "kimi-k2"):
        plan = _plan(model, tp=8 if model != "deepseek-v4-flash" else 4, spec_draft_tokens=1)
        for e in plan.entries:
            if e.kernels is None:
                continue
            seen: list[int] = []
            for kn in e.kernels:
                ms = MSet.from_ranges(kn.m_ranges)
                assert kn.m in ms, (e.key, kn.m)
                seen += list(ms)
            assert sorted(seen) == list(e.mset), e.key


@pytest.mark.parametrize(
    ("model", "serving", "needle"),
    [
        ("deepseek-v3", {"tp": 3}, "does not divide num_attention_heads"),
        ("deepseek-v3", {"tp": 8, "ep": 3}, "ep (3) must divide tp"),
        ("kimi-k2", {"tp": 8, "ep": 8, "attn_dp": 3}, "attn_dp (3) must divide tp"),
        ("deepseek-v3", {"tp": 32}, "not a multiple of the FP8 weight block"),
        ("qwen3-30b-a3b-fp8", {"tp": 8}, "moe_intermediate_size / 8 = 96"),
        ("deepseek-v3", {"moe_path": "mega"}, "needs arch sm100"),
        (
            "deepseek-v3",
            {"max_running_seqs": 8, "cuda_graph_batch_sizes": (1, 16)},
            "outside 1..max_running_seqs",
        ),
        ("deepseek-v3", {"tp": 0}, "tp"),
        ("deepseek-v4-flash", {"tp": 16}, "o_groups (8) is not divisible by 16"),
    ],
)
def test_impossible_serving_is_a_clear_error(model: str, serving: dict, needle: str) -> None:
    with pytest.raises(ConfigError, match=None) as info:
        _plan(model, **serving)
    assert needle in str(info.value)
    assert "\n" not in str(info.value)


def test_ep_must_divide_experts() -> None:
    with pytest.raises(ConfigError, match=r"ep \(256\) does not divide .* \(384\)"):
        _plan("kimi-k2", tp=256, ep=256, attn_dp=256)


def test_manifest_roundtrip_and_schema_fields() -> None:
    plan = _plan(tp=8)
    raw = json.loads(plan.to_json())
    assert {"schema_version", "arch", "num_sms", "model", "serving", "entries"} <= raw.keys()
    assert raw["arch"] == "sm90" and raw["num_sms"] == 132
    for e in raw["entries"]:
        assert {"family", "n", "k", "num_groups", "m_values", "kernels"} <= e.keys()
        assert all("m" in kn for kn in e["kernels"])
    again = Plan.from_json(plan.to_json())
    assert again == plan and again.digest() == plan.digest()


def test_bad_manifests() -> None:
    with pytest.raises(ManifestError, match="not valid JSON"):
        Plan.from_json("{")
    with pytest.raises(ManifestError, match="schema_version"):
        Plan.from_json('{"schema_version": 99}')
    raw = json.loads(_plan(tp=8).to_json())
    raw["entries"][0]["family"] = "no_such_family"
    with pytest.raises(ManifestError, match=r"entries\.0\.family"):
        Plan.from_json(json.dumps(raw))


def test_planning_imports_neither_torch_nor_deep_gemm() -> None:
    code = (
        "import sys, jitwarm, jitwarm.cli\n"
        "from jitwarm.models._loader import load_model\n"
        "from jitwarm.plan import plan_serving\n"
        "from jitwarm.serving import ServingConfig\n"
        "for m in ('deepseek-v3', 'deepseek-v3.2', 'deepseek-v4-flash'):\n"
        "    plan_serving(load_model(m), ServingConfig(tp=4)).to_json()\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('torch', 'deep_gemm')]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
