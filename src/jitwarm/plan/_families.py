"""Every fact jitwarm holds about a kernel family, in one registry: `FAMILIES`.

A `FamilySpec` says what M counts for the family and which serving phase calls it, how its
kernels are selected on each arch, what its invariant calls bake, the ``GemmType`` label its
conventions carry, the names its cache entries have (and where their sources carry plan
values), the upstream parameter order of its entry point, how its call's tensors grow with M
and what one compile of it costs. The planner, the cache, ``jitwarm kernels``, warm's sizing
and scheduling and ``jitwarm.record`` read these; none keeps a table of its own.

What varies between DeepGEMM builds (entry-point names, template-argument styles, which
families render on a CPU, the selection model per arch) is not here but in the build's
profile (``jitwarm.profiles``). Code, too, stays where it runs: the selection heuristics in
``jitwarm.selection``, the generator ports in ``jitwarm.deepjit`` (keyed by arch and family),
the call builders in ``jitwarm.deepgemm._calls`` (keyed by family).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from types import MappingProxyType

from jitwarm.plan._schema import Family, MKind
from jitwarm.profiles import DEEPGEMM_DEFAULT_PREFILL
from jitwarm.selection import GemmType


class SelectionKind(str, Enum):
    """How one family's M values map to distinct kernels on one arch."""

    GEMM = "gemm"  # the arch's GEMM heuristic (jitwarm.selection) picks a kernel per M
    INVARIANT = "invariant"  # M is a run-time value: one kernel (heads, dims, `call_params`)
    BUCKETS = "buckets"  # M is baked after rounding up to a multiple of `METADATA_BUCKET`
    HC_SPLITS = "hc_splits"  # the engine's split count, a function of M, is baked
    METADATA_THREADS = (
        "metadata_threads"  # a thread count per batch size, where the build bakes one
    )
    MEGA_MOE = "mega_moe"  # the mega-MoE block configuration per token count


class CallSize(str, Enum):
    """How the tensors of one call grow with M (warm sizes its workers' GPU memory with it)."""

    PLAIN = "plain"  # A (M x K), B (N x K), D (M x N)
    CONTIGUOUS = "contiguous"  # grouped A rows, G copies of B
    MASKED = "masked"  # G groups of up to M rows (rounded to 128) each
    BATCHED = "batched"  # G batches of A, B and D
    HC_PRENORM = "hc_prenorm"  # TF32 A and B, FP32 D per split
    MQA_LOGITS = "mqa_logits"  # q, kv and an M x (M + 512) logits tensor
    PAGED_MQA_LOGITS = "paged_mqa_logits"  # q per batch row and its paged KV context


# get_paged_mqa_logits_metadata bakes align(batch, 32) (the `BUCKETS` width on sm90).
METADATA_BUCKET = 32

# The indexer calls' flags that DeepGEMM bakes into their kernels. Prefill: DeepGEMM's API
# defaults, cleaned and not compressed (max_seqlen_k=0); the planner replaces the pair with the
# ones the build's shipping engine passes (`BuildProfile.prefill_logits`: TokenSpeed's are
# compressed and not cleaned), one kernel each, and warm's call passes each kernel's own.
# Decode (paged) logits: never cleaned, no varlen indices.
MQA_LOGITS_CALL: Mapping[str, object] = MappingProxyType(DEEPGEMM_DEFAULT_PREFILL.params())
PAGED_MQA_LOGITS_CALL: Mapping[str, object] = MappingProxyType(
    {"clean_logits": False, "varlen": False}
)
# The SM100 prefill call also bakes whether the engine passes a ``schedule_meta`` workspace
# (from get_mqa_logits_metadata); engines pass none. A plan kernel that records no
# ``schedule_meta`` (planned before it was recorded) means this default.
FP4_MQA_LOGITS_CALL: Mapping[str, object] = MappingProxyType(
    {**MQA_LOGITS_CALL, "schedule_meta": False}
)


@dataclass(frozen=True)
class CacheKernel:
    """One kernel name a family's cache entries carry (the first argument of
    ``compiler->build``), and where its source carries plan values.

    `positions`: template-argument index of each plan value (``"n"``, ``"heads"``, ...), from
    upstream ``generate_impl`` (csrc/jit_kernels/impls/*.hpp; the hc-prenorm and metadata ones
    confirmed by the H100 ground truth); an empty mapping: nothing to compare (every value is
    fixed by the library); None: unknown, the values must appear somewhere among the integers.
    """

    name: str
    arch: str  # "sm90", "sm100", or "smxx": the upstream-JIT builds' arch-neutral names
    positions: Mapping[str, int] | None = None
    # A flag of the family's plan kernels that must be true in one of them for the plan to
    # need this kernel (the call builds it only then); None: any plan entry of the family.
    built_when: str | None = None


