"""Partition an entry's reachable M values into the distinct kernels they compile.

Which selection model applies is the build's fact: its profile names one per arch
(`BuildProfile.selection`, a `SelectionModel` per arch); `select_kernels` takes its name. An arch with no model
leaves the entries whose kernel may depend on M as sweep entries (`sweep_reason` says why).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict

from jitwarm.errors import ConfigError
from jitwarm.mset import MSet
from jitwarm.plan._families import METADATA_BUCKET, FamilySpec, SelectionKind, spec
from jitwarm.plan._schema import Conventions, Family, PlanKernel, Selection
from jitwarm.profiles import DEFAULT_PREFILL_LOGITS, DEFAULT_SELECTION_MODELS, PrefillLogits
from jitwarm.selection import (
    GemmProblem,
    KernelType,
    MegaMoEProblem,
    SM100GemmProblem,
    paged_metadata_threads,
    partition_m_sm90,
    partition_m_sm100,
    partition_tokens_mega_moe,
    sm100_rules,
)

# The model a caller gets when it names none (the profiles' default build's, per arch).
DEFAULT_MODELS = DEFAULT_SELECTION_MODELS
DEFAULT = "default"  # select_kernels(model=...): the arch's DEFAULT_MODELS entry


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
    gemm_type = spec(family).model_gemm_type
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
    prefill_logits: Sequence[PrefillLogits] = DEFAULT_PREFILL_LOGITS,
) -> tuple[Selection, list[PlanKernel] | None]:
    """How an entry's M values map to distinct kernels, under the selection `model` the build
    names for `arch` (None: the build has none; omitted: `DEFAULT_MODELS`). `dims` are the
    entry's other baked dimensions and `ep` the expert-parallel size (mega-MoE reads both).
    `prefill_logits`: the flag pairs the build's engine passes to the prefill indexer call
    (`BuildProfile.prefill_logits`), one kernel each."""
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
            prefill_logits,
            num_sms=num_sms,
            mk_alignment=mk_alignment,
        )
    fam = spec(family)
    kind = fam.selection_on("sm90")
    if kind is SelectionKind.BUCKETS:
        return Selection.BUCKETS, _buckets(m_values, METADATA_BUCKET)
    if kind is SelectionKind.HC_SPLITS:
        return Selection.BUCKETS, _hc_split_buckets(m_values, k, num_sms)
    if kind is SelectionKind.INVARIANT:
        return Selection.INVARIANT, _invariant(fam, m_values, prefill_logits)
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


def _invariant(
    fam: FamilySpec, m_values: MSet, prefill_logits: Sequence[PrefillLogits]
) -> list[PlanKernel]:
    """The kernels of an invariant family: M is a run-time value, its call flags baked; the
    prefill indexer's (compressed, clean) flags are the engine's, one kernel per pair."""
    variants = [dict(fam.call_params)]
    if "compressed_logits" in fam.call_params:
        variants = [{**fam.call_params, **v.params()} for v in prefill_logits]
    return [PlanKernel(m=m_values.min, m_ranges=m_values.to_json(), params=p) for p in variants]


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
    gemm_type = spec(family).model_gemm_type
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
    prefill_logits: Sequence[PrefillLogits],
    *,
    num_sms: int,
    mk_alignment: int,
) -> tuple[Selection, list[PlanKernel] | None]:
    rules = sm100_rules(model)
    fam = spec(family)
    kind = fam.selection_on("sm100")
    if kind is SelectionKind.HC_SPLITS:
        # BLOCK_M 64 and BLOCK_N align(N, 16) are fixed; only the engine's split count varies.
        return Selection.BUCKETS, _hc_split_buckets(m_values, k, num_sms)
    if kind is SelectionKind.INVARIANT:  # heads, head dims, block sizes, SMs, flags are baked
        return Selection.INVARIANT, _invariant(fam, m_values, prefill_logits)
    if kind is SelectionKind.METADATA_THREADS:
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
    if kind is SelectionKind.MEGA_MOE:
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
