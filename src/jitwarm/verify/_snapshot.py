"""What a cache root holds, as data: every file under ``cache/`` with its size.

Verify snapshots the root before and after: a verify that changed the cache is a bug, and the
report says so.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class CacheSnapshot:
    root: Path
    files: dict[str, int]  # "kernel.<name>.<hash>/kernel.cubin" -> size in bytes

    @classmethod
    def take(cls, root: Path) -> CacheSnapshot:
        files: dict[str, int] = {}
        base = root / "cache"
        for dirpath, _dirs, names in os.walk(base):
            rel = os.path.relpath(dirpath, base)
            for name in names:
                path = os.path.join(dirpath, name)
                try:
                    size = os.stat(path).st_size
                except OSError:
                    continue
                files[name if rel == "." else os.path.join(rel, name)] = size
        return cls(root, files)

    @property
    def entries(self) -> set[str]:
        return {p.split(os.sep, 1)[0] for p in self.files}

    @property
    def size_bytes(self) -> int:
        return sum(self.files.values())

    def changes_since(self, before: CacheSnapshot) -> list[str]:
        """Human lines for every file added, removed or resized since ``before``."""
        out = [f"added {p}" for p in sorted(self.files.keys() - before.files.keys())]
        out += [f"removed {p}" for p in sorted(before.files.keys() - self.files.keys())]
        out += [
            f"resized {p} ({before.files[p]} -> {self.files[p]} bytes)"
            for p in sorted(self.files.keys() & before.files.keys())
            if self.files[p] != before.files[p]
        ]
        return out
