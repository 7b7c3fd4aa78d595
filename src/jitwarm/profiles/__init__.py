"""DeepGEMM builds: one profile per build line, and finding the build a server will import.

build = detect_build()                 # or detect_build("vllm.third_party.deep_gemm")
build.describe(); build.profile_name   # "tokenspeed-deepgemm-2.8.0", or "unknown"
build.profile.entry_point("fp8_mqa_logits")   # "fp8_fp4_mqa_logits" on 2.8.1 / 2.8.2

Pure Python: nothing here imports torch, deep_gemm or vllm.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from types import MappingProxyType

from jitwarm.errors import BuildMismatchError, UnknownBuildError
from jitwarm.profiles._detect import UNKNOWN_BUILD, DetectedBuild, detect_build, profile_for
from jitwarm.profiles._profile import (
    DEEPGEMM_DEFAULT_PREFILL,
    DEEPJIT_COMPILE_LOG,
    UPSTREAM_COMPILE_LOG,
    BuildProfile,
    DeepJitFlags,
    IndexerApi,
    JitGeneration,
    PrefillLogits,
    SelectionModel,
    Sm90GemmArgs,
    Sm90IndexerArgs,
    Sm100IndexerArgs,
    SM100Rules,
    release_of,
)
from jitwarm.profiles._profiles import (
    DEFAULT_PREFILL_LOGITS,
    DEFAULT_SELECTION_MODELS,
    PROFILES,
    SM100_MODELS,
)
from jitwarm.profiles._roots import resolve_cache_roots

__all__ = [
    "ANY_COMPILE_LOG",
    "DEEPGEMM_DEFAULT_PREFILL",
    "DEFAULT_PREFILL_LOGITS",
    "DEFAULT_SELECTION_MODELS",
    "PROFILES",
    "SM100_RULES",
    "UNKNOWN_BUILD",
    "UNVALIDATED",
    "BuildMismatchError",
    "BuildProfile",
    "DeepJitFlags",
    "DetectedBuild",
    "IndexerApi",
    "JitGeneration",
    "PrefillLogits",
    "SM100Rules",
    "SelectionModel",
    "Sm90GemmArgs",
    "Sm90IndexerArgs",
    "Sm100IndexerArgs",
    "UnknownBuildError",
    "check_same_build",
    "detect_build",
    "get_profile",
    "profile_for",
    "profile_for_api",
    "release_of",
    "resolve_cache_roots",
]

# What reports and doctor say when a build's kernel choice is not modelled.
UNVALIDATED = "selection model unvalidated for this build"
# The SM100 selection models' build rules, by the model name a profile's selection names.
SM100_RULES: Mapping[str, SM100Rules] = MappingProxyType({r.name: r for r in SM100_MODELS})
# A compile line of any known build (for a build with no profile).
ANY_COMPILE_LOG = "|".join(dict.fromkeys((UPSTREAM_COMPILE_LOG, DEEPJIT_COMPILE_LOG)))


def profile_for_api(names: Collection[str] | None) -> BuildProfile:
    """The profile whose calling conventions an unknown build's public names (``dir`` of its
    module) fit: the first profile, newest first, that has every planned family's entry
    point. With no names (nothing to look at), the first profile's conventions."""
    if names is not None:
        wanted = {f for p in PROFILES for f in p.entry_points}
        for profile in reversed(PROFILES):
            if all(profile.entry_point(f) in names for f in wanted):
                return profile
    return PROFILES[0]


def get_profile(name: str) -> BuildProfile:
    """The profile called `name` (a profile id such as ``tokenspeed-deepgemm-2.8.2``)."""
    for profile in PROFILES:
        if profile.name == name:
            return profile
    raise UnknownBuildError(name, [p.name for p in PROFILES])


def check_same_build(what: str, made_for: str | None, build: DetectedBuild, hint: str) -> None:
    """Raise :class:`BuildMismatchError` when ``made_for`` (a profile id recorded in a plan or
    bundle) names another build than ``build``. Nothing recorded (``None``, an old plan) or
    nothing found here passes: there is nothing to compare."""
    if made_for is None or not build.found:
        return
    if made_for != build.profile_name:
        here = build.profile_name
        if build.profile is None:
            here = f"an unknown build ({build.distribution or '?'} {build.version or '?'})"
        raise BuildMismatchError(what, made_for, here, hint)
