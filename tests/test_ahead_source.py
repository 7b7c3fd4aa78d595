"""Rendering DeepGEMM 2.5.0's kernel sources from planned template arguments, checked against
the sources the real library generated on an H100 (their sha1 is in the ground truth)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from _data import SM90_H100_GROUND_TRUTH
from jitwarm.ahead.digest import deepgemm_digest
from jitwarm.ahead.source import (
    BASE_FLAGS,
    GEMM_1D2D_TEMPLATE,
    INCLUDE_HASH_LINE,
    NVCC_FLAGS,
    IncludeHasher,
    SourceRenderer,
    fill,
)

GROUND_TRUTH = SM90_H100_GROUND_TRUTH
# The include hash of sm90_fp8_gemm_1d2d.cuh in tokenspeed-deepgemm 2.5.0.post20260604, computed
# by IncludeHasher from that wheel's headers (and confirmed on the device: every kernel compiled
# ahead was taken by the library, i.e. rendered byte for byte).
INCLUDE_HASH_2_5_0 = "8048e27edfabc58187d5fe308bb6e6c2"
FAMILY_OF = {
    "m_grouped_contig": "m_grouped_fp8_gemm_nt_contiguous",
    "m_grouped_masked": "m_grouped_fp8_gemm_nt_masked",
}


def _points() -> list[tuple[str, str, str]]:
    if not GROUND_TRUTH.is_file():
        pytest.skip(f"no ground truth at {GROUND_TRUTH}")
    truth = json.loads(GROUND_TRUTH.read_text())
    out = [
        ("fp8_gemm_nt", p["template_args"], p["kernel"])
        for pts in truth["fp8_gemm_nt"].values()
        for p in pts.values()
    ]
    for name, family in FAMILY_OF.items():
        out += [
            (family, p["template_args"], p["kernel"])
            for p in truth["other_families"][name]["points"].values()
            if p.get("template_args")
        ]
    return out


def test_rendered_sources_are_the_librarys_byte_for_byte() -> None:
    renderer = SourceRenderer(Path("/nonexistent"), include_hash=INCLUDE_HASH_2_5_0)
    points = _points()
    assert len(points) > 1400
    wrong = [
        (fam, args)
        for fam, args, kernel in points
        if hashlib.sha1(renderer.render(fam, args).source.encode()).hexdigest()[:16] != kernel
    ]  # type: ignore[union-attr]
    assert wrong == []


def test_a_changed_argument_changes_the_source() -> None:
    renderer = SourceRenderer(Path("/nonexistent"), include_hash=INCLUDE_HASH_2_5_0)
    fam, args, kernel = _points()[0]
    bumped = args.replace(", 132,", ", 78,")
    assert bumped != args
    source = renderer.render(fam, bumped).source  # type: ignore[union-attr]
    assert hashlib.sha1(source.encode()).hexdigest()[:16] != kernel


def test_unknown_families_and_argument_lists_are_not_rendered() -> None:
    renderer = SourceRenderer(Path("/nonexistent"), include_hash=INCLUDE_HASH_2_5_0)
    assert renderer.render("fp8_einsum", ", ".join(["1"] * 20)) is None
    assert renderer.render("fp8_gemm_nt", "1, 2, 3") is None


def test_flags_are_deepgemms_in_order() -> None:
    renderer = SourceRenderer(Path("/opt/dg/include"), include_hash="x")
    assert renderer.flags[:3] == (
        "-std=c++20",
        "--diag-suppress=39,161,174,177,186,940",
        "--ptxas-options=--register-usage-level=10",
    )
    assert renderer.flags[3:5] == ("-I/opt/dg/include", "--gpu-architecture=sm_90a")
    assert renderer.flags[-1] == "--expt-extended-lambda"


def test_fill_is_fmt_positional_with_doubled_braces() -> None:
    assert fill("a {} {{b}} {}", ["1", 2]) == "a 1 {b} 2"
    with pytest.raises(ValueError, match="takes 2 arguments"):
        fill("{} {}", ["1"])


def test_include_hash_follows_deep_gemm_includes_recursively(tmp_path: Path) -> None:
    inc = tmp_path / "include" / "deep_gemm"
    inc.mkdir(parents=True)
    (inc / "a.cuh").write_text("#include <deep_gemm/b.cuh>\n#include <cuda.h>\nint a;\n")
    (inc / "b.cuh").write_text("int b;\n")
    code = "#include <deep_gemm/a.cuh>\n"
    hasher = IncludeHasher(tmp_path / "include")
    b = deepgemm_digest("#" + deepgemm_digest("int b;\n"))
    a = deepgemm_digest(f"{b}$#" + deepgemm_digest((inc / "a.cuh").read_text()))
    assert hasher.source_hash(code) == deepgemm_digest(f"{a}$")
    (inc / "b.cuh").write_text("int b2;\n")  # a header two levels down moves the hash
    assert IncludeHasher(tmp_path / "include").source_hash(code) != hasher.source_hash(code)


def test_digest_is_two_64_bit_halves() -> None:
    d = deepgemm_digest(b"kernel")
    assert len(d) == 32 and int(d, 16) >= 0
    assert d == deepgemm_digest("kernel") != deepgemm_digest("kernel ")


def _fake_install(tmp_path: Path, pieces: tuple[str, ...]) -> Path:
    pkg = tmp_path / "deep_gemm"
    (pkg / "include" / "deep_gemm" / "impls").mkdir(parents=True)
    (pkg / "include" / "deep_gemm" / "impls" / "sm90_fp8_gemm_1d2d.cuh").write_text("int k;\n")
    (pkg / "_C.cpython-312-x86_64-linux-gnu.so").write_bytes(
        b"\0ELF\0" + b"\0".join(p.encode() for p in pieces)
    )
    return pkg


def test_a_renderer_only_for_an_install_holding_these_templates(tmp_path: Path) -> None:
    every = (GEMM_1D2D_TEMPLATE, INCLUDE_HASH_LINE, BASE_FLAGS, NVCC_FLAGS)
    pkg = _fake_install(tmp_path / "good", every)
    renderer = SourceRenderer.for_install(pkg, nvcc_release=(13, 0))
    assert renderer is not None and renderer.include_dir == (pkg / "include").absolute()
    assert SourceRenderer.for_install(pkg, nvcc_release=(12, 8)) is None  # no sm_90a suffix
    assert SourceRenderer.for_install(pkg, nvcc_release=None) is None
    assert SourceRenderer.for_install(None, nvcc_release=(13, 0)) is None
    other = _fake_install(
        tmp_path / "other", (GEMM_1D2D_TEMPLATE.replace("{},\n        {}\n", "{}\n"), *every[1:])
    )
    assert SourceRenderer.for_install(other, nvcc_release=(13, 0)) is None
