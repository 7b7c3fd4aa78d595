"""Partition an entry's reachable M values into the distinct kernels they compile.

Which selection model applies is the build's fact: its profile names one per arch
(`BuildProfile.selection`, a `SelectionModel` per arch); `select_kernels` takes its name. An arch with no model
leaves the entries whose kernel may depend on M as sweep entries (`sweep_reason` says why).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict

from jitwarm.errors import ConfigError
from jitwarm.mset import MSet
from jitwarm.plan.schema import Conventions, Family, PlanKernel, Selection
from jitwarm.selection.sm90 import GemmProblem, GemmType, KernelType, partition_m_sm90
from jitwarm.selection.sm100 import (
    MegaMoEProblem,
    SM100GemmProblem,
    paged_metadata_threads,
    partition_m_sm100,
    partition_tokens_mega_moe,
    sm100_rules,
)

# The model a caller gets when it names none: what every profiled build uses on sm90, and the
# SM100 heuristic of the build TokenSpeed 0.1.1 pins (tokenspeed-deepgemm 2.8.0).
DEFAULT_MODELS = {"sm90": "sm90", "sm100": "sm100-2.8.0"}
DEFAULT = "default"  # select_kernels(model=...): the arch's DEFAULT_MODELS entry

# Families whose kernel takes M (or the batch) at run time without it moving any choice:
# the M-independent parameters (heads, head dims, block sizes, splits) are baked, M is not.
_INVARIANT = {
    Family.MQA_LOGITS,
    Family.PAGED_MQA_LOGITS,
    Family.FP4_MQA_LOGITS,
    Family.FP4_PAGED_MQA_LOGITS,
}
_SM90_GEMM_TYPES = {
    Family.FP8_GEMM_NT: GemmType.NORMAL,
    Family.M_GROUPED_CONTIGUOUS: GemmType.M_GROUPED_CONTIGUOUS,
    Family.M_GROUPED_MASKED: GemmType.M_GROUPED_MASKED,
    Family.FP8_EINSUM: GemmType.BATCHED,
}
METADATA_BUCKET = 32  # get_paged_mqa_logits_metadata bakes align(batch, 32)
# The indexer calls' flags that DeepGEMM bakes into their kernels, as engines (and warm's
# calls, deepgemm/calls.py) pass them: prefill logits cleaned, not compressed
# (max_seqlen_k=0); decode (paged) logits never cleaned, no varlen indices.
MQA_LOGITS_CALL = {"clean_logits": True, "compressed_logits": False}
PAGED_MQA_LOGITS_CALL = {"clean_logits": False, "varlen": False}
_CALL_PARAMS = {
    Family.MQA_LOGITS: MQA_LOGITS_CALL,
    Family.FP4_MQA_LOGITS: MQA_LOGITS_CALL,
    Family.PAGED_MQA_LOGITS: PAGED_MQA_LOGITS_CALL,
    Family.FP4_PAGED_MQA_LOGITS: PAGED_MQA_LOGITS_CALL,
}


def sm90_problem(
    family: Family,
    n: int,
    k: int,
    num_groups: int,
    conv: Conventions,
    *,
    num_sms: int,
    mk_alignment: int,
) -> GemmProblem | None:
    """The selection model's view of an entry, or None where no SM90 model applies."""
    gemm_type = _SM90_GEMM_TYPES.get(family)
    if gemm_type is None or conv.ab_dtype != "fp8_e4m3" or conv.kernel_type != "1D2D":
        return None
    if conv.compiled_dims != "nk":
        return None  # the model reproduces the "nk" default; other conventions are swept
    return GemmProblem(
        gemm_type=gemm_type,
        kernel_type=KernelType.K1D2D,
        n=n,
        k=k,
        num_groups=num_groups,
        out_dtype=conv.out_dtype,
        num_sms=num_sms,
        mk_alignment=mk_alignment,
    )


