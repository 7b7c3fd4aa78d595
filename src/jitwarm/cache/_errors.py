"""Errors of the cache tools, inside jitwarm's one exception tree."""

from __future__ import annotations

from pathlib import Path

from jitwarm.errors import JitwarmError, UsageError


class CacheNotFoundError(UsageError):
    """No DeepGEMM cache at the given root (the one error a scan raises)."""

    def __init__(self, root: Path) -> None:
        super().__init__(f"no DeepGEMM cache at {root} (pass --cache-dir or set DG_JIT_CACHE_DIR)")
        self.root = root


class CacheWriteError(JitwarmError):
    """The cache could not be changed as planned (permissions, a full disk)."""

    def __init__(self, message: str, *, path: Path) -> None:
        super().__init__(message)
        self.path = path
