"""What differs between DeepGEMM builds, as data: one frozen `BuildProfile` per build line.

Every fact that varies from one DeepGEMM build to the next lives in a profile (see
``_profiles.py``); code elsewhere asks the profile instead of testing version strings.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from types import MappingProxyType

from jitwarm import dgenv
from jitwarm.dgenv import Layout


class JitGeneration(str, Enum):
    """How a build compiles and caches kernels."""

    UPSTREAM = "upstream"  # in-tree JIT (2.5.0, 2.6.1): cache/kernel.<name>.<hash>/
    DEEPJIT = "deepjit"  # DeepJIT (2.8.x, sgl-deep-gemm 0.2.x): cache/<tag>.<key>/ + .committed

    @property
    def layout(self) -> Layout:
        """The on-disk cache layout this generation writes."""
        return Layout.UPSTREAM if self is JitGeneration.UPSTREAM else Layout.DEEPJIT


# The 19 template arguments every build renders first for the SM90 1D2D FP8 GEMM
# (include/deep_gemm/impls/sm90_fp8_gemm_1d2d.cuh): kMajorSFB, SHAPE_M/N/K, kNumGroups,
# BLOCK_M/N/K, swizzle A/B/D, kNumStages, TMA/math threads, multicast and on-A, kNumSMs,
# kGemmType, cd_dtype_t. Builds differ only in what follows.
SM90_GEMM_CORE_ARGS = 19
IDENTITY_EPILOGUE = "epilogue::transform::EpilogueIdentity"
DEFAULT_SF_GRANULARITY = "128"  # SF_GRAN's default in sgl-deep-gemm; what 1x128 scales use


class Sm90GemmArgs(str, Enum):
    """How a build renders the SM90 1D2D FP8 GEMM's template-argument list."""

    WITH_EPILOGUE = "with_epilogue"  # 20 args: ..., cd dtype, epilogue op
    NO_EPILOGUE = "no_epilogue"  # 19 args: the epilogue argument dropped
    SGL_SCALE_GRAN = "sgl_scale_gran"  # 21 args: ..., cd dtype, epilogue op, scale granularity

    @property
    def count(self) -> int:
        return {"with_epilogue": 20, "no_epilogue": 19, "sgl_scale_gran": 21}[self.value]

    @classmethod
    def of_count(cls, count: int) -> Sm90GemmArgs | None:
        return next((s for s in cls if s.count == count), None)

    @staticmethod
    def canonical(args: list[str]) -> tuple[str, ...] | None:
        """The build-independent identity of one SM90 1D2D GEMM kernel from its template
        arguments as any known build renders them: the 19 shared arguments, plus the epilogue
        and the scale granularity only where they differ from the identity epilogue and 128
        (which is what a build that does not render them means). None: not such a list."""
        style = Sm90GemmArgs.of_count(len(args))
        if style is None or not args[0].startswith("cute::UMMA::Major::"):
            return None
        core, extra = tuple(args[:SM90_GEMM_CORE_ARGS]), args[SM90_GEMM_CORE_ARGS:]
        epilogue = extra[0] if extra else IDENTITY_EPILOGUE
        gran = extra[1] if len(extra) > 1 else DEFAULT_SF_GRANULARITY
        tail = () if epilogue == IDENTITY_EPILOGUE else (f"epilogue={epilogue}",)
        tail += () if gran == DEFAULT_SF_GRANULARITY else (f"sf_gran={gran}",)
        return core + tail


class IndexerApi(str, Enum):
    """The argument contract of the DSA indexer's MQA-logits entry points."""

    # fp8_mqa_logits(q, (kv, kv_sf), weights, ks, ke, clean_logits=, max_seqlen_k=) and
    # fp8_paged_mqa_logits(q, kv_cache, weights, lens, table, schedule, max_len, clean_logits=);
    # the fp8_fp4_* variants take q as (q, q_sf) and a logits_dtype keyword.
    SEPARATE_FP8 = "separate_fp8"
    # Only fp8_fp4_mqa_logits((q, q_sf|None), (kv, kv_sf), weights, ks, ke, max_seqlen_k) and
    # fp8_fp4_paged_mqa_logits((q, q_sf|None), kv_cache, ..., max_len): no clean_logits, no
    # logits_dtype (FP32 logits), max_seqlen_k required.
    FP8_FP4_ONLY = "fp8_fp4_only"

    def params(self, fn_name: str) -> tuple[str, ...] | None:
        """The parameter order of ``fn_name`` under this contract, where it differs from the
        upstream order (``jitwarm.record`` reads recorded positional arguments with it)."""
        return _INDEXER_PARAMS.get(self, {}).get(fn_name)


