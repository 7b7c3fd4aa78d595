"""Every environment variable the guard reads, in one place, typed.

They are read at interpreter start (by the sitecustomize hook) in processes jitwarm does not
own, so a bad value is reported on one stderr line and the guard stays off for that setting;
it never crashes a server. ``jitwarm run`` validates the same values up front (exit 2).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from jitwarm.errors import EnvValueError

GUARD = "JITWARM_GUARD"  # off | warn | error
GUARD_SUMMARY = "JITWARM_GUARD_SUMMARY"  # JSON summary path ({pid} expands; a folder: one per pid)
GUARD_READY = "JITWARM_GUARD_READY"  # now | mark | after:<seconds> | file:<path>
GUARD_METRICS_PORT = "JITWARM_GUARD_METRICS_PORT"  # serve /metrics on this port (optional)
RECORD = "JITWARM_RECORD"  # recorded-calls manifest path ({pid} expands; a folder: one per pid)


class GuardMode(str, Enum):
    """What the guard does about a compile after readiness."""

    OFF = "off"  # no compile watching (recording may still run)
    WARN = "warn"  # a log line, a counter, an event in the summary
    ERROR = "error"  # the same, then InlineJITError raised from the call


@dataclass(frozen=True)
class Readiness:
    """When compiles stop being warmup and start being inline.

    ``kind``: ``now`` (armed at install), ``mark`` (armed by ``jitwarm.guard.mark_ready()``),
    ``after`` (``seconds`` after install) or ``file`` (once ``path`` exists). ``mark_ready()``
    arms the guard under every kind.
    """

    kind: str = "now"
    seconds: float | None = None
    path: Path | None = None

    @classmethod
    def parse(cls, text: str) -> Readiness:
        text = text.strip()
        if text in ("", "now"):
            return cls("now")
        if text == "mark":
            return cls("mark")
        kind, _, arg = text.partition(":")
        if kind == "after":
            try:
                seconds = float(arg)
            except ValueError:
                seconds = -1.0
            if seconds < 0:
                raise EnvValueError(GUARD_READY, text, "after:<seconds> with seconds >= 0")
            return cls("after", seconds=seconds)
        if kind == "file" and arg:
            return cls("file", path=Path(arg))
        raise EnvValueError(GUARD_READY, text, "now, mark, after:<seconds> or file:<path>")

    def to_env(self) -> str:
        if self.kind == "after":
            return f"after:{self.seconds:g}"
        if self.kind == "file":
            return f"file:{self.path}"
        return self.kind


@dataclass(frozen=True)
class GuardSettings:
    mode: GuardMode = GuardMode.OFF
    readiness: Readiness = Readiness()
    summary_path: str | None = None
    record_path: str | None = None
    metrics_port: int | None = None

    @property
    def active(self) -> bool:
        """Whether anything needs DeepGEMM wrapped."""
        return self.mode is not GuardMode.OFF or self.record_path is not None


def parse_mode(text: str) -> GuardMode:
    try:
        return GuardMode(text.strip().lower() or "off")
    except ValueError:
        choices = ", ".join(m.value for m in GuardMode)
        raise EnvValueError(GUARD, text, f"one of {choices}") from None


def read_settings(environ: Mapping[str, str] | None = None) -> GuardSettings:
    """The guard's settings from the environment; raises :class:`EnvValueError` on a bad value."""
    env = os.environ if environ is None else environ
    port_text = env.get(GUARD_METRICS_PORT, "").strip()
    port: int | None = None
    if port_text:
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise EnvValueError(GUARD_METRICS_PORT, port_text, "a TCP port (1-65535)")
        port = int(port_text)
    return GuardSettings(
        mode=parse_mode(env.get(GUARD, "")),
        readiness=Readiness.parse(env.get(GUARD_READY, "")),
        summary_path=env.get(GUARD_SUMMARY) or None,
        record_path=env.get(RECORD) or None,
        metrics_port=port,
    )


def per_process_path(template: str, *, stem: str, pid: int | None = None) -> Path:
    """Where this process writes: ``{pid}`` expanded; an existing folder (or a path ending in
    '/') gets ``<stem>-<pid>.json`` inside, so the ranks of a multi-process server never
    overwrite one another."""
    pid = os.getpid() if pid is None else pid
    if "{pid}" in template:
        return Path(template.replace("{pid}", str(pid)))
    path = Path(template)
    if template.endswith(("/", os.sep)) or path.is_dir():
        return path / f"{stem}-{pid}.json"
    return path
