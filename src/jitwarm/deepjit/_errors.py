"""Errors of GPU-free rendering; all under jitwarm's one tree."""

from __future__ import annotations

from pathlib import Path

from jitwarm.errors import JitwarmError, UsageError


class DeepJitRenderError(JitwarmError):
    """A kernel source or key that cannot be computed as the DeepJIT build would."""


class HeaderNotFoundError(DeepJitRenderError, UsageError):
    """A ``<deep_gemm/...>`` header a source includes is in none of the include folders (the
    wrong folder, or another build's headers)."""

    def __init__(self, name: str, include_dirs: tuple[Path, ...]) -> None:
        where = ", ".join(str(d) for d in include_dirs) or "no include folder"
        super().__init__(f"header <{name}> not found in {where}")
        self.name = name


class NonStandardIncludeError(DeepJitRenderError):
    """An include line DeepJIT's parser rejects (it panics on ``#include "..."`` and the like)."""

    def __init__(self, line: str, where: str) -> None:
        super().__init__(f"{where}: non-standard include (DeepJIT refuses it): {line.strip()}")
        self.line = line
