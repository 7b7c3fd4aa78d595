"""Which DeepGEMM kernel a call needs, keyed by jitwarm's own selection model.

A :class:`KernelRef` names one generated kernel the way the upstream-JIT builds name its cache entry
(``cache/kernel.<impl>.<hash>/``), with the template arguments the plan predicts. The server's
CPU mode stalls on exactly the calls that would compile on the GPU because it asks the same
selection (:func:`jitwarm.selection._sm90.select_sm90`) the plan was built with. Pure Python.
"""

from __future__ import annotations

import hashlib
from bisect import bisect_right
from dataclasses import dataclass
from functools import lru_cache

from jitwarm.plan import Conventions, Family, Plan, sm90_problem
from jitwarm.selection import GemmProblem, select_sm90

# DeepGEMM's kernel name (first argument of compiler->build) of each family on SM90.
IMPL_NAMES = {
    Family.FP8_GEMM_NT: "sm90_fp8_gemm_1d2d",
    Family.M_GROUPED_CONTIGUOUS: "sm90_m_grouped_fp8_gemm_contiguous_1d2d",
    Family.M_GROUPED_MASKED: "sm90_fp8_m_grouped_gemm_masked_1d2d",
}


@dataclass(frozen=True)
class KernelRef:
    """One distinct kernel: its family, DeepGEMM kernel name and template arguments."""

    family: Family
    impl: str
    template_args: str

    @property
    def digest(self) -> str:
        return hashlib.sha256(f"{self.impl}<{self.template_args}>".encode()).hexdigest()[:32]

    @property
    def entry_name(self) -> str:
        """The cache folder name an upstream-JIT build would use (``kernel.<impl>.<hash>``)."""
        return f"kernel.{self.impl}.{self.digest}"


class KernelKeyer:
    """Maps a GEMM call (family, N, K, groups, M) to the kernel it runs on SM90.

    Primed from a plan, a lookup is a bisect over the plan's M ranges (the selection model
    already partitioned them); an M outside the plan falls back to scoring it directly.
    """

    def __init__(self, *, num_sms: int, mk_alignment: int, plan: Plan | None = None) -> None:
        self.num_sms = num_sms
        self.mk_alignment = mk_alignment
        self._tables: dict[
            tuple[Family, int, int, int], tuple[list[int], list[tuple[int, KernelRef]]]
        ] = {}
        self.misses = 0  # lookups outside the plan's M ranges
        if plan is not None:
            self._prime(plan)

    def _prime(self, plan: Plan) -> None:
        for entry in plan.entries:
            impl = IMPL_NAMES.get(entry.family)
            if impl is None or entry.kernels is None:
                continue
            spans = sorted(
                (lo, hi, KernelRef(entry.family, impl, kernel.template_args))
                for kernel in entry.kernels
                if kernel.template_args is not None
                for lo, hi in kernel.m_ranges
            )
            self._tables[(entry.family, entry.n, entry.k, entry.num_groups)] = (
                [lo for lo, _, _ in spans],
                [(hi, ref) for _, hi, ref in spans],
            )

    def problem(self, family: Family, n: int, k: int, num_groups: int) -> GemmProblem:
        problem = sm90_problem(
            family,
            n,
            k,
            num_groups,
            Conventions(),
            num_sms=self.num_sms,
            mk_alignment=self.mk_alignment,
        )
        if problem is None:  # pragma: no cover - the three families above always have a model
            raise ValueError(f"no SM90 selection model for {family.value}")
        return problem

    def ref(self, family: Family, n: int, k: int, num_groups: int, m: int) -> KernelRef:
        """The kernel a call with M = ``m`` (rows, total rows or expected_m) runs."""
        table = self._tables.get((family, n, k, num_groups))
        if table is not None:
            i = bisect_right(table[0], m) - 1
            if i >= 0 and m <= table[1][i][0]:
                return table[1][i][1]
        self.misses += 1
        return _ref(self, family, n, k, num_groups, m)


@lru_cache(maxsize=65536)
def _ref(keyer: KernelKeyer, family: Family, n: int, k: int, num_groups: int, m: int) -> KernelRef:
    problem = keyer.problem(family, n, k, num_groups)
    config = select_sm90(problem, m)
    return KernelRef(family, IMPL_NAMES[family], config.template_args(problem))


def plan_kernel_refs(plan: Plan) -> list[KernelRef]:
    """Every kernel of the plan's entries in the families the reference model runs."""
    refs: dict[str, KernelRef] = {}
    for entry in plan.entries:
        impl = IMPL_NAMES.get(entry.family)
        if impl is None or entry.kernels is None:
            continue
        for kernel in entry.kernels:
            if kernel.template_args is not None:
                ref = KernelRef(entry.family, impl, kernel.template_args)
                refs.setdefault(ref.entry_name, ref)
    return list(refs.values())
