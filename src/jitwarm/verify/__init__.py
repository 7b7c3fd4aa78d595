"""Verify: prove a DeepGEMM cache covers every planned call, compiling nothing.

    from jitwarm.verify import verify_plan
    report = verify_plan(plan, cache_dir="/cache")
    report.exit_code  # 0: nothing would compile, 3: something would, 1: could not check

See :mod:`jitwarm.verify._api`. Pure Python; the calls run in worker processes, through a
:class:`CallsProvider` (DeepGEMM's is registered by ``jitwarm.deepgemm``; ``jitwarm.verify_plan``
brings it).
"""

from __future__ import annotations

from jitwarm._lazy import lazy_getattr

# Imported on first use: ``jitwarm.deepgemm`` registers its calls provider here when imported
# (in every warm worker too), and needs nothing else of this package for that.
_LAZY = {
    "CallsProvider": "jitwarm.verify._calls",
    "register_default_calls": "jitwarm.verify._calls",
    "CallFindings": "jitwarm.verify._report",
    "FailedCalls": "jitwarm.verify._report",
    "MissingKernel": "jitwarm.verify._report",
    "VerifyReport": "jitwarm.verify._report",
    "NoNvccError": "jitwarm.errors",
    "VerifyUsageError": "jitwarm.errors",
    "verify_items": "jitwarm.verify._api",
    "verify_plan": "jitwarm.verify._api",
}

__all__ = sorted(_LAZY)

__getattr__ = lazy_getattr(__name__, _LAZY)