# Parameter orders of the FP8_FP4_ONLY indexer calls (csrc/apis/attention.hpp of 2.8.2, _C.py of
# vLLM's 2.8.1): max_seqlen_k moved up and became required; clean_logits and logits_dtype left.
_INDEXER_PARAMS = {
    IndexerApi.FP8_FP4_ONLY: {
        "fp8_fp4_mqa_logits": (
            "q",
            "kv",
            "weights",
            "cu_seq_len_k_start",
            "cu_seq_len_k_end",
            "max_seqlen_k",
            "schedule_meta",
        ),
        "fp8_fp4_paged_mqa_logits": (
            "q",
            "fused_kv_cache",
            "weights",
            "context_lens",
            "block_table",
            "schedule_meta",
            "max_context_len",
            "indices",
        ),
    }
}


@dataclass(frozen=True)
class SM100Rules:
    """What differs between the modelled builds' SM100 choices (everything else is shared by
    ``jitwarm.selection._sm100``, which takes these)."""

    name: str  # the model name a build profile's `selection["sm100"]` names
    follows: str  # the build whose headers it follows
    # 2.8.2: store_block_m_l1 / _l2 split per layer (asymmetric at FP8xFP4), not one block
    mega_split_store_blocks: bool
    metadata_threads_from_rows: bool  # 2.8.2: the paged metadata kernel bakes 256/512/1024


@dataclass(frozen=True)
class SelectionModel:
    """Which jitwarm selection model reproduces this build's kernel choice on one arch, and
    whether that was checked against this build's own captures or C++."""

    model: str  # "sm90" (jitwarm.selection._sm90), "sm100"
    validated: bool
    evidence: str  # what it was checked against


def _frozen(mapping: Mapping[str, object]) -> Mapping[str, object]:
    return MappingProxyType(dict(mapping))


# Compile log lines: upstream prints with DG_JIT_PRINT_COMPILER_COMMAND=1 (NVCC or NVRTC);
# DeepJIT's call_external_command prints "Running command: ..." (deep_jit/utils/command.hpp).
UPSTREAM_COMPILE_LOG = r"Running NVCC command|Compiling JIT runtime with NVRTC"
DEEPJIT_COMPILE_LOG = r"Running command:"

# Environment suffixes (after "<prefix>_") that change compiler flags or the compiler, so
# every cache key. Upstream: jit/compiler.hpp; DeepJIT: backend/cuda/options.hpp, backend.hpp.
UPSTREAM_KEY_ENV = (
    "JIT_DEBUG",
    "JIT_PTXAS_VERBOSE",
    "JIT_PTXAS_CHECK",
    "JIT_WITH_LINEINFO",
    "JIT_CPP_STANDARD",
    "JIT_NVCC_COMPILER",
)
DEEPJIT_KEY_ENV = (
    "JIT_DEBUG",
    "JIT_PTXAS_VERBOSE",
    "JIT_CHECK_NO_SPILLS",
    "JIT_CHECK_NO_LOCAL_MEMORY",
    "JIT_WITH_LINEINFO",
    "JIT_CPP_STANDARD",
    "JIT_NVCC_COMPILER",
)


class Sm90IndexerArgs(str, Enum):
    """How a build renders the SM90 MQA-logits kernels (the DSA indexer) and what it bakes."""

    # 2.8.0: mqa_logits takes (compressed, clean) flags; logits dtype from the call
    WITH_CLEAN_FLAGS = "with_clean_flags"
    # 2.8.1+/2.8.2: no clean/compressed flags (compressed logits only); logits always FP32
    COMPRESSED_ONLY = "compressed_only"
    # vLLM's 2.8.1: as COMPRESSED_ONLY, and paged logits take a KV-multicast count before the
    # logits dtype (2 for next_n 4, else 1: later upstream sources; 1 seen on an H200)
    COMPRESSED_KV_MULTICAST = "compressed_kv_multicast"

    @property
    def compressed_only(self) -> bool:
        return self is not Sm90IndexerArgs.WITH_CLEAN_FLAGS


