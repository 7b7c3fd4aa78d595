"""Ports of DeepGEMM's SM90 and SM100 source generators (``csrc/jit_kernels/impls/*.hpp``), one module
per generator file; `GENERATORS` maps each plan family to its port."""

from __future__ import annotations

from jitwarm.deepjit._generators._base import Generator, RenderContext, Unrenderable
from jitwarm.deepjit._generators.sm90_fp8_gemm_1d2d import render_gemm_1d2d
from jitwarm.deepjit._generators.sm90_fp8_mqa_logits import (
    render_mqa_logits,
    render_paged_mqa_logits,
    render_paged_mqa_logits_metadata,
)
from jitwarm.deepjit._generators.sm90_tf32_hc_prenorm_gemm import render_tf32_hc_prenorm_gemm
from jitwarm.deepjit._generators.sm100_fp8_fp4_gemm_1d1d import render_gemm_1d1d
from jitwarm.deepjit._generators.sm100_mqa_logits import (
    render_sm100_mqa_logits,
    render_sm100_paged_mqa_logits,
    render_sm100_paged_mqa_logits_metadata,
)
from jitwarm.deepjit._generators.sm100_tf32_hc_prenorm_gemm import (
    render_sm100_tf32_hc_prenorm_gemm,
)
from jitwarm.plan import Family

GENERATORS: dict[tuple[str, Family], Generator] = {
    ("sm90", Family.FP8_GEMM_NT): render_gemm_1d2d,
    ("sm90", Family.M_GROUPED_CONTIGUOUS): render_gemm_1d2d,
    ("sm90", Family.M_GROUPED_MASKED): render_gemm_1d2d,
    ("sm90", Family.FP8_EINSUM): render_gemm_1d2d,
    ("sm90", Family.TF32_HC_PRENORM): render_tf32_hc_prenorm_gemm,
    ("sm90", Family.MQA_LOGITS): render_mqa_logits,
    ("sm90", Family.PAGED_MQA_LOGITS): render_paged_mqa_logits,
    ("sm90", Family.PAGED_MQA_METADATA): render_paged_mqa_logits_metadata,
    ("sm100", Family.FP8_GEMM_NT): render_gemm_1d1d,
    ("sm100", Family.M_GROUPED_CONTIGUOUS): render_gemm_1d1d,
    ("sm100", Family.M_GROUPED_MASKED): render_gemm_1d1d,
    ("sm100", Family.FP8_EINSUM): render_gemm_1d1d,
    ("sm100", Family.TF32_HC_PRENORM): render_sm100_tf32_hc_prenorm_gemm,
    ("sm100", Family.FP4_MQA_LOGITS): render_sm100_mqa_logits,
    ("sm100", Family.FP4_PAGED_MQA_LOGITS): render_sm100_paged_mqa_logits,
    ("sm100", Family.PAGED_MQA_METADATA): render_sm100_paged_mqa_logits_metadata,
}

__all__ = ["GENERATORS", "Generator", "RenderContext", "Unrenderable"]
