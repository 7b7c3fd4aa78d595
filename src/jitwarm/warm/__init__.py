"""Warm: compile a plan's kernels in parallel worker processes, with progress and a report.

Pure Python (no torch): the compile step is a :class:`Backend`; the real one lives in
``jitwarm.deepgemm``, a fake for tests beside it in ``jitwarm.warm.fake``.

``jitwarm.warm`` is both this package and the library call: the module is callable, so
``jitwarm.warm(plan, jobs=16)`` is :func:`jitwarm.warm.api.warm` however it was imported.
"""

import sys
import types
from typing import Any

from jitwarm.warm.api import warm
from jitwarm.warm.backend import Backend, CallOutcome, ItemOutcome, WorkerContext
from jitwarm.warm.errors import KeyChangingEnvError, WarmError, WarmUsageError, WorkerSetupError
from jitwarm.warm.fake import FakeBackend
from jitwarm.warm.items import WorkItem, plan_work_items
from jitwarm.warm.report import WarmReport

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


class _CallableModule(types.ModuleType):
    def __call__(self, *args: Any, **kwargs: Any) -> WarmReport:
        return warm(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
