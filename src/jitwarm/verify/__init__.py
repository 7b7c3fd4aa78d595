"""Verify: prove a DeepGEMM cache covers every planned call, compiling nothing.

    from jitwarm.verify import verify_plan
    report = verify_plan(plan, cache_dir="/cache")
    report.exit_code  # 0: nothing would compile, 3: something would, 1: could not check

See :mod:`jitwarm.verify._api`. Pure Python; the calls run in worker processes.
"""

from __future__ import annotations

from jitwarm.errors import NoNvccError, VerifyUsageError
from jitwarm.verify._api import verify_items, verify_plan
from jitwarm.verify._report import CallFindings, FailedCalls, MissingKernel, VerifyReport

__all__ = [
    "CallFindings",
    "FailedCalls",
    "MissingKernel",
    "NoNvccError",
    "VerifyReport",
    "VerifyUsageError",
    "verify_items",
    "verify_plan",
]
