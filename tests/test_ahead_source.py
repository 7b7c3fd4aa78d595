"""Rendering DeepGEMM 2.5.0's kernel sources from planned template arguments, checked against
the sources the real library generated on an H100 (their sha1 is in the ground truth)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from _data import SM90_H100_GROUND_TRUTH
from _wheels import unpacked_wheel
from jitwarm.ahead._digest import deepgemm_digest
from jitwarm.ahead._source import IncludeHasher, SourceRenderer, fill

GROUND_TRUTH = SM90_H100_GROUND_TRUTH
# The include hash of sm90_fp8_gemm_1d2d.cuh in tokenspeed-deepgemm 2.5.0.post20260604. Captured
# data pins it: every source the library generated on the H100 carries it, and their sha1 in the
# ground truth match the sources rendered with it (test below); a device run took every kernel
# compiled ahead with it. The headers of the pinned wheel give it too (the wheel test below).
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


def _wrongly_rendered(renderer: SourceRenderer) -> list[tuple[str, str]]:
    """The ground-truth points whose rendered source's sha1 is not the captured one."""
    points = _points()
    assert len(points) > 1400
    return [
        (fam, args)
        for fam, args, kernel in points
        if hashlib.sha1(renderer.render(fam, args).source.encode()).hexdigest()[:16] != kernel
    ]  # type: ignore[union-attr]


def test_rendered_sources_are_the_librarys_byte_for_byte() -> None:
    renderer = SourceRenderer(Path("/nonexistent"), include_hash=INCLUDE_HASH_2_5_0)
    assert _wrongly_rendered(renderer) == []


def _install(version: str) -> Path:
    return unpacked_wheel(version) / "deep_gemm"


def test_the_pinned_wheels_headers_hash_as_the_library_did() -> None:
    # The include hash computed from the real 2.5.0 headers (not given): the rendered sources
    # still match the H100's byte for byte, so IncludeHasher and the digest are DeepGEMM's.
    renderer = SourceRenderer.for_install(_install("2.5.0"), nvcc_release=(13, 0))
    assert renderer is not None
    assert _wrongly_rendered(renderer) == []


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


# DeepGEMM's digest as csrc/utils/hash.hpp states it, written out here so that no expected
# value comes from the code under test: FNV-1a over the bytes from each of two seeds, each state
# finished by SplitMix64, printed as two 16-digit hex halves.
def _reference_digest(data: str) -> str:
    mask = 2**64 - 1

    def fnv1a(state: int) -> int:
        for byte in data.encode():
            state = ((state ^ byte) * 1099511628211) % 2**64
        return state

    def split_mix(z: int) -> int:
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & mask
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & mask
        return z ^ (z >> 31)

    halves = (split_mix(fnv1a(seed)) for seed in (0xC6A4A7935BD1E995, 0x9E3779B97F4A7C15))
    return "".join(format(h, "016x") for h in halves)


def test_include_hash_follows_deep_gemm_includes_recursively(tmp_path: Path) -> None:
    inc = tmp_path / "include" / "deep_gemm"
    inc.mkdir(parents=True)
    a_text = "#include <deep_gemm/b.cuh>\n#include <cuda.h>\nint a;\n"
    (inc / "a.cuh").write_text(a_text)
    (inc / "b.cuh").write_text("int b;\n")
    code = "#include <deep_gemm/a.cuh>\n"
    hasher = IncludeHasher(tmp_path / "include")
    # compiler.hpp: a file's hash is digest(<each deep_gemm include's hash>$... #digest(text));
    # a source's, digest(<each include's hash>$...). <cuda.h> is not DeepGEMM's: not followed.
    b = _reference_digest("#" + _reference_digest("int b;\n"))
    a = _reference_digest(f"{b}$#" + _reference_digest(a_text))
    assert hasher.source_hash(code) == _reference_digest(f"{a}$")
    (inc / "b.cuh").write_text("int b2;\n")  # a header two levels down moves the hash
    assert IncludeHasher(tmp_path / "include").source_hash(code) != hasher.source_hash(code)


@pytest.mark.parametrize("text", ["", "kernel", "kernel ", "\u00e9\n#include <deep_gemm/x.cuh>\n"])
def test_digest_is_deepgemms(text: str) -> None:
    assert deepgemm_digest(text) == deepgemm_digest(text.encode()) == _reference_digest(text)


def test_a_renderer_only_for_an_install_holding_these_templates() -> None:
    pkg = _install("2.5.0")
    renderer = SourceRenderer.for_install(pkg, nvcc_release=(13, 0))
    assert renderer is not None and renderer.include_dir == (pkg / "include").absolute()
    assert SourceRenderer.for_install(pkg, nvcc_release=(12, 8)) is None  # no sm_90a suffix
    assert SourceRenderer.for_install(pkg, nvcc_release=None) is None
    assert SourceRenderer.for_install(None, nvcc_release=(13, 0)) is None
    # Builds whose extension generates other sources (DeepJIT's 2.8.x): nothing is rendered.
    for other in ("2.8.0", "2.8.2"):
        assert SourceRenderer.for_install(_install(other), nvcc_release=(13, 0)) is None
