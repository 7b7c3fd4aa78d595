"""The guard: wraps DeepGEMM's entry points and watches every call for a JIT compile."""

from __future__ import annotations

import logging
import os
import threading
import time
import traceback
import types
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from jitwarm import dgenv
from jitwarm.errors import InlineJITError
from jitwarm.guard import _metrics
from jitwarm.guard._cachewatch import CacheWatcher, children_cpu_s
from jitwarm.guard._env import GuardMode, Readiness
from jitwarm.guard._patch import patch_module
from jitwarm.guard._recorder import CallRecorder
from jitwarm.guard._signature import describe_call
from jitwarm.profiles import resolve_cache_roots

log = logging.getLogger("jitwarm.guard")

_STACK_LIMIT = 24


@dataclass
class CompileEvent:
    """One compile seen by the guard."""

    family: str
    phase: str  # "warmup" (before readiness) or "inline" (after)
    wall_s: float  # wall time of the whole call
    child_cpu_s: float  # CPU seconds of compiler processes this call waited for
    new_entries: list[str]
    signature: dict[str, Any]
    stack: list[str]
    at_unix_s: float
    attributed: bool  # False: NVRTC build, no child process to tie the entry to this call

    def shape_text(self) -> str:
        """Short argument summary for a log line: tensor shapes and dtypes, scalars."""
        parts = [_short(a) for a in self.signature.get("args", [])]
        parts += [f"{k}={_short(v)}" for k, v in self.signature.get("kwargs", {}).items()]
        return ", ".join(parts)


def _short(value: Any) -> str:
    if isinstance(value, dict) and "shape" in value:
        return f"{value['dtype']}[{'x'.join(map(str, value['shape']))}]"
    if isinstance(value, list):
        return "(" + ", ".join(_short(v) for v in value) + ")"
    if isinstance(value, dict):
        return str(value.get("dtype") or value.get("type"))
    return repr(value)


@dataclass
class _Counts:
    calls: Counter[str] = field(default_factory=Counter)
    warmup: Counter[str] = field(default_factory=Counter)
    inline: Counter[str] = field(default_factory=Counter)
    foreign: int = 0  # entries another process published (no child process of ours ran)


