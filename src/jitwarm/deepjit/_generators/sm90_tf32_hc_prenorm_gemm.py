"""Port of ``sm90_tf32_hc_prenorm_gemm`` (``csrc/jit_kernels/impls/
sm90_tf32_hc_prenorm_gemm.hpp`` of tokenspeed-deepgemm 2.8.0.post20260924, identical in
2.8.2.post20261020; from deepseek-ai/DeepGEMM, MIT). N, K and the split count are baked in; M
is a runtime argument."""

from __future__ import annotations

from jitwarm.deepjit._generators._base import RenderContext, Unrenderable, fill, param
from jitwarm.plan import PlanEntry, PlanKernel

TEMPLATE = (
    "\n#include <deep_gemm/impls/sm90_tf32_hc_prenorm_gemm.cuh>\n\n"
    "using namespace deep_gemm;\n\n"
    "static void __instantiate_kernel() {{\n"
    "    auto ptr = reinterpret_cast<void*>(&sm90_tf32_hc_prenorm_gemm_impl<\n"
    "        {}, {},\n        {}, {}, {},\n        {},\n        {},\n        {},\n        {}, {}\n"
    "    >);\n}};\n"
)
_BLOCK_M = 64
_BLOCK_K = 64
_NUM_MATH_THREADS = 128
_NUM_TMA_THREADS = 128
_MAX_STAGES = 12
SMEM_CAPACITY_BYTES = 232448  # SM90ArchSpec::smem_capacity


def swizzle_mode(block_size: int, elem_size: int) -> int:
    """``get_swizzle_mode`` (heuristics/utils.hpp): the widest swizzle dividing the row."""
    num_bytes = block_size * elem_size
    for mode in (128, 64, 32, 16):
        if num_bytes % mode == 0:
            return mode
    raise Unrenderable(f"no swizzle mode for {num_bytes} bytes")


def render_tf32_hc_prenorm_gemm(
    entry: PlanEntry, kernel: PlanKernel, ctx: RenderContext
) -> tuple[str, str]:
    n, k = entry.n, entry.k
    block_n = -(-n // 16) * 16
    if not (n <= 32 and n % 8 == 0 and k % _BLOCK_K == 0):
        raise Unrenderable(f"SM90 hc_prenorm takes N <= 32 (multiple of 8), K % 64 == 0: {n}x{k}")
    splits = param(kernel, "num_splits")
    swizzle_cd = swizzle_mode(block_n, 4)
    stages = _MAX_STAGES
    while stages > 0:
        smem = (_BLOCK_M * _BLOCK_K * 2 + block_n * _BLOCK_K * 4) * stages
        smem += _BLOCK_M * swizzle_cd + stages * 2 * 8
        if smem <= SMEM_CAPACITY_BYTES:
            break
        stages -= 1
    if stages == 0:
        raise Unrenderable("no stage count fits shared memory")
    source = fill(
        TEMPLATE,
        n,
        k,
        _BLOCK_M,
        block_n,
        _BLOCK_K,
        splits,
        swizzle_cd,
        stages,
        _NUM_MATH_THREADS,
        _NUM_TMA_THREADS,
    )
    return "sm90_tf32_hc_prenorm_gemm", source