def select_kernels(
    family: Family,
    n: int,
    k: int,
    num_groups: int,
    conv: Conventions,
    m_values: MSet,
    *,
    arch: str,
    num_sms: int,
    mk_alignment: int,
    dims: Mapping[str, int] | None = None,
    ep: int = 1,
    model: str | None = DEFAULT,
) -> tuple[Selection, list[PlanKernel] | None]:
    """How an entry's M values map to distinct kernels, under the selection `model` the build
    names for `arch` (None: the build has none; omitted: `DEFAULT_MODELS`). `dims` are the
    entry's other baked dimensions and `ep` the expert-parallel size (mega-MoE reads both)."""
    if model == DEFAULT:
        model = DEFAULT_MODELS.get(arch)
    if arch == "sm100":
        if model is None:
            return Selection.SWEEP, None
        return _select_sm100(
            family,
            n,
            k,
            num_groups,
            conv,
            m_values,
            dict(dims or {}),
            ep,
            model,
            num_sms=num_sms,
            mk_alignment=mk_alignment,
        )
    if family is Family.PAGED_MQA_METADATA:
        return Selection.BUCKETS, _buckets(m_values, METADATA_BUCKET)
    if family is Family.TF32_HC_PRENORM:
        return Selection.BUCKETS, _hc_split_buckets(m_values, k, num_sms)
    if family in _INVARIANT:
        kernel = PlanKernel(
            m=m_values.min, m_ranges=m_values.to_json(), params=dict(_CALL_PARAMS[family])
        )
        return Selection.INVARIANT, [kernel]
    if arch == "sm90" and model is not None:
        problem = sm90_problem(
            family, n, k, num_groups, conv, num_sms=num_sms, mk_alignment=mk_alignment
        )
        if problem is not None:
            kernels = []
            try:
                partition = partition_m_sm90(problem, m_values)
            except ConfigError:
                raise ConfigError(
                    f"{family.value} N={n} K={k} groups={num_groups}: no DeepGEMM SM90 kernel "
                    "fits this shape (is a model dimension too large?)"
                ) from None
            for cfg, ranges in partition:
                members = MSet.from_ranges(ranges) & m_values
                # The largest M of a kernel: its call also exercises the biggest tensors.
                kernels.append(
                    PlanKernel(
                        m=members.max,
                        m_ranges=members.to_json(),
                        params=asdict(cfg),
                        template_args=cfg.template_args(problem),
                    )
                )
            return Selection.EXACT, kernels
    return Selection.SWEEP, None


