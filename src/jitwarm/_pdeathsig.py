"""Tie a child process's life to its parent's (Linux ``PR_SET_PDEATHSIG``), for warm's worker
processes and the nvcc runs it starts itself."""

from __future__ import annotations

import signal
import sys
from typing import Any

_PR_SET_PDEATHSIG = 1


def _load_prctl() -> Any:
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        return ctypes.CDLL("libc.so.6", use_errno=True).prctl
    except (OSError, AttributeError):
        return None


# Resolved at import, before any fork: a child started with ``preexec_fn`` only calls it.
_PRCTL = _load_prctl()


def die_with_parent() -> None:
    """SIGKILL this process when its parent (for a child of a thread: that thread) ends."""
    if _PRCTL is not None:
        _PRCTL(_PR_SET_PDEATHSIG, signal.SIGKILL)
