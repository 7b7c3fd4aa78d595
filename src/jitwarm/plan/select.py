"""Partition an entry's reachable M values into the distinct kernels they compile."""

from __future__ import annotations

from dataclasses import asdict

from jitwarm.errors import ConfigError
from jitwarm.mset import MSet
from jitwarm.plan.schema import Conventions, Family, PlanKernel, Selection
from jitwarm.selection.sm90 import GemmProblem, GemmType, KernelType, partition_m_sm90

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
) -> tuple[Selection, list[PlanKernel] | None]:
    if family is Family.PAGED_MQA_METADATA:
        return Selection.BUCKETS, _buckets(m_values, METADATA_BUCKET)
    if family is Family.TF32_HC_PRENORM:
        return Selection.BUCKETS, _hc_split_buckets(m_values, k, num_sms)
    if family in _INVARIANT:
        kernel = PlanKernel(
            m=m_values.min, m_ranges=m_values.to_json(), params=dict(_CALL_PARAMS[family])
        )
        return Selection.INVARIANT, [kernel]
    if arch == "sm90":
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