# Names shared by every GEMM family: the ``GemmType`` template argument decides the family.
GEMM_KERNELS = (
    CacheKernel("sm90_fp8_gemm_1d2d", "sm90"),
    CacheKernel("sm90_fp8_gemm_1d1d", "sm90"),
    CacheKernel("sm100_fp8_gemm_1d1d", "sm100"),
    CacheKernel("sm100_fp8_fp4_gemm_1d1d", "sm100"),
)
# Small helper kernels that reshape scale factors before an FP8 GEMM; no family of their own.
HELPER_KERNELS = frozenset(
    {"transpose_fp32", "transpose_and_pack_fp32_into_ue8m0", "pack_fp32_into_ue8m0"}
)


@dataclass(frozen=True)
class FamilySpec:
    """What jitwarm knows about one kernel family (see the module doc)."""

    family: Family
    m_kind: MKind  # what the M of its entries counts
    # The serving phase that calls it where only one does; None: every phase the role serves.
    phase: str | None
    gemm_type: str  # ``Conventions.gemm_type`` of its entries
    # Selection per arch; an arch not listed has no model for it (its entries are swept).
    selection: Mapping[str, SelectionKind]
    call_size: CallSize
    # The selection model's GemmType (GEMM families; both archs' models use the same type).
    model_gemm_type: GemmType | None = None
    call_params: Mapping[str, object] = field(default_factory=dict)  # INVARIANT: what is baked
    kernels: tuple[CacheKernel, ...] = ()  # cache names of its own (GEMMs share GEMM_KERNELS)
    # Upstream parameter order of its entry point (a build's profile may override one; empty:
    # recorded calls of it are not read).
    params: tuple[str, ...] = ()
    # False where warm's standalone backend cannot make the call (it needs an engine's
    # distributed state); deepgemm.calls builds every other family's call.
    standalone_call: bool = True
    # Relative nvcc cost of one kernel against an SM90 FP8 GEMM (a guess to order warm's
    # queue, longest first; wrong guesses cost only tail time).
    compile_weight: float = 1.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "selection", MappingProxyType(dict(self.selection)))
        object.__setattr__(self, "call_params", MappingProxyType(dict(self.call_params)))

    def selection_on(self, arch: str) -> SelectionKind | None:
        return self.selection.get(arch)

    @property
    def is_gemm(self) -> bool:
        """A block-scaled GEMM whose kernel the arch's GEMM heuristic picks."""
        return self.model_gemm_type is not None


def _pos(**positions: int) -> Mapping[str, int]:
    return MappingProxyType(positions)


_GEMM = {"sm90": SelectionKind.GEMM, "sm100": SelectionKind.GEMM}
_INVARIANT = {"sm90": SelectionKind.INVARIANT, "sm100": SelectionKind.INVARIANT}
_GEMM_PARAMS = ("recipe", "compiled_dims", "disable_ue8m0_cast")
_MQA_PARAMS = ("q", "kv", "weights", "cu_seq_len_k_start", "cu_seq_len_k_end", "clean_logits")
_PAGED_PARAMS = (
    "q",
    "fused_kv_cache",
    "weights",
    "context_lens",
    "block_table",
    "schedule_meta",
    "max_context_len",
    "clean_logits",
)
_MQA_POSITIONS = _pos(heads=0, head_dim=1)
_PAGED_POSITIONS = _pos(next_n=0, heads=1, head_dim=2, block_kv=3)
_METADATA_POSITIONS = _pos(aligned_batch=0)

