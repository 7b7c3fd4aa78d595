"""Cheap per-call detection of new entries in DeepGEMM's writable cache root.

A compile publishes one folder under ``<root>/cache/`` (upstream JIT: by renaming ``tmp/<uuid>``;
DeepJIT: a folder plus a ``.committed`` marker). Adding a folder changes the ``cache/``
folder's mtime and link count, so after each call one ``fstat`` of an open ``cache/`` (no path
lookup) is compared with the state seen last; only when it differs is the folder listed.

A new entry may come from another process sharing the root (the other ranks of a server).
Attribution uses the CPU time of this process's waited-for children (``getrusage``, in
microseconds): nvcc runs as a child of the compiling process, so a compile of our own always
adds some.
"""

from __future__ import annotations

import os
import resource
from pathlib import Path

_MISSING = (0, 0)
_RUSAGE_CHILDREN = resource.RUSAGE_CHILDREN


class CacheWatcher:
    """Knows the entries of ``<root>/cache`` and reports the ones that appear."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.cache_dir = root / "cache"
        self._fd: int | None = None
        self._open()
        self._known: set[str] = set(self._list())
        self.seen = self.probe()  # the state new entries were last looked for in

    def _open(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        try:
            self._fd = os.open(self.cache_dir, os.O_RDONLY | os.O_DIRECTORY)
        except OSError:
            self._fd = None

    def probe(self) -> tuple[int, int]:
        """(mtime_ns, link count) of ``cache/``; changes whenever an entry is added."""
        fd = self._fd
        try:
            st = os.fstat(fd) if fd is not None else os.stat(self.cache_dir)
        except OSError:
            return _MISSING
        if fd is None or st.st_nlink == 0:  # created since, or deleted and maybe re-created
            self._open()
        return (st.st_mtime_ns, st.st_nlink)

    def changed(self) -> bool:
        """Whether ``cache/`` changed since new entries were last looked for."""
        return self.probe() != self.seen

    def new_entries(self) -> list[str]:
        """Entries present now that were not seen before (each reported once)."""
        self.seen = self.probe()
        now = self._list()
        fresh = sorted(name for name in now if name not in self._known)
        self._known.update(fresh)
        return fresh

    @property
    def known_count(self) -> int:
        return len(self._known)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def _list(self) -> list[str]:
        try:
            with os.scandir(self.cache_dir) as it:
                # Hidden names are DeepJIT's in-progress folders and markers, not entries.
                return [e.name for e in it if not e.name.startswith(".")]
        except OSError:
            return []


def children_cpu_s() -> float:
    """CPU seconds of this process's finished, waited-for child processes (nvcc among them)."""
    r = resource.getrusage(_RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime
