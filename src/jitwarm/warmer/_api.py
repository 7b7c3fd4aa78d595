"""``warm(plan)``: compile every kernel of a plan into a DeepGEMM cache, in parallel.

Data flows one way: plan -> work items -> (capture ->) pool -> outcomes -> report, in named
steps: prepare (options, environment, items, a local build's split), capture (exact mode),
compile (locally, ahead, in the workers), report (built once, at the end).
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jitwarm.errors import WarmUsageError
from jitwarm.gpu_host import require_gpu_host
from jitwarm.locks import KernelLocks, LockSettings
from jitwarm.plan import Plan, PlanEntry
from jitwarm.profiles import resolve_cache_roots
from jitwarm.warmer import _deepjit_ahead as local_build
from jitwarm.warmer._backend import (
    Backend,
    ItemOutcome,
    WorkerStartup,
    registered_default_backend,
)
from jitwarm.warmer._cache_entries import list_entries
from jitwarm.warmer._items import (
    ItemMode,
    WorkItem,
    estimate_kernel_s,
    plan_work_items,
    renumber,
    split_sweeps,
    sweep_items,
)
from jitwarm.warmer._options import WarmOptions
from jitwarm.warmer._pool import WORKER_NICE_VAR, PoolObserver, PoolSpec, prestart, run_pool
from jitwarm.warmer._report import (
    AheadSummary,
    CaptureStats,
    DeepJitLocalSummary,
    PeerRole,
    PeerWait,
    WarmReport,
    build_report,
)
from jitwarm.warmer._resources import (
    GpuInfo,
    assign_devices,
    default_jobs,
    host_memory_mib,
    usable_cpus,
    visible_gpus,
    worker_mib,
)
from jitwarm.warmer._settings import PlanSettings, worker_env

if TYPE_CHECKING:
    from jitwarm.ahead import AheadCompiler, AheadStats
    from jitwarm.build import KernelHold
    from jitwarm.bundle import Provenance
    from jitwarm.locks import TryHold

log = logging.getLogger(__name__)


# Workers that only hand over cubins compiled ahead: a quarter of the job slots (at least two),
# niced so their start-up (imports, CUDA contexts) yields the cores to nvcc.
HANDOVER_NICE = 10


def handover_workers(jobs: int) -> int:
    return min(jobs, max(2, -(-jobs // 4)))


def default_backend(*, capture: bool = False) -> Backend:
    """The registered default (DeepGEMM's, once ``jitwarm.deepgemm`` is imported)."""
    factory = registered_default_backend()
    if factory is None:
        raise WarmUsageError(
            "no DeepGEMM backend: call jitwarm.warm (it brings DeepGEMM's), import "
            "jitwarm.deepgemm first, or pass backend="
        )
    return factory(capture=capture)


def warm(plan: Plan, options: WarmOptions | None = None, **keywords: Any) -> WarmReport:
    """Compile ``plan`` into the cache at ``cache_dir`` (else ``DG_JIT_CACHE_DIR``, else
    DeepGEMM's default root) with ``jobs`` worker processes spread over the visible GPUs.

    Options come as a :class:`WarmOptions` or as its fields by keyword
    (``warm(plan, jobs=8)``); an unknown one, or a switch that would have no effect with the
    others, is a :class:`WarmUsageError` before anything starts.

    One call per distinct kernel where the plan knows them; every M of a sweep entry, split
    across workers, unless ``exact``: then sweep calls first run under a stand-in compiler
    that only records each call's kernel source, and each distinct source is compiled once.
    ``full_sweep`` calls every reachable M of every entry (the check that nothing is left to
    compile). Failures are reported, never raised; the report says what compiled, what was
    already cached and what failed.

    ``ahead`` (default: wherever it applies; False: off): with DeepGEMM's backend, kernels
    whose exact source can be rendered for the installed DeepGEMM start compiling in this
    process at once, while the workers still import torch; the workers' DeepGEMM takes those
    cubins through an nvcc shim (``jitwarm.ahead``). On a DeepJIT ``build`` (default: the
    detected one) whose families jitwarm renders, warm is a local GPU-free build first:
    rendered kernels missing from the cache roots compile in this process, and workers run only
    for the rest (none at all when everything is rendered: no torch import); see
    ``jitwarm.warmer._deepjit_ahead``. A custom ``backend`` builds locally only when given
    ``build``, and never compiles ahead for its workers.

    Concurrent warms on one cache root (the ranks of a host, hosts sharing a network root)
    compile each kernel once in total: a kernel another process is compiling is waited for and
    loaded (reported as ``compiled elsewhere``); see ``jitwarm.locks``. ``leader_only``: of the
    processes warming this plan into this root at once, the first compiles and the others wait
    for it (at most ``peer_wait_s``), then check its work with a few workers, compiling only
    what it left (a peer that died).
    """
    opts = WarmOptions.of(options, keywords)
    if opts.leader_only:
        return _warm_after_peers(plan, opts)
    return _warm(plan, opts)


def _warm_after_peers(plan: Plan, opts: WarmOptions) -> WarmReport:
    """One warm of ``plan`` per cache root at a time: the first to take the plan's lock warms
    it holding the lock; one that had to wait checks, with few workers, what the other left."""
    cache_root = resolve_cache_roots(opts.cache_dir).writable
    cache_root.mkdir(parents=True, exist_ok=True)
    settings = replace(LockSettings.from_env(), wait_s=opts.peer_wait_s)
    peers = KernelLocks(cache_root, scope="warms", settings=settings)
    with peers.hold(f"plan:{plan.digest()}") as held:
        if not held.contended:
            return _warm(plan, opts, peer=PeerWait(PeerRole.LEADER))
    check = replace(opts, jobs=handover_workers(opts.jobs or usable_cpus()))
    return _warm(plan, check, peer=PeerWait(PeerRole.FOLLOWER, round(held.waited_s, 3)))


@dataclass(frozen=True)
class _Prepared:
    """What warm knows before it starts anything: where, with what, and which items."""

    plan: Plan
    options: WarmOptions
    started: float  # perf_counter()
    started_at: float  # wall clock
    cache_root: Path
    env: dict[str, str]
    items: list[WorkItem]  # planned once; a sweep entry is one item until the jobs are known
    local: local_build.LocalBuild | None


def _warm(plan: Plan, opts: WarmOptions, *, peer: PeerWait | None = None) -> WarmReport:
    prep = _prepare(plan, opts)
    if prep.local is not None and all(prep.local.covers(i) for i in prep.items):
        return _warm_locally(prep, peer)
    return _warm_with_workers(prep, peer)


def _prepare(plan: Plan, opts: WarmOptions) -> _Prepared:
    started, started_at = time.perf_counter(), time.time()
    cache_root = resolve_cache_roots(opts.cache_dir).writable
    env = worker_env(
        plan, cache_root=cache_root, allow_key_changing_env=opts.allow_key_changing_env
    )
    items = plan_work_items(plan, full_sweep=opts.full_sweep)
    local = _prepare_local(plan, opts, items, env) if opts.builds_locally_first else None
    return _Prepared(plan, opts, started, started_at, cache_root, env, items, local)


def _warm_with_workers(prep: _Prepared, peer: PeerWait | None) -> WarmReport:
    """Start workers (and nvcc ahead of them), capture sweeps if exact, compile, report."""
    plan, opts, cache_root = prep.plan, prep.options, prep.cache_root
    backend = opts.backend or default_backend()
    if plan.entries and getattr(backend, "requires_gpu_host", False):
        require_gpu_host("warm", devices=opts.devices)  # before anything is started or created
    if plan.entries:
        prestart(backend)
    # What the cache is built with is found while it builds (reading package metadata can take
    # a second on a host with many packages), and written after.
    provenance = _read_provenance_in_background(plan, prep.env) if opts.backend is None else None
    cache_root.mkdir(parents=True, exist_ok=True)
    locks = KernelLocks(cache_root)
    locks = locks if locks.usable() else None  # one warning if not; then unlocked, as before
    before = list_entries(cache_root)
    log_dir = Path(tempfile.mkdtemp(prefix="jitwarm-warm-"))
    ahead: AheadCompiler | None = None
    try:  # from here on, log_dir goes on every way out
        # First thing after the fork server: every second before nvcc runs is on the wall clock.
        if opts.compiles_ahead and plan.entries and prep.local is None:
            ahead = _start_ahead(prep, log_dir)
        pools = _Pools.sized_for(prep)
        items = split_sweeps(prep.items, parts=pools.jobs)
        items, local_result = _build_local_part(prep, items, locks)
        capture = None
        if opts.exact and any(i.is_sweep_chunk for i in items):
            items, capture = _capture(prep, items, pools, log_dir)
        spec = PoolSpec(
            settings=PlanSettings.of(plan),
            env={**prep.env, **ahead.worker_env()} if ahead is not None else prep.env,
            cache_root=cache_root,
            log_dir=log_dir,
            backend=backend,
            locks=locks,
            # the ahead compiler holds these kernels' locks (by their nvcc request)
            unlocked_keys=ahead.covered if ahead is not None else frozenset(),
        )
        compiled = _compile(items, spec, pools, ahead)
    finally:
        if ahead is not None:
            ahead.stop()  # a no-op after finish(); else kills this warm's own nvcc runs
        if not os.environ.get("JITWARM_KEEP_LOGS"):
            shutil.rmtree(log_dir, ignore_errors=True)
    used = min(compiled.workers, len(items))
    if provenance is not None:
        _record_provenance(provenance, cache_root)
    outcomes = compiled.outcomes
    if local_result is not None:
        items, outcomes = local_build.merged(local_result, items, outcomes)
    summary: AheadSummary | DeepJitLocalSummary | None = None
    if compiled.ahead is not None:
        summary = AheadSummary.of(compiled.ahead, since=prep.started)
    elif local_result is not None:
        summary = local_result.summary()
    return _report(
        prep,
        items,
        outcomes,
        cache_root=cache_root,
        jobs=used,
        devices=assign_devices(used, pools.gpus),
        new_cache_entries=len(list_entries(cache_root) - before),
        exact=opts.exact,
        started_at=prep.started_at,
        capture=capture,
        worker_startup=compiled.startup,
        ahead=summary,
        peer=peer,
    )


def _report(
    prep: _Prepared,
    items: Sequence[WorkItem],
    outcomes: Mapping[int, ItemOutcome],
    *,
    cache_root: Path,
    jobs: int,
    devices: list[str | None],
    new_cache_entries: int,
    ahead: AheadSummary | DeepJitLocalSummary | None,
    peer: PeerWait | None,
    exact: bool,
    started_at: float | None,
    capture: CaptureStats | None = None,
    worker_startup: Sequence[WorkerStartup] = (),
) -> WarmReport:
    plan = prep.plan
    return build_report(
        items,
        outcomes,
        plan_digest=plan.digest(),
        arch=plan.arch,
        num_sms=plan.num_sms,
        cache_root=str(cache_root),
        jobs=jobs,
        devices=devices,
        wall_s=time.perf_counter() - prep.started,
        new_cache_entries=new_cache_entries,
        exact=exact,
        capture=capture,
        started_at=started_at,
        worker_startup=worker_startup,
        ahead=ahead,
        peer=peer,
    )


@dataclass(frozen=True)
class _Pools:
    """Worker pools of one warm: the GPUs they spread over, how many workers, progress."""

    gpus: list[GpuInfo]
    jobs: int
    progress: bool

    @classmethod
    def sized_for(cls, prep: _Prepared) -> _Pools:
        opts = prep.options
        devices = opts.devices
        gpus = [GpuInfo(d, None) for d in devices] if devices is not None else visible_gpus()
        jobs = opts.jobs or default_jobs(
            1 << 30,
            cpus=usable_cpus(),
            gpus=gpus,
            per_worker_mib=worker_mib(prep.plan),
            host_mib=host_memory_mib(),
        )
        return cls(gpus, jobs, opts.progress)

    def run(
        self, todo: list[WorkItem], spec: PoolSpec, what: str, workers: int
    ) -> tuple[dict[int, ItemOutcome], list[WorkerStartup]]:
        """The outcome of every item of ``todo``, and when each worker of the pool started."""
        chosen = assign_devices(min(workers, len(todo)), self.gpus)
        startup: list[WorkerStartup] = []
        observer: PoolObserver | None = None
        with contextlib.ExitStack() as stack:
            if self.progress and todo:
                from jitwarm.warmer._progress import ProgressBar

                observer = stack.enter_context(ProgressBar(len(todo), description=what))
            outcomes = run_pool(todo, spec, chosen, observer=observer, startup=startup)
        return outcomes, startup


def _build_local_part(
    prep: _Prepared, items: list[WorkItem], locks: KernelLocks | None
) -> tuple[list[WorkItem], local_build.LocalResult | None]:
    """On a DeepJIT build: rendered kernels compile here first; the workers get the rest."""
    if prep.local is None:
        return items, None
    covered, rest = prep.local.split(items)
    rest = renumber(rest)
    opts = prep.options
    result = local_build.compile_missing(
        prep.local, covered, rest, slots=opts.jobs, progress=opts.progress, **_holds(locks)
    )
    return rest, result


def _capture(
    prep: _Prepared, items: list[WorkItem], pools: _Pools, log_dir: Path
) -> tuple[list[WorkItem], CaptureStats]:
    """Exact mode: run the sweep calls under the stand-in compiler; the items that then compile
    each distinct captured source once."""
    opts, plan = prep.options, prep.plan
    backend = opts.capture_backend or (
        opts.backend if opts.backend is not None else default_backend(capture=True)
    )
    spec = PoolSpec(
        settings=PlanSettings.of(plan),
        env=prep.env,
        cache_root=prep.cache_root,
        log_dir=log_dir,
        backend=backend,
    )
    started = time.perf_counter()
    sweeps = _capture_items(plan, items, parts=pools.jobs)
    cap_out, _ = pools.run([i for s in sweeps for i in s], spec, "capturing", pools.jobs)
    return _items_from_capture(items, sweeps, cap_out, parts=pools.jobs, started=started)


@dataclass(frozen=True)
class _Compiled:
    outcomes: dict[int, ItemOutcome]
    startup: list[WorkerStartup]  # of the pool that compiled
    workers: int
    ahead: AheadStats | None


def _compile(
    items: list[WorkItem], spec: PoolSpec, pools: _Pools, ahead: AheadCompiler | None
) -> _Compiled:
    workers = pools.jobs
    if ahead is not None and ahead.covers(items):
        # Every kernel is compiled ahead: workers only hand cubins to DeepGEMM, so a few
        # suffice, and they start at low priority instead of taking cores from nvcc.
        workers = handover_workers(pools.jobs)
        spec = replace(spec, env={**spec.env, WORKER_NICE_VAR: str(HANDOVER_NICE)})
    outcomes, startup = pools.run(items, spec, "kernels", workers)
    if ahead is None:
        return _Compiled(outcomes, startup, workers, None)
    stats = ahead.finish()
    outcomes = attribute_ahead(items, outcomes, ahead.attribution())
    return _Compiled(outcomes, startup, workers, stats)


def _prepare_local(
    plan: Plan, opts: WarmOptions, items: list[WorkItem], env: dict[str, str]
) -> local_build.LocalBuild | None:
    if not plan.entries:
        return None
    build = opts.build
    if build is None:
        from jitwarm.profiles import detect_build

        build = detect_build()
    if not local_build.renders_for(build):
        return None
    return local_build.prepare_local_build(plan, build, items, cache_dir=opts.cache_dir, env=env)


def _holds(locks: KernelLocks | None) -> dict[str, KernelHold | TryHold | None]:
    """Per-kernel locks for the local compiles, by DeepJIT entry name: concurrent warms (or
    builds) of one root compile each entry once (the others find it committed), each first
    taking kernels no peer holds."""
    if locks is None or not locks.usable():
        return {"hold": None, "try_hold": None}
    return {"hold": locks.hold, "try_hold": locks.try_hold}


def _warm_locally(prep: _Prepared, peer: PeerWait | None) -> WarmReport:
    """Every item is served by a rendered kernel: compile what is missing here, start no
    worker (no torch, no GPU needed)."""
    local, opts = prep.local, prep.options
    assert local is not None
    root = local.roots.writable
    before = list_entries(root)
    locks = KernelLocks(root) if local.missing else None  # the lock folder only when compiling
    result = local_build.compile_missing(
        local, prep.items, (), slots=opts.jobs, progress=opts.progress, **_holds(locks)
    )
    if result.count("compiled"):
        local_build.record_provenance(local, prep.plan)
    return _report(
        prep,
        prep.items,
        result.outcomes(prep.items),
        cache_root=root,
        jobs=0,
        devices=[],
        new_cache_entries=len(list_entries(root) - before),
        exact=False,  # nothing to capture: every item is a known kernel
        started_at=None,  # no worker ran
        ahead=result.summary(),
        peer=peer,
    )


def attribute_ahead(
    items: Sequence[WorkItem], outcomes: dict[int, ItemOutcome], ahead: dict[str, str]
) -> dict[int, ItemOutcome]:
    """Who compiled each kernel compiled ahead: this process's nvcc ("compiled", even if the
    worker then found another warm had published it first) or another process's ("elsewhere",
    though this worker's DeepGEMM printed a compile when it took the cubin). ``ahead`` maps
    kernel keys to that; a failed ahead compile leaves the worker's own count."""
    out = dict(outcomes)
    for item in items:
        who = ahead.get(item.kernel_key or "")
        outcome = out.get(item.item_id)
        if who is None or outcome is None or outcome.failed or not outcome.calls:
            continue
        here = int(who == "compiled")
        first, *rest = outcome.calls
        calls = (replace(first, compiled=here), *(replace(c, compiled=0) for c in rest))
        out[item.item_id] = replace(outcome, calls=calls, compiled_elsewhere=1 - here)
    return out


def _start_ahead(prep: _Prepared, log_dir: Path) -> AheadCompiler | None:
    from jitwarm.ahead import AheadCompiler

    try:
        compiler = AheadCompiler.for_plan(
            prep.plan,
            prep.items,
            cache_root=prep.cache_root,
            stage_dir=log_dir / "stage",
            slots=prep.options.jobs or usable_cpus(),
            env=prep.env,
        )
        if compiler is not None:
            compiler.start()
        return compiler
    except Exception as exc:  # an optimisation only: the workers compile everything instead
        log.warning("not compiling ahead: %s: %s", type(exc).__name__, exc)
        return None


def _capture_items(plan: Plan, items: list[WorkItem], *, parts: int) -> list[list[WorkItem]]:
    """Per plan entry with a sweep chunk among ``items`` (in plan order), the capture items that
    call each of its M values once."""
    swept = {id(i.entry) for i in items if i.is_sweep_chunk}  # items hold the plan's entries
    out: list[list[WorkItem]] = []
    first_id = 0
    for entry in plan.entries:
        if id(entry) not in swept:
            continue
        sweep = sweep_items(
            entry, list(entry.mset), parts=parts, first_id=first_id, mode=ItemMode.CAPTURE
        )
        first_id += len(sweep)
        out.append(sweep)
    return out


def _items_from_capture(
    items: list[WorkItem],
    sweeps: list[list[WorkItem]],
    cap_out: dict[int, ItemOutcome],
    *,
    parts: int,
    started: float,
) -> tuple[list[WorkItem], CaptureStats]:
    """Known-kernel items, plus one item per distinct captured source, plus plain sweep items
    for the M values whose capture failed (they run for real, so nothing is skipped).
    ``sweeps``: the capture items of each swept entry."""
    groups: dict[str, tuple[PlanEntry, list[int]]] = {}
    uncaptured: list[tuple[PlanEntry, list[int]]] = []
    calls = failed = 0
    for sweep in sweeps:
        missed: list[int] = []
        for item in sweep:
            outcome = cap_out.get(item.item_id)
            done = {c.m: c for c in outcome.calls} if outcome is not None else {}
            for m in item.ms:
                calls += 1
                call = done.get(m)
                if call is None or call.source_digest is None:
                    if call is not None and call.error is not None:
                        failed += 1
                    missed.append(m)
                    continue
                groups.setdefault(call.source_digest, (item.entry, []))[1].append(m)
        if missed:
            uncaptured.append((sweep[0].entry, missed))
    out = [i for i in items if not i.is_sweep_chunk]
    for digest, (entry, ms) in groups.items():
        m = max(ms)
        out.append(
            WorkItem(
                item_id=0,
                entry=entry,
                ms=(m,),
                kernel=None,  # a captured source, not a planned kernel
                kernel_key=f"source:{digest}",
                est_s=estimate_kernel_s(entry, None),
                label=f"{entry.family.value} {entry.shape()} m={m} ({len(ms)} M values)",
            )
        )
    for entry, ms in uncaptured:
        out += sweep_items(entry, sorted(ms), parts=parts, first_id=0)
    if failed:
        log.warning("%d sweep calls could not be captured; they run for real", failed)
    return renumber(out), CaptureStats(
        calls=calls,
        distinct_kernels=len(groups),
        failed_calls=failed,
        wall_s=time.perf_counter() - started,  # from the capture's start
    )


def _read_provenance_in_background(plan: Plan, env: dict[str, str]) -> Future[Provenance]:
    from jitwarm.bundle import host_provenance

    side = ThreadPoolExecutor(1, thread_name_prefix="jitwarm-provenance")
    future = side.submit(
        host_provenance, arch=plan.arch, num_sms=plan.num_sms, env={**os.environ, **env}
    )
    side.shutdown(wait=False)  # the thread ends with the task
    return future


def _record_provenance(provenance: Future[Provenance], cache_root: Path) -> None:
    """Leave what this cache was built with at its root, for ``jitwarm doctor``."""
    from jitwarm.bundle import write_cache_provenance

    try:
        write_cache_provenance(cache_root, provenance.result())
    except OSError as exc:  # a read-only root still warmed fine; doctor will say it lacks this
        log.warning("could not write provenance at %s: %s", cache_root, exc)
