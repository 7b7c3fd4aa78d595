"""jitwarm: no DeepGEMM JIT compile on the serving path.

Library entry points, imported lazily so ``import jitwarm`` stays light and never imports torch:

- ``jitwarm.warm(plan, ...)``: compile a plan's kernels in parallel worker processes.
- ``jitwarm.warm_model(model, serving, ...)``: warm exactly a loaded model's FP8 linear layers.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_LAZY = {
    "warm": "jitwarm",  # the subpackage jitwarm.warm, which is callable
    "warm_model": "jitwarm.deepgemm.scan",
}

__all__ = ["warm", "warm_model"]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'jitwarm' has no attribute {name!r}")
    if name == "warm":
        return import_module("jitwarm.warm")
    return getattr(import_module(module), name)
