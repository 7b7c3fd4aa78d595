"""Names of the published entries under a DeepGEMM cache root (its ``cache/`` folder).

Both layouts publish an entry by renaming a finished folder into ``cache/``, so an entry
listed here is complete; compiles in progress live under ``tmp/``.
"""

from __future__ import annotations

import os
from pathlib import Path


def list_entries(cache_root: Path) -> set[str]:
    try:
        with os.scandir(cache_root / "cache") as it:
            return {e.name for e in it if e.is_dir() and not e.name.startswith(".")}
    except FileNotFoundError:
        return set()
