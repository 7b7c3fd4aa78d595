"""Which DeepGEMM build a server would use, found as the engines find it, without importing it.

Order (vLLM's, and what TokenSpeed and SGLang amount to): ``--deepgemm MODULE``, else
``JITWARM_DEEPGEMM``, else an installed ``deep_gemm`` (tokenspeed-deepgemm, sgl-deep-gemm,
upstream source installs), else vLLM's vendored ``vllm.third_party.deep_gemm``. The install's
distribution and version then pick the profile; a build with none is an "unknown build" that
still names what was found.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from jitwarm import dgenv
from jitwarm.dgenv import DeepGEMMInstall, Layout
from jitwarm.profiles._profile import BuildProfile, JitGeneration
from jitwarm.profiles._profiles import PROFILES

UNKNOWN_BUILD = "unknown"


@dataclass(frozen=True)
class DetectedBuild:
    """The DeepGEMM a server would import, and its profile (None: an unknown build)."""

    install: DeepGEMMInstall
    profile: BuildProfile | None

    # -- what was found ---------------------------------------------------------------------
    @property
    def found(self) -> bool:
        return self.install.found

    @property
    def module(self) -> str:
        return self.install.module

    @property
    def path(self) -> Path | None:
        return self.install.path

    @property
    def distribution(self) -> str | None:
        return self.install.distribution

    @property
    def version(self) -> str | None:
        return self.install.version

    @property
    def profile_name(self) -> str:
        """The profile id recorded in plans and bundles; ``unknown`` for a build without one."""
        return self.profile.name if self.profile is not None else UNKNOWN_BUILD

    @property
    def generation(self) -> JitGeneration | None:
        return self.profile.generation if self.profile is not None else None

    @property
    def layout(self) -> Layout | None:
        return self.profile.layout if self.profile is not None else None

    @property
    def exact_version(self) -> bool:
        """True when the installed version is the one the profile was measured with."""
        return self.profile is not None and self.version == self.profile.version

    def selection_validated(self, arch: str) -> bool:
        return self.profile is not None and self.profile.selection_validated(arch)

    def describe(self) -> str:
        """One line: ``tokenspeed-deepgemm 2.8.0.post20260924 (deep_gemm at /x; DeepJIT;
        profile tokenspeed-deepgemm-2.8.0)``, or what was searched when nothing was found."""
        if not self.found:
            where = " then ".join(self.install.searched) or self.module
            return f"no DeepGEMM found (looked for {where}, via {self.install.found_by})"
        who = self.distribution or "no distribution metadata"
        version = self.version or "version unknown"
        gen = self.generation.value if self.generation else "JIT generation unknown"
        what = f"{who} {version}" if self.profile else f"unknown build: {who} {version}"
        tail = f"profile {self.profile.name}" if self.profile else "no profile"
        if self.profile is not None and not self.exact_version:
            tail += f", measured with {self.profile.version}"
        return f"{what} ({self.module} at {self.path}; {gen}; {tail})"

    def to_json(self) -> dict[str, object]:
        return {
            "module": self.module,
            "path": str(self.path) if self.path else None,
            "found_by": self.install.found_by,
            "distribution": self.distribution,
            "distribution_version": self.install.distribution_version,
            "version": self.version,
            "generation": self.generation.value if self.generation else None,
            "profile": self.profile_name,
        }


def profile_for(distribution: str | None, version: str | None) -> BuildProfile | None:
    """The profile of an install of ``distribution`` at ``version``, or None."""
    return next((p for p in PROFILES if p.matches(distribution, version)), None)


def detect_build(
    module: str | None = None, *, env: Mapping[str, str] | None = None
) -> DetectedBuild:
    """The DeepGEMM build this interpreter's server would import (see the module docstring)."""
    install = dgenv.find_deepgemm(module, env=env)
    profile = profile_for(install.distribution, install.version) if install.found else None
    if profile is not None and profile.module != install.module:
        profile = None  # a build line lives under one import name; anything else is unknown
    return DetectedBuild(install, profile)
