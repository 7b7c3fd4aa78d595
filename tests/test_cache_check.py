"""check finds broken entries and stale temp folders; --fix moves them aside, nothing else."""

from __future__ import annotations

import os
import time
from pathlib import Path

from _cubin import age, gemm_source, real_cubin, write_entry
from jitwarm.cache import (
    QUARANTINE_DIR,
    EntryStatus,
    FindingKind,
    check_cache,
    quarantine_findings,
    scan_cache,
)
from jitwarm.dgenv import CacheRoots

SRC = gemm_source(
    "cute::UMMA::Major::K, 0, 4096, 7168, 1, 16, 32, 128, 128, 128, 64, 16, 128, "
    "128, 1, false, 132, GemmType::Normal, cutlass::bfloat16_t, "
    "epilogue::transform::EpilogueIdentity"
)


def _broken_cache(root: Path) -> None:
    write_entry(root, "sm90_fp8_gemm_1d2d", "a" * 32, source=SRC, cubin=real_cubin())
    write_entry(root, "sm90_fp8_gemm_1d2d", "b" * 32, source=SRC, cubin=None)
    write_entry(root, "sm90_fp8_gemm_1d2d", "c" * 32, source=SRC, cubin=b"\x7fELF garbage")
    old = root / "tmp" / "dead-compile"
    old.mkdir(parents=True)
    (old / "kernel.cu").write_text(SRC)
    age(old, 2 * 3600)
    live = root / "tmp" / "live-compile"
    live.mkdir()
    (live / "kernel.cu").write_text(SRC)


def test_check_finds_each_kind(tmp_path: Path) -> None:
    _broken_cache(tmp_path)
    report = check_cache(scan_cache(tmp_path))
    kinds = sorted((f.kind.value, f.path.name, f.fixable) for f in report.findings)
    assert kinds == [
        ("incomplete", "kernel.sm90_fp8_gemm_1d2d." + "b" * 32, True),
        ("leftover_temp", "dead-compile", True),
        ("leftover_temp", "live-compile", False),  # may be a compile in progress
        ("poisoned", "kernel.sm90_fp8_gemm_1d2d." + "c" * 32, True),
    ]
    assert not report.ok


def test_fix_quarantines_and_leaves_a_clean_cache(tmp_path: Path) -> None:
    _broken_cache(tmp_path)
    report = check_cache(scan_cache(tmp_path))
    moved = quarantine_findings(report)
    assert len(moved) == 3 and all(dest is not None for _, dest in moved)
    quarantined = sorted(p.name for p in (tmp_path / QUARANTINE_DIR).iterdir())
    assert len(quarantined) == 3 and any("dead-compile" in q for q in quarantined)
    after = scan_cache(tmp_path)
    assert [e.status for e in after.entries] == [EntryStatus.OK]
    assert [t.path.name for t in after.temp_dirs] == ["live-compile"]
    assert check_cache(after).ok and after.quarantined == 3


def test_fix_skips_what_another_process_already_fixed(tmp_path: Path) -> None:
    _broken_cache(tmp_path)
    report = check_cache(scan_cache(tmp_path))
    victim = next(f for f in report.fixable if f.kind is FindingKind.POISONED)
    os.rename(victim.path, tmp_path / "elsewhere")
    moved = dict((f.path, dest) for f, dest in quarantine_findings(report))
    assert moved[victim.path] is None


def test_fix_puts_back_an_entry_replaced_by_a_good_one(tmp_path: Path) -> None:
    _broken_cache(tmp_path)
    report = check_cache(scan_cache(tmp_path))
    victim = next(f for f in report.fixable if f.kind is FindingKind.INCOMPLETE)
    (victim.path / "kernel.cubin").write_bytes(real_cubin())  # a concurrent repair
    moved = dict((f.path, dest) for f, dest in quarantine_findings(report))
    assert moved[victim.path] is None
    assert (victim.path / "kernel.cubin").exists()


def test_read_only_roots_are_reported_not_changed(tmp_path: Path) -> None:
    ro = tmp_path / "ro"
    write_entry(ro, "sm90_fp8_gemm_1d2d", "d" * 32, source=SRC, cubin=b"")
    (tmp_path / "w").mkdir()
    report = check_cache(scan_cache(CacheRoots(tmp_path / "w", (ro,))), now=time.time())
    (finding,) = report.findings
    assert finding.kind is FindingKind.POISONED and not finding.fixable
    assert "read-only" in finding.detail
    assert quarantine_findings(report) == []
    assert (ro / "cache" / ("kernel.sm90_fp8_gemm_1d2d." + "d" * 32)).exists()
    assert not report.ok
