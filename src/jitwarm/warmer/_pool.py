"""Worker processes: one calling thread each, one GPU each (round-robin), fed one item at a time.

The parent hands the next item to whichever worker is free (see ``Scheduler``), collects
outcomes, and replaces a worker that dies: the item it was running fails with the reason, the
rest go on. Workers die with their parent (``PR_SET_PDEATHSIG``), the fork server, which exits
with the warm, so a killed warm leaves no process compiling behind it.

Each worker talks to the parent over its own pipe, and sends from its calling thread before it
asks for the next item. Not a shared ``multiprocessing.Queue``: its feeder thread holds a lock
shared by all workers until it gets the GIL back, and upstream-JIT DeepGEMM holds the GIL for a
whole compile, so one compiling worker could stall every other worker's hand-off (measured on the H100:
idle workers waiting seconds for a sibling's compile to end).
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import multiprocessing as mp
import os
import pickle
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from multiprocessing.connection import wait
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from jitwarm._pdeathsig import die_with_parent
from jitwarm.errors import WarmUsageError, WorkerSetupError
from jitwarm.locks import KernelLocks
from jitwarm.warmer._backend import Backend, ItemOutcome, WorkerContext, WorkerStartup
from jitwarm.warmer._cache_entries import list_entries
from jitwarm.warmer._schedule import Scheduler

if TYPE_CHECKING:
    from jitwarm.warmer._items import WorkItem
    from jitwarm.warmer._settings import PlanSettings

log = logging.getLogger(__name__)

_POLL_S = 0.2
# A worker lowers its priority by this (``os.nice``) first thing, when set in its environment.
WORKER_NICE_VAR = "JITWARM_WORKER_NICE"
# An interrupted pool gives its workers this long to stop, then kills them.
_STOP_GRACE_S = 1.0


class PoolObserver(Protocol):
    def on_start(self, item: WorkItem, worker_id: int) -> None: ...

    def on_done(self, item: WorkItem, outcome: ItemOutcome) -> None: ...


class _Silent:
    def on_start(self, item: WorkItem, worker_id: int) -> None:
        pass

    def on_done(self, item: WorkItem, outcome: ItemOutcome) -> None:
        pass


@dataclass
class _Worker:
    worker_id: int
    device: str | None
    proc: Any
    conn: Any  # the parent's end of this worker's pipe
    ready: bool = False
    item: WorkItem | None = None
    finished: bool = False  # exited on purpose (setup failure or fatal outcome)


@dataclass
class PoolSpec:
    """What every worker gets besides its id and device (and its items)."""

    settings: PlanSettings
    env: dict[str, str]
    cache_root: Path
    log_dir: Path
    backend: Backend
    extra: dict[str, Any] = field(default_factory=dict)
    # Per-kernel locks shared with other processes on this cache root (None: unlocked), and the
    # kernel keys this warm coordinates otherwise (compiled ahead: locked by the ahead compiler).
    locks: KernelLocks | None = None
    unlocked_keys: frozenset[str] = frozenset()


def _let_the_fork_server_go() -> None:
    """A worker forked by the fork server inherits the pipe end by which that server learns its
    clients are gone. Holding it, workers outlive a killed warm: the server waits for them and
    they, dying only with the server, wait for it. Workers start no processes through the fork
    server, so they close it; the server then exits with the warm, and its workers with it."""
    from multiprocessing import forkserver

    server = getattr(forkserver, "_forkserver", None)
    fd = getattr(server, "_forkserver_alive_fd", None)
    if fd is not None:
        with contextlib.suppress(OSError):
            os.close(fd)
        server._forkserver_alive_fd = None  # type: ignore[union-attr]


def _start_device_warmup(target: str | None) -> threading.Thread | None:
    """Run the backend's ``module:function`` device warm-up on a side thread (see ``Backend``)."""
    if not target:
        return None
    module, _, name = target.partition(":")
    warmup = getattr(importlib.import_module(module), name)

    def run() -> None:
        with contextlib.suppress(Exception):
            warmup()

    thread = threading.Thread(target=run, name="jitwarm-device-warmup", daemon=True)
    thread.start()
    return thread


