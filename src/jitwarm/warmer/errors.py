"""Errors of warm, under jitwarm's one exception tree."""

from __future__ import annotations

from jitwarm.errors import JitwarmError, UsageError


class WarmError(JitwarmError):
    """Warm could not run at all (no worker could start); exit 1."""


class WorkerSetupError(WarmError):
    """A worker refused to start: wrong GPU for the plan, DeepGEMM missing, ...

    ``usage`` marks problems the user fixes with other input (plan for another arch)."""

    def __init__(self, message: str, *, usage: bool = False) -> None:
        super().__init__(message)
        self.usage = usage


class WarmUsageError(UsageError):
    """Bad warm input: a plan warm cannot run here, bad --jobs, ..."""


class KeyChangingEnvError(WarmUsageError):
    """A DeepGEMM variable that changes every cache key is set but not part of the plan."""

    def __init__(self, variables: dict[str, str]) -> None:
        names = ", ".join(f"{k}={v}" for k, v in sorted(variables.items()))
        super().__init__(
            f"{names} changes every DeepGEMM cache key, so a server without it would miss this "
            "cache; unset it, record it in the plan's jit_env, or pass --allow-key-changing-env"
        )
        self.variables = dict(variables)
