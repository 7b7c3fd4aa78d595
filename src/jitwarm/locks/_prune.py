"""Removing lock files nobody holds: every kernel ever warmed leaves one (empty) file per lock
scope, and plans come and go. ``jitwarm cache prune`` calls this."""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from pathlib import Path

from jitwarm.locks._kernel_locks import LOCKS_DIR

IDLE_S = 24 * 3600.0  # a lock file made this long ago and free now belongs to no running warm


def prune_idle_locks(cache_root: Path, *, older_than_s: float = IDLE_S) -> int:
    """Delete the lock files under ``cache_root`` made more than ``older_than_s`` ago that no
    process holds (taken without waiting, deleted while held). The number deleted.

    A process that opened such a file just before it went then locks a file nobody else will
    open: at worst one kernel compiles twice, as without locks; never a wrong cache."""
    cutoff = time.time() - older_than_s
    removed = 0
    for path in sorted((cache_root / LOCKS_DIR).glob("*/*.lock")):
        with contextlib.suppress(OSError):
            if path.stat().st_mtime > cutoff:
                continue
            fd = os.open(path, os.O_RDWR)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                continue  # held, or flock unsupported here: leave it
            try:
                lease = path.with_suffix(".lease")
                if lease.exists() and lease.stat().st_mtime > cutoff:
                    continue  # a lease-only holder on another host may still use it
                lease.unlink(missing_ok=True)
                path.unlink()
                removed += 1
            finally:
                os.close(fd)
    return removed