def _worker_main(
    worker_id: int,
    device: str | None,
    env: dict[str, str],
    device_warmup: str | None,
    task: Path,
    conn: Any,
) -> None:
    # A worker that comes up after the pool has returned finds its pipe closed (and its task
    # file gone): nobody is left to tell, so it exits quietly.
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
        _serve(worker_id, device, env, device_warmup, task, conn)


def _serve(
    worker_id: int,
    device: str | None,
    env: dict[str, str],
    device_warmup: str | None,
    task: Path,
    conn: Any,
) -> None:
    # The environment must be in place before the backend touches CUDA or DeepGEMM.
    started_at = time.time()
    os.environ.update(env)
    if env.get(WORKER_NICE_VAR):
        with contextlib.suppress(OSError, ValueError):
            os.nice(int(env[WORKER_NICE_VAR]))
    if device is not None:
        os.environ["CUDA_VISIBLE_DEVICES"] = device
    die_with_parent()
    _let_the_fork_server_go()
    from jitwarm.warmer import _forkserver_clock

    try:
        # The device warm-up runs while the task is unpickled and the backend imports its
        # libraries; it is best effort: setup meets and reports any failure of the device.
        warming = _start_device_warmup(device_warmup)
        try:
            spec: PoolSpec = pickle.loads(task.read_bytes())
        except FileNotFoundError:
            return  # the pool has finished and removed it
        ctx = WorkerContext(worker_id, spec.settings, spec.cache_root, spec.log_dir, device)
        spec.backend.setup(ctx)
        if warming is not None:
            warming.join()
    except WorkerSetupError as exc:
        conn.send(("setup_failed", worker_id, str(exc), exc.usage))
        return
    except BaseException as exc:
        conn.send(("setup_failed", worker_id, f"{type(exc).__name__}: {exc}", False))
        return
    startup = WorkerStartup(_forkserver_clock.DONE_AT, started_at, time.time())
    conn.send(("ready", worker_id, startup))
    while True:
        try:
            item = conn.recv()
        except EOFError:  # the parent is gone
            return
        if item is None:
            return
        start, started_at = time.perf_counter(), time.time()
        try:
            outcome = _run_item(spec, item)
        except BaseException as exc:  # a backend bug must not hang the pool
            outcome = ItemOutcome(
                item.item_id,
                worker_id,
                (),
                time.perf_counter() - start,
                device,
                error=f"{type(exc).__name__}: {exc}",
                fatal=True,
            )
        outcome = replace(outcome, started_at=started_at, ended_at=time.time())
        conn.send(("done", worker_id, outcome))
        if outcome.fatal:
            return


def _run_item(spec: PoolSpec, item: WorkItem) -> ItemOutcome:
    """Run one item, holding its kernel's lock when it names one kernel: a process that finds
    another compiling the kernel waits, then loads what that one published."""
    key = item.kernel_key
    # "run": ItemMode.RUN (items.py is not imported here: it stays out of the fork server)
    if spec.locks is None or key is None or key in spec.unlocked_keys or item.mode != "run":
        return spec.backend.run(item)
    with spec.locks.try_hold(key) as free:
        if free is not None:  # nobody else had it: what the backend reports is the truth
            return spec.backend.run(item)
    # Another process holds it: compiling it, or only loading it (a peer checking a warm
    # cache). It compiled only if an entry was published while this one waited.
    before = list_entries(spec.cache_root)
    with spec.locks.hold(key) as held:
        outcome = spec.backend.run(item)
    published = bool(list_entries(spec.cache_root) - before)
    elsewhere = int(published and not outcome.failed and outcome.compiled == 0)
    return replace(outcome, compiled_elsewhere=elsewhere, lock_wait_s=held.waited_s)


