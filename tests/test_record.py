"""Record -> plan: the recorder's manifest, and plan_from_recording's entries and M sets."""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType

import pytest

from jitwarm import guard
from jitwarm.errors import UsageError
from jitwarm.models._loader import load_model
from jitwarm.mset import MSet
from jitwarm.plan import _domains as domains
from jitwarm.plan._schema import Conventions, Family, MKind, Selection
from jitwarm.plan._select import select_kernels
from jitwarm.record import (
    RecordedCall,
    RecordingError,
    is_recording,
    load_recording,
    plan_from_recording,
    recording_to_plan,
)
from jitwarm.serving import ServingConfig

pytest_plugins = ["fakes.fixtures"]


def record_calls(dg: ModuleType, path: Path) -> None:
    """What an engine's DeepGEMM calls look like: linears, MoE, indexer, metadata."""
    import fake_tensor as ft

    f8, f32, i32 = ft.float8_e4m3fn, ft.float32, ft.int32
    guard.install_guard("off", record_path=path, module=dg)
    for m in (3, 3, 700):
        a = (ft.empty(m, 7168, dtype=f8), ft.mn_major(m, 56))
        b = (ft.empty(2112, 7168, dtype=f8), ft.empty(17, 56, dtype=f32))
        dg.fp8_gemm_nt(a, b, ft.empty(m, 2112, dtype=ft.bfloat16), compiled_dims="nk")
    a = (ft.empty(1024, 7168, dtype=f8), ft.mn_major(1024, 56))
    b = (ft.empty(8, 512, 7168, dtype=f8), ft.empty(8, 4, 56, dtype=f32))
    dg.m_grouped_fp8_gemm_nt_contiguous(
        a, b, ft.empty(1024, 512, dtype=ft.bfloat16), ft.empty(1024, dtype=i32)
    )
    a = (ft.empty(8, 64, 7168, dtype=f8), ft.empty(8, 64, 56, dtype=f32))
    b = (ft.empty(8, 512, 7168, dtype=f8), ft.empty(8, 4, 56, dtype=f32))
    dg.m_grouped_fp8_gemm_nt_masked(
        a, b, ft.empty(8, 64, 512, dtype=ft.bfloat16), ft.empty(8, dtype=i32), 2
    )
    dg.get_paged_mqa_logits_metadata(ft.empty(7, dtype=i32), 64, 132)
    guard.uninstall_guard()  # writes the manifest


def test_recorder_keeps_distinct_signatures_with_counts(
    fake_dg: ModuleType, tmp_path: Path
) -> None:
    path = tmp_path / "rec.json"
    record_calls(fake_dg, path)
    raw = json.loads(path.read_text())
    assert raw["kind"] == "jitwarm-recording" and raw["num_sms"] == 132
    assert raw["deep_gemm_version"] == "2.5.0.fake"
    gemms = [c for c in raw["calls"] if c["family"] == "fp8_gemm_nt"]
    assert sorted((c["args"][0][0]["shape"][0], c["count"]) for c in gemms) == [(3, 2), (700, 1)]
    assert gemms[0]["kwargs"] == {"compiled_dims": "nk"}
    assert {c["family"] for c in raw["calls"]} == {
        "fp8_gemm_nt",
        "m_grouped_fp8_gemm_nt_contiguous",
        "m_grouped_fp8_gemm_nt_masked",
        "get_paged_mqa_logits_metadata",
    }
    assert is_recording(path) and is_recording(tmp_path)


