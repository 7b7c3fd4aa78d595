"""What differs between DeepGEMM builds, as data: one frozen `BuildProfile` per build line.

Every fact that varies from one DeepGEMM build to the next lives in a profile (see
``_profiles.py``); code elsewhere asks the profile instead of testing version strings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum


class JitGeneration(str, Enum):
    """How a build compiles and caches kernels."""

    UPSTREAM = "upstream"  # in-tree JIT (2.5.0, 2.6.1): cache/kernel.<name>.<hash>/
    DEEPJIT = "deepjit"  # DeepJIT (2.8.x, sgl-deep-gemm 0.2.x): cache/<tag>.<key>/ + .committed


class Sm90GemmArgs(str, Enum):
    """How a build renders the SM90 1D2D FP8 GEMM's template-argument list."""

    WITH_EPILOGUE = "with_epilogue"  # 20 args: ..., cd dtype, epilogue op (2.5.0, 2.8.0)
    NO_EPILOGUE = "no_epilogue"  # 19 args: the epilogue argument dropped (2.8.1, 2.8.2)
    SGL_SCALE_GRAN = "sgl_scale_gran"  # 21 args: ..., epilogue op, scale granularity (sgl 0.2.3)

    @property
    def count(self) -> int:
        return {"with_epilogue": 20, "no_epilogue": 19, "sgl_scale_gran": 21}[self.value]


class Sm90IndexerArgs(str, Enum):
    """How a build renders the SM90 MQA-logits kernels (the DSA indexer) and what it bakes."""

    # 2.8.0: mqa_logits takes (compressed, clean) flags; logits dtype from the call
    WITH_CLEAN_FLAGS = "with_clean_flags"
    # 2.8.1+/2.8.2: no clean/compressed flags (compressed logits only); logits always FP32
    COMPRESSED_ONLY = "compressed_only"


@dataclass(frozen=True)
class DeepJitFlags:
    """How a DeepJIT build composes its nvcc flags (DeepJIT's ``CompilerOptions::get_flags``
    plus the build's own ``init_jit`` additions), and the env that changes them.

    The key covers ``--gpu-architecture=sm_<arch>``, ``-O<level>``,
    ``--compiler-options=-O<level>``, the PTXAS options the env turns on, the register-usage
    level, then `nvcc_flags` (``{cpp_standard}`` filled from ``<prefix>_JIT_CPP_STANDARD``)
    and any extra flags.
    """

    env_prefix: str = "DG"  # the build's DeepJIT prefix (DG_JIT_*), DJ_JIT_* as the fallback
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

    `name` is the profile's stable id (recorded in plans, bundles and reports).
    """

    name: str
    distribution: str  # the PyPI distribution that ships it ("vendored" ones name their host)
    version: str  # the exact version this profile was read from and measured with
    module: str  # the import name the engine uses
    generation: JitGeneration
    shipped_by: str  # which engine release ships it, for messages and the README
    # Public entry point per jitwarm family name (Family values) where it differs from the
    # family name itself; a family mapped to None does not exist in this build.
    entry_points: dict[str, str | None] = field(default_factory=dict)
    sm90_gemm_args: Sm90GemmArgs = Sm90GemmArgs.WITH_EPILOGUE
    sm90_indexer_args: Sm90IndexerArgs = Sm90IndexerArgs.WITH_CLEAN_FLAGS
    extra_signature: str | None = None  # DeepJIT: the first key component ("cutlass-480")
    deepjit_flags: DeepJitFlags | None = None  # DeepJIT builds: how nvcc flags are composed
    # Kernel families whose generators jitwarm ports exactly for this build (jitwarm.deepjit);
    # others are planned but not rendered on a CPU.
    rendered_families: frozenset[str] = frozenset()
    env_fallback_prefix: str | None = None  # DeepJIT reads DJ_JIT_* when DG_JIT_* is unset
    nvrtc: bool = False  # whether DG_JIT_USE_NVRTC can switch the compiler
    compile_log_marker: str | None = None  # stdout line a build prints when it runs nvcc
    # Which selection model reproduces this build's choice, per arch ("sm90", "sm100").
    selection_models: dict[str, str] = field(default_factory=dict)
    # Whether the profile's facts were checked against captured ground truth or a GPU run.
    validated: bool = True
    notes: tuple[str, ...] = ()

    def entry_point(self, family: str) -> str | None:
        """The attribute of the `deep_gemm` module that serves `family` in this build."""
        return self.entry_points.get(family, family)

    def has_family(self, family: str) -> bool:
        return self.entry_point(family) is not None

    @property
    def label(self) -> str:
        return f"{self.distribution} {self.version}"
