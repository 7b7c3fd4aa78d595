"""jitwarm: no DeepGEMM JIT compile on the serving path.

The public API, flat and imported lazily so ``import jitwarm`` stays light and never imports
torch or deep_gemm:

- ``load_model(name_or_path)``, ``ServingConfig``, ``plan_serving(model, serving)`` -> ``Plan``
- ``warm(plan, ...)``: compile a plan's kernels in parallel worker processes (GPU host);
  options by keyword or as one ``WarmOptions``
- ``warm_model(torch_model, serving, ...)``: warm exactly a loaded model's FP8 linear layers
- ``verify_plan(plan, ...)``: prove a cache covers every planned call, compiling nothing
- ``install_guard(mode, ...)`` / ``mark_ready()``: catch any compile after readiness
- ``plan_from_recording(path, serving)``: a plan from the calls a real engine made
"""

from __future__ import annotations

from jitwarm._lazy import lazy_getattr
from jitwarm.errors import ConfigError, InlineJITError, JitwarmError, UsageError

_LAZY = {
    "load_model": "jitwarm.models._loader",
    "ServingConfig": "jitwarm.serving",
    "plan_serving": "jitwarm.plan",
    "Plan": "jitwarm.plan",
    "warm": "jitwarm.deepgemm",  # warm with DeepGEMM's backend registered
    "warm_model": "jitwarm.deepgemm._scan",
    "WarmOptions": "jitwarm.warmer._options",
    "verify_plan": "jitwarm.deepgemm",  # verify with DeepGEMM's calls registered
    "install_guard": "jitwarm.guard",
    "mark_ready": "jitwarm.guard",
    "plan_from_recording": "jitwarm.record",
}

__all__ = [
    "ConfigError",
    "InlineJITError",
    "JitwarmError",
    "Plan",
    "ServingConfig",
    "UsageError",
    "WarmOptions",
    "install_guard",
    "load_model",
    "mark_ready",
    "plan_from_recording",
    "plan_serving",
    "verify_plan",
    "warm",
    "warm_model",
]

__getattr__ = lazy_getattr(__name__, _LAZY)
