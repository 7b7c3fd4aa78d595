"""Stage and publish one cache entry exactly as DeepJIT does it (tokenspeed-deepjit 0.1.0,
``cache/disk.hpp`` and ``backend/cuda/backend.hpp``).

DeepJIT compiles in ``<root>/tmp/<pid>-<8 hex>-<8 hex>-<8 hex>/``: it writes ``kernel.cu``
(fsync), runs nvcc there into ``kernel.cubin``, writes ``meta.json`` (fsync), then commits:
writes an empty ``.committed`` (fsync), fsyncs the whole folder tree, creates ``cache/`` and
renames the folder to ``cache/<tag>.<key>`` in one step. If the rename fails because another
process published the entry first, the temporary folder is removed and the existing entry used.
A reader only trusts a folder with ``.committed``; so a SIGKILL at any point leaves at most a
temporary folder, never a partial entry. No lock is involved.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import shutil
from pathlib import Path

from jitwarm.cache import COMMIT_MARKER, QUARANTINE_DIR, CacheWriteError, fsync_dir, move_aside

__all__ = ["is_committed", "new_work_dir", "publish", "write_synced"]


def new_work_dir(root: Path) -> Path:
    """A fresh ``<root>/tmp/<pid>-<hex>-<hex>-<hex>`` folder (DeepJIT's name for one)."""
    words = "-".join(secrets.token_hex(4) for _ in range(3))
    path = root / "tmp" / f"{os.getpid()}-{words}"
    path.mkdir(parents=True)
    return path


def write_synced(path: Path, data: str | bytes) -> None:
    with open(path, "wb") as fh:
        fh.write(data.encode() if isinstance(data, str) else data)
        fh.flush()
        os.fsync(fh.fileno())


def is_committed(roots: tuple[Path, ...], name: str) -> bool:
    """Whether DeepGEMM would hit ``name`` in any of ``roots`` (its ``.committed`` exists)."""
    return any((r / "cache" / name / COMMIT_MARKER).is_file() for r in roots)


def publish(work: Path, root: Path, name: str) -> bool:
    """Commit ``work`` as ``<root>/cache/<name>``; False when another process published it first
    (``work`` is then removed). An uncommitted folder in the way (a crashed writer of a build
    that did not stage) is moved to the quarantine first, since DeepGEMM's own rename would fail
    on it forever."""
    write_synced(work / COMMIT_MARKER, b"")
    _fsync_tree(work)
    cache = root / "cache"
    cache.mkdir(parents=True, exist_ok=True)
    target = cache / name
    if target.is_dir() and not (target / COMMIT_MARKER).exists():
        move_aside(target, root, QUARANTINE_DIR, label="uncommitted-")
    try:
        os.rename(work, target)
    except OSError as exc:
        if exc.errno in (errno.EEXIST, errno.ENOTEMPTY) or (target / COMMIT_MARKER).exists():
            shutil.rmtree(work, ignore_errors=True)
            return False
        raise CacheWriteError(
            f"{target}: cannot publish: {exc.strerror or exc}", path=target
        ) from None
    fsync_dir(cache)
    return True


def _fsync_tree(folder: Path) -> None:
    for dirpath, _dirs, files in os.walk(folder):
        for f in files:
            with contextlib.suppress(OSError):
                fd = os.open(os.path.join(dirpath, f), os.O_RDONLY)
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)
        fsync_dir(Path(dirpath))
