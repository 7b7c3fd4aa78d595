"""A plan read back from stored JSON: typed serving config, unchanged JSON and digest.

Bundles and caches record a plan's digest, so the digests below were computed by the jitwarm
that wrote this JSON (before the plan's serving config was typed) and are written here as
literals: a change to how a plan is read or hashed fails these tests."""

from __future__ import annotations

import json
from typing import Any

from jitwarm.plan import Plan
from jitwarm.serving import Arch, MoEPath, ServingConfig

STORED = (
    '{"schema_version":2,"jitwarm_version":"0.1.0","build":null,"arch":"sm90","num_sms":132,'
    '"model":{"name":"deepseek-v3","architecture":"deepseek_v3","source":"preset:deepseek-v3"},'
    '"serving":{"tp":8,"ep":1,"attn_dp":1,"max_batched_tokens":8192,"max_running_seqs":256,'
    '"cuda_graph_batch_sizes":null,"spec_draft_tokens":0,"moe_path":"grouped","role":"mixed",'
    '"indexer_block_size":64,"arch":"sm90","num_sms":null,"mk_alignment":128},"jit_env":{},'
    '"notes":[],"entries":[{"family":"fp8_gemm_nt","n":512,"k":7168,"num_groups":1,"dims":{},'
    '"conventions":{"ab_dtype":"fp8_e4m3","scale_recipe":[1,128,128],"scale_dtype":"fp32",'
    '"out_dtype":"bf16","compiled_dims":"nk","gemm_type":"Normal","kernel_type":"1D2D"},'
    '"phases":["prefill","decode"],"m_kind":"rows","m_values":[[1,16]],"selection":"exact",'
    '"kernels":[{"m":16,"m_ranges":[[1,16]],"params":{"block_m":16,"block_n":16,'
    '"num_stages":16},"template_args":null}],"modules":[{"name":"mlp.shared_experts.gate_up_proj",'
    '"layers":[[3,60]]}]}]}'
)
DIGEST = "90b7181243230db4c44ad8de49653eb25240e0e5807fd1950810643d0c6308d6"
DIGEST_WITH_BUILD = "b6c9ae7fb265301ce2f1add4c7b613a0b196d7f05b5a51319fe463fd7fb2d181"


def _raw(**changes: Any) -> dict[str, Any]:
    return {**json.loads(STORED), **changes}


def test_stored_plan_loads_a_typed_serving_config_and_arch() -> None:
    plan = Plan.from_json(STORED)
    assert isinstance(plan.serving, ServingConfig)
    assert plan.serving.tp == 8 and plan.serving.mk_alignment == 128
    assert plan.serving.moe_path is MoEPath.GROUPED
    assert plan.arch is Arch.SM90 and plan.arch == "sm90"
    assert f"{plan.arch}" == "sm90"  # messages and paths built from it are unchanged


def test_stored_plan_keeps_its_digest() -> None:
    assert Plan.from_json(STORED).digest() == DIGEST
    assert Plan.from_json(json.dumps(_raw(build="sm90-test-build"))).digest() == DIGEST_WITH_BUILD
    v1 = _raw(schema_version=1)
    del v1["build"]
    assert Plan.from_json(json.dumps(v1)).digest() == DIGEST


def test_saved_plan_writes_the_stored_json_back() -> None:
    # Same keys, same values, same serving object shape: older jitwarm reads what this one saves.
    assert json.loads(Plan.from_json(STORED).to_json()) == json.loads(STORED)


def test_resaved_plan_keeps_its_digest() -> None:
    again = Plan.from_json(Plan.from_json(STORED).to_json())
    assert again.digest() == DIGEST


