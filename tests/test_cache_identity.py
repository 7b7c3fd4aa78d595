"""Entry names, template arguments from kernel.cu, and families, against the ground truth."""

from __future__ import annotations

import json

import pytest

from _cubin import GROUND_TRUTH, gemm_source, render_kernel_cu
from jitwarm.cache import family_of, parse_entry_name, parse_template_args
from jitwarm.dgenv import Layout
from jitwarm.plan._schema import Family


def _ground_truth_args() -> list[str]:
    if not GROUND_TRUTH.exists():
        pytest.skip("ground truth data not present")
    data = json.loads(GROUND_TRUTH.read_text())
    args = {p["template_args"] for shape in data["fp8_gemm_nt"].values() for p in shape.values()}
    return sorted(args)


def test_entry_names_of_both_layouts() -> None:
    assert parse_entry_name("kernel.sm90_fp8_gemm_1d2d.0123abcd") == (
        Layout.UPSTREAM,
        "sm90_fp8_gemm_1d2d",
        "0123abcd",
    )
    assert parse_entry_name("sm90_fp8_gemm_1d2d.ffee") == (
        Layout.DEEPJIT,
        "sm90_fp8_gemm_1d2d",
        "ffee",
    )
    for bad in ("kernel", "kernel.", "nodot", ".hidden", "a.b-c", "a..b", "x/y.z"):
        assert parse_entry_name(bad) is None, bad


def test_every_ground_truth_gemm_round_trips_through_kernel_cu() -> None:
    args = _ground_truth_args()
    assert len(args) > 50
    for a in args:
        assert parse_template_args(gemm_source(a)) == a


def test_other_family_sources_parse() -> None:
    data = json.loads(GROUND_TRUTH.read_text()) if GROUND_TRUTH.exists() else {}
    for fam in data.get("other_families", {}).values():
        for p in fam["points"].values():
            if p.get("template_args"):
                src = render_kernel_cu("sm90_any", p["template_args"])
                assert parse_template_args(src) == p["template_args"]


def test_nested_and_truncated_sources() -> None:
    src = render_kernel_cu("k", "Foo<1, 2>, 3")
    assert parse_template_args(src) == "Foo<1, 2>, 3"
    full = gemm_source(_ground_truth_args()[0])
    assert parse_template_args(full[: full.index(">);")]) is None
    assert parse_template_args("int main() {}") is None


def test_family_from_name_and_gemm_type() -> None:
    normal = "cute::UMMA::Major::K, 0, 4096, 7168, 1, 64, 128, GemmType::Normal, x"
    batched = normal.replace("Normal", "Batched")
    assert family_of("sm90_fp8_gemm_1d2d", normal) is Family.FP8_GEMM_NT
    assert family_of("sm90_fp8_gemm_1d2d", batched) is Family.FP8_EINSUM
    assert family_of("sm90_fp8_gemm_1d2d", None) is None
    assert family_of("sm90_m_grouped_fp8_gemm_contiguous_1d2d", None) is Family.M_GROUPED_CONTIGUOUS
    assert family_of("sm90_paged_mqa_logits_metadata", "32, 256, 132, false") is (
        Family.PAGED_MQA_METADATA
    )
    assert family_of("transpose_fp32", "128, 64, 56") is None
    assert family_of("sm90_bf16_gemm", normal) is None
