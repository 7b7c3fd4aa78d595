"""``jitwarm run -- <server command>``: run a server with the DeepGEMM guard (and recorder) in
every Python process it starts, without changing its code.

Exit code: the command's, except 3 when ``--guard error`` saw an inline compile (whether or not
the command caught the error), and 1 when ``--guard error`` never armed because readiness never
came (the command exited 0, but nothing was checked).
"""

# No `from __future__ import annotations`: typer must see real Annotated objects.
import json
import signal
import subprocess
import threading
import urllib.parse
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from jitwarm._atomic import atomic_write_text
from jitwarm.cli import app
from jitwarm.cli._output import output_file, stderr, stdout
from jitwarm.errors import UsageError
from jitwarm.guard import (
    EnvValueError,
    GuardMode,
    Readiness,
    merge_summaries,
    prepare_launch,
    site_dir,
    site_env_lines,
    watch_ready_url,
)

EXIT_INLINE = 3


def _check_url(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise UsageError(f"--ready-url: expected an http:// or https:// URL, got {url!r}")
    try:
        parts.port  # noqa: B018 - raises on a port that is not a number in 0..65535
    except ValueError as exc:
        raise UsageError(f"--ready-url: {exc} in {url!r}") from None
    return url


def _readiness(ready: str, ready_url: str | None, launch_ready_file: Path) -> Readiness:
    if ready_url is not None:
        if ready not in ("now", "mark"):
            raise UsageError("--ready-url arms the guard itself; do not combine it with --ready")
        return Readiness("file", path=launch_ready_file)
    try:
        return Readiness.parse(ready)
    except EnvValueError as exc:
        raise UsageError(f"--ready={exc.value!r}: expected {exc.expected}") from None


@app.command(
    "run",
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    options_metavar="[OPTIONS] -- COMMAND [ARGS]...",
)
def run_command(
    ctx: typer.Context,
    guard_mode: Annotated[
        GuardMode,
        typer.Option(
            "--guard", help="warn: log and count inline compiles; error: raise InlineJITError."
        ),
    ] = GuardMode.WARN,
    ready: Annotated[
        str,
        typer.Option(
            "--ready",
            help="When compiles become inline: now, mark (jitwarm.guard.mark_ready()), "
            "after:<s>, file:<path>.",
        ),
    ] = "now",
    ready_url: Annotated[
        str | None,
        typer.Option(
            "--ready-url",
            help="Arm the guard once this URL answers 2xx (the server's readiness probe).",
        ),
    ] = None,
    record: Annotated[
        Path | None,
        typer.Option(
            "--record",
            help="Write every distinct DeepGEMM call signature to this recording (.json).",
        ),
    ] = None,
    summary: Annotated[
        Path | None, typer.Option("--summary", help="Write the merged guard summary (JSON) here.")
    ] = None,
    metrics_port: Annotated[
        int | None,
        typer.Option(
            "--metrics-port",
            min=1,
            max=65535,
            help="Serve the guard's Prometheus counters on this port.",
        ),
    ] = None,
    print_env: Annotated[
        bool,
        typer.Option(
            "--print-env", help="Print shell exports that guard every Python process, and exit."
        ),
    ] = False,
) -> None:
    """Run a server command with the DeepGEMM guard in every Python process it starts:
    ``jitwarm run --guard warn -- python -m server ...``."""
    command = list(ctx.args)
    if print_env:
        for line in site_env_lines(guard_mode, _readiness(ready, None, Path()), site_dir()):
            stdout.out(line, highlight=False)
        return
    if not command:
        raise UsageError("no server command: jitwarm run [options] -- <command> [args]")
    if ready_url is not None:
        _check_url(ready_url)
    for path, flag in ((summary, "--summary"), (record, "--record")):
        if path is not None:
            output_file(path, flag)
    launch = prepare_launch(
        mode=guard_mode, readiness=Readiness(), record=record is not None, metrics_port=metrics_port
    )
    try:
        readiness = _readiness(ready, ready_url, launch.ready_file)
        launch.env["JITWARM_GUARD_READY"] = readiness.to_env()
        code = _supervise(command, launch.env, ready_url, launch.ready_file)
        merged = merge_summaries(launch.summaries)
        if summary is not None:
            atomic_write_text(summary, json.dumps(merged, indent=1) + "\n")
        if record is not None:
            _write_recording(launch.recordings, record)
        _report(merged)
        never_armed = _never_armed(merged, ready_url, launch.ready_file, readiness)
    finally:
        launch.cleanup()
    if never_armed and guard_mode is not GuardMode.OFF:
        stderr.print(
            f"[red]jitwarm guard: never armed[/]: {escape(never_armed)}; every compile counted as "
            "warmup, so inline compiles were not checked",
            highlight=False,
        )
    if guard_mode is GuardMode.ERROR:
        if merged["inline_compiles"]:
            code = EXIT_INLINE
        elif never_armed and code == 0:
            code = 1
    raise typer.Exit(code)


def _never_armed(
    merged: dict, ready_url: str | None, ready_file: Path, readiness: Readiness
) -> str | None:
    """Why the guard never armed, or None when it did (or readiness was immediate)."""
    if ready_url is not None:
        return None if ready_file.exists() else f"{ready_url} never answered 2xx"
    if readiness.kind == "now" or merged["ready"]:
        return None
    if not merged["processes"]:
        return None  # no guarded process ran: nothing to arm
    return f"readiness ({readiness.to_env()}) never came"


def _supervise(
    command: list[str], env: dict[str, str], ready_url: str | None, ready_file: Path
) -> int:
    try:
        proc = subprocess.Popen(command, env=env)
    except OSError as exc:
        raise UsageError(f"cannot start {command[0]!r}: {exc.strerror or exc}") from None
    stop = threading.Event()
    if ready_url is not None:
        watch_ready_url(ready_url, ready_file, stop)
    # The terminal sends Ctrl-C to the server too; a TERM sent to us is passed on.
    previous = {
        signal.SIGINT: signal.signal(signal.SIGINT, lambda *_: None),
        signal.SIGTERM: signal.signal(signal.SIGTERM, lambda *_: proc.terminate()),
    }
    try:
        return proc.wait()
    finally:
        stop.set()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _write_recording(folder: Path, target: Path) -> None:
    from jitwarm.record import RecordingError, dump_recording, load_recording

    try:
        merged = load_recording(folder)
    except RecordingError:
        stderr.print("jitwarm run: no DeepGEMM calls were recorded")
        return
    atomic_write_text(target, dump_recording(merged))
    stderr.print(f"recorded {len(merged.calls)} distinct DeepGEMM call signatures to {target}")


def _report(merged: dict) -> None:
    inline = merged["inline_compiles"]
    head = (
        f"jitwarm guard: {merged['processes']} guarded processes, "
        f"{merged['calls_total']} DeepGEMM calls, {merged['warmup_compiles']} warmup compiles, "
        f"{inline} inline compiles"
    )
    stderr.print(head if not inline else f"[red]{head}[/]")
    for e in merged["events"]:
        if e["phase"] == "inline":
            stderr.print(
                f"  inline: {e['family']} {e['wall_s']:.2f} s (pid {e['pid']}) "
                f"{e['new_entries'][0]}"
            )
