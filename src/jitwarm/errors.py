"""The one exception tree of jitwarm: every error a caller or the CLI may catch is defined here.

`UsageError` covers what a user can fix (bad config, impossible parallelism, hostile archive):
the CLI prints its message on one line and exits 2. `JitwarmError` subclasses outside it are
runtime failures (exit 1), except `InlineJITError` (exit 3) and `EngineFailedError` (the
engine's own code). Each error keeps what it is about (a path, a build, a family, a variable)
as attributes, so a caller need not parse the message. The packages re-export the errors they
raise (``jitwarm.bundle.BundleError`` is this module's ``BundleError``).

Errors that never leave a package (a generator that cannot render an entry, a recorded call
that cannot be read, an engine that went away mid-request) are private to their modules.

Nothing here imports another jitwarm module: every package may import this one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

# -- roots ------------------------------------------------------------------------------------


class JitwarmError(Exception):
    """Root of every error jitwarm raises on purpose."""

    exit_code = 1


class UsageError(JitwarmError):
    """A user mistake: bad input, bad flags, a file that is not what it should be."""

    exit_code = 2


class InlineJITError(JitwarmError):
    """A kernel would compile (verify) or did compile (guard) on the serving path."""

    exit_code = 3


# -- configuration and environment --------------------------------------------------------------


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


class RecordingError(ManifestError):
    """A recorded-calls manifest that cannot be read (exit 2); ``path``: the file or folder."""

    def __init__(self, message: str, *, path: Path | None = None) -> None:
        super().__init__(message)
        self.path = path


class MissingRequirementError(UsageError):
    """The host lacks what a command needs (torch, DeepGEMM, a GPU); the message says the fix."""


class EnvValueError(UsageError, ValueError):
    """An environment variable (``DG_*``, ``DJ_*``, ``JITWARM_*``) holds a value jitwarm or
    DeepGEMM cannot use. A ``ValueError`` too: the guard's callers (a server's start-up)
    catch that.

    ``var``, ``value``: the variable and what it holds; ``expected``: what it may hold.
    """

    def __init__(self, var: str, value: str, expected: str) -> None:
        super().__init__(f"{var}={value!r}: expected {expected}")
        self.var = var
        self.value = value
        self.expected = expected


class KeyChangingEnvError(UsageError):
    """A DeepGEMM variable that changes every cache key is set but not part of the plan
    (warm and verify both refuse it). ``variables``: name -> value of each such variable."""

    def __init__(self, variables: Mapping[str, str]) -> None:
        names = ", ".join(f"{k}={v}" for k, v in sorted(variables.items()))
        super().__init__(
            f"{names} changes every DeepGEMM cache key, so a server without it would miss this "
            "cache; unset it, record it in the plan's jit_env, or pass --allow-key-changing-env"
        )
        self.variables = dict(variables)


# -- DeepGEMM builds ----------------------------------------------------------------------------


class UnknownBuildError(UsageError):
    """A DeepGEMM build jitwarm has no profile for. ``name``: the one asked for; ``known``: the
    profiles there are."""

    def __init__(self, name: str, known: Sequence[str] = ()) -> None:
        super().__init__(
            f"no profile for DeepGEMM build {name!r} (known: {', '.join(known) or 'none'})"
        )
        self.name = name
        self.known = tuple(known)


class BuildMismatchError(UsageError):
    """A plan or bundle made for one DeepGEMM build, used with another. ``what``: the plan or
    bundle; ``made_for``: the build it was made for; ``here``: the build found here."""

    def __init__(self, what: str, made_for: str, here: str, hint: str) -> None:
        super().__init__(f"{what} was made for DeepGEMM build {made_for}, this is {here}; {hint}")
        self.what = what
        self.made_for = made_for
        self.here = here


class UnsupportedFamilyError(JitwarmError):
    """The standalone backend cannot make this family's call: it needs an engine's state, the
    build has no entry point for it, or the build's contract differs from the plan's.
    ``family``: the kernel family; ``build``: the profile id, where a build was asked."""

    def __init__(self, message: str, *, family: str, build: str | None = None) -> None:
        super().__init__(message)
        self.family = family
        self.build = build


# -- rendering and building without a GPU -------------------------------------------------------


class DeepJitRenderError(JitwarmError):
    """A kernel source or key that cannot be computed as the DeepJIT build would."""


class HeaderNotFoundError(DeepJitRenderError, UsageError):
    """A ``<deep_gemm/...>`` header a source includes is in none of the include folders (the
    wrong folder, or another build's headers)."""

    def __init__(self, name: str, include_dirs: tuple[Path, ...]) -> None:
        where = ", ".join(str(d) for d in include_dirs) or "no include folder"
        super().__init__(f"header <{name}> not found in {where}")
        self.name = name
        self.include_dirs = include_dirs


class NonStandardIncludeError(DeepJitRenderError):
    """An include line DeepJIT's parser rejects (it panics on ``#include "..."`` and the like).
    ``line``: the line; ``where``: the file holding it."""

    def __init__(self, line: str, where: str) -> None:
        super().__init__(f"{where}: non-standard include (DeepJIT refuses it): {line.strip()}")
        self.line = line
        self.where = where


class NotDeepJitBuildError(DeepJitRenderError):
    """The profile is not a DeepJIT build, or its nvcc flags are not established: jitwarm
    cannot compute its keys. ``build`` (and ``profile``, its old name): the profile id."""

    def __init__(self, build: str, *, is_deepjit: bool) -> None:
        why = (
            "has no established DeepJIT flags in its profile"
            if is_deepjit
            else "is not a DeepJIT build"
        )
        super().__init__(f"{build} {why}: jitwarm cannot render its cache entries")
        self.build = build
        self.profile = build


class TargetError(UsageError):
    """A target DeepGEMM build that cannot be used: not DeepGEMM, no profile, corrupt, or a
    generation whose keys cannot be computed away from the serving host. ``target``: the
    ``--target`` given, the wheel or the folder, where the raise site knows it."""

    def __init__(self, message: str, *, target: str | Path | None = None) -> None:
        super().__init__(message)
        self.target = target


class NvccError(UsageError):
    """No usable nvcc: missing, too old, or unable to target the plan's arch. ``nvcc``: the
    compiler tried, where there was one."""

    def __init__(self, message: str, *, nvcc: Path | None = None) -> None:
        super().__init__(message)
        self.nvcc = nvcc


class BuildError(JitwarmError):
    """A build that could not run at all (as opposed to single kernels failing to compile)."""


# -- the GPU host: warm, verify, serve ----------------------------------------------------------


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


class VerifyUsageError(UsageError):
    """Bad verify input: bad --jobs, a host verify cannot run on, ..."""


class NoNvccError(VerifyUsageError):
    """Verify needs the server's nvcc: the stand-in answers ``--version`` with it (the version
    is part of every cache key). ``nvcc``: the one found, if any."""

    def __init__(self, message: str, *, nvcc: Path | None = None) -> None:
        super().__init__(message)
        self.nvcc = nvcc


class BundleSupportMissingError(UsageError):
    """``jitwarm serve --warmup bundle`` without the bundle library in this installation."""


class EngineFailedError(JitwarmError):
    """The reference server's engine process could not start (a bad bundle, no GPU for
    --device cuda, ...); ``exit_code`` is the engine's (2 for a user mistake)."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


# -- cache and bundle ---------------------------------------------------------------------------


class CacheNotFoundError(UsageError):
    """No DeepGEMM cache at the given root (the one error a scan raises). ``root``: that root."""

    def __init__(self, root: Path) -> None:
        super().__init__(f"no DeepGEMM cache at {root} (pass --cache-dir or set DG_JIT_CACHE_DIR)")
        self.root = root


class CacheWriteError(JitwarmError):
    """The cache could not be changed as planned (permissions, a full disk). ``path``: what
    could not be changed."""

    def __init__(self, message: str, *, path: Path) -> None:
        super().__init__(message)
        self.path = path


class BundleError(UsageError):
    """A bundle that is malformed, truncated, tampered with or hostile. Nothing was installed.
    ``path``: the bundle; ``member``: the archive member at fault; each where there is one."""

    def __init__(
        self, message: str, *, path: Path | None = None, member: str | None = None
    ) -> None:
        super().__init__(message)
        self.path = path
        self.member = member


class ProvenanceMismatchError(UsageError):
    """A bundle built for another host (arch, SMs, DeepGEMM, nvcc or key-changing settings).

    ``reasons`` holds one line per differing field; ``--force`` installs anyway.
    """

    def __init__(self, reasons: list[str]) -> None:
        super().__init__(
            "bundle does not match this host: " + "; ".join(reasons) + " (--force installs anyway)"
        )
        self.reasons = reasons
