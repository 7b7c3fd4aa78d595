"""Is this a host warm and verify can run DeepGEMM on? torch, DeepGEMM and a visible NVIDIA GPU,
checked in a few milliseconds before anything is created, so a missing piece is one line naming
it and the fix (not a warning per worker, then an empty cache folder).

Nothing here imports torch or deep_gemm: ``importlib.util.find_spec`` only locates them.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from jitwarm import dgenv
from jitwarm.errors import MissingRequirementError

_NO_GPU_HINTS = {
    "warm": "warm compiles on a GPU host; `jitwarm plan` runs anywhere",
    "verify": (
        "verify runs every planned call on a GPU; without one, `jitwarm bundle export --plan` "
        "counts the planned kernels a cache lacks"
    ),
}


def _importable(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def _gpu_devices(root: Path) -> list[Path]:
    return sorted(root.glob("dev/nvidia[0-9]*")) + sorted(root.glob("proc/driver/nvidia/gpus/*"))


def missing_gpu_piece(
    verb: str,
    *,
    env: Mapping[str, str] | None = None,
    devices: Sequence[str] | None = None,
    root: Path = Path("/"),
) -> str | None:
    """What this host lacks to run ``verb`` on DeepGEMM, with the fix; None when nothing.

    ``devices``: GPUs the caller named itself (then only the packages are checked). ``root``:
    where ``/dev`` and ``/proc`` are (tests point it at a folder).
    """
    env = os.environ if env is None else env
    if not _importable("torch"):
        return f"{verb} needs torch, which is not installed here: pip install 'jitwarm[gpu]'"
    # As the engines find it (deep_gemm, else vLLM's copy); folders only, no package metadata.
    names, _ = dgenv.deepgemm_candidates(env=env)
    if not any(dgenv.module_dir(name) for name in names):
        return (
            f"{verb} needs DeepGEMM (no {' or '.join(names)} here): install the build your "
            "server runs, e.g. pip install tokenspeed-deepgemm (the README lists the builds)"
        )
    if devices is not None:
        return None
    hint = _NO_GPU_HINTS.get(verb, "it runs on a GPU host")
    visible = env.get("CUDA_VISIBLE_DEVICES")
    if visible is not None and visible.strip() in ("", "-1"):
        return f"{verb} needs a GPU, and CUDA_VISIBLE_DEVICES={visible!r} hides every one"
    if not _gpu_devices(root):
        return f"{verb} needs an NVIDIA GPU and this machine shows none ({hint})"
    return None


def require_gpu_host(verb: str, *, devices: Sequence[str] | None = None) -> None:
    """Raise :class:`MissingRequirementError` naming what ``verb`` lacks on this host."""
    problem = missing_gpu_piece(verb, devices=devices)
    if problem is not None:
        raise MissingRequirementError(problem)