def _context(preload: Sequence[str]) -> Any:
    if "forkserver" in mp.get_all_start_methods():
        ctx = mp.get_context("forkserver")
        # Workers fork from a server that imported these once (this light module, and the
        # backend's torch), so each starts in well under a second. None initialises CUDA.
        ctx.set_forkserver_preload([__name__, *preload, f"{__package__}._forkserver_clock"])
        return ctx
    return mp.get_context("spawn")


_GUARD_HINT = (
    "worker processes import the caller's main script again; if a script calls jitwarm "
    'without an `if __name__ == "__main__":` guard, put the call under one'
)


def refuse_in_worker_bootstrap() -> None:
    """Raise when called while a starting worker process re-imports the caller's script (what
    spawn and forkserver do): without a ``__main__`` guard the script would start a pool from
    every worker."""
    if getattr(mp.current_process(), "_inheriting", False):
        raise WarmUsageError(
            f"jitwarm was called while a worker process was starting: {_GUARD_HINT}"
        )


def _startup_death_hint() -> str:
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    is_script = path is not None and getattr(main, "__spec__", None) is None
    return f" ({_GUARD_HINT})" if is_script and Path(path).name != "jitwarm" else ""


def prestart(backend: Backend) -> None:
    """Start the fork server now: its imports (seconds for torch and deep_gemm) then run while
    the caller still plans, lists the cache and queries GPUs, instead of after."""
    refuse_in_worker_bootstrap()
    ctx = _context(backend.preload)
    if ctx.get_start_method() == "forkserver":
        from multiprocessing import forkserver

        with contextlib.suppress(OSError, ValueError):
            forkserver.ensure_running()


