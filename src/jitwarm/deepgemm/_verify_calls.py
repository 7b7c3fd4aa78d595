"""Verify's calls provider on the GPU (``jitwarm.verify.CallsProvider``): warm's argument
builders (:mod:`jitwarm.deepgemm._calls`), made in a verify worker with the plan's settings
applied, each call synchronized so a failure is reported against the call that caused it.

Importing this module imports neither torch nor deep_gemm: the provider is created in the
parent and pickled into verify's workers, which import them when they first use it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from jitwarm.deepgemm._configure import configure_deepgemm

if TYPE_CHECKING:
    from jitwarm.plan import PlanEntry
    from jitwarm.warmer import PlanSettings, WorkerContext


@dataclass(frozen=True)
class DeepGEMMCalls:
    requires_gpu_host: ClassVar[bool] = True  # verify checks torch, DeepGEMM and a GPU first
    # Imported once by verify's fork server, so workers start fast.
    preload: tuple[str, ...] = ("torch", "deep_gemm")

    def prepare(self, ctx: WorkerContext) -> None:
        """The device set-up warm's workers run (``configure_deepgemm``)."""
        configure_deepgemm(ctx)

    def build_call(self, entry: PlanEntry, m: int, settings: PlanSettings) -> Callable[[], object]:
        import torch

        from jitwarm.deepgemm._calls import build_call

        # Paged-MQA calls build their schedule with the real metadata call: verify runs the
        # kernels it finds cached, so they get real arguments (and a missing metadata kernel is
        # reported, as it would compile in serving too).
        call = build_call(
            entry, m, "cuda", num_sms=settings.num_sms, mk_alignment=settings.mk_alignment
        )

        def run() -> object:
            out = call()
            torch.cuda.synchronize()
            return out

        return run

    def release(self) -> None:
        """After each work item: give cached blocks back (items differ widely in size)."""
        import torch

        torch.cuda.empty_cache()
