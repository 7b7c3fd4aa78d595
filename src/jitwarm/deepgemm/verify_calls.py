"""Verify's calls provider on the GPU: warm's argument builders (:mod:`jitwarm.deepgemm.calls`),
made in a verify worker with the plan's settings applied, each call synchronized so a failure
is reported against the call that caused it.

Loaded by name in worker processes only (see :mod:`jitwarm.verify.calls`).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from jitwarm.deepgemm.calls import build_call as build_entry_call
from jitwarm.deepgemm.calls import deepgemm_module
from jitwarm.errors import WorkerSetupError
from jitwarm.plan.schema import Plan
from jitwarm.warmer.backend import WorkerContext
from jitwarm.warmer.settings import mk_alignment

_ARCH_MAJOR = {"sm90": 9, "sm100": 10}


def prepare(ctx: WorkerContext) -> None:
    """Apply the plan's SM count and contiguous-layout alignment, as the server does."""
    if not torch.cuda.is_available():
        raise WorkerSetupError(f"no CUDA device visible (CUDA_VISIBLE_DEVICES={ctx.device!r})")
    deep_gemm = deepgemm_module()
    plan = ctx.plan
    major, minor = torch.cuda.get_device_capability()
    if _ARCH_MAJOR.get(plan.arch, major) != major:
        raise WorkerSetupError(
            f"the plan is for {plan.arch}, this GPU is sm{major}{minor}", usage=True
        )
    deep_gemm.set_num_sms(plan.num_sms)
    setter = getattr(deep_gemm, "set_mk_alignment_for_contiguous_layout", None)
    if setter is not None:
        setter(mk_alignment(plan))


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
