"""Cold compile time estimates from measured per-kernel costs."""

from __future__ import annotations

from jitwarm.plan.schema import Family, Plan, PlanEntry, PlanKernel

# Median nvcc time of one SM90 FP8 GEMM kernel on an H100 host (nvcc 13.0), measured.
MEDIAN_COMPILE_S = 4.5


def estimate_compile_s(plan: Plan) -> float:
    """Serial cold compile time: one compile per distinct kernel; sweep entries count each
    call as a possible compile (an upper bound)."""
    return plan.num_calls * MEDIAN_COMPILE_S


# Relative nvcc cost of one kernel of a family against an SM90 FP8 GEMM (a guess to order the
# queue: longest first; wrong guesses cost only tail time).
_FAMILY_WEIGHT = {
    Family.MQA_LOGITS: 1.5,
    Family.PAGED_MQA_LOGITS: 1.5,
    Family.FP4_MQA_LOGITS: 1.5,
    Family.FP4_PAGED_MQA_LOGITS: 1.5,
    Family.PAGED_MQA_METADATA: 0.4,
    Family.TF32_HC_PRENORM: 0.8,
    Family.MEGA_MOE: 3.0,
}


def estimate_kernel_s(entry: PlanEntry, kernel: PlanKernel | None) -> float:
    """Guess of one kernel's compile seconds: larger tiles unroll more math."""
    weight = _FAMILY_WEIGHT.get(entry.family, 1.0)
    params = kernel.params if kernel is not None else {}
    tile = params.get("block_m", 64) * params.get("block_n", 128)
    return MEDIAN_COMPILE_S * weight * (0.75 + 0.5 * min(1.0, tile / (128 * 192)))
