"""Sizes and ages as people type and read them: ``10G``, ``500MiB``, ``7d``, ``12h``."""

from __future__ import annotations

import re
import time

from jitwarm.errors import UsageError

_SIZE_UNITS = {
    "": 1,
    "b": 1,
    "k": 1024,
    "kb": 1000,
    "kib": 1024,
    "m": 1024**2,
    "mb": 1000**2,
    "mib": 1024**2,
    "g": 1024**3,
    "gb": 1000**3,
    "gib": 1024**3,
    "t": 1024**4,
    "tb": 1000**4,
    "tib": 1024**4,
}
_AGE_UNITS = {"": 1, "s": 1, "m": 60, "min": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_size(text: str, *, flag: str = "size") -> int:
    """Bytes from ``"10G"`` (binary), ``"10GB"`` (decimal), ``"1.5GiB"`` or a plain number."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*", text)
    if not match or match.group(2).lower() not in _SIZE_UNITS:
        raise UsageError(f"{flag}: expected a size such as 500M, 10G or 2GiB, got {text!r}")
    return int(float(match.group(1)) * _SIZE_UNITS[match.group(2).lower()])


def parse_age(text: str, *, flag: str = "age") -> float:
    """Seconds from ``"7d"``, ``"12h"``, ``"30m"``, ``"2w"`` or a plain number of seconds."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*", text)
    if not match or match.group(2).lower() not in _AGE_UNITS:
        raise UsageError(f"{flag}: expected an age such as 90m, 12h, 7d or 2w, got {text!r}")
    return float(match.group(1)) * _AGE_UNITS[match.group(2).lower()]


def format_size(size_bytes: int) -> str:
    value = float(size_bytes)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"


def format_age(epoch_s: float, *, now: float | None = None) -> str:
    delta = max(0.0, (time.time() if now is None else now) - epoch_s)
    if delta < 90:
        return f"{delta:.0f} s ago"
    if delta < 5400:
        return f"{delta / 60:.0f} min ago"
    if delta < 2 * 86400:
        return f"{delta / 3600:.0f} h ago"
    return f"{delta / 86400:.0f} days ago"
