"""Cold compile time estimates: distinct kernels times a measured per-kernel cost.

A compile happens once per distinct kernel, never per call, so the estimate counts kernels.
Entries with a known kernel set (exact, buckets, invariant) count exactly those. A sweep entry
(its build has no selection model for the arch) has an unknown kernel set; it counts an upper
bound: at most one kernel per reachable M, and for GEMM families at most one per tile
candidate of DeepGEMM's heuristic for the arch (the modelled builds' candidate lists: the
choice is always one of them; mega-MoE: its candidate BLOCK_M values), whichever is fewer.
"""

from __future__ import annotations

from dataclasses import dataclass

from jitwarm.plan._families import spec
from jitwarm.plan._schema import Family, Plan, PlanEntry, PlanKernel
from jitwarm.plan._select import sm90_problem, sm100_problem
from jitwarm.selection import MEGA_MOE_MAX_BLOCK_CONFIGS, max_kernels_sm90, max_kernels_sm100

# Median nvcc time of one SM90 FP8 GEMM kernel on an H100 host (nvcc 13.0), measured.
MEDIAN_COMPILE_S = 4.5


@dataclass(frozen=True)
class CompileEstimate:
    """Distinct kernels a cold cache compiles, and the serial time that takes."""

    kernels: int  # distinct kernels of entries whose kernel set is known
    sweep_kernels_max: int  # upper bound on the distinct kernels of sweep entries
    sweep_entries: int
    per_kernel_s: float = MEDIAN_COMPILE_S

    @property
    def is_upper_bound(self) -> bool:
        return self.sweep_entries > 0

    @property
    def total_kernels(self) -> int:
        return self.kernels + self.sweep_kernels_max

    @property
    def seconds(self) -> float:
        return self.total_kernels * self.per_kernel_s

    def describe(self) -> str:
        """One line for the human table."""
        if not self.is_upper_bound:
            return f"{self.kernels} distinct kernels"
        return (
            f"at most {self.total_kernels} distinct kernels ({self.kernels} known, up to "
            f"{self.sweep_kernels_max} in {self.sweep_entries} sweep entries: an upper bound, "
            f"their build has no selection model for this arch)"
        )


def sweep_kernels_max(entry: PlanEntry, *, arch: str, num_sms: int, mk_alignment: int) -> int:
    """An upper bound on the distinct kernels a sweep entry compiles (see the module doc)."""
    m_values = entry.mset
    bound = len(m_values)
    if not m_values:
        return 0
    args = (entry.family, entry.n, entry.k, entry.num_groups, entry.conventions)
    if arch == "sm90":
        problem = sm90_problem(*args, num_sms=num_sms, mk_alignment=mk_alignment)
        if problem is not None:
            bound = min(bound, max_kernels_sm90(problem, m_values.max))
    if entry.family is Family.MEGA_MOE:
        bound = min(bound, MEGA_MOE_MAX_BLOCK_CONFIGS)
    elif arch == "sm100":
        problem100 = sm100_problem(*args, num_sms=num_sms, mk_alignment=mk_alignment)
        if problem100 is not None:
            bound = min(bound, max_kernels_sm100(problem100, m_values.max))
    return bound


def estimate_compile(plan: Plan) -> CompileEstimate:
    """Distinct kernels of `plan` (sweep entries: an upper bound) and their serial compile
    time at the measured median per kernel."""
    mk_alignment = plan.serving.mk_alignment
    known = sum(len(e.kernels) for e in plan.entries if e.kernels is not None)
    sweeps = plan.sweep_entries
    bound = sum(
        sweep_kernels_max(e, arch=plan.arch, num_sms=plan.num_sms, mk_alignment=mk_alignment)
        for e in sweeps
    )
    return CompileEstimate(kernels=known, sweep_kernels_max=bound, sweep_entries=len(sweeps))


def estimate_compile_s(plan: Plan) -> float:
    """Serial cold compile seconds: one compile per distinct kernel (sweep entries: their
    upper bound, see `estimate_compile`), never one per call."""
    return estimate_compile(plan).seconds


def estimate_kernel_s(entry: PlanEntry, kernel: PlanKernel | None) -> float:
    """Guess of one kernel's compile seconds: larger tiles unroll more math."""
    weight = spec(entry.family).compile_weight  # relative to an SM90 FP8 GEMM
    params = kernel.params if kernel is not None else {}
    tile = params.get("block_m", 64) * params.get("block_n", 128)
    return MEDIAN_COMPILE_S * weight * (0.75 + 0.5 * min(1.0, tile / (128 * 192)))