class Guard:
    """Watches calls into one or more DeepGEMM modules.

    ``mode``: warn or error (``off`` only records). ``readiness``: when compiles stop being
    warmup. ``recorder``: collects call signatures for a recorded-calls manifest.
    ``cache_root``: the writable root DeepGEMM publishes entries to; None resolves it
    (``jitwarm.dgenv``) when a module is wrapped, so processes that never import deep_gemm
    pay nothing.
    """

    def __init__(
        self,
        *,
        mode: GuardMode,
        cache_root: Path | None = None,
        readiness: Readiness = Readiness(),
        recorder: CallRecorder | None = None,
        summary_path: Path | None = None,
        nvrtc: bool | None = None,
    ) -> None:
        self.mode = mode
        self.readiness = readiness
        self.recorder = recorder
        self.summary_path = summary_path
        self._cache_root = cache_root
        self.watcher: CacheWatcher | None = None
        self.events: list[CompileEvent] = []
        self.counts = _Counts()
        self.modules: list[str] = []
        # NVRTC compiles in-process: no child to attribute a new entry to, so count them all.
        self.nvrtc = (
            os.environ.get("DG_JIT_USE_NVRTC", "0") not in ("", "0") if nvrtc is None else nvrtc
        )
        self._lock = threading.Lock()
        self._installed_at = time.monotonic()
        self._started_unix_s = time.time()
        self._ready_unix_s: float | None = None
        self._ready = readiness.kind == "now"
        if self._ready:
            self._ready_unix_s = self._started_unix_s

    # -- readiness ---------------------------------------------------------------------------
    def mark_ready(self) -> None:
        with self._lock:
            if not self._ready:
                self._ready = True
                self._ready_unix_s = time.time()
                log.info("jitwarm guard armed: compiles from now on are inline")

    @property
    def ready(self) -> bool:
        """Checked only when a compile is seen (and for the summary): no cost per call."""
        if not self._ready:
            r = self.readiness
            if (
                r.kind == "after" and time.monotonic() - self._installed_at >= (r.seconds or 0)
            ) or (r.kind == "file" and r.path is not None and r.path.exists()):
                self.mark_ready()
        return self._ready

    # -- wrapping ----------------------------------------------------------------------------
    def install(self, module: types.ModuleType) -> list[str]:
        """Wrap ``module``'s kernel entry points; returns the names wrapped."""
        if self.watcher is None:
            self.watcher = CacheWatcher(self._cache_root or _writable_root())
        names = patch_module(module, self.wrap)
        if self.recorder is not None and self.recorder.module is None:
            self.recorder.module = module
        self.modules.append(module.__name__)
        log.info(
            "jitwarm guard (%s) wraps %d functions of %s",
            self.mode.value,
            len(names),
            module.__name__,
        )
        return names

    def wrap(self, family: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        watcher = self.watcher
        assert watcher is not None, "wrap() runs from install()"
        recorder = self.recorder
        calls = self.counts.calls
        watching = self.mode is not GuardMode.OFF

        def guarded(*args: Any, **kwargs: Any) -> Any:
            calls[family] += 1
            if recorder is not None:
                recorder.observe(family, args, kwargs)
            if not watching:
                return fn(*args, **kwargs)
            if watcher.changed():
                # Published between calls (warm workers, other ranks): not this call's compile.
                self._absorb_foreign()
            cpu0 = children_cpu_s()
            t0 = time.perf_counter()
            try:
                result = fn(*args, **kwargs)
            except BaseException:
                if watcher.changed():
                    self._on_cache_change(
                        family, args, kwargs, time.perf_counter() - t0, cpu0, raising=True
                    )
                raise
            # One fstat against the last seen state: a compile of this call renamed an entry
            # into cache/ (an entry another process added meanwhile is sorted out below).
            if watcher.changed():
                self._on_cache_change(
                    family, args, kwargs, time.perf_counter() - t0, cpu0, raising=False
                )
            return result

        return guarded

    # -- a compile ---------------------------------------------------------------------------
    def _absorb_foreign(self) -> None:
        assert self.watcher is not None
        with self._lock:
            fresh = self.watcher.new_entries()
        self.counts.foreign += len(fresh)
        if fresh:
            log.debug("jitwarm guard: %d entries appeared between calls", len(fresh))

    def _on_cache_change(
        self, family: str, args: tuple, kwargs: dict, wall_s: float, cpu0: float, *, raising: bool
    ) -> None:
        assert self.watcher is not None
        with self._lock:
            fresh = self.watcher.new_entries()
        if not fresh:
            return
        child_cpu = children_cpu_s() - cpu0
        if child_cpu <= 0 and not self.nvrtc:
            # Published by another process while we ran; that process counts its own compile.
            self.counts.foreign += len(fresh)
            log.debug("jitwarm guard: %d entries from another process: %s", len(fresh), fresh)
            return
        inline = self.ready
        event = CompileEvent(
            family=family,
            phase="inline" if inline else "warmup",
            wall_s=wall_s,
            child_cpu_s=max(child_cpu, 0.0),
            new_entries=fresh,
            signature=describe_call(args, kwargs),
            stack=traceback.format_stack(limit=_STACK_LIMIT)[:-2],  # drop the guard's frames
            at_unix_s=time.time(),
            attributed=child_cpu > 0,
        )
        with self._lock:
            self.events.append(event)
            (self.counts.inline if inline else self.counts.warmup)[family] += 1
        _metrics.count_compile(family, inline=inline, wall_s=wall_s)
        self.write_summary()
        if not inline:
            log.info("jitwarm guard: warmup compile of %s (%.2f s): %s", family, wall_s, fresh[0])
            return
        where = _caller(event.stack)
        log.warning(
            "jitwarm guard: INLINE JIT compile of %s (%.2f s) args %s at %s; new cache entry %s",
            family,
            wall_s,
            event.shape_text(),
            where,
            ", ".join(fresh),
        )
        if self.mode is GuardMode.ERROR and not raising:
            raise InlineJITError(
                f"inline JIT compile of {family} ({event.shape_text()}) took {wall_s:.2f} s after "
                f"readiness, called from {where}; new cache entry {fresh[0]}"
            )

    # -- reporting ---------------------------------------------------------------------------
    def summary(self) -> dict[str, Any]:
        ready = self.ready
        with self._lock:
            events = [asdict(e) for e in self.events]
            counts = self.counts
            return {
                "kind": "jitwarm-guard-summary",
                "pid": os.getpid(),
                "mode": self.mode.value,
                "readiness": self.readiness.to_env(),
                "ready": ready,
                "started_unix_s": self._started_unix_s,
                "ready_unix_s": self._ready_unix_s,
                "cache_root": str(self.watcher.root) if self.watcher else None,
                "modules": list(self.modules),
                "calls_total": sum(counts.calls.values()),
                "calls_by_family": dict(counts.calls),
                "inline_compiles": sum(counts.inline.values()),
                "inline_by_family": dict(counts.inline),
                "warmup_compiles": sum(counts.warmup.values()),
                "warmup_by_family": dict(counts.warmup),
                "foreign_entries": counts.foreign,
                "events": events,
            }

    def write_summary(self) -> None:
        if self.summary_path is None:
            return
        import json

        from jitwarm._atomic import atomic_write_text

        try:
            atomic_write_text(self.summary_path, json.dumps(self.summary(), indent=1) + "\n")
        except OSError as exc:
            log.warning("jitwarm guard: cannot write summary %s: %s", self.summary_path, exc)

    def close(self) -> None:
        """Write what is pending (summary, recording); called at interpreter exit. A process
        that never wrapped DeepGEMM writes no summary."""
        if self.modules:
            self.write_summary()
        if self.recorder is not None:
            self.recorder.flush()


def _writable_root() -> Path:
    try:
        return resolve_cache_roots().writable
    except dgenv.EnvValueError as exc:  # DeepGEMM itself will complain; keep watching a path
        log.warning("jitwarm guard: %s", exc)
        return Path(
            os.environ.get(dgenv.CACHE_DIR_VAR, "").split(":")[0] or "~/.deep_gemm"
        ).expanduser()


def _caller(stack: list[str]) -> str:
    """The innermost frame outside jitwarm and deep_gemm, as 'file:line in fn'."""
    for frame in reversed(stack):
        first = frame.strip().splitlines()[0]
        if "jitwarm/guard" not in first and "deep_gemm" not in first:
            return first.removeprefix("File ").replace('", line ', ":").replace('"', "")
    return "?"
