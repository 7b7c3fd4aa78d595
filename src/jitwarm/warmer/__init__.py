"""Warm: compile a plan's kernels in parallel worker processes, with progress and a report.

Pure Python (no torch): the compile step is a :class:`Backend`; the real one lives in
``jitwarm.deepgemm``, a fake for tests beside it in ``jitwarm.warmer.fake``.

The library call is ``jitwarm.warm(plan, ...)``: this package's :func:`warm`.
"""

from __future__ import annotations

from jitwarm._lazy import lazy_getattr

# Imported on first use: warm's fork server imports ``jitwarm.warmer.pool`` before torch, and
# every module it need not load there is time before the first compile.
_LAZY = {
    "warm": "jitwarm.warmer.api",
    "Backend": "jitwarm.warmer.backend",
    "CallOutcome": "jitwarm.warmer.backend",
    "ItemOutcome": "jitwarm.warmer.backend",
    "WorkerContext": "jitwarm.warmer.backend",
    "KeyChangingEnvError": "jitwarm.errors",
    "WarmError": "jitwarm.errors",
    "WarmUsageError": "jitwarm.errors",
    "WorkerSetupError": "jitwarm.errors",
    "FakeBackend": "jitwarm.warmer.fake",
    "LocalBuild": "jitwarm.warmer._deepjit_ahead",
    "LocalResult": "jitwarm.warmer._deepjit_ahead",
    "compile_missing": "jitwarm.warmer._deepjit_ahead",
    "prepare_local_build": "jitwarm.warmer._deepjit_ahead",
    "renders_for": "jitwarm.warmer._deepjit_ahead",
    "WorkItem": "jitwarm.warmer.items",
    "plan_work_items": "jitwarm.warmer.items",
    "WarmOptions": "jitwarm.warmer.options",
    "WarmReport": "jitwarm.warmer.report",
}

__all__ = sorted(_LAZY)

__getattr__ = lazy_getattr(__name__, _LAZY)
