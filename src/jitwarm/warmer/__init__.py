"""Warm: compile a plan's kernels in parallel worker processes, with progress and a report.

Pure Python (no torch): the compile step is a :class:`Backend`; the real one lives in
``jitwarm.deepgemm``, a fake for tests beside it in ``jitwarm.warmer._fake``.

The library call is ``jitwarm.warm(plan, ...)``: this package's :func:`warm`.
"""

from __future__ import annotations

from jitwarm._lazy import lazy_getattr

# Imported on first use: warm's fork server imports ``jitwarm.warmer._pool`` before torch, and
# every module it need not load there is time before the first compile.
_LAZY = {
    "DeepJitLocalSummary": "jitwarm.warmer._report",
    "GpuInfo": "jitwarm.warmer._resources",
    "ItemMode": "jitwarm.warmer._items",
    "ItemRecorder": "jitwarm.warmer._backend",
    "LinearShape": "jitwarm.warmer._model_plan",
    "PRINT_COMPILES_VAR": "jitwarm.warmer._settings",
    "PoolObserver": "jitwarm.warmer._pool",
    "PoolSpec": "jitwarm.warmer._pool",
    "ProgressBar": "jitwarm.warmer._progress",
    "assign_devices": "jitwarm.warmer._resources",
    "is_cuda_fatal": "jitwarm.warmer._backend",
    "PlanSettings": "jitwarm.warmer._settings",
    "plan_linear_shapes": "jitwarm.warmer._model_plan",
    "register_default_backend": "jitwarm.warmer._backend",
    "run_pool": "jitwarm.warmer._pool",
    "sweep_items": "jitwarm.warmer._items",
    "visible_gpus": "jitwarm.warmer._resources",
    "worker_env": "jitwarm.warmer._settings",
    "warm": "jitwarm.warmer._api",
    "Backend": "jitwarm.warmer._backend",
    "CallOutcome": "jitwarm.warmer._backend",
    "ItemOutcome": "jitwarm.warmer._backend",
    "WorkerContext": "jitwarm.warmer._backend",
    "CaptureSetup": "jitwarm.warmer._session",
    "WorkerSession": "jitwarm.warmer._session",
    "KeyChangingEnvError": "jitwarm.errors",
    "WarmError": "jitwarm.errors",
    "WarmUsageError": "jitwarm.errors",
    "WorkerSetupError": "jitwarm.errors",
    "FakeBackend": "jitwarm.warmer._fake",
    "LocalBuild": "jitwarm.warmer._deepjit_ahead",
    "LocalResult": "jitwarm.warmer._deepjit_ahead",
    "compile_missing": "jitwarm.warmer._deepjit_ahead",
    "prepare_local_build": "jitwarm.warmer._deepjit_ahead",
    "renders_for": "jitwarm.warmer._deepjit_ahead",
    "WorkItem": "jitwarm.warmer._items",
    "plan_work_items": "jitwarm.warmer._items",
    "WarmOptions": "jitwarm.warmer._options",
    "WarmReport": "jitwarm.warmer._report",
}

__all__ = sorted(_LAZY)

__getattr__ = lazy_getattr(__name__, _LAZY)
