"""Scanning both layouts into records; damage becomes statuses and warnings, not errors."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from _cubin import age, gemm_source, real_cubin, render_kernel_cu, write_entry
from jitwarm.cache import CacheNotFoundError, EntryStatus, scan_cache
from jitwarm.dgenv import (
    CacheRoots,
    EnvValueError,
    Layout,
    key_env,
    resolve_cache_roots,
)
from jitwarm.plan._schema import Family

ARGS = (
    "cute::UMMA::Major::K, 0, 4096, 7168, 1, 16, 32, 128, 128, 128, 64, 16, 128, 128, 1, "
    "false, 132, GemmType::Normal, cutlass::bfloat16_t, epilogue::transform::EpilogueIdentity"
)


def _upstream_cache(root: Path) -> dict[str, Path]:
    cubin = real_cubin()
    src = gemm_source(ARGS)
    paths = {
        "ok": write_entry(root, "sm90_fp8_gemm_1d2d", "a" * 32, source=src, cubin=cubin),
        "no_cubin": write_entry(root, "sm90_fp8_gemm_1d2d", "b" * 32, source=src, cubin=None),
        "empty": write_entry(root, "sm90_fp8_gemm_1d2d", "c" * 32, source=src, cubin=b""),
        "text": write_entry(
            root, "sm90_fp8_gemm_1d2d", "d" * 32, source=src, cubin=b"CUDA_ERROR_INVALID_IMAGE"
        ),
        "helper": write_entry(
            root,
            "transpose_fp32",
            "e" * 32,
            source=render_kernel_cu("transpose_fp32", "128, 64, 56"),
            cubin=cubin,
        ),
    }
    (root / "cache" / "README").write_text("not an entry")
    (root / "cache" / "kernel.sm90_x.f00d").write_text("a file where a folder belongs")
    os.symlink(paths["ok"], root / "cache" / "kernel.sm90_fp8_gemm_1d2d.link")
    (root / "tmp" / "stale").mkdir(parents=True, exist_ok=True)
    (root / "tmp" / "stale" / "kernel.cu").write_text(src)
    return paths


def test_upstream_layout_statuses(tmp_path: Path) -> None:
    _upstream_cache(tmp_path)
    info = scan_cache(tmp_path)
    by_key = {e.name: e for e in info.entries}
    ok = by_key["kernel.sm90_fp8_gemm_1d2d." + "a" * 32]
    assert ok.status is EntryStatus.OK and ok.layout is Layout.UPSTREAM
    assert ok.family is Family.FP8_GEMM_NT and ok.template_args == ARGS
    assert ok.size_bytes == len(real_cubin()) + len(gemm_source(ARGS))
    assert by_key["kernel.sm90_fp8_gemm_1d2d." + "b" * 32].status is EntryStatus.INCOMPLETE
    assert by_key["kernel.sm90_fp8_gemm_1d2d." + "c" * 32].problem == "kernel.cubin: empty file"
    assert by_key["kernel.sm90_fp8_gemm_1d2d." + "d" * 32].status is EntryStatus.POISONED
    helper = by_key["kernel.transpose_fp32." + "e" * 32]
    assert helper.family is None and helper.family_label == "(transpose_fp32)"
    assert by_key["README"].status is EntryStatus.STRAY
    assert by_key["kernel.sm90_fp8_gemm_1d2d.link"].status is EntryStatus.STRAY
    assert by_key["kernel.sm90_x.f00d"].status is EntryStatus.INCOMPLETE
    assert [t.path.name for t in info.temp_dirs] == [p.name for p in (tmp_path / "tmp").iterdir()]
    assert info.layout is Layout.UPSTREAM


def test_deepjit_layout_needs_commit_marker_and_tracks_use(tmp_path: Path) -> None:
    cubin, src = real_cubin(), gemm_source(ARGS)
    good = write_entry(
        tmp_path, "sm90_fp8_gemm_1d2d", "1" * 32, source=src, cubin=cubin, deepjit=True
    )
    write_entry(
        tmp_path,
        "sm90_fp8_gemm_1d2d",
        "2" * 32,
        source=src,
        cubin=cubin,
        deepjit=True,
        committed=False,
    )
    age(good, 10 * 86400)
    used = time.time() - 60
    os.utime(good / ".committed", (used, used))  # DeepJIT touches the marker on every hit
    info = scan_cache(tmp_path)
    by_key = {e.key: e for e in info.entries}
    assert by_key["1" * 32].status is EntryStatus.OK
    assert by_key["1" * 32].last_used_s == pytest.approx(used, abs=1)
    assert by_key["2" * 32].status is EntryStatus.INCOMPLETE
    assert by_key["2" * 32].problem == "missing .committed"
    assert info.layout is Layout.DEEPJIT


def test_scan_does_not_count_as_use(tmp_path: Path) -> None:
    entry = write_entry(
        tmp_path, "sm90_fp8_gemm_1d2d", "a" * 32, source=gemm_source(ARGS), cubin=real_cubin()
    )
    age(entry, 30 * 86400)
    before = os.stat(entry / "kernel.cubin").st_atime
    scan_cache(tmp_path)
    scan_cache(tmp_path)
    assert os.stat(entry / "kernel.cubin").st_atime == pytest.approx(before, abs=1)
    (e,) = scan_cache(tmp_path).entries
    assert time.time() - e.last_used_s > 29 * 86400


def test_no_cache_is_the_one_error_and_missing_read_only_root_a_warning(tmp_path: Path) -> None:
    with pytest.raises(CacheNotFoundError, match="no DeepGEMM cache"):
        scan_cache(tmp_path / "absent")
    (tmp_path / "w").mkdir()
    info = scan_cache(CacheRoots(tmp_path / "w", (tmp_path / "r",), "DG_JIT_CACHE_DIR"))
    assert info.entries == () and any("does not exist" in w for w in info.warnings)


def test_read_only_root_entries_are_marked(tmp_path: Path) -> None:
    write_entry(
        tmp_path / "r",
        "sm90_fp8_gemm_1d2d",
        "a" * 32,
        source=gemm_source(ARGS),
        cubin=real_cubin(),
        deepjit=True,
    )
    (tmp_path / "w").mkdir()
    info = scan_cache(CacheRoots(tmp_path / "w", (tmp_path / "r",)))
    (e,) = info.entries
    assert e.read_only and e.status is EntryStatus.OK


def test_root_resolution_order(tmp_path: Path) -> None:
    env = {"HOME": str(tmp_path), "DG_JIT_CACHE_DIR": f"{tmp_path}/w:{tmp_path}/r1:{tmp_path}/r2"}
    flagged = resolve_cache_roots(str(tmp_path / "flag"), env=env)
    assert flagged == CacheRoots(tmp_path / "flag", (), "--cache-dir")
    split = resolve_cache_roots(env=env, layout=Layout.DEEPJIT)
    assert split.writable == tmp_path / "w" and split.read_only == (
        tmp_path / "r1",
        tmp_path / "r2",
    )
    # 2.5.0 does not split the value: it is one (odd) path
    literal = resolve_cache_roots(env=env, layout=Layout.UPSTREAM)
    assert literal.writable == Path(env["DG_JIT_CACHE_DIR"]) and literal.read_only == ()
    assert resolve_cache_roots(env=env).read_only  # auto: no such folder, so a list
    with pytest.raises(EnvValueError, match="DG_JIT_CACHE_DIR"):
        resolve_cache_roots(env={"DG_JIT_CACHE_DIR": "/a::/b"}, layout=Layout.DEEPJIT)
    home = {"HOME": str(tmp_path)}
    assert resolve_cache_roots(env=home, layout=Layout.DEEPJIT).writable == tmp_path / ".dj"
    assert resolve_cache_roots(env=home, layout=Layout.UPSTREAM).writable == tmp_path / ".deep_gemm"


def test_key_env_is_typed_and_named_in_errors() -> None:
    env = {
        "DG_JIT_DEBUG": "1",
        "DG_JIT_CPP_STANDARD": "17",
        "DG_JIT_PTXAS_VERBOSE": "0",
        "DG_JIT_PRINT_COMPILER_COMMAND": "1",
    }
    assert key_env(env) == {"DG_JIT_DEBUG": "1", "DG_JIT_CPP_STANDARD": "17"}
    assert key_env({"DG_JIT_CPP_STANDARD": "20"}) == {}
    # DeepJIT's spellings, and its DJ_JIT_* fallback, under the DG_JIT_* name
    assert key_env({"DG_JIT_WITH_LINEINFO": "yes", "DJ_JIT_CHECK_NO_SPILLS": "true"}) == {
        "DG_JIT_WITH_LINEINFO": "1",
        "DG_JIT_CHECK_NO_SPILLS": "1",
    }
    with pytest.raises(EnvValueError, match="DG_JIT_WITH_LINEINFO"):
        key_env({"DG_JIT_WITH_LINEINFO": "maybe"})


def test_cache_and_bundle_cli_import_neither_torch_nor_deep_gemm() -> None:
    code = (
        "import sys; import jitwarm.cache, jitwarm.bundle, jitwarm.cli._cache_cmd, "
        "jitwarm.cli._bundle_cmd; print(sorted(m for m in sys.modules "
        "if m.split('.')[0] in ('torch', 'deep_gemm')))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
