"""File operations that keep a shared cache consistent while other processes use it.

An entry leaves ``cache/`` in one ``os.rename`` (to a trash or quarantine folder beside it on
the same filesystem) before anything inside it is touched: a reader sees the whole entry or
none. This matters: DeepGEMM's upstream JIT aborts the process when an entry folder exists without
``kernel.cu`` or ``kernel.cubin``, so a half-deleted entry would crash a live server.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import time
import uuid
from pathlib import Path

from jitwarm.errors import CacheWriteError

TRASH_DIR = "jitwarm-trash"
QUARANTINE_DIR = "jitwarm-quarantine"


def read_noatime(path: Path, *, limit: int | None = None) -> bytes:
    """Read a file without moving its access time (our own scans must not count as use)."""
    flags = os.O_RDONLY | getattr(os, "O_NOATIME", 0)
    restore = None
    try:
        fd = os.open(path, flags)
    except PermissionError:  # O_NOATIME needs ownership: read, then put the atime back
        before = os.stat(path)
        restore = (before.st_atime_ns, before.st_mtime_ns)
        fd = os.open(path, os.O_RDONLY)
    try:
        with os.fdopen(fd, "rb") as fh:
            data = fh.read() if limit is None else fh.read(limit)
    finally:
        if restore is not None:
            with contextlib.suppress(OSError):
                os.utime(path, ns=restore)
    return data


def fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def tree_size(path: Path) -> tuple[int, float]:
    """(bytes of regular files, newest mtime) under ``path``, not following links."""
    total, newest = 0, 0.0
    for dirpath, _dirs, files in os.walk(path, followlinks=False):
        with contextlib.suppress(OSError):
            newest = max(newest, os.lstat(dirpath).st_mtime)
        for name in files:
            with contextlib.suppress(OSError):
                st = os.lstat(os.path.join(dirpath, name))
                total += st.st_size
                newest = max(newest, st.st_mtime)
    return total, newest


def move_aside(path: Path, root: Path, folder: str, *, label: str = "") -> Path | None:
    """Rename ``path`` into ``<root>/<folder>/`` in one step; None if it is already gone
    (another process moved or deleted it first)."""
    dest_dir = root / folder
    dest_dir.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
    dest = dest_dir / f"{stamp}-{uuid.uuid4().hex[:8]}-{label}{path.name}"
    try:
        os.rename(path, dest)
    except FileNotFoundError:
        return None
    except OSError as exc:
        if exc.errno == errno.EXDEV:
            raise CacheWriteError(
                f"{path}: cannot move to {dest_dir} atomically (different filesystem)", path=path
            ) from None
        raise CacheWriteError(
            f"{path}: cannot move aside: {exc.strerror or exc}", path=path
        ) from None
    fsync_dir(path.parent)
    return dest


def remove_entry(path: Path, root: Path) -> bool:
    """Delete a cache entry so no reader ever sees part of it: rename out, then remove.

    Returns False when the entry was already gone.
    """
    moved = move_aside(path, root, TRASH_DIR)
    if moved is None:
        return False
    _remove_tree(moved)
    return True


def _remove_tree(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def empty_trash(root: Path) -> None:
    """Finish deletions a killed process left in the trash folder."""
    trash = root / TRASH_DIR
    if not trash.is_dir():
        return
    for child in trash.iterdir():
        _remove_tree(child)


def new_staging_dir(root: Path, prefix: str) -> Path:
    """A fresh private folder in ``<root>/tmp`` (same filesystem as ``cache/``)."""
    path = root / "tmp" / f"{prefix}{uuid.uuid4().hex}"
    path.mkdir(parents=True)
    return path