# In the order `jitwarm kernels` lists the families with a selection model.
_SPECS = (
    FamilySpec(
        Family.FP8_GEMM_NT,
        m_kind=MKind.ROWS,
        phase=None,
        gemm_type="Normal",
        selection=_GEMM,
        call_size=CallSize.PLAIN,
        model_gemm_type=GemmType.NORMAL,
        params=("a", "b", "d", "c", *_GEMM_PARAMS),
    ),
    FamilySpec(
        Family.M_GROUPED_CONTIGUOUS,
        m_kind=MKind.TOTAL_ROWS,
        phase="prefill",
        gemm_type="MGroupedContiguous",
        selection=_GEMM,
        call_size=CallSize.CONTIGUOUS,
        model_gemm_type=GemmType.M_GROUPED_CONTIGUOUS,
        kernels=(
            CacheKernel("sm90_m_grouped_fp8_gemm_contiguous_1d2d", "sm90"),
            CacheKernel("sm100_m_grouped_fp8_fp4_gemm_contiguous_1d1d", "sm100"),
        ),
        params=(
            "a",
            "b",
            "d",
            "grouped_layout",
            *_GEMM_PARAMS,
            "use_psum_layout",
            "expected_m_for_psum_layout",
        ),
    ),
    FamilySpec(
        Family.M_GROUPED_MASKED,
        m_kind=MKind.EXPECTED_M,
        phase="decode",
        gemm_type="MGroupedMasked",
        selection=_GEMM,
        call_size=CallSize.MASKED,
        model_gemm_type=GemmType.M_GROUPED_MASKED,
        kernels=(
            CacheKernel("sm90_fp8_m_grouped_gemm_masked_1d2d", "sm90"),
            CacheKernel("sm100_m_grouped_fp8_fp4_gemm_masked_1d1d", "sm100"),
        ),
        params=("a", "b", "d", "masked_m", "expected_m", *_GEMM_PARAMS),
    ),
    FamilySpec(
        Family.FP8_EINSUM,
        m_kind=MKind.ROWS,
        phase=None,
        gemm_type="Batched",
        selection=_GEMM,
        call_size=CallSize.BATCHED,
        model_gemm_type=GemmType.BATCHED,
        params=("expr", "a", "b", "d", "c", "recipe"),
    ),
    FamilySpec(
        Family.PAGED_MQA_METADATA,
        m_kind=MKind.BATCH,
        phase="decode",
        gemm_type="",
        selection={"sm90": SelectionKind.BUCKETS, "sm100": SelectionKind.METADATA_THREADS},
        call_size=CallSize.PLAIN,
        kernels=(
            CacheKernel("sm90_paged_mqa_logits_metadata", "sm90", _METADATA_POSITIONS),
            CacheKernel("sm100_paged_mqa_logits_metadata", "sm100"),
            CacheKernel("smxx_paged_mqa_logits_metadata", "smxx", _METADATA_POSITIONS),
        ),
        params=("context_lens", "block_kv", "num_sms"),
        compile_weight=0.4,
    ),
    FamilySpec(
        Family.TF32_HC_PRENORM,
        m_kind=MKind.ROWS,
        phase=None,
        gemm_type="HCPrenorm",
        selection={"sm90": SelectionKind.HC_SPLITS, "sm100": SelectionKind.HC_SPLITS},
        call_size=CallSize.HC_PRENORM,
        kernels=(
            CacheKernel("sm90_tf32_hc_prenorm_gemm", "sm90", _pos(n=0, k=1)),
            CacheKernel("sm100_tf32_hc_prenorm_gemm", "sm100"),
        ),
        params=("a", "b", "d", "sqr_sum", "num_splits"),
        compile_weight=0.8,
    ),
    FamilySpec(
        Family.MQA_LOGITS,
        m_kind=MKind.ROWS,
        phase="prefill",
        gemm_type="MQALogits",
        selection=_INVARIANT,
        call_size=CallSize.MQA_LOGITS,
        call_params=MQA_LOGITS_CALL,
        kernels=(
            CacheKernel("sm90_fp8_mqa_logits", "sm90", _MQA_POSITIONS),
            CacheKernel("sm100_mqa_logits", "sm100"),
            CacheKernel("smxx_fp8_mqa_logits", "smxx", _MQA_POSITIONS),
            # The upstream-JIT build's fp8_mqa_logits(clean_logits=True) builds it too
            # (DeepJIT builds clean inside the kernel); its <next_n, block_kv, warps, dtype>
            # are all fixed by the library, so a plan with a cleaned prefill kernel needs it.
            CacheKernel("smxx_clean_logits", "smxx", _pos(), built_when="clean_logits"),
        ),
        params=(*_MQA_PARAMS, "max_seqlen_k"),
        compile_weight=1.5,
    ),
    FamilySpec(
        Family.PAGED_MQA_LOGITS,
        m_kind=MKind.BATCH,
        phase="decode",
        gemm_type="MQALogits",
        selection=_INVARIANT,
        call_size=CallSize.PAGED_MQA_LOGITS,
        call_params=PAGED_MQA_LOGITS_CALL,
        kernels=(
            CacheKernel("sm90_fp8_paged_mqa_logits", "sm90", _PAGED_POSITIONS),
            CacheKernel("sm100_paged_mqa_logits", "sm100"),
            CacheKernel("smxx_fp8_paged_mqa_logits", "smxx", _PAGED_POSITIONS),
        ),
        params=_PAGED_PARAMS,
        compile_weight=1.5,
    ),
    FamilySpec(
        Family.FP4_MQA_LOGITS,
        m_kind=MKind.ROWS,
        phase="prefill",
        gemm_type="MQALogits",
        selection=_INVARIANT,
        call_size=CallSize.MQA_LOGITS,
        call_params=FP4_MQA_LOGITS_CALL,
        params=(*_MQA_PARAMS, "max_seqlen_k", "logits_dtype", "schedule_meta"),
        compile_weight=1.5,
    ),
    FamilySpec(
        Family.FP4_PAGED_MQA_LOGITS,
        m_kind=MKind.BATCH,
        phase="decode",
        gemm_type="MQALogits",
        selection=_INVARIANT,
        call_size=CallSize.PAGED_MQA_LOGITS,
        call_params=PAGED_MQA_LOGITS_CALL,
        params=(*_PAGED_PARAMS, "logits_dtype"),
        compile_weight=1.5,
    ),
    FamilySpec(
        Family.MEGA_MOE,
        m_kind=MKind.TOKENS,
        phase=None,
        gemm_type="MegaMoE",
        selection={"sm100": SelectionKind.MEGA_MOE},
        call_size=CallSize.PLAIN,
        kernels=(CacheKernel("sm100_fp8_fp4_mega_moe", "sm100"),),
        standalone_call=False,
        compile_weight=3.0,
    ),
)

