"""Fixtures that put the fake deep_gemm (and a fake CUDA home with a fake nvcc) in place.

Test modules load them with ``pytest_plugins = ["fakes.fixtures"]``; paths and environments
for subprocesses are in :mod:`fakes.helpers`.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from fakes.helpers import FAKE_CUDA_HOME, FAKES_DIR


@pytest.fixture
def dg_cache(tmp_path: Path) -> Path:
    root = tmp_path / "dg-cache"
    root.mkdir()
    return root


@pytest.fixture
def fake_dg(dg_cache: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    """A freshly imported fake ``deep_gemm`` using ``dg_cache`` and the fake nvcc."""
    from jitwarm import guard

    for var in [v for v in os.environ if v.startswith(("DG_", "JITWARM_"))]:
        monkeypatch.delenv(var)
    monkeypatch.setenv("DG_JIT_CACHE_DIR", str(dg_cache))
    monkeypatch.setenv("CUDA_HOME", str(FAKE_CUDA_HOME))
    monkeypatch.setenv("FAKE_NVCC_SLEEP_S", "0.01")
    monkeypatch.syspath_prepend(str(FAKES_DIR))
    for name in ("deep_gemm", "fake_tensor"):
        sys.modules.pop(name, None)
    import deep_gemm

    yield deep_gemm
    guard.uninstall_guard()
    sys.modules.pop("deep_gemm", None)
