"""A stand-in for nvcc that records what DeepGEMM would compile, and compiles nothing.

DeepGEMM runs ``<nvcc> --version`` once (the version is part of every cache key) and then
``cd <tmp> && <nvcc> <root>/tmp/<uuid>/kernel.cu -cubin -o <cubin> <flags>`` for each kernel it
misses. Pointing ``DG_JIT_NVCC_COMPILER`` at this script makes the first answer exactly as the
real compiler does and the second copy the generated source to ``$JITWARM_CAPTURE_FILE`` and
fail, so the call raises with nothing compiled and nothing published. Capture runs against a
scratch cache root, so the real cache never sees the failed attempts' ``tmp/`` leftovers.
"""

from __future__ import annotations

import hashlib
import os
import shlex
import stat
from pathlib import Path

CAPTURE_FILE_VAR = "JITWARM_CAPTURE_FILE"
STAND_IN_EXIT_CODE = 86

_SCRIPT = """#!/bin/sh
# jitwarm nvcc stand-in: answers --version like @REAL@, saves any source and fails.
for arg in "$@"; do
  case "$arg" in --version|-V) exec @REAL@ "$@" ;; esac
done
for arg in "$@"; do
  case "$arg" in *.cu) src="$arg" ;; esac
done
if [ -n "$src" ] && [ -n "$@VAR@" ]; then
  cp "$src" "$@VAR@.tmp" && mv "$@VAR@.tmp" "$@VAR@"
  printf '%s\\n' "$@" > "$@VAR@.args"
fi
echo "jitwarm capture: not compiling $src" >&2
exit @CODE@
"""


def write_stand_in(directory: Path, real_nvcc: Path) -> Path:
    """Write the stand-in script into ``directory``; returns its path."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "nvcc"
    script = (
        _SCRIPT.replace("@REAL@", shlex.quote(str(real_nvcc)))
        .replace("@VAR@", CAPTURE_FILE_VAR)
        .replace("@CODE@", str(STAND_IN_EXIT_CODE))
    )
    path.write_text(script)
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


class SourceCapture:
    """Per-call capture files: ``arm()`` before a call, ``take()`` after it."""

    def __init__(self, directory: Path) -> None:
        self._dir = directory
        self._count = 0
        self._current: Path | None = None

    def arm(self) -> None:
        self._count += 1
        self._current = self._dir / f"call-{self._count}.cu"
        os.environ[CAPTURE_FILE_VAR] = str(self._current)

    def take(self) -> tuple[str, str] | None:
        """(sha256 of the captured source, the source), or None if nothing was compiled."""
        path = self._current
        self._current = None
        os.environ.pop(CAPTURE_FILE_VAR, None)
        if path is None or not path.exists():
            return None
        source = path.read_text()
        for p in (path, path.with_name(path.name + ".args")):
            p.unlink(missing_ok=True)
        return hashlib.sha256(source.encode()).hexdigest(), source
