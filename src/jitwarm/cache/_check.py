"""Find what is wrong in a cache, and move it to a quarantine folder.

Findings:
- ``incomplete``: an entry folder missing ``kernel.cu`` or ``kernel.cubin`` (DeepGEMM's
  upstream JIT aborts on such a folder), or, for DeepJIT, ``meta.json`` or the ``.committed``
  marker (DeepJIT ignores it, and cannot publish a fresh compile over it); a file where an
  entry folder should be.
- ``poisoned``: ``kernel.cubin`` empty or not a valid CUDA ELF (loading fails with
  CUDA_ERROR_INVALID_IMAGE).
- ``leftover_temp``: a folder in ``tmp/`` with no activity for the grace period (a failed or
  killed compile or import). Younger ones may be live compiles and are left alone.
- ``stray``: something in ``cache/`` DeepGEMM never writes (a link, a foreign name); reported
  only.

Fixing moves each fixable finding out of the way with one rename into
``<root>/jitwarm-quarantine/`` (nothing is deleted; the next warm recompiles the kernel).
Read-only roots are never changed.
"""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from jitwarm.cache._fsops import QUARANTINE_DIR, move_aside
from jitwarm.cache._scan import CacheInfo, EntryStatus, scan_entry

DEFAULT_TMP_GRACE_S = 3600.0  # compiles take seconds; an hour of silence means abandoned


class FindingKind(str, Enum):
    INCOMPLETE = "incomplete"
    POISONED = "poisoned"
    LEFTOVER_TEMP = "leftover_temp"
    STRAY = "stray"


@dataclass(frozen=True)
class Finding:
    kind: FindingKind
    path: Path
    root: Path
    detail: str
    size_bytes: int
    fixable: bool  # False: read-only root, a stray, or a temp folder still in its grace period

    def to_json(self) -> dict[str, object]:
        return {
            "kind": self.kind.value,
            "path": str(self.path),
            "detail": self.detail,
            "size_bytes": self.size_bytes,
            "fixable": self.fixable,
        }


@dataclass(frozen=True)
class CheckReport:
    findings: tuple[Finding, ...]

    @property
    def fixable(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.fixable)

    @property
    def ok(self) -> bool:
        """True when nothing needs fixing (strays and young temp folders do not count)."""
        return not any(
            f.kind in (FindingKind.INCOMPLETE, FindingKind.POISONED) or f.fixable
            for f in self.findings
        )

    def count(self, kind: FindingKind) -> int:
        return sum(1 for f in self.findings if f.kind is kind)


def check_cache(
    info: CacheInfo, *, tmp_grace_s: float = DEFAULT_TMP_GRACE_S, now: float | None = None
) -> CheckReport:
    now = time.time() if now is None else now
    findings = []
    for e in info.entries:
        if e.status is EntryStatus.OK:
            continue
        kind = FindingKind(e.status.value)
        fixable = kind is not FindingKind.STRAY and not e.read_only
        detail = e.problem or e.status.value
        if e.read_only and kind is not FindingKind.STRAY:
            detail += " (read-only root: not changed)"
        findings.append(Finding(kind, e.path, e.root, detail, e.size_bytes, fixable))
    for t in info.temp_dirs:
        idle_s = now - t.last_activity_s
        young = idle_s < tmp_grace_s
        detail = f"idle {idle_s / 60:.0f} min"
        if young:
            detail += " (may be a live compile: left alone)"
        elif t.read_only:
            detail += " (read-only root: not changed)"
        findings.append(
            Finding(
                FindingKind.LEFTOVER_TEMP,
                t.path,
                t.root,
                detail,
                t.size_bytes,
                not young and not t.read_only,
            )
        )
    return CheckReport(tuple(findings))


def quarantine_findings(report: CheckReport) -> list[tuple[Finding, Path | None]]:
    """Move every fixable finding into ``<root>/jitwarm-quarantine/``.

    Returns (finding, new path); the new path is None when the item was already gone (another
    process fixed, pruned or published over it first).
    """
    moved = []
    for f in report.fixable:
        label = "tmp-" if f.kind is FindingKind.LEFTOVER_TEMP else ""
        dest = move_aside(f.path, f.root, QUARANTINE_DIR, label=label)
        if dest is not None and f.kind is not FindingKind.LEFTOVER_TEMP and _healthy(dest, f):
            # Between our scan and the move another process replaced the entry with a good
            # one: put it back if its slot is still free (out of cache/ it was only a miss).
            with contextlib.suppress(OSError):
                os.rename(dest, f.path)
                dest = None
        moved.append((f, dest))
    return moved


def _healthy(moved: Path, f: Finding) -> bool:
    try:
        entry = scan_entry(moved, f.root, read_only=False, name=f.path.name)
    except OSError:
        return False
    return entry.status is EntryStatus.OK
