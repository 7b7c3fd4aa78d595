"""The engine process: builds the reference model, warms it, then loops over scheduler steps.

Between two steps the loop answers every message that arrived: health pings first among them.
A step that stalls (a JIT compile on the serving path) therefore delays the ping's answer past
the HTTP process's deadline, and ``/health`` fails: the failure mode of the seed.

This module imports no torch; :func:`engine_main` imports the reference model in the engine
process only.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import sys
import tempfile
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from jitwarm.errors import JitwarmError, UsageError
from jitwarm.models import load_model
from jitwarm.plan import plan_serving
from jitwarm.profiles import resolve_cache_roots
from jitwarm.server._messages import (
    CompileCount,
    Done,
    Failed,
    Ping,
    Pong,
    Ready,
    Shutdown,
    StepReport,
    Submit,
)
from jitwarm.server._scheduler import Scheduler, Sequence
from jitwarm.server._settings import Device, ServerSettings, WarmupMode
from jitwarm.server._warmup import import_bundle, run_warmup

log = logging.getLogger(__name__)
IDLE_POLL_S = 0.2


def engine_main(conn: Connection, settings_json: str) -> None:
    """Entry point of the engine process."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C goes to the HTTP process, which stops us
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    logging.basicConfig(
        level=os.environ.get("JITWARM_LOG_LEVEL", "WARNING").upper(),
        format="%(levelname)s engine %(name)s: %(message)s",
        stream=sys.stderr,
    )
    settings = ServerSettings.model_validate_json(settings_json)
    # Cleanups run on every way out: a failed start, SIGTERM during warmup (sys.exit), a stop.
    with contextlib.ExitStack() as cleanup:
        try:
            try:
                runtime, ready = start_engine(settings, cleanup)
            except JitwarmError as exc:
                conn.send(Failed(str(exc), exc.exit_code))
                return
            except Exception as exc:
                log.exception("engine failed to start")
                conn.send(Failed(f"engine failed to start: {exc!r}", 1))
                return
            conn.send(ready)
            EngineLoop(conn, runtime, settings).run()
        except (EOFError, BrokenPipeError, OSError):
            pass  # the HTTP process is gone: nothing left to serve


def resolve_device(device: Device) -> str:
    if device is Device.CPU:
        return "cpu"
    from jitwarm.server._refmodel import cuda_usable

    usable = cuda_usable()
    if device is Device.CUDA and not usable:
        raise UsageError("--device cuda: no CUDA device with an importable DeepGEMM here")
    return "cuda" if usable else "cpu"


def start_engine(settings: ServerSettings, cleanup: contextlib.ExitStack) -> tuple[Any, Ready]:
    """Build and warm the model. Returns (runtime, the Ready message); what it creates for the
    run only (the CPU mode's scratch cache) is removed by ``cleanup``."""
    from jitwarm.server._refmodel import build_runtime, derive_shapes

    model = load_model(settings.model)
    serving = settings.serving
    shapes = derive_shapes(model, serving, layers=settings.layers)
    plan = plan_serving(model, serving)
    device = resolve_device(settings.device)
    cache_root = settings.cache_dir
    if cache_root is None and device == "cpu":
        cache_root = Path(tempfile.mkdtemp(prefix="jitwarm-sim-cache-"))
        cleanup.callback(shutil.rmtree, cache_root, ignore_errors=True)
    elif cache_root is None:
        cache_root = resolve_cache_roots(None).writable
    if settings.warmup is WarmupMode.BUNDLE:
        assert settings.bundle is not None
        import_bundle(settings.bundle, cache_root, arch=serving.arch.value, num_sms=serving.sms)
    runtime = build_runtime(
        shapes,
        device=device,
        seed=settings.seed,
        cache_root=cache_root,
        cpu_shrink=settings.cpu_shrink,
        sim_compile_s=settings.sim_compile_s,
        sim_load_s=settings.sim_load_s,
        plan=plan,
    )
    report = run_warmup(settings.warmup, runtime, plan, workers=settings.warm_workers)
    runtime.mark_ready()
    compiles = [_count(e) for e in runtime.tracker.drain()]
    return runtime, Ready(device=device, warmup=report.as_dict(), compiles=compiles)


def _count(event: Any) -> CompileCount:
    return CompileCount(event.family, event.kind, event.serving, event.seconds)


class EngineLoop:
    def __init__(self, conn: Connection, runtime: Any, settings: ServerSettings) -> None:
        self.conn = conn
        self.runtime = runtime
        self.scheduler = Scheduler(
            max_batched_tokens=settings.serving.max_batched_tokens,
            max_running_seqs=settings.serving.max_running_seqs,
        )
        self.stopping = False

    def run(self) -> None:
        while not self.stopping:
            self._drain_inbox(0.0 if self.scheduler.has_work() else IDLE_POLL_S)
            if self.stopping:
                break
            step = self.scheduler.next_step()
            if step is not None:
                self._run_step(step)

    def _drain_inbox(self, wait_s: float) -> None:
        if not self.conn.poll(wait_s):
            return
        while self.conn.poll(0):
            msg = self.conn.recv()
            if isinstance(msg, Ping):
                self.conn.send(Pong(msg.pid))
            elif isinstance(msg, Submit):
                self.scheduler.add(Sequence(msg.rid, msg.prompt, msg.max_tokens))
            elif isinstance(msg, Shutdown):
                self.stopping = True
                return

    def _run_step(self, step: Any) -> None:
        t0 = time.monotonic()
        items = [(i.seq.rid, i.tokens, i.wants_token) for i in step.items]
        tokens = self.runtime.step(step.phase, items)
        finished = self.scheduler.commit(step, tokens)
        for seq in finished:
            self.runtime.free(seq.rid)
            self.conn.send(Done(seq.rid, seq.output, len(seq.prompt)))
        self.conn.send(
            StepReport(
                phase=step.phase,
                rows=step.rows,
                seconds=time.monotonic() - t0,
                running=len(self.scheduler.running),
                waiting=len(self.scheduler.waiting),
                compiles=[_count(e) for e in self.runtime.tracker.drain()],
            )
        )
