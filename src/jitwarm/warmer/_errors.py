"""Warm's errors, kept importable here for old callers; they live in :mod:`jitwarm.errors`."""

from __future__ import annotations

from jitwarm.errors import KeyChangingEnvError, WarmError, WarmUsageError, WorkerSetupError

__all__ = ["KeyChangingEnvError", "WarmError", "WarmUsageError", "WorkerSetupError"]