def _buckets(m_values: MSet, width: int) -> list[PlanKernel]:
    """One kernel per ``width``-wide bucket holding values; work per bucket, not per value."""
    by_bucket: dict[int, list[tuple[int, int]]] = {}
    for lo, hi in m_values.ranges:
        m = lo
        while m <= hi:
            bucket = -(-m // width) * width
            end = min(hi, bucket)
            by_bucket.setdefault(bucket, []).append((m, end))
            m = end + 1
    return [
        PlanKernel(
            m=ranges[-1][1],
            m_ranges=MSet.from_ranges(ranges).to_json(),
            params={"aligned_batch": bucket},
        )
        for bucket, ranges in by_bucket.items()
    ]


def hc_num_splits(m: int, k: int, num_sms: int) -> int:
    """Split-K count engines pass to tf32_hc_prenorm_gemm (TokenSpeed's deepseek_v4_mhc.py):
    enough splits to fill the SMs, at most a quarter of K's 64-wide blocks. It is baked in."""
    return max(1, min(num_sms // -(-m // 64), -(-k // 64) // 4))


def _hc_split_buckets(m_values: MSet, k: int, num_sms: int) -> list[PlanKernel]:
    by_splits: dict[int, list[tuple[int, int]]] = {}
    # num_splits only changes where ceil(M/64) does: evaluate once per 64-wide run.
    for lo, hi in m_values.ranges:
        m = lo
        while m <= hi:
            end = min(hi, -(-m // 64) * 64)
            by_splits.setdefault(hc_num_splits(m, k, num_sms), []).append((m, end))
            m = end + 1
    return [
        PlanKernel(
            m=MSet.from_ranges(r).max,
            m_ranges=MSet.from_ranges(r).to_json(),
            params={"num_splits": n},
        )
        for n, r in by_splits.items()
    ]


def selection_note(arch: str, model: str | None, build: str) -> str:
    """The plan note naming the heuristic an arch's entries follow, or why they are swept."""
    if model is None:
        return (
            f"{build} has no {arch} selection model: entries whose kernel may depend on M are "
            f"swept (every reachable M is run) instead of planned kernel by kernel"
        )
    if arch == "sm100":
        return f"{arch} kernels follow the SM100 heuristics of {sm100_rules(model).follows}"
    return f"{arch} kernels follow DeepGEMM's SM90 heuristic (selection model {model})"


# -- SM100 ----------------------------------------------------------------------------------

_SM100_GEMM_TYPES = {
    Family.FP8_GEMM_NT: GemmType.NORMAL,
    Family.FP8_EINSUM: GemmType.BATCHED,
    Family.M_GROUPED_CONTIGUOUS: GemmType.M_GROUPED_CONTIGUOUS,
    Family.M_GROUPED_MASKED: GemmType.M_GROUPED_MASKED,
}
_SM100_OPERANDS = {"fp8_e4m3": ("fp8", "fp8"), "fp8xfp4": ("fp8", "fp4"), "bf16": ("bf16", "bf16")}


def sm100_problem(
    family: Family,
    n: int,
    k: int,
    num_groups: int,
    conv: Conventions,
    *,
    num_sms: int,
    mk_alignment: int,
) -> SM100GemmProblem | None:
    """The SM100 model's view of a GEMM entry, or None where it does not apply."""
    gemm_type = _SM100_GEMM_TYPES.get(family)
    operands = _SM100_OPERANDS.get(conv.ab_dtype)
    if gemm_type is None or operands is None or conv.compiled_dims != "nk":
        return None
    return SM100GemmProblem(
        gemm_type=gemm_type,
        n=n,
        k=k,
        num_groups=num_groups,
        a_dtype=operands[0],
        b_dtype=operands[1],
        out_dtype=conv.out_dtype,
        num_sms=num_sms,
        mk_alignment=mk_alignment,
    )


def _select_sm100(
    family: Family,
    n: int,
    k: int,
    num_groups: int,
    conv: Conventions,
    m_values: MSet,
    dims: dict[str, int],
    ep: int,
    model: str,
    *,
    num_sms: int,
    mk_alignment: int,
) -> tuple[Selection, list[PlanKernel] | None]:
    rules = sm100_rules(model)
    if family is Family.TF32_HC_PRENORM:
        # BLOCK_M 64 and BLOCK_N align(N, 16) are fixed; only the engine's split count varies.
        return Selection.BUCKETS, _hc_split_buckets(m_values, k, num_sms)
    if family in _INVARIANT:  # heads, head dims, block sizes, SM count and flags are baked
        kernel = PlanKernel(
            m=m_values.min, m_ranges=m_values.to_json(), params=dict(_CALL_PARAMS[family])
        )
        return Selection.INVARIANT, [kernel]
    if family is Family.PAGED_MQA_METADATA:
        if paged_metadata_threads(1, rules) is None:  # this build bakes no row-dependent value
            return Selection.INVARIANT, [PlanKernel(m=m_values.min, m_ranges=m_values.to_json())]
        by_threads: dict[int, list[int]] = {}
        for lo, hi in m_values.ranges:
            for edge_lo, edge_hi in ((1, 512), (513, 2048), (2049, hi)):
                a, b = max(lo, edge_lo), min(hi, edge_hi)
                if a <= b:
                    by_threads.setdefault(paged_metadata_threads(a, rules), []).append((a, b))
        return Selection.BUCKETS, [
            _kernel(MSet.from_ranges(r) & m_values, {"num_threads": t})
            for t, r in by_threads.items()
        ]
    if family is Family.MEGA_MOE:
        problem = MegaMoEProblem(
            num_ranks=ep,
            num_experts=num_groups * ep,
            num_topk=dims["top_k"],
            mma="fp8xfp4" if conv.ab_dtype == "fp8xfp4" else "bf16xbf16",
        )
        parts = partition_tokens_mega_moe(problem, m_values, rules)
        return Selection.EXACT, [
            _kernel(MSet.from_ranges(r) & m_values, asdict(cfg)) for cfg, r in parts
        ]
    problem = sm100_problem(
        family, n, k, num_groups, conv, num_sms=num_sms, mk_alignment=mk_alignment
    )
    if problem is None:
        return Selection.SWEEP, None
    return Selection.EXACT, [
        _kernel(MSet.from_ranges(r) & m_values, asdict(cfg))
        for cfg, r in partition_m_sm100(problem, m_values)
    ]


def _kernel(members: MSet, params: dict) -> PlanKernel:
    # The largest M of a kernel: its call also exercises the biggest tensors.
    return PlanKernel(m=members.max, m_ranges=members.to_json(), params=params)
