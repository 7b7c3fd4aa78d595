"""Warm: compile a plan's kernels in parallel worker processes, with progress and a report.

Pure Python (no torch): the compile step is a :class:`Backend`; the real one lives in
``jitwarm.deepgemm``, a fake for tests beside it in ``jitwarm.warmer.fake``.

The library call is ``jitwarm.warm(plan, ...)``: this package's :func:`warm`.
"""

from jitwarm.warmer.api import warm
from jitwarm.warmer.backend import Backend, CallOutcome, ItemOutcome, WorkerContext
from jitwarm.warmer.errors import KeyChangingEnvError, WarmError, WarmUsageError, WorkerSetupError
from jitwarm.warmer.fake import FakeBackend
from jitwarm.warmer.items import WorkItem, plan_work_items
from jitwarm.warmer.report import WarmReport

__all__ = [
    "Backend",
    "CallOutcome",
    "FakeBackend",
    "ItemOutcome",
    "KeyChangingEnvError",
    "WarmError",
    "WarmReport",
    "WarmUsageError",
    "WorkItem",
    "WorkerContext",
    "WorkerSetupError",
    "plan_work_items",
    "warm",
]
