"""The recorded-calls manifest: every distinct DeepGEMM call signature a process made.

``jitwarm warm --manifest`` replays it (through :func:`jitwarm.record.plan_from_recording`),
each call widened to the M values the serving configuration allows. JSON form::

    {"kind": "jitwarm-recording", "schema_version": 1, "jitwarm_version": ..., "pid": ...,
     "deep_gemm_version": ..., "num_sms": ..., "jit_env": {...},
     "calls": [{"family": "fp8_gemm_nt", "args": [...], "kwargs": {...}, "count": 3}, ...]}

Arguments are described as in :mod:`jitwarm.guard._signature`.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
import types
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from jitwarm import dgenv
from jitwarm._atomic import atomic_write_text
from jitwarm.guard._signature import call_key, describe_call

log = logging.getLogger(__name__)

RECORDING_KIND = "jitwarm-recording"
RECORDING_SCHEMA_VERSION = 1


def jitwarm_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("jitwarm")
    except PackageNotFoundError:
        return "0+source"


class CallRecorder:
    """Collects distinct call signatures; writes the manifest atomically now and then and at
    exit (a server killed by a signal keeps what was written last)."""

    def __init__(self, path: Path, *, flush_interval_s: float = 2.0) -> None:
        self.path = path
        self.flush_interval_s = flush_interval_s
        self.module: types.ModuleType | None = None
        self._calls: dict[tuple, dict[str, Any]] = {}
        self._lock = threading.Lock()
        self._dirty = False
        self._last_flush = 0.0

    def observe(self, family: str, args: Sequence[Any], kwargs: Mapping[str, Any]) -> None:
        key = call_key(family, args, kwargs)
        entry = self._calls.get(key)
        if entry is not None:
            entry["count"] += 1  # a lost increment under threads only skews a count
            return
        described = describe_call(args, kwargs)
        with self._lock:
            if key in self._calls:
                self._calls[key]["count"] += 1
                return
            self._calls[key] = {"family": family, **described, "count": 1}
            self._dirty = True
            due = time.monotonic() - self._last_flush >= self.flush_interval_s
        if due:
            self.flush()

    @property
    def num_signatures(self) -> int:
        return len(self._calls)

    def manifest(self) -> dict[str, Any]:
        with self._lock:
            calls = [dict(c) for c in self._calls.values()]
        return {
            "kind": RECORDING_KIND,
            "schema_version": RECORDING_SCHEMA_VERSION,
            "jitwarm_version": jitwarm_version(),
            "pid": os.getpid(),
            "deep_gemm_version": getattr(self.module, "__version__", None),
            "num_sms": self._num_sms(),
            "jit_env": _key_env(),
            "calls": calls,
        }

    def flush(self) -> None:
        with self._lock:
            if not self._dirty:
                return
            self._dirty = False
            self._last_flush = time.monotonic()
        try:
            atomic_write_text(self.path, json.dumps(self.manifest(), indent=1) + "\n")
        except OSError as exc:
            log.warning("jitwarm record: cannot write %s: %s", self.path, exc)

    def _num_sms(self) -> int | None:
        get = getattr(self.module, "get_num_sms", None)
        if get is None:
            return None
        try:
            return int(get())
        except Exception:  # a build or device state where the query fails must not matter
            return None


def _key_env() -> dict[str, str]:
    try:
        return dgenv.key_env()
    except dgenv.EnvValueError as exc:
        log.warning("jitwarm record: %s", exc)
        return {}
