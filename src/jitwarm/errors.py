"""The one exception tree of jitwarm.

`UsageError` covers what a user can fix (bad config, impossible parallelism, hostile archive):
the CLI prints its message on one line and exits 2. `JitwarmError` subclasses outside it are
runtime failures (exit 1), except `InlineJITError` (exit 3).
"""

from __future__ import annotations


class JitwarmError(Exception):
    """Root of every error jitwarm raises on purpose."""

    exit_code = 1


class UsageError(JitwarmError):
    """A user mistake: bad input, bad flags, a file that is not what it should be."""

    exit_code = 2


class ConfigError(UsageError):
    """A model config or serving configuration that jitwarm cannot plan.

    `field` names the offending field where there is one.
    """

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class UnknownArchitectureError(ConfigError):
    """The model's architecture is not one jitwarm knows how to plan."""


class ManifestError(UsageError):
    """A plan manifest (JSON) that is malformed or of an unsupported schema version."""


class InlineJITError(JitwarmError):
    """A kernel would compile (verify) or did compile (guard) on the serving path."""

    exit_code = 3


class MissingRequirementError(UsageError):
    """The host lacks what a command needs (torch, DeepGEMM, a GPU); the message says the fix."""
