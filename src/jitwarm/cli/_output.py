"""One output layer: results on stdout, messages on stderr; human tables or JSON."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from rich.console import Console

# Without a terminal (pipes, CI logs) rich would assume 80 columns and fold every table.
_WIDTH = None if sys.stdout.isatty() else 200
stdout = Console(soft_wrap=True, width=_WIDTH)
stderr = Console(stderr=True, soft_wrap=True, width=_WIDTH)


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=1) + "\n")
    sys.stdout.flush()


def fmt_seconds(s: float) -> str:
    if s < 90:
        return f"{s:.0f} s"
    if s < 5400:
        return f"{s / 60:.1f} min"
    return f"{s / 3600:.1f} h"


def output_file(path: Path, flag: str) -> Path:
    """A file the user asked us to write: checked before any work, its folder never created
    (a typo in a folder name should fail, not make folders)."""
    from jitwarm.errors import UsageError

    if path.is_dir():
        raise UsageError(f"{flag}: {path} is a folder; name the file to write")
    parent = path.parent
    if not parent.is_dir():
        raise UsageError(f"{flag}: folder {parent} does not exist")
    return path
