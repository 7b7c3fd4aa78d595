"""Running a server under the guard without changing its code (``jitwarm run``).

The server's interpreters find jitwarm's ``sitecustomize.py`` first on ``PYTHONPATH`` (it
chains any other one), with a ``jitwarm`` link beside it so the guard imports even where
jitwarm is not installed (the guard needs only the standard library). Each process writes its
own summary (and recording) into a private folder; after the server exits they are merged.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import threading
import urllib.error
import urllib.request
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jitwarm.guard._env import (
    GUARD,
    GUARD_METRICS_PORT,
    GUARD_READY,
    GUARD_SUMMARY,
    RECORD,
    GuardMode,
    Readiness,
)

log = logging.getLogger(__name__)

_PACKAGE = Path(__file__).resolve().parents[1]  # .../jitwarm


@dataclass
class Launch:
    """A prepared environment for one guarded server run; ``cleanup()`` when done."""

    workdir: Path
    env: dict[str, str]
    summaries: Path  # one JSON per guarded process
    recordings: Path  # one JSON per recording process
    ready_file: Path  # touched when --ready-url answers

    def cleanup(self) -> None:
        shutil.rmtree(self.workdir, ignore_errors=True)


def prepare_launch(
    *,
    mode: GuardMode,
    readiness: Readiness,
    record: bool,
    metrics_port: int | None = None,
    base_env: dict[str, str] | None = None,
) -> Launch:
    workdir = Path(tempfile.mkdtemp(prefix="jitwarm-run-"))
    site = workdir / "site"
    site.mkdir()
    shutil.copy2(_PACKAGE / "guard" / "_site" / "sitecustomize.py", site / "sitecustomize.py")
    (site / "jitwarm").symlink_to(_PACKAGE, target_is_directory=True)
    summaries, recordings = workdir / "summaries", workdir / "recordings"
    summaries.mkdir()
    recordings.mkdir()
    env = dict(os.environ if base_env is None else base_env)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(site), env.get("PYTHONPATH", "")) if p)
    env[GUARD] = mode.value
    env[GUARD_READY] = readiness.to_env()
    env[GUARD_SUMMARY] = str(summaries) + os.sep
    if record:
        env[RECORD] = str(recordings) + os.sep
    else:
        env.pop(RECORD, None)
    if metrics_port is not None:
        env[GUARD_METRICS_PORT] = str(metrics_port)
    return Launch(workdir, env, summaries, recordings, workdir / "ready")


def site_env_lines(mode: GuardMode, readiness: Readiness, site_dir: Path) -> list[str]:
    """``export`` lines that guard every Python process of a shell (jitwarm installed there)."""
    return [
        f"export PYTHONPATH={site_dir}${{PYTHONPATH:+:$PYTHONPATH}}",
        f"export {GUARD}={mode.value}",
        f"export {GUARD_READY}={readiness.to_env()}",
    ]


def watch_ready_url(
    url: str, ready_file: Path, stop: threading.Event, *, interval_s: float = 0.5
) -> threading.Thread:
    """Poll ``url`` until it answers 2xx, then create ``ready_file`` (the guard arms)."""

    def poll() -> None:
        while not stop.is_set():
            try:
                with urllib.request.urlopen(url, timeout=2) as resp:
                    if 200 <= resp.status < 300:
                        ready_file.touch()
                        log.info(
                            "jitwarm run: %s answered %d; the guard is armed", url, resp.status
                        )
                        return
            except (urllib.error.URLError, OSError, ValueError):
                pass
            stop.wait(interval_s)

    thread = threading.Thread(target=poll, name="jitwarm-ready-poll", daemon=True)
    thread.start()
    return thread


def merge_summaries(folder: Path) -> dict[str, Any]:
    """One summary over every guarded process of a run."""
    per_process = []
    for path in sorted(folder.glob("*.json")):
        try:
            per_process.append(json.loads(path.read_text()))
        except (OSError, ValueError) as exc:
            log.warning("jitwarm run: unreadable guard summary %s: %s", path, exc)
    inline: Counter[str] = Counter()
    warmup: Counter[str] = Counter()
    events = []
    for s in per_process:
        inline.update(s.get("inline_by_family", {}))
        warmup.update(s.get("warmup_by_family", {}))
        events += [{**e, "pid": s.get("pid")} for e in s.get("events", [])]
    events.sort(key=lambda e: e.get("at_unix_s", 0))
    return {
        "kind": "jitwarm-run-summary",
        "processes": len(per_process),
        "calls_total": sum(s.get("calls_total", 0) for s in per_process),
        "ready": any(s.get("ready") for s in per_process),
        "inline_compiles": sum(inline.values()),
        "inline_by_family": dict(inline),
        "warmup_compiles": sum(warmup.values()),
        "warmup_by_family": dict(warmup),
        "events": events,
        "per_process": [{k: v for k, v in s.items() if k != "events"} for s in per_process],
    }