def test_serving_values_older_limits_allowed_still_load() -> None:
    # Limits tightened since (mk_alignment >= 16, tp <= 1024, indexer block 64 on sm90, ep | tp):
    # a plan that holds such values still loads, with the values as stored.
    serving = {
        **json.loads(STORED)["serving"],
        "mk_alignment": 8,
        "tp": 2048,
        "ep": 3,
        "indexer_block_size": 32,
    }
    text = json.dumps(_raw(serving=serving))
    plan = Plan.from_json(text)
    assert isinstance(plan.serving, ServingConfig)
    assert (plan.serving.mk_alignment, plan.serving.tp, plan.serving.ep) == (8, 2048, 3)
    assert plan.serving.arch is Arch.SM90  # types still coerced
    assert json.loads(plan.to_json())["serving"] == serving
    assert plan.digest() == DIGEST


def test_serving_config_given_to_a_plan_is_kept() -> None:
    cfg = ServingConfig(tp=8, mk_alignment=64)
    plan = Plan.model_validate({**_raw(), "serving": cfg})
    assert plan.serving == cfg


# An sm100 plan's prefill-indexer entry as jitwarm wrote it before its kernel recorded
# `schedule_meta` (main at fffdfac; modules cut to one layer, which the digest leaves out).
STORED_SM100_PREFILL = (
    '{"schema_version":2,"jitwarm_version":"0.1.0","build":"tokenspeed-deepgemm-2.8.0",'
    '"arch":"sm100","num_sms":148,"model":{"name":"deepseek-v4-flash",'
    '"architecture":"deepseek_v4","source":"preset:deepseek-v4-flash"},"serving":{"tp":4,'
    '"ep":1,"attn_dp":1,"max_batched_tokens":8192,"max_running_seqs":256,'
    '"cuda_graph_batch_sizes":null,"spec_draft_tokens":0,"moe_path":"grouped","role":"mixed",'
    '"indexer_block_size":64,"arch":"sm100","num_sms":null,"mk_alignment":128},"jit_env":{},'
    '"notes":[],"entries":[{"family":"fp8_fp4_mqa_logits","n":0,"k":0,"num_groups":1,'
    '"dims":{"heads":64,"head_dim":128},"conventions":{"ab_dtype":"fp8xfp4",'
    '"scale_recipe":null,"scale_dtype":"ue8m0","out_dtype":"fp32","compiled_dims":"",'
    '"gemm_type":"MQALogits","kernel_type":""},"phases":["prefill"],"m_kind":"rows",'
    '"m_values":[[1,8192]],"selection":"invariant","kernels":[{"m":1,"m_ranges":[[1,8192]],'
    '"params":{"clean_logits":true,"compressed_logits":false},"template_args":null}],'
    '"modules":[{"name":"attn.indexer","layers":[[2,2]]}]}]}'
)
DIGEST_SM100_PREFILL = "d57ad1935448fa88a62bac1b94fdb7c9d53be0ac46ab28db74d9ff5595bb1ad0"


def test_a_prefill_indexer_plan_from_before_schedule_meta_loads_unchanged() -> None:
    plan = Plan.from_json(STORED_SM100_PREFILL)
    assert "schedule_meta" not in plan.entries[0].kernels[0].params  # not filled in on load
    assert json.loads(plan.to_json()) == json.loads(STORED_SM100_PREFILL)
    assert plan.digest() == DIGEST_SM100_PREFILL


def test_a_stored_prefill_kernel_keeps_the_flags_it_was_planned_with() -> None:
    """Loading never re-plans: the stored kernel keeps DeepGEMM's default flags (which warm
    then passes), while a plan made now for the same build records TokenSpeed 0.1.1's pair
    (tokenspeed-kernel 0.1.4 dsv4/deep_gemm.py:338: clean_logits=False, max_seqlen_k > 0)."""
    from jitwarm.models._loader import load_model
    from jitwarm.plan import plan_serving

    stored = Plan.from_json(STORED_SM100_PREFILL)
    [kernel] = stored.entries[0].kernels or []
    assert kernel.params == {"clean_logits": True, "compressed_logits": False}
    fresh = plan_serving(load_model("deepseek-v4-flash"), stored.serving, build=stored.build)
    [entry] = [e for e in fresh.entries if e.family is stored.entries[0].family]
    assert [k.params for k in entry.kernels or []] == [
        {"clean_logits": False, "compressed_logits": True, "schedule_meta": False}
    ]
