"""Guard and record: watch DeepGEMM in a running process for JIT compiles.

Library use (from an engine, after its own warmup)::

    from jitwarm import guard
    guard.install_guard(mode="error")   # wraps deep_gemm now, or when it is imported
    ...                                 # load, warm up
    guard.mark_ready()                  # compiles from now on are inline

Without changing engine code: ``jitwarm run --guard warn -- <server command>``, or set
``JITWARM_GUARD=warn|error`` with the folder of :func:`site_dir` first on ``PYTHONPATH``
(``jitwarm run`` does both). ``JITWARM_RECORD=path`` records every distinct call signature.
Pure Python: neither torch nor deep_gemm is imported here.
"""

from __future__ import annotations

import atexit
import logging
import sys
import types
from pathlib import Path

from jitwarm import dgenv
from jitwarm._lazy import lazy_getattr
from jitwarm.guard._core import CompileEvent, Guard
from jitwarm.guard._env import (
    EnvValueError,
    GuardMode,
    GuardSettings,
    Readiness,
    per_process_path,
    read_settings,
)
from jitwarm.guard._importhook import DeepGemmImportHook, install_hook, remove_hook
from jitwarm.guard._recorder import RECORDING_KIND, RECORDING_SCHEMA_VERSION, CallRecorder

# What only `jitwarm run` needs, loaded on first use: a guarded process never imports it.
_LAUNCH = "jitwarm.guard._launch"
__getattr__ = lazy_getattr(
    __name__,
    {
        "merge_summaries": _LAUNCH,
        "prepare_launch": _LAUNCH,
        "site_env_lines": _LAUNCH,
        "watch_ready_url": _LAUNCH,
    },
)

__all__ = [
    "RECORDING_KIND",
    "RECORDING_SCHEMA_VERSION",
    "CompileEvent",
    "EnvValueError",
    "Guard",
    "GuardMode",
    "GuardSettings",
    "Readiness",
    "current_guard",
    "install_from_env",
    "install_guard",
    "mark_ready",
    "merge_summaries",
    "prepare_launch",
    "site_dir",
    "site_env_lines",
    "uninstall_guard",
    "watch_ready_url",
]

log = logging.getLogger("jitwarm.guard")

MODULE_NAMES = dgenv.DEEPGEMM_MODULES  # deep_gemm, and vLLM's vendored copy
_GUARD: Guard | None = None
_HOOK: DeepGemmImportHook | None = None


def current_guard() -> Guard | None:
    return _GUARD


def mark_ready() -> None:
    """Arm the guard: compiles after this call count as inline. A no-op without a guard."""
    if _GUARD is None:
        log.debug("jitwarm.guard.mark_ready(): no guard installed")
        return
    _GUARD.mark_ready()


def install_guard(
    mode: GuardMode | str = GuardMode.WARN,
    *,
    readiness: Readiness | str = "now",
    cache_root: str | Path | None = None,
    summary_path: str | Path | None = None,
    record_path: str | Path | None = None,
    module: types.ModuleType | None = None,
) -> Guard:
    """Install the process's guard: wrap ``module`` (default: ``deep_gemm``, now if imported,
    else at its import). Replaces a guard installed before."""
    global _GUARD, _HOOK
    uninstall_guard()
    if isinstance(readiness, str):
        readiness = Readiness.parse(readiness)
    recorder = CallRecorder(Path(record_path)) if record_path is not None else None
    guard = Guard(
        mode=GuardMode(mode),
        cache_root=Path(cache_root) if cache_root is not None else None,
        readiness=readiness,
        recorder=recorder,
        summary_path=Path(summary_path) if summary_path is not None else None,
    )
    _GUARD = guard
    if module is not None:
        guard.install(module)
    else:
        _HOOK = install_hook(MODULE_NAMES, guard.install)
    atexit.register(guard.close)
    return guard


def uninstall_guard() -> None:
    """Unwrap and forget the current guard (pending files are written first)."""
    global _GUARD, _HOOK
    from jitwarm.guard._patch import unpatch_module

    if _HOOK is not None:
        remove_hook(_HOOK)
        _HOOK = None
    if _GUARD is not None:
        _GUARD.close()
        atexit.unregister(_GUARD.close)
        if _GUARD.watcher is not None:
            _GUARD.watcher.close()
        for name in _GUARD.modules:
            if name in sys.modules:
                unpatch_module(sys.modules[name])
        _GUARD = None


def install_from_env() -> Guard | None:
    """Install a guard as the JITWARM_* variables say (nothing when none is set). A bad value
    is reported on one stderr line; a server never fails to start because of the guard."""
    try:
        settings = read_settings()
    except EnvValueError as exc:
        print(f"jitwarm guard: not installed: {exc}", file=sys.stderr)
        return None
    if not settings.active:
        return None
    summary = (
        per_process_path(settings.summary_path, stem="jitwarm-guard")
        if settings.summary_path
        else None
    )
    record = (
        per_process_path(settings.record_path, stem="jitwarm-record")
        if settings.record_path
        else None
    )
    guard = install_guard(
        settings.mode,
        readiness=settings.readiness,
        summary_path=summary,
        record_path=record,
    )
    if settings.metrics_port is not None:
        from jitwarm.guard._metrics import serve

        serve(settings.metrics_port)
    return guard


def site_dir() -> Path:
    """The folder holding jitwarm's sitecustomize.py (put it first on PYTHONPATH)."""
    return Path(__file__).resolve().parent / "_site"
