"""Errors of GPU-free builds, inside jitwarm's one exception tree."""

from __future__ import annotations

from jitwarm.errors import JitwarmError, UsageError


class TargetError(UsageError):
    """A target DeepGEMM build that cannot be used: not DeepGEMM, no profile, corrupt, or a
    generation whose keys cannot be computed away from the serving host."""


class NvccError(UsageError):
    """No usable nvcc: missing, too old, or unable to target the plan's arch."""


class BuildError(JitwarmError):
    """A build that could not run at all (as opposed to single kernels failing to compile)."""