def test_plan_from_recording_widens_m_to_the_serving_domain(
    fake_dg: ModuleType, tmp_path: Path
) -> None:
    path = tmp_path / "rec.json"
    record_calls(fake_dg, path)
    serving = ServingConfig(max_batched_tokens=1024, max_running_seqs=64)
    plan = plan_from_recording(path, serving)
    by_family = {e.family: e for e in plan.entries}
    gemm = by_family[Family.FP8_GEMM_NT]
    assert (gemm.n, gemm.k, gemm.num_groups) == (2112, 7168, 1)
    assert gemm.conventions == Conventions()  # fp8 e4m3, fp32 scales, (1,128,128), bf16, nk
    assert gemm.mset == MSet.span(1, 1024)
    assert gemm.selection is Selection.EXACT
    expected = select_kernels(
        Family.FP8_GEMM_NT,
        2112,
        7168,
        1,
        Conventions(),
        MSet.span(1, 1024),
        arch="sm90",
        num_sms=132,
        mk_alignment=128,
    )[1]
    assert gemm.kernels == expected
    contiguous = by_family[Family.M_GROUPED_CONTIGUOUS]
    assert (contiguous.n, contiguous.k, contiguous.num_groups, contiguous.m_kind) == (
        512,
        7168,
        8,
        MKind.TOTAL_ROWS,
    )
    # Without a model: every token may reach all 8 local experts.
    assert contiguous.mset.max == 128 * -(-(1024 * 8 + 8 * 127) // 128) and 1024 in contiguous.mset
    masked = by_family[Family.M_GROUPED_MASKED]
    assert masked.mset == MSet.span(1, 65) and masked.phases == ["decode"]
    meta = by_family[Family.PAGED_MQA_METADATA]
    assert meta.dims == {"block_kv": 64} and meta.mset == MSet.span(1, 64)
    assert plan.model.source == f"recording:{path}"


def test_model_gives_the_moe_routing(fake_dg: ModuleType, tmp_path: Path) -> None:
    path = tmp_path / "rec.json"
    record_calls(fake_dg, path)
    model = load_model("deepseek-v3")
    serving = ServingConfig(max_batched_tokens=1024, max_running_seqs=64, ep=1)
    plan = plan_from_recording(path, serving, model=model)
    by_family = {e.family: e for e in plan.entries}
    assert by_family[Family.M_GROUPED_MASKED].mset == domains.masked_expected_m(
        model.moe, serving
    ) | MSet.of([2])
    assert by_family[Family.M_GROUPED_CONTIGUOUS].mset == domains.contiguous_total_rows(
        model.moe, serving
    )


def test_recorded_sm_count_and_conventions_are_kept(tmp_path: Path) -> None:
    call = {
        "family": "fp8_gemm_nt",
        "args": [
            [
                {"shape": [9, 1536], "dtype": "float8_e4m3fn", "stride": [1536, 1]},
                {"shape": [9, 12], "dtype": "float32", "stride": [1, 12]},
            ],
            [
                {"shape": [3072, 1536], "dtype": "float8_e4m3fn", "stride": [1536, 1]},
                {"shape": [24, 12], "dtype": "float32", "stride": [12, 1]},
            ],
            {"shape": [9, 3072], "dtype": "bfloat16", "stride": [3072, 1]},
        ],
        "kwargs": {"compiled_dims": ""},
    }
    rec = {
        "kind": "jitwarm-recording",
        "schema_version": 1,
        "num_sms": 120,
        "jit_env": {"DG_JIT_CPP_STANDARD": "17"},
        "calls": [call, {"family": "bf16_gemm_nt", "args": []}],
    }
    path = tmp_path / "r.json"
    path.write_text(json.dumps(rec))
    out = recording_to_plan(load_recording(path), ServingConfig(max_batched_tokens=64))
    (entry,) = out.plan.entries
    assert out.plan.num_sms == 120 and out.plan.jit_env == {"DG_JIT_CPP_STANDARD": "17"}
    assert entry.conventions.compiled_dims == ""
    assert entry.selection is Selection.SWEEP  # the model covers "nk" only: every M is called
    assert out.calls_used == 1 and list(out.skipped) == [
        "bf16_gemm_nt: jitwarm does not plan bf16_gemm_nt"
    ]


def test_folder_of_recordings_merges_and_conflicts_are_errors(
    fake_dg: ModuleType, tmp_path: Path
) -> None:
    record_calls(fake_dg, tmp_path / "a.json")
    raw = json.loads((tmp_path / "a.json").read_text())
    raw["calls"] = raw["calls"][:1]
    (tmp_path / "b.json").write_text(json.dumps(raw))
    merged = load_recording(tmp_path)  # the same signature from two processes: counts add up
    assert len(merged.calls) == len(json.loads((tmp_path / "a.json").read_text())["calls"])
    assert merged.calls[0].count == 2 * raw["calls"][0]["count"]
    assert load_recording(tmp_path / "a.json").calls[0].count == raw["calls"][0]["count"]
    raw["jit_env"] = {"DG_JIT_DEBUG": "1"}
    (tmp_path / "b.json").write_text(json.dumps(raw))
    with pytest.raises(RecordingError, match="disagree"):
        load_recording(tmp_path)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("{", "not valid JSON"),
        ('{"kind": "plan"}', "not a jitwarm recording"),
        ('{"kind": "jitwarm-recording", "schema_version": 9}', "schema_version 9"),
        (
            '{"kind": "jitwarm-recording", "schema_version": 1, "calls": [{"args": []}]}',
            "calls.0.family",
        ),
    ],
)
def test_bad_recordings_are_usage_errors(tmp_path: Path, text: str, match: str) -> None:
    path = tmp_path / "r.json"
    path.write_text(text)
    with pytest.raises(RecordingError, match=match) as info:
        plan_from_recording(path, ServingConfig())
    assert isinstance(info.value, UsageError)


def _t(shape: list[int], dtype: str) -> dict:
    return {"shape": shape, "dtype": dtype, "stride": []}


def test_a_recording_of_a_build_with_only_fp8_fp4_indexer_calls() -> None:
    """2.8.2 / vLLM 2.8.1: fp8_fp4_mqa_logits((q, None), kv, w, ks, ke, max_seqlen_k) is the FP8
    indexer; its sixth positional argument is max_seqlen_k (csrc/apis/attention.hpp)."""
    from jitwarm.profiles import get_profile
    from jitwarm.record._interpret import interpret

    q = [_t([7, 64, 128], "float8_e4m3fn"), None]
    kv = [_t([7, 128], "float8_e4m3fn"), _t([7], "float32")]
    call = RecordedCall(
        family="fp8_fp4_mqa_logits",
        args=[q, kv, _t([7, 64], "float32"), _t([7], "int32"), _t([7], "int32"), 0],
    )
    site = interpret(call, get_profile("tokenspeed-deepgemm-2.8.2"))
    assert site.family is Family.MQA_LOGITS and site.conventions.ab_dtype == "fp8_e4m3"
    assert site.dims == {"heads": 64, "head_dim": 128} and site.m == 7
    paged = RecordedCall(
        family="fp8_fp4_paged_mqa_logits",
        args=[
            [_t([4, 2, 64, 128], "float8_e4m3fn"), None],
            _t([16, 64, 1, 132], "uint8"),
            _t([8, 64], "float32"),
            _t([4, 2], "int32"),
            _t([4, 4], "int32"),
            _t([133, 2], "int32"),
            256,
        ],
    )
    site = interpret(paged, get_profile("vllm-deepgemm-2.8.1"))
    assert site.family is Family.PAGED_MQA_LOGITS
    assert site.dims == {"heads": 64, "head_dim": 128, "block_kv": 64, "next_n": 2}
    # upstream conventions read the same call as the FP4 variant
    assert interpret(call).family is Family.FP4_MQA_LOGITS
