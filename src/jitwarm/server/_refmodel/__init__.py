"""The reference model of ``jitwarm serve``: a DeepSeek-V3-architecture decoder at one rank's
real per-layer shapes and reduced depth, every GEMM through DeepGEMM on SM90 (or torch on the
CPU behind a simulated JIT keyed by jitwarm's own kernel selection).

Importing this package does not import torch; :func:`build_runtime` does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from jitwarm.server._refmodel.kernels import KernelKeyer, KernelRef, plan_kernel_refs
from jitwarm.server._refmodel.shapes import (
    BYTE_VOCAB,
    GemmShape,
    RefDims,
    RefShapes,
    derive_shapes,
)

if TYPE_CHECKING:
    from jitwarm.server._refmodel.runtime import RefRuntime

__all__ = [
    "BYTE_VOCAB",
    "GemmShape",
    "KernelKeyer",
    "KernelRef",
    "RefDims",
    "RefRuntime",
    "RefShapes",
    "build_runtime",
    "cuda_usable",
    "derive_shapes",
    "plan_kernel_refs",
]


def build_runtime(*args: Any, **kwargs: Any) -> RefRuntime:
    from jitwarm.server._refmodel.runtime import build_runtime as build

    return build(*args, **kwargs)


def cuda_usable() -> bool:
    from jitwarm.server._refmodel.runtime import cuda_usable as usable

    return usable()
