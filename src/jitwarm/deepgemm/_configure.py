"""The device set-up of warm's and verify's DeepGEMM workers (the ``prepare`` of their
``jitwarm.warmer.WorkerSession``): the GPU checked against the plan, the plan's settings
applied to DeepGEMM as the server applies them.

Importing this module imports neither torch nor deep_gemm: ``configure_deepgemm`` imports them
when it runs, in a worker.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from jitwarm.errors import WorkerSetupError

if TYPE_CHECKING:
    from jitwarm.warmer import WorkerContext

_ARCH_MAJOR = {"sm90": 9, "sm100": 10}


def configure_deepgemm(ctx: WorkerContext) -> None:
    """This worker's device, checked against the plan, and the plan's SM count and
    contiguous-layout alignment applied to DeepGEMM, as the server does."""
    import torch

    from jitwarm.deepgemm._calls import deepgemm_module

    settings = ctx.settings
    if not torch.cuda.is_available():
        raise WorkerSetupError(f"no CUDA device visible (CUDA_VISIBLE_DEVICES={ctx.device!r})")
    deep_gemm = deepgemm_module()
    major, minor = torch.cuda.get_device_capability()
    want = _ARCH_MAJOR.get(settings.arch)
    if want is not None and major != want:
        raise WorkerSetupError(
            f"the plan is for {settings.arch} but this GPU is sm{major}{minor}: its kernels "
            "would be built for the wrong architecture",
            usage=True,
        )
    sms = torch.cuda.get_device_properties(0).multi_processor_count
    if settings.num_sms > sms:
        raise WorkerSetupError(
            f"the plan's num_sms ({settings.num_sms}) exceeds this GPU's {sms} SMs", usage=True
        )
    deep_gemm.set_num_sms(settings.num_sms)
    setter = getattr(deep_gemm, "set_mk_alignment_for_contiguous_layout", None)
    if setter is not None:
        setter(settings.mk_alignment)
