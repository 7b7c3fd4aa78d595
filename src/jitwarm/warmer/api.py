"""``warm(plan)``: compile every kernel of a plan into a DeepGEMM cache, in parallel.

Data flows one way: plan -> work items -> (capture ->) pool -> outcomes -> report.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jitwarm.errors import WarmUsageError
from jitwarm.gpu_host import require_gpu_host
from jitwarm.locks import KernelLocks, LockSettings
from jitwarm.plan.schema import Plan
from jitwarm.profiles import resolve_cache_roots
from jitwarm.warmer import _deepjit_ahead as local_build
from jitwarm.warmer.backend import (
    Backend,
    ItemOutcome,
    WorkerStartup,
    registered_default_backend,
)
from jitwarm.warmer.cache_entries import list_entries
from jitwarm.warmer.items import (
    ItemMode,
    WorkItem,
    estimate_kernel_s,
    plan_work_items,
    renumber,
    sweep_items,
)
from jitwarm.warmer.pool import WORKER_NICE_VAR, PoolObserver, PoolSpec, prestart, run_pool
from jitwarm.warmer.report import CaptureStats, WarmReport, build_report
from jitwarm.warmer.resources import (
    GpuInfo,
    assign_devices,
    default_jobs,
    host_memory_mib,
    usable_cpus,
    visible_gpus,
    worker_mib,
)
from jitwarm.warmer.settings import worker_env

if TYPE_CHECKING:
    from jitwarm.ahead import AheadCompiler
    from jitwarm.build import KernelHold
    from jitwarm.bundle import Provenance
    from jitwarm.locks import TryHold
    from jitwarm.profiles import DetectedBuild

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


def warm(
    plan: Plan,
    *,
    jobs: int | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    exact: bool = False,
    allow_key_changing_env: bool = False,
    full_sweep: bool = False,
    backend: Backend | None = None,
    capture_backend: Backend | None = None,
    devices: Sequence[str] | None = None,
    progress: bool = False,
    ahead: bool = True,
    build: DetectedBuild | None = None,
    leader_only: bool = False,
    peer_wait_s: float = 3600.0,
) -> WarmReport:
    """Compile ``plan`` into the cache at ``cache_dir`` (else ``DG_JIT_CACHE_DIR``, else
    DeepGEMM's default root) with ``jobs`` worker processes spread over the visible GPUs.

    One call per distinct kernel where the plan knows them; every M of a sweep entry, split
    across workers, unless ``exact``: then sweep calls first run under a stand-in compiler
    that only records each call's kernel source, and each distinct source is compiled once.
    ``full_sweep`` calls every reachable M of every entry (the check that nothing is left to
    compile). Failures are reported, never raised; the report says what compiled, what was
    already cached and what failed.

    ``ahead`` (default DeepGEMM backend only): kernels whose exact source can be rendered for
    the installed DeepGEMM start compiling in this process at once, while the workers still
    import torch; the workers' DeepGEMM takes those cubins through an nvcc shim
    (``jitwarm.ahead``). On a DeepJIT ``build`` (default: the detected one) whose families
    jitwarm renders, warm is a local GPU-free build first: rendered kernels missing from the
    cache roots compile in this process, and workers run only for the rest (none at all when
    everything is rendered: no torch import); see ``jitwarm.warmer._deepjit_ahead``.

    Concurrent warms on one cache root (the ranks of a host, hosts sharing a network root)
    compile each kernel once in total: a kernel another process is compiling is waited for and
    loaded (reported as ``compiled elsewhere``); see ``jitwarm.locks``. ``leader_only``: of the
    processes warming this plan into this root at once, the first compiles and the others wait
    for it (at most ``peer_wait_s``), then check its work with a few workers, compiling only
    what it left (a peer that died).
    """
    if jobs is not None and jobs < 1:
        raise WarmUsageError(f"--jobs must be >= 1, got {jobs}")
    options: dict[str, Any] = dict(
        jobs=jobs,
        cache_dir=cache_dir,
        exact=exact,
        allow_key_changing_env=allow_key_changing_env,
        full_sweep=full_sweep,
        backend=backend,
        capture_backend=capture_backend,
        devices=devices,
        progress=progress,
        ahead=ahead,
        build=build,
    )
    if leader_only:
        return _warm_after_peers(plan, options, peer_wait_s=peer_wait_s)
    return _warm(plan, **options)


def _warm_after_peers(plan: Plan, options: dict[str, Any], *, peer_wait_s: float) -> WarmReport:
    """One warm of ``plan`` per cache root at a time: the first to take the plan's lock warms
    it holding the lock; one that had to wait checks, with few workers, what the other left."""
    cache_root = resolve_cache_roots(options["cache_dir"]).writable
    cache_root.mkdir(parents=True, exist_ok=True)
    settings = replace(LockSettings.from_env(), wait_s=peer_wait_s)
    peers = KernelLocks(cache_root, scope="warms", settings=settings)
    with peers.hold(f"plan:{plan.digest()}") as held:
        if not held.contended:
            return replace(_warm(plan, **options), peer_role="leader")
    jobs = handover_workers(options["jobs"] or usable_cpus())
    report = _warm(plan, **{**options, "jobs": jobs})
    return replace(report, peer_role="follower", peer_wait_s=round(held.waited_s, 3))


def _warm(
    plan: Plan,
    *,
    jobs: int | None,
    cache_dir: str | os.PathLike[str] | None,
    exact: bool,
    allow_key_changing_env: bool,
    full_sweep: bool,
    backend: Backend | None,
    capture_backend: Backend | None,
    devices: Sequence[str] | None,
    progress: bool,
    ahead: bool,
    build: DetectedBuild | None,
) -> WarmReport:
    started, started_at = time.perf_counter(), time.time()
    cache_root = resolve_cache_roots(cache_dir).writable
    env = worker_env(plan, cache_root=cache_root, allow_key_changing_env=allow_key_changing_env)
    nvcc_slots = jobs  # one nvcc per core unless --jobs says otherwise
    # A test double's warm stays on the workers unless it names the build (as the CLI does).
    local = (
        _prepare_local(plan, build, cache_dir, env)
        if ahead and not full_sweep and (backend is None or build is not None)
        else None
    )
    if local is not None and all(local.covers(i) for i in plan_work_items(plan)):
        return _warm_locally(plan, local, jobs=jobs, progress=progress, started=started)
    run_backend = backend or default_backend()
    if plan.entries and getattr(run_backend, "requires_gpu_host", False):
        require_gpu_host("warm", devices=devices)  # before anything is started or created
    if plan.entries:
        prestart(run_backend)
    # What the cache is built with is found while it builds (reading package metadata can take
    # a second on a host with many packages), and written after.
    provenance = _read_provenance_in_background(plan, env) if backend is None else None
    cache_root.mkdir(parents=True, exist_ok=True)
    locks = KernelLocks(cache_root)
    locks = locks if locks.usable() else None  # one warning if not; then unlocked, as before
    before = list_entries(cache_root)
    log_dir = Path(tempfile.mkdtemp(prefix="jitwarm-warm-"))
    ahead_compiler = None
    capture: CaptureStats | None = None
    startup: list[WorkerStartup] = []  # of the last pool (the one that compiles)
    try:  # from here on, log_dir goes on every way out
        # First thing after the fork server: every second before nvcc runs is on the wall clock.
        ahead_compiler = (
            _start_ahead(
                plan,
                plan_work_items(plan),
                cache_root=cache_root,
                log_dir=log_dir,
                slots=jobs or usable_cpus(),
                env=env,
            )
            if ahead and backend is None and not full_sweep and plan.entries and local is None
            else None
        )
        gpus = [GpuInfo(d, None) for d in devices] if devices is not None else visible_gpus()
        if jobs is None:
            jobs = default_jobs(
                1 << 30,
                cpus=usable_cpus(),
                gpus=gpus,
                per_worker_mib=worker_mib(plan),
                host_mib=host_memory_mib(),
            )
        items = plan_work_items(plan, sweep_parts=jobs, full_sweep=full_sweep)
        local_result = None
        if local is not None:  # rendered kernels compile here first; workers get the rest
            covered, items = local.split(items)
            items = renumber(items)
            local_result = local_build.compile_missing(
                local, covered, items, slots=nvcc_slots, progress=progress, **_holds(locks)
            )
        run_env = {**env, **ahead_compiler.worker_env()} if ahead_compiler is not None else env
        spec = PoolSpec(
            plan=plan,
            env=run_env,
            cache_root=cache_root,
            log_dir=log_dir,
            backend=run_backend,
            locks=locks,
            # the ahead compiler holds these kernels' locks (by their nvcc request)
            unlocked_keys=ahead_compiler.covered if ahead_compiler is not None else frozenset(),
        )

        def pool(
            todo: list[WorkItem], spec: PoolSpec, what: str, workers: int
        ) -> dict[int, ItemOutcome]:
            n = min(workers, len(todo))
            chosen = assign_devices(n, gpus)
            observer: PoolObserver | None = None
            with contextlib.ExitStack() as stack:
                if progress and todo:
                    from jitwarm.warmer.progress import ProgressBar

                    observer = stack.enter_context(ProgressBar(len(todo), description=what))
                return run_pool(todo, spec, chosen, observer=observer, startup=startup)

        if exact and not full_sweep and any(i.is_sweep_chunk for i in items):
            cap_backend = capture_backend or (
                backend if backend is not None else default_backend(capture=True)
            )
            cap_spec = PoolSpec(
                plan=plan, env=env, cache_root=cache_root, log_dir=log_dir, backend=cap_backend
            )
            t0 = time.perf_counter()
            cap_items = _capture_items(plan, items, parts=jobs)
            cap_out = pool(cap_items, cap_spec, "capturing", jobs)
            items, capture = _items_from_capture(plan, items, cap_items, cap_out, parts=jobs)
            capture.wall_s = time.perf_counter() - t0
        startup.clear()
        workers = jobs
        if ahead_compiler is not None and ahead_compiler.covers(items):
            # Every kernel is compiled ahead: workers only hand cubins to DeepGEMM, so a few
            # suffice, and they start at low priority instead of taking cores from nvcc.
            workers = handover_workers(jobs)
            spec = replace(spec, env={**spec.env, WORKER_NICE_VAR: str(HANDOVER_NICE)})
        outcomes = pool(items, spec, "kernels", workers)
        ahead_stats = ahead_compiler.finish() if ahead_compiler is not None else None
        if ahead_compiler is not None:
            outcomes = attribute_ahead(items, outcomes, ahead_compiler.attribution())
    finally:
        if ahead_compiler is not None:
            ahead_compiler.stop()  # a no-op after finish(); else kills this warm's own nvcc runs
        if not os.environ.get("JITWARM_KEEP_LOGS"):
            shutil.rmtree(log_dir, ignore_errors=True)
    used = min(workers, len(items))
    if provenance is not None:
        _record_provenance(provenance, cache_root)
    if local_result is not None:
        items, outcomes = local_build.merged(local_result, items, outcomes)
    return build_report(
        items,
        outcomes,
        plan_digest=plan.digest(),
        arch=plan.arch,
        num_sms=plan.num_sms,
        cache_root=str(cache_root),
        jobs=used,
        devices=assign_devices(used, gpus),
        wall_s=time.perf_counter() - started,
        new_cache_entries=len(list_entries(cache_root) - before),
        exact=exact,
        capture=capture,
        started_at=started_at,
        worker_startup=startup,
        ahead=ahead_stats.to_json(since=started)
        if ahead_stats is not None
        else local_result.to_json()
        if local_result is not None
        else None,
    )


def _prepare_local(
    plan: Plan,
    build: DetectedBuild | None,
    cache_dir: str | os.PathLike[str] | None,
    env: dict[str, str],
) -> local_build.LocalBuild | None:
    if not plan.entries:
        return None
    if build is None:
        from jitwarm.profiles import detect_build

        build = detect_build()
    if not local_build.renders_for(build):
        return None
    return local_build.prepare_local_build(
        plan, build, plan_work_items(plan), cache_dir=cache_dir, env=env
    )


def _holds(locks: KernelLocks | None) -> dict[str, KernelHold | TryHold | None]:
    """Per-kernel locks for the local compiles, by DeepJIT entry name: concurrent warms (or
    builds) of one root compile each entry once (the others find it committed), each first
    taking kernels no peer holds."""
    if locks is None or not locks.usable():
        return {"hold": None, "try_hold": None}
    return {"hold": locks.hold, "try_hold": locks.try_hold}


def _warm_locally(
    plan: Plan, local: local_build.LocalBuild, *, jobs: int | None, progress: bool, started: float
) -> WarmReport:
    """Every item is served by a rendered kernel: compile what is missing here, start no
    worker (no torch, no GPU needed)."""
    items = plan_work_items(plan)
    root = local.roots.writable
    before = list_entries(root)
    locks = KernelLocks(root) if local.missing else None  # the lock folder only when compiling
    result = local_build.compile_missing(
        local, items, (), slots=jobs, progress=progress, **_holds(locks)
    )
    if result.count("compiled"):
        local_build.record_provenance(local, plan)
    return build_report(
        items,
        result.outcomes(items),
        plan_digest=plan.digest(),
        arch=plan.arch,
        num_sms=plan.num_sms,
        cache_root=str(root),
        jobs=0,
        devices=[],
        wall_s=time.perf_counter() - started,
        new_cache_entries=len(list_entries(root) - before),
        ahead=result.to_json(),
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


def _start_ahead(
    plan: Plan,
    items: list[WorkItem],
    *,
    cache_root: Path,
    log_dir: Path,
    slots: int,
    env: dict[str, str],
) -> AheadCompiler | None:
    from jitwarm.ahead import AheadCompiler

    try:
        compiler = AheadCompiler.for_plan(
            plan,
            items,
            cache_root=cache_root,
            stage_dir=log_dir / "stage",
            slots=slots,
            env=env,
        )
        if compiler is not None:
            compiler.start()
        return compiler
    except Exception as exc:  # an optimisation only: the workers compile everything instead
        log.warning("not compiling ahead: %s: %s", type(exc).__name__, exc)
        return None


def _capture_items(plan: Plan, items: list[WorkItem], *, parts: int) -> list[WorkItem]:
    sweeps = sorted({i.entry_index for i in items if i.is_sweep_chunk})
    out: list[WorkItem] = []
    for index in sweeps:
        entry = plan.entries[index]
        out += sweep_items(
            entry, index, list(entry.mset), parts=parts, first_id=len(out), mode=ItemMode.CAPTURE
        )
    return out


def _items_from_capture(
    plan: Plan,
    items: list[WorkItem],
    cap_items: list[WorkItem],
    cap_out: dict[int, ItemOutcome],
    *,
    parts: int,
) -> tuple[list[WorkItem], CaptureStats]:
    """Known-kernel items, plus one item per distinct captured source, plus plain sweep items
    for the M values whose capture failed (they run for real, so nothing is skipped)."""
    groups: dict[str, tuple[int, list[int]]] = {}
    uncaptured: dict[int, list[int]] = {}
    calls = failed = 0
    for item in cap_items:
        outcome = cap_out.get(item.item_id)
        done = {c.m: c for c in outcome.calls} if outcome is not None else {}
        for m in item.ms:
            calls += 1
            call = done.get(m)
            if call is None or call.source_digest is None:
                if call is not None and call.error is not None:
                    failed += 1
                uncaptured.setdefault(item.entry_index, []).append(m)
                continue
            groups.setdefault(call.source_digest, (item.entry_index, []))[1].append(m)
    out = [i for i in items if not i.is_sweep_chunk]
    for digest, (index, ms) in groups.items():
        entry = plan.entries[index]
        m = max(ms)
        out.append(
            WorkItem(
                item_id=0,
                entry_index=index,
                family=entry.family,
                entry_key=entry.key,
                ms=(m,),
                kernel_key=f"source:{digest}",
                est_s=estimate_kernel_s(entry, None),
                label=f"{entry.family.value} {entry.shape()} m={m} ({len(ms)} M values)",
            )
        )
    for index, ms in uncaptured.items():
        out += sweep_items(plan.entries[index], index, sorted(ms), parts=parts, first_id=0)
    if failed:
        log.warning("%d sweep calls could not be captured; they run for real", failed)
    return renumber(out), CaptureStats(
        calls=calls, distinct_kernels=len(groups), failed_calls=failed, wall_s=0.0
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