class Sm100IndexerArgs(str, Enum):
    """How a build renders the SM100 MQA-logits kernels (``impls/sm100_mqa_logits.hpp``)."""

    # Both bake into the prefill kernel whether the caller passes a schedule_meta workspace.
    # 2.8.0: per-call geometry (split_kv 256, FP4 10 KV stages); the paged kernel bakes next_n,
    # the varlen flag and the logits and weights dtypes; the prefill kernel its (compressed,
    # clean) flags and both dtypes; the metadata kernel next_n and flags
    PER_CALL = "per_call"
    # 2.8.2: one MQALogitsConfig (split_kv 384, FP4 2/8 stages, BF16 weights); the paged and
    # prefill kernels bake no other flag or dtype; the metadata kernel a thread count from the
    # query rows
    SHARED_CONFIG = "shared_config"


@dataclass(frozen=True)
class PrefillLogits:
    """The flags one prefill MQA-logits call of the shipping engine passes, which DeepGEMM
    bakes into the kernel (2.8.0 and sgl-deep-gemm on sm90 and sm100; 2.5.0 bakes
    ``compressed`` and builds ``smxx_clean_logits`` when ``clean``): ``compressed`` is
    ``max_seqlen_k > 0`` (logits as wide as that), ``clean`` is ``clean_logits=True``."""

    compressed: bool
    clean: bool

    def params(self) -> dict[str, object]:
        """The flags as a plan kernel records them (``PlanKernel.params``)."""
        return {"clean_logits": self.clean, "compressed_logits": self.compressed}


# DeepGEMM's API defaults (clean_logits=True, max_seqlen_k=0): what plans recorded before the
# engines' own calls were read, and what a build whose shipping engine is unknown gets.
DEEPGEMM_DEFAULT_PREFILL = PrefillLogits(compressed=False, clean=True)


@dataclass(frozen=True)
class DeepJitFlags:
    """How a DeepJIT build composes its nvcc flags (DeepJIT's ``CompilerOptions::get_flags``
    plus the build's own ``init_jit`` additions), and the env that changes them.

    The key covers ``--gpu-architecture=sm_<arch>``, ``-O<level>``,
    ``--compiler-options=-O<level>``, the PTXAS options the env turns on, the register-usage
    level, then `nvcc_flags` (``{cpp_standard}`` filled from ``DG_JIT_CPP_STANDARD``, read
    through the profile's ``env_prefixes``) and any extra flags.
    """

    optimize_level: str = "3"
    register_usage_level: int = 10
    nvcc_flags: tuple[str, ...] = ()
    include_prefixes: tuple[str, ...] = ("deep_gemm/",)
    # DeepJIT's Device::get_arch: "90a" on sm90, arch families ("100f") from sm100 on.
    arch_names: tuple[tuple[str, str], ...] = (("sm90", "90a"), ("sm100", "100f"))

    def arch_name(self, arch: str) -> str | None:
        return dict(self.arch_names).get(arch)