def run_pool(
    items: Sequence[WorkItem],
    spec: PoolSpec,
    devices: Sequence[str | None],
    *,
    observer: PoolObserver | None = None,
    startup: list[WorkerStartup] | None = None,
) -> dict[int, ItemOutcome]:
    """Run ``items`` on ``len(devices)`` workers; returns each item's outcome by id.
    ``startup`` (if given) gets how each worker started (``WorkerStartup``).

    Raises ``WorkerSetupError`` when no worker could start (every setup failed).
    """
    refuse_in_worker_bootstrap()
    obs = observer or _Silent()
    results: dict[int, ItemOutcome] = {}
    if not items:
        return results
    ctx = _context(spec.backend.preload)
    scheduler = Scheduler(items)
    by_id = {item.item_id: item for item in items}
    workers: dict[int, _Worker] = {}
    counter = iter(range(1 << 30))
    ever_ready = False
    setup_errors: list[tuple[str, bool]] = []
    restarts_left = len(devices) + len(items)

    # The task goes through a file, not the process arguments: a child reads its arguments only
    # after re-importing the caller's main module, and the parent's write of arguments larger
    # than a pipe holds waits for that, so workers would start one after another.
    # One file per pool: warm's exact mode runs two pools over one log folder.
    fd, name = tempfile.mkstemp(prefix="worker-task-", suffix=".pickle", dir=spec.log_dir)
    with os.fdopen(fd, "wb") as fh:
        fh.write(pickle.dumps(spec))
    task = Path(name)
    device_warmup = getattr(spec.backend, "device_warmup", None)

    def start(device: str | None) -> None:
        wid = next(counter)
        parent_end, child_end = ctx.Pipe(duplex=True)
        proc = ctx.Process(
            target=_worker_main,
            args=(wid, device, spec.env, device_warmup, task, child_end),
            name=f"jitwarm-worker-{wid}",
            daemon=True,
        )
        proc.start()
        child_end.close()
        workers[wid] = _Worker(wid, device, proc, parent_end)

    def finish(item_id: int, outcome: ItemOutcome) -> None:
        if item_id in results:
            return
        results[item_id] = outcome
        scheduler.finish(item_id)
        obs.on_done(by_id[item_id], outcome)

    def handle(w: _Worker, msg: tuple) -> None:
        nonlocal ever_ready
        kind = msg[0]
        if kind == "ready":
            w.ready = True
            ever_ready = True
            if startup is not None:
                startup.append(msg[2])
        elif kind == "setup_failed":
            setup_errors.append((msg[2], msg[3]))
            w.finished = True
            log.warning("worker %d could not start: %s", w.worker_id, msg[2])
        elif kind == "done":
            outcome: ItemOutcome = msg[2]
            if w.item is not None and w.item.item_id == outcome.item_id:
                w.item = None
            finish(outcome.item_id, outcome)
            if outcome.fatal:
                w.finished = True

    def receive(w: _Worker) -> None:
        """Handle every message the worker has sent; a closed pipe means it exited."""
        with contextlib.suppress(EOFError, OSError):
            while w.conn.poll():
                handle(w, w.conn.recv())

    def reap() -> None:
        nonlocal restarts_left
        for wid, w in list(workers.items()):
            if w.proc.is_alive():
                continue
            receive(w)  # its last messages may still be in the pipe
            del workers[wid]
            w.conn.close()
            if not w.ready and not w.finished:  # died while starting: restarted only if others did
                w.finished = True
                setup_errors.append(
                    (
                        f"worker process exited with code {w.proc.exitcode} before it was ready"
                        + _startup_death_hint(),
                        False,
                    )
                )
            if w.item is not None:
                item, w.item = w.item, None
                finish(
                    item.item_id,
                    ItemOutcome(
                        item.item_id,
                        wid,
                        (),
                        0.0,
                        w.device,
                        error=f"worker exited with code {w.proc.exitcode} while running this item",
                        fatal=True,
                    ),
                )
            if scheduler.pending and restarts_left > 0 and (ever_ready or not w.finished):
                restarts_left -= 1
                start(w.device)

    for device in devices:
        start(device)
    try:
        while not scheduler.done:
            for w in workers.values():
                if w.ready and w.item is None and not w.finished:
                    item = scheduler.take()
                    if item is None:
                        break
                    w.item = item
                    w.conn.send(item)
                    obs.on_start(item, w.worker_id)
            by_conn = {w.conn: w for w in workers.values()}
            sentinels = [w.proc.sentinel for w in workers.values()]
            ready = wait([*by_conn, *sentinels], timeout=_POLL_S)
            for obj in ready:
                if obj in by_conn:
                    receive(by_conn[obj])
            reap()
            if not workers and not scheduler.done:
                if not ever_ready and setup_errors:
                    reason, usage = setup_errors[0]
                    raise WorkerSetupError(f"no worker could start: {reason}", usage=usage)
                for item in scheduler.drop_pending():
                    outcome = ItemOutcome(
                        item.item_id, -1, (), 0.0, None, error="no worker left to run this item"
                    )
                    results[item.item_id] = outcome
                    obs.on_done(item, outcome)
    finally:
        _shutdown(workers.values(), finished=scheduler.done)
        task.unlink(missing_ok=True)  # a worker still starting then exits quietly
    return results


def _shutdown(workers: Any, *, finished: bool) -> None:
    """Tell every worker to exit. After the last item nothing is in flight (every entry was
    published by an atomic rename), so the pool returns at once and workers tear down their
    CUDA contexts (about a second) on their own; an interrupted pool kills stragglers."""
    workers = list(workers)
    for w in workers:
        with contextlib.suppress(Exception):
            w.conn.send(None)
    if finished:
        return
    deadline = time.monotonic() + _STOP_GRACE_S
    for w in workers:
        w.proc.join(max(0.0, deadline - time.monotonic()))
    for w in workers:
        if w.proc.is_alive():
            w.proc.kill()
            w.proc.join(5.0)
