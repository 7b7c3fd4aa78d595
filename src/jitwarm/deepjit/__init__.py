"""GPU-free DeepJIT cache entries: every planned kernel's source, flags, cache key and
meta.json exactly as a DeepJIT DeepGEMM build (a profile of the DeepJIT generation) writes them, computed
on a CPU from the plan, the build's profile and its include folder.

Pure Python: imports neither torch nor deep_gemm.
"""

from __future__ import annotations

from jitwarm.deepjit._hash import DeepJitHash, deepjit_digest
from jitwarm.deepjit._key import deepjit_key
from jitwarm.deepjit._meta import meta_json
from jitwarm.deepjit._options import CompilerOptions, compiler_options
from jitwarm.deepjit._render import (
    GapReason,
    KernelSource,
    PlanKernelRef,
    UnrenderedKernel,
    render_plan,
    unrendered_kernels,
)
from jitwarm.deepjit._tree import SourceTreeDigester
from jitwarm.errors import (
    DeepJitRenderError,
    HeaderNotFoundError,
    NonStandardIncludeError,
    NotDeepJitBuildError,
)

__all__ = [
    "CompilerOptions",
    "DeepJitHash",
    "DeepJitRenderError",
    "GapReason",
    "HeaderNotFoundError",
    "KernelSource",
    "NonStandardIncludeError",
    "NotDeepJitBuildError",
    "PlanKernelRef",
    "SourceTreeDigester",
    "UnrenderedKernel",
    "compiler_options",
    "deepjit_digest",
    "deepjit_key",
    "meta_json",
    "render_plan",
    "unrendered_kernels",
]
