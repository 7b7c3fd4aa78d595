"""Verify's calls provider on the GPU: warm's argument builders (:mod:`jitwarm.deepgemm._calls`),
made in a verify worker with the plan's settings applied, each call synchronized so a failure
is reported against the call that caused it.

Loaded by name in worker processes only (see :mod:`jitwarm.verify._calls`).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from jitwarm.deepgemm._calls import build_call as build_entry_call
from jitwarm.deepgemm._session import configure_deepgemm
from jitwarm.plan import Plan
from jitwarm.warmer import WorkerContext, mk_alignment


def prepare(ctx: WorkerContext) -> None:
    """The device set-up warm's workers run (``session.configure_deepgemm``)."""
    configure_deepgemm(ctx)


def build_call(plan: Plan, entry_index: int, m: int) -> Callable[[], object]:
    entry = plan.entries[entry_index]
    # Paged-MQA calls build their schedule with the real metadata call: verify runs the
    # kernels it finds cached, so they get real arguments (and a missing metadata kernel is
    # reported, as it would compile in serving too).
    call = build_entry_call(entry, m, "cuda", num_sms=plan.num_sms, mk_alignment=mk_alignment(plan))

    def run() -> object:
        out = call()
        torch.cuda.synchronize()
        return out

    return run


def release() -> None:
    """After each work item: give cached blocks back (items differ widely in size)."""
    torch.cuda.empty_cache()