FAMILIES: Mapping[Family, FamilySpec] = MappingProxyType({s.family: s for s in _SPECS})

_BY_KERNEL_NAME: Mapping[str, CacheKernel] = MappingProxyType(
    {kn.name: kn for s in _SPECS for kn in s.kernels}
)
_FAMILY_BY_KERNEL_NAME: Mapping[str, Family] = MappingProxyType(
    {kn.name: s.family for s in _SPECS for kn in s.kernels}
)
GEMM_KERNEL_NAMES = frozenset(kn.name for kn in GEMM_KERNELS)
_GEMM_BY_TYPE: Mapping[str, Family] = MappingProxyType(
    {s.gemm_type: s.family for s in _SPECS if s.is_gemm}
)


def spec(family: Family) -> FamilySpec:
    """The registry entry of `family`."""
    return FAMILIES[family]


def family_of_kernel_name(name: str) -> Family | None:
    """The family a cache entry's kernel name belongs to where the name is one family's own;
    None for the shared GEMM names (`GEMM_KERNEL_NAMES`: the GemmType decides), the helpers
    and names jitwarm does not plan."""
    return _FAMILY_BY_KERNEL_NAME.get(name)


def gemm_family_of_type(gemm_type: str) -> Family | None:
    """The GEMM family whose kernels carry ``GemmType::<gemm_type>``."""
    return _GEMM_BY_TYPE.get(gemm_type)


def kernel_positions(name: str) -> Mapping[str, int] | None:
    """Where a kernel's source carries plan values (see `CacheKernel.positions`)."""
    kernel = _BY_KERNEL_NAME.get(name)
    return kernel.positions if kernel is not None else None


def kernel_built_when(name: str) -> str | None:
    """The plan-kernel flag a kernel is built under, where only some calls build it (see
    `CacheKernel.built_when`)."""
    kernel = _BY_KERNEL_NAME.get(name)
    return kernel.built_when if kernel is not None else None


def families_selected(arch: str, *, invariant: bool = True) -> tuple[Family, ...]:
    """Families with a selection on `arch`, in registry order (``invariant=False``: only those
    where M moves the kernel or a baked value)."""
    return tuple(
        s.family
        for s in _SPECS
        if (kind := s.selection_on(arch)) is not None
        and (invariant or kind is not SelectionKind.INVARIANT)
    )
