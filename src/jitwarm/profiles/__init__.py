"""DeepGEMM builds: one profile per build line, and finding the build a server will import.

Pure Python: nothing here imports torch or deep_gemm.
"""

from __future__ import annotations

from jitwarm.errors import UsageError
from jitwarm.profiles._profile import (
    BuildProfile,
    DeepJitFlags,
    JitGeneration,
    Sm90GemmArgs,
    Sm90IndexerArgs,
)
from jitwarm.profiles._profiles import PROFILES

__all__ = [
    "PROFILES",
    "BuildProfile",
    "DeepJitFlags",
    "JitGeneration",
    "Sm90GemmArgs",
    "Sm90IndexerArgs",
    "UnknownBuildError",
    "get_profile",
]


class UnknownBuildError(UsageError):
    """A DeepGEMM build jitwarm has no profile for."""

    def __init__(self, name: str) -> None:
        known = ", ".join(p.name for p in PROFILES)
        super().__init__(f"no profile for DeepGEMM build {name!r} (known: {known})")
        self.name = name


def get_profile(name: str) -> BuildProfile:
    """The profile called `name` (a profile id such as ``tokenspeed-deepgemm-2.8.2``)."""
    for profile in PROFILES:
        if profile.name == name:
            return profile
    raise UnknownBuildError(name)
