"""Port of ``SM90FP8Gemm1D2DRuntime::compile_and_launch`` and its callers
(``csrc/jit_kernels/impls/sm90_fp8_gemm_1d2d.hpp`` of tokenspeed-deepgemm 2.8.0.post20260924
and 2.8.2.post20261020, from deepseek-ai/DeepGEMM, MIT): the SM90 1D2D FP8 GEMM behind
``fp8_gemm_nt``, the m-grouped contiguous and masked GEMMs and ``fp8_einsum`` (``fp8_bmm``,
``GemmType::Batched``). Builds render 20 template arguments (the epilogue last) or drop the
epilogue (19); the build's style is its profile's ``sm90_gemm_args``."""

from __future__ import annotations

from jitwarm.deepjit._generators._base import RenderContext, Unrenderable, fill
from jitwarm.plan import Family, PlanEntry, PlanKernel, sm90_problem
from jitwarm.profiles import Sm90GemmArgs
from jitwarm.selection import GemmType, SM90KernelConfig

_HEAD = (
    "\n#include <deep_gemm/impls/sm90_fp8_gemm_1d2d.cuh>\n\n"
    "using namespace deep_gemm;\n\n"
    "static void __instantiate_kernel() {{\n"
    "    auto ptr = reinterpret_cast<void*>(&sm90_fp8_gemm_1d2d_impl<\n"
    "        {},\n        {}, {}, {},\n        {},\n        {}, {}, {},\n        {}, {}, {},\n"
    "        {},\n        {}, {},\n        {}, {},\n        {}, {},\n"
)
_TAIL = "    >);\n}};\n"
TEMPLATES = {
    Sm90GemmArgs.WITH_EPILOGUE: _HEAD + "        {},\n        {}\n" + _TAIL,
    Sm90GemmArgs.NO_EPILOGUE: _HEAD + "        {}\n" + _TAIL,
}
EPILOGUE_IDENTITY = "epilogue::transform::EpilogueIdentity"  # get_default_epilogue_type
_CD_DTYPES = {"bf16": "cutlass::bfloat16_t", "fp32": "float"}  # to_string(at::ScalarType)
# The tag each launcher compiles under.
TAGS = {
    GemmType.NORMAL: "sm90_fp8_gemm_1d2d",
    GemmType.BATCHED: "sm90_fp8_gemm_1d2d",  # sm90_fp8_bmm reuses the GEMM's tag
    GemmType.M_GROUPED_CONTIGUOUS: "sm90_m_grouped_fp8_gemm_contiguous_1d2d",
    GemmType.M_GROUPED_MASKED: "sm90_fp8_m_grouped_gemm_masked_1d2d",
}


def render_gemm_1d2d(entry: PlanEntry, kernel: PlanKernel, ctx: RenderContext) -> tuple[str, str]:
    template = TEMPLATES.get(ctx.profile.sm90_gemm_args)
    if template is None:
        raise Unrenderable(
            f"no port of the {ctx.profile.sm90_gemm_args.value} 1D2D template "
            f"({ctx.profile.sm90_gemm_args.count} arguments)"
        )
    problem = sm90_problem(
        entry.family,
        entry.n,
        entry.k,
        entry.num_groups,
        entry.conventions,
        num_sms=ctx.num_sms,
        mk_alignment=128,  # not rendered; only the selection reads it
    )
    if problem is None:
        raise Unrenderable("not an SM90 1D2D FP8 GEMM with the 'nk' convention")
    try:
        cfg = SM90KernelConfig(**kernel.params)
    except TypeError:
        raise Unrenderable("the plan's kernel params are not an SM90 GEMM config") from None
    # The launchers compile their kernels under the GEMM type they are (fp8_einsum's
    # bhr,hdr->bhd goes through fp8_bmm, always with compiled dims "nk").
    if entry.family is Family.FP8_EINSUM and problem.gemm_type is not GemmType.BATCHED:
        raise Unrenderable("fp8_einsum renders only as a batched GEMM")
    dims = problem.compiled_dims
    args: list[object] = [
        f"cute::UMMA::Major::{problem.sfb_major}",
        0,  # M is never compiled in by these callers
        problem.n if "n" in dims else 0,
        problem.k if "k" in dims else 0,
        problem.num_groups,
        cfg.block_m,
        cfg.block_n,
        cfg.block_k,
        cfg.swizzle_a_bytes,
        cfg.swizzle_b_bytes,
        cfg.swizzle_d_bytes,
        cfg.num_stages,
        cfg.num_tma_threads,
        cfg.num_math_threads,
        cfg.multicast,  # layout.get_cluster_size()
        cfg.cluster_n > 1,
        problem.num_sms,
        f"GemmType::{problem.gemm_type.value}",
        _CD_DTYPES[problem.out_dtype],
    ]
    if ctx.profile.sm90_gemm_args is Sm90GemmArgs.WITH_EPILOGUE:
        args.append(EPILOGUE_IDENTITY)
    return TAGS[problem.gemm_type], fill(template, *args)
