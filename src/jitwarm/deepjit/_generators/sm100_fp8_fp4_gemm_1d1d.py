"""Port of ``SM100FP8FP4Gemm1D1DRuntime::compile_and_launch`` and its callers
(``csrc/jit_kernels/impls/sm100_fp8_fp4_gemm_1d1d.hpp`` of tokenspeed-deepgemm
2.8.0.post20260924 and 2.8.2.post20261020, from deepseek-ai/DeepGEMM, MIT): the SM100 1D1D
FP8 GEMM behind ``fp8_gemm_nt``, the m-grouped contiguous and masked GEMMs and ``fp8_einsum``
(``sm100_fp8_bmm``, ``GemmType::Batched``), with the values their API layer passes
(``csrc/apis/gemm.hpp``, ``einsum.hpp``: K-major A and B, ``gran_k`` from the scale recipe,
``k_alignment = gran_k_a``, ``ensure_zero_padding`` true, no accumulation).

Both builds render the same 30 template arguments; they differ only in the identity epilogue's
operator type (the last argument), which is the profile's ``sm100_identity_epilogue``. The
configuration comes from the plan (``jitwarm.selection._sm100``)."""

from __future__ import annotations

from jitwarm.deepjit._generators._base import RenderContext, Unrenderable, fill
from jitwarm.plan import PlanEntry, PlanKernel, sm100_problem
from jitwarm.selection import GemmType, SM100KernelConfig

TEMPLATE = (
    "\n#include <deep_gemm/impls/sm100_fp8_fp4_gemm_1d1d.cuh>\n\n"
    "using namespace deep_gemm;\n\n"
    "static void __instantiate_kernel() {{\n"
    "    auto ptr = reinterpret_cast<void*>(&sm100_fp8_fp4_gemm_1d1d_impl<\n"
    "        {}, {},\n        {}, {}, {},\n        {}, {}, {},\n        {}, {}, {},\n"
    "        {},\n        {}, {}, {},\n        {}, {},\n        {}, {},\n        {}, {},\n"
    "        {},\n        {}, {},\n        {}, {},\n        {}, {}, {},\n        {}\n"
    "    >);\n}};\n"
)
# to_string(at::ScalarType) in impls/runtime_utils.hpp
_AB_DTYPES = {"fp8_e4m3": "cutlass::float_e4m3_t"}
_CD_DTYPES = {"bf16": "cutlass::bfloat16_t", "fp32": "float"}
# The tag each launcher compiles under.
TAGS = {
    GemmType.NORMAL: "sm100_fp8_fp4_gemm_1d1d",
    GemmType.BATCHED: "sm100_fp8_gemm_1d1d",  # sm100_fp8_bmm
    GemmType.M_GROUPED_CONTIGUOUS: "sm100_m_grouped_fp8_fp4_gemm_contiguous_1d1d",
    GemmType.M_GROUPED_MASKED: "sm100_m_grouped_fp8_fp4_gemm_masked_1d1d",
}


def render_gemm_1d1d(entry: PlanEntry, kernel: PlanKernel, ctx: RenderContext) -> tuple[str, str]:
    epilogue = ctx.profile.sm100_identity_epilogue
    if epilogue is None:
        raise Unrenderable(f"no port of {ctx.profile.name}'s SM100 1D1D template")
    conv = entry.conventions
    problem = sm100_problem(
        entry.family,
        entry.n,
        entry.k,
        entry.num_groups,
        conv,
        num_sms=ctx.num_sms,
        mk_alignment=128,  # not rendered; only the selection reads it
    )
    if problem is None or problem.gemm_type not in TAGS:
        raise Unrenderable("not an SM100 1D1D FP8 GEMM with the 'nk' convention")
    if conv.ab_dtype not in _AB_DTYPES or problem.out_dtype not in _CD_DTYPES:
        raise Unrenderable(f"SM100 1D1D port renders FP8 x FP8 only, got {conv.ab_dtype}")
    recipe = tuple(conv.scale_recipe or ())
    if len(recipe) != 3:
        raise Unrenderable(f"scale recipe {recipe} is not an (A rows, B rows, K) recipe")
    gran_k = recipe[2]  # transform_sf_pair_into_required_layout: gran_k_a = gran_k_b
    try:
        cfg = SM100KernelConfig(**kernel.params)
    except TypeError:
        raise Unrenderable("the plan's kernel params are not an SM100 GEMM config") from None
    ab = _AB_DTYPES[conv.ab_dtype]
    source = fill(
        TEMPLATE,
        "cute::UMMA::Major::K",  # major_a: the *_nt calls (and fp8_einsum's) are K-major
        "cute::UMMA::Major::K",
        gran_k,  # gran_k_a
        gran_k,  # gran_k_b
        gran_k,  # k_alignment: gran_k_a ("dummy here")
        0,  # M: compiled_dims "nk"
        problem.n,
        problem.k,
        cfg.block_m,
        cfg.block_n,
        cfg.block_k,
        problem.num_groups,
        cfg.swizzle_a_bytes,
        cfg.swizzle_b_bytes,
        cfg.swizzle_cd_bytes,
        cfg.num_stages,
        cfg.num_tma_store_stages,
        cfg.num_non_epilogue_threads,
        cfg.num_epilogue_threads,
        cfg.cluster_size,
        cfg.cluster_n > 1,
        problem.num_sms,  # launch_config.num_sms: the descriptor's
        int(cfg.swap_ab),  # Layout::swap_ab is an int: std::format prints 0 or 1
        True,  # ensure_zero_padding: GemmDesc's default, the contiguous API's default
        f"GemmType::{problem.gemm_type.value}",
        False,  # with_accumulation: no C
        ab,
        ab,
        _CD_DTYPES[problem.out_dtype],
        epilogue,
    )
    return TAGS[problem.gemm_type], source
