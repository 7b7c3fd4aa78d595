"""Port of ``sm100_tf32_hc_prenorm_gemm`` (``csrc/jit_kernels/impls/
sm100_tf32_hc_prenorm_gemm.hpp`` of tokenspeed-deepgemm 2.8.0.post20260924, identical in
2.8.2.post20261020; from deepseek-ai/DeepGEMM, MIT). N, K and the split count are baked in; M
is a runtime argument. Unlike SM90, N may reach 128 and the stage count also budgets the
barriers and the TMEM pointer."""

from __future__ import annotations

from jitwarm.deepjit._generators._base import RenderContext, Unrenderable, fill, param
from jitwarm.deepjit._generators.sm90_tf32_hc_prenorm_gemm import swizzle_mode
from jitwarm.plan import PlanEntry, PlanKernel

TEMPLATE = (
    "\n#include <deep_gemm/impls/sm100_tf32_hc_prenorm_gemm.cuh>\n\n"
    "using namespace deep_gemm;\n\n"
    "static void __instantiate_kernel() {{\n"
    "    auto ptr = reinterpret_cast<void*>(&sm100_tf32_hc_prenorm_gemm_impl<\n"
    "        {}, {},\n        {}, {}, {},\n        {},\n        {},\n        {},\n        {}, {}\n"
    "    >);\n}};\n"
)
_BLOCK_M = 64
_BLOCK_K = 64
_NUM_MMA_THREADS = 128
_NUM_CAST_AND_REDUCE_THREADS = 128
_MAX_STAGES = 12
SMEM_CAPACITY_BYTES = 232448  # SM100ArchSpec::smem_capacity


def render_sm100_tf32_hc_prenorm_gemm(
    entry: PlanEntry, kernel: PlanKernel, ctx: RenderContext
) -> tuple[str, str]:
    n, k = entry.n, entry.k
    block_n = -(-n // 16) * 16
    if not (n <= 128 and n % 8 == 0 and k % _BLOCK_K == 0):
        raise Unrenderable(f"SM100 hc_prenorm takes N <= 128 (multiple of 8), K % 64: {n}x{k}")
    splits = param(kernel, "num_splits")
    swizzle_cd = swizzle_mode(block_n, 4)
    stages = _MAX_STAGES
    while stages > 0:
        smem = (_BLOCK_M * _BLOCK_K * 2 + block_n * _BLOCK_K * 4) * stages
        smem += _BLOCK_M * swizzle_cd + (stages * 4 + 1) * 8 + 4
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
        _NUM_MMA_THREADS,
        _NUM_CAST_AND_REDUCE_THREADS,
    )
    return "sm100_tf32_hc_prenorm_gemm", source
