"""Paths and environments of the test doubles (importable from tests and subprocesses)."""

from __future__ import annotations

import os
from pathlib import Path

FAKES_DIR = Path(__file__).resolve().parent
FAKE_CUDA_HOME = FAKES_DIR / "cuda"
FAKE_NVCC = FAKE_CUDA_HOME / "bin" / "nvcc"


def fake_env(cache_root: Path) -> dict[str, str]:
    """Environment for a subprocess that should see the fake deep_gemm and the fake nvcc."""
    src = FAKES_DIR.parents[1] / "src"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DG_", "JITWARM_"))}
    env.update(
        DG_JIT_CACHE_DIR=str(cache_root),
        CUDA_HOME=str(FAKE_CUDA_HOME),
        FAKE_NVCC_SLEEP_S="0.01",
        PYTHONPATH=os.pathsep.join([str(FAKES_DIR), str(src), env.get("PYTHONPATH", "")]),
    )
    return env
