"""What the interposer's capture mode recorded, call by call: ``arm()`` names a fresh capture
file (``JITWARM_CAPTURE_FILE``) before a DeepGEMM call, ``take()`` reads it after."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from jitwarm.interposer._script import CAPTURE_FILE_VAR


@dataclass(frozen=True)
class Captured:
    digest: str  # sha256 of the source
    source: str
    source_path: Path | None  # where DeepGEMM wrote the source it asked to compile


class SourceCapture:
    """Per-call capture files under one folder (one per worker process)."""

    def __init__(self, directory: Path) -> None:
        self._dir = directory
        self._count = 0
        self._current: Path | None = None

    def arm(self) -> None:
        self._count += 1
        self._current = self._dir / f"call-{self._count}.cu"
        os.environ[CAPTURE_FILE_VAR] = str(self._current)

    def take(self) -> Captured | None:
        """What the last armed call asked to compile, or None if it compiled nothing."""
        path = self._current
        self._current = None
        os.environ.pop(CAPTURE_FILE_VAR, None)
        if path is None or not path.exists():
            return None
        source = path.read_text()
        args = path.with_name(path.name + ".args")
        try:
            asked = next(
                (Path(a) for a in args.read_text().splitlines() if a.endswith(".cu")), None
            )
        except OSError:
            asked = None
        for p in (path, args):
            p.unlink(missing_ok=True)
        return Captured(hashlib.sha256(source.encode()).hexdigest(), source, asked)