@dataclass(frozen=True)
class BuildProfile:
    """One DeepGEMM build line: who ships it, how it is found, how it names and caches kernels.

    `name` is the profile's stable id (recorded in plans, bundles and reports). A build matches
    a profile when its distribution is one of `distributions` and its version's release
    (``2.8.0`` of ``2.8.0.post20260924``) is `release`; `version` is the exact build the facts
    were read from and measured with.
    """

    name: str
    distributions: tuple[str, ...]  # who ships it ("vllm": vendored inside vLLM)
    release: str
    version: str
    module: str  # the import name the engine uses
    generation: JitGeneration
    shipped_by: str  # which engine release ships it, for messages and the README
    # Public entry point per jitwarm family name (Family values) where it differs from the
    # family name itself; a family mapped to None does not exist in this build.
    entry_points: Mapping[str, str | None] = field(default_factory=dict)
    indexer_api: IndexerApi = IndexerApi.SEPARATE_FP8
    # compiled_dims the build's Python wrapper passes when the caller gives none, per family
    # where it is not DeepGEMM's "nk" (sgl-deep-gemm's fp8_gemm_nt defaults to "").
    compiled_dims_defaults: Mapping[str, str] = field(default_factory=dict)
    sm90_gemm_args: Sm90GemmArgs = Sm90GemmArgs.WITH_EPILOGUE
    sm90_indexer_args: Sm90IndexerArgs = Sm90IndexerArgs.WITH_CLEAN_FLAGS
    sm100_indexer_args: Sm100IndexerArgs | None = None  # None: no SM100 indexer port
    # Every flag pair the shipping engine's prefill indexer calls pass (fp8_mqa_logits /
    # fp8_fp4_mqa_logits): the planner plans one kernel per pair. Compressed-only builds bake
    # neither flag, so theirs is moot.
    prefill_logits: tuple[PrefillLogits, ...] = (DEEPGEMM_DEFAULT_PREFILL,)
    extra_signature: str | None = None  # DeepJIT: the first key component ("cutlass-480")
    deepjit_flags: DeepJitFlags | None = None  # DeepJIT builds: how nvcc flags are composed
    # Kernel families whose generators jitwarm ports exactly for this build (jitwarm.deepjit);
    # others are planned but not rendered on a CPU.
    rendered_families: frozenset[str] = frozenset()
    # The same on sm100, and the operator type the SM100 1D1D GEMM renders as its identity
    # epilogue (its last template argument; None: no SM100 GEMM port for this build).
    sm100_rendered_families: frozenset[str] = frozenset()
    # Why a family this build has is not rendered on sm100 (said in build and warm notes).
    sm100_unrendered_why: Mapping[str, str] = field(default_factory=dict)
    sm100_identity_epilogue: str | None = None
    env_prefixes: tuple[str, ...] = ("DG",)  # DeepJIT: DG_JIT_* first, then DJ_JIT_*
    key_env_suffixes: tuple[str, ...] = UPSTREAM_KEY_ENV
    compilers: tuple[str, ...] = ("nvcc",)  # "nvrtc" where DG_JIT_USE_NVRTC switches to it
    compile_log: str = DEEPJIT_COMPILE_LOG  # regex of the line printed per compile
    selection: Mapping[str, SelectionModel] = field(default_factory=dict)  # per arch
    notes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for name in ("entry_points", "compiled_dims_defaults", "selection"):
            object.__setattr__(self, name, _frozen(getattr(self, name)))

    # -- entry points -----------------------------------------------------------------------
    def entry_point(self, family: str) -> str | None:
        """The attribute of the DeepGEMM module that serves `family` in this build."""
        return self.entry_points.get(family, family)

    def has_family(self, family: str) -> bool:
        return self.entry_point(family) is not None

    # -- cache ------------------------------------------------------------------------------
    @property
    def layout(self) -> Layout:
        return self.generation.layout

    def key_env_vars(self) -> tuple[str, ...]:
        """Every variable name whose value changes this build's keys, in lookup order."""
        return tuple(f"{p}_{s}" for s in self.key_env_suffixes for p in self.env_prefixes)

    def key_env(self, env: Mapping[str, str] | None = None) -> dict[str, str]:
        """The key-changing settings of ``env`` (default: this process) this build sees, as
        ``DG_<suffix>: value`` (a ``DJ_*`` fallback is reported under its ``DG_*`` name)."""
        return dgenv.key_env(env, suffixes=self.key_env_suffixes, prefixes=self.env_prefixes)

    def renders(self, family: str, arch: str) -> bool:
        """True when jitwarm.deepjit ports this build's generator of ``family`` on ``arch``."""
        families = self.sm100_rendered_families if arch == "sm100" else self.rendered_families
        return family in families

    def unrendered_why(self, family: str, arch: str) -> str | None:
        """The reason ``family`` is not rendered on ``arch``, where one is known."""
        return self.sm100_unrendered_why.get(family) if arch == "sm100" else None

    # -- selection --------------------------------------------------------------------------
    def selection_model(self, arch: str) -> SelectionModel | None:
        return self.selection.get(arch)

    def selection_validated(self, arch: str) -> bool:
        model = self.selection.get(arch)
        return model is not None and model.validated

    # -- display ----------------------------------------------------------------------------
    @property
    def distribution(self) -> str:
        return self.distributions[0]

    @property
    def label(self) -> str:
        return f"{self.distribution} {self.version}"

    def matches(self, distribution: str | None, version: str | None) -> bool:
        """True when an install of ``distribution`` at ``version`` is this build line."""
        if version is None or release_of(version) != self.release:
            return False
        return distribution is None or distribution in self.distributions


def release_of(version: str) -> str:
    """``2.8.0`` of ``2.8.0.post20260924`` / ``2.8.0+cu130`` / ``2.8.0rc1``."""
    match = re.match(r"\d+(?:\.\d+)*", version.strip())
    return match.group(0) if match else version.strip()
