"""Compile a plan's kernels ahead of DeepGEMM: nvcc runs in the warm's own process, started
before the workers have imported torch, and the workers' DeepGEMM picks the cubins up through
jitwarm's nvcc interposer in hand-over mode (``jitwarm.interposer``).

Only kernels whose exact source this module can render are compiled ahead (``source``); the
rest, and anything rendered wrongly, compile in the workers as before.

Concurrent warms on one cache root run each nvcc request once in total: a job holds the lock
of its request (``jitwarm.locks``, scope ``nvcc``) while nvcc runs, and leaves the cubin in
``<root>/jitwarm-ahead/`` before it lets go; a warm that waited for the lock takes that cubin
into its own stage instead of compiling ("compiled elsewhere"). The lock covers nvcc alone,
never a worker's hand-over, so no warm waits on another's workers (which could wait on it).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from jitwarm import dgenv
from jitwarm._pdeathsig import die_with_parent
from jitwarm.ahead._source import SourceRenderer
from jitwarm.interposer import (
    REAL_NVCC_VAR,
    STAGE_VAR,
    Mode,
    Stage,
    compile_key,
    write_interposer,
)
from jitwarm.locks import BusyFirstQueue, Hold, KernelLocks, work_loop

if TYPE_CHECKING:
    from jitwarm.plan import Plan
    from jitwarm.warmer import WorkItem

log = logging.getLogger(__name__)

# Cubins compiled ahead, shared by the warms of one cache root: ``<request id>.cubin``.
SHARED_DIR = "jitwarm-ahead"
# Shared cubins older than this are removed by the next warm that compiles ahead: a warm that
# could still want one takes minutes, and every cubin is also in its DeepGEMM entry.
SHARED_TTL_S = 3600.0


@dataclass(frozen=True)
class AheadJob:
    key: str
    source: str
    flags: tuple[str, ...]
    est_s: float
    label: str
    kernel_keys: tuple[str, ...] = ()  # the work items' kernel keys this job compiles


@dataclass
class AheadStats:
    """What compiling ahead did, for the report."""

    planned: int = 0  # kernels rendered and queued
    already_cached: int = 0  # rendered, but their source is in the cache already: not queued
    compiled: int = 0
    compiled_elsewhere: int = 0  # another warm on this root ran this nvcc request; taken from it
    failed: int = 0
    handed_over: int = 0  # cubins the workers' DeepGEMM took from the stage
    compile_s: float = 0.0  # summed nvcc seconds
    lock_wait_s: float = 0.0  # summed seconds waiting for other warms' nvcc of the same request
    wall_s: float = 0.0  # from the first nvcc start to the last end
    failures: tuple[str, ...] = ()
    first_start: float | None = None  # perf_counter() of the first nvcc start

    def to_json(self, *, since: float | None = None) -> dict[str, object]:
        """``since``: perf_counter() of the warm's start; adds when the first nvcc started."""
        out = {k: (round(v, 3) if isinstance(v, float) else v) for k, v in vars(self).items()}
        out["failures"] = list(self.failures)
        first = out.pop("first_start")
        if since is not None and first is not None:
            out["first_nvcc_s"] = round(self.first_start - since, 3)  # type: ignore[operator]
        return out


def nvcc_release(nvcc: Path | None, *, version_text: str | None = None) -> tuple[int, int] | None:
    """(major, minor) of the nvcc at ``nvcc`` (or of its ``--version`` text), or None if it
    cannot say."""
    text = version_text if version_text is not None else dgenv.nvcc_version_text(nvcc)
    release = dgenv.nvcc_release(text)
    if release is None:
        return None
    major, minor = release.split(".")
    return int(major), int(minor)


def plan_jobs(items: Sequence[WorkItem], renderer: SourceRenderer) -> list[AheadJob]:
    """One job per planned-kernel item the renderer can render, longest first (two items of
    one source share a job)."""
    jobs: dict[str, AheadJob] = {}
    for item in items:
        kernel = item.kernel  # None: a sweep chunk or a captured source
        if kernel is None or item.kernel_key is None or not kernel.template_args:
            continue
        rendered = renderer.render(item.entry.family.value, kernel.template_args)
        if rendered is None:
            continue
        argv = ["<source>.cu", "-cubin", "-o", "<output>", *rendered.flags]
        key = compile_key(rendered.source.encode(), argv)
        if key is None:
            continue
        known = jobs.get(key)
        keys = (*known.kernel_keys, item.kernel_key) if known else (item.kernel_key,)
        jobs[key] = AheadJob(key, rendered.source, rendered.flags, item.est_s, item.label, keys)
    return sorted(jobs.values(), key=lambda j: -j.est_s)


def cached_sources(cache_root: Path) -> set[bytes]:
    """The kernel sources already in an upstream-JIT DeepGEMM cache root."""
    out: set[bytes] = set()
    for cu in (cache_root / "cache").glob("kernel.*/kernel.cu"):
        with contextlib.suppress(OSError):
            out.add(cu.read_bytes())
    return out


class AheadCompiler:
    """A thread per job slot, each running one nvcc at a time into the stage."""

    def __init__(
        self,
        jobs: Sequence[AheadJob],
        *,
        stage_dir: Path,
        nvcc: Path,
        slots: int,
        already_cached: int = 0,
        covered: frozenset[str] = frozenset(),
        locks: KernelLocks | None = None,
        shared_dir: Path | None = None,
        nvcc_identity: str = "",
    ) -> None:
        """``locks`` and ``shared_dir``: shared with other warms of the cache root (None: this
        warm alone); ``nvcc_identity`` (its ``--version`` text) names the requests there, so
        warms with different compilers never take each other's cubins."""
        self.jobs = list(jobs)
        self.locks = locks
        self.shared_dir = shared_dir
        self._nvcc_identity = nvcc_identity
        self._results: dict[str, str] = {}  # job key -> "compiled" | "elsewhere" | "failed"
        # kernel keys of items whose kernel is compiled here or was in the cache already
        self.covered = covered | {k for j in self.jobs for k in j.kernel_keys}
        self.stage = Stage(stage_dir)
        self.nvcc = nvcc
        self.slots = max(1, slots)
        self.stats = AheadStats(planned=len(self.jobs), already_cached=already_cached)
        self._lock = threading.Lock()
        self._running: set[subprocess.Popen[bytes]] = set()
        self._stopping = False
        self._pool: ThreadPoolExecutor | None = None
        self._first_start: float | None = None
        self._last_end: float | None = None

    @classmethod
    def for_plan(
        cls,
        plan: Plan,
        items: Sequence[WorkItem],
        *,
        cache_root: Path,
        stage_dir: Path,
        slots: int,
        env: Mapping[str, str],
    ) -> AheadCompiler | None:
        """A compiler for what of ``plan`` can be rendered for the installed DeepGEMM, or None
        (another arch or build, a key-changing setting, no nvcc)."""
        effective = {**os.environ, **env}
        if plan.arch != "sm90" or any(v != dgenv.NVCC_VAR for v in dgenv.key_env(effective)):
            return None
        nvcc = dgenv.find_nvcc(effective)
        version = dgenv.nvcc_version_text(nvcc)
        renderer = SourceRenderer.for_install(
            dgenv.deepgemm_dir(), nvcc_release=nvcc_release(nvcc, version_text=version or "")
        )
        if renderer is None or nvcc is None:
            return None
        jobs = plan_jobs(items, renderer)
        cached = cached_sources(cache_root)
        todo = [j for j in jobs if j.source.encode() not in cached]
        if not todo:
            return None
        covered = frozenset(k for j in jobs for k in j.kernel_keys)
        locks = KernelLocks(cache_root, scope="nvcc")
        shared = cache_root / SHARED_DIR
        _remove_old_cubins(shared)
        return cls(
            todo,
            stage_dir=stage_dir,
            nvcc=nvcc,
            slots=slots,
            already_cached=len(jobs) - len(todo),
            covered=covered,
            locks=locks if locks.usable() else None,
            shared_dir=shared,
            nvcc_identity=version or str(nvcc),
        )

    def covers(self, items: Sequence[WorkItem]) -> bool:
        """Whether every item's kernel is compiled here (or was cached): then no worker runs nvcc."""
        return all(i.kernel_key is not None and i.kernel_key in self.covered for i in items)

    def worker_env(self) -> dict[str, str]:
        """What workers set so their DeepGEMM compiles through the stage."""
        return {
            dgenv.NVCC_VAR: str(self.stage.root / "nvcc"),
            STAGE_VAR: str(self.stage.root),
            REAL_NVCC_VAR: str(self.nvcc),
        }

    def start(self) -> None:
        self.write_interposer()
        for job in self.jobs:
            self.stage.plan(job.key)
        self._pool = ThreadPoolExecutor(self.slots, thread_name_prefix="jitwarm-ahead")
        queue = BusyFirstQueue(self.jobs)
        for _ in range(min(self.slots, len(self.jobs))):
            self._pool.submit(self._work_loop, queue)

    def write_interposer(self) -> Path:
        """The stage folder with the hand-over interposer workers run (``worker_env`` names
        it; the stage and the real nvcc come from that environment)."""
        (self.stage.root / "work").mkdir(parents=True, exist_ok=True)
        return write_interposer(self.stage.root, Mode.HAND_OVER)

    def attribution(self) -> dict[str, str]:
        """Work items' kernel keys -> "compiled" (nvcc ran here) or "elsewhere" (another warm's
        nvcc; taken from it), for the jobs that produced a cubin."""
        with self._lock:
            results = dict(self._results)
        return {
            k: results[j.key]
            for j in self.jobs
            if results.get(j.key) in ("compiled", "elsewhere")
            for k in j.kernel_keys
        }

    def request_id(self, job: AheadJob) -> str:
        """The job's name among the warms of this root: its nvcc request and the nvcc."""
        return hashlib.sha256(f"{job.key}\0{self._nvcc_identity}".encode()).hexdigest()

    def _work_loop(self, queue: BusyFirstQueue[AheadJob]) -> None:
        """One slot: jobs in order, a job another warm holds taken last (then most likely
        found compiled there); when the warm stops, what is left fails at once (the interposer
        must never wait on a job nobody will run)."""
        locks = self.locks
        try:
            work_loop(
                queue,
                self.request_id,
                self._compile,
                lambda _job, _result: None,
                try_hold=locks.try_hold if locks is not None else None,
                hold=(lambda rid: locks.hold(rid, abandon=self._is_stopping)) if locks else None,
                stopping=self._is_stopping,
            )
        finally:
            while (left := queue.pop()) is not None:
                self._failed(left[0], "warm stopped")

    def _compile(self, job: AheadJob, held: Hold | None) -> None:
        try:
            if held is not None:
                with self._lock:
                    self.stats.lock_wait_s += held.waited_s
            if self._stopping:
                self._failed(job, "warm stopped")
            elif held is None or not self._take_shared(job):
                self._run_nvcc(job)
        except BaseException as exc:  # the interposer must never wait on a job that died
            self._failed(job, f"{type(exc).__name__}: {exc}")

    def _is_stopping(self) -> bool:
        return self._stopping

    def _shared_cubin(self, job: AheadJob) -> Path | None:
        return (
            None if self.shared_dir is None else self.shared_dir / f"{self.request_id(job)}.cubin"
        )

    def _take_shared(self, job: AheadJob) -> bool:
        """Stage the cubin another warm compiled for this request, if there is one."""
        shared = self._shared_cubin(job)
        if shared is None or not shared.is_file():
            return False
        tmp = self.stage.root / f"{job.key}.cubin.tmp"
        try:
            shutil.copyfile(shared, tmp)
        except OSError:
            return False  # removed meanwhile, or unreadable: compile it here
        os.replace(tmp, self.stage.root / f"{job.key}.cubin")
        with self._lock:
            self.stats.compiled_elsewhere += 1
            self._results[job.key] = "elsewhere"
        return True

    def _share(self, job: AheadJob, cubin: Path) -> None:
        """Leave the cubin for other warms of this root (best effort: they compile it else)."""
        shared = self._shared_cubin(job)
        if shared is None:
            return
        try:
            shared.parent.mkdir(parents=True, exist_ok=True)
            tmp = shared.with_name(f".{shared.name}.{os.getpid()}.tmp")
            shutil.copyfile(cubin, tmp)
            os.replace(tmp, shared)
        except OSError as exc:
            log.debug("could not share %s: %s", job.label, exc)

    def _run_nvcc(self, job: AheadJob) -> None:
        work = self.stage.root / "work" / job.key[:32]
        work.mkdir(parents=True, exist_ok=True)
        source, cubin = work / "kernel.cu", work / "kernel.cubin"
        source.write_text(job.source)
        start = time.perf_counter()
        with self._lock:
            self._first_start = self._first_start or start
        # As DeepGEMM runs it: from a folder of its own, so no file there shadows a header.
        proc = subprocess.Popen(
            [str(self.nvcc), str(source), "-cubin", "-o", str(cubin), *job.flags],
            cwd=work,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            preexec_fn=die_with_parent,  # nvcc ends with this thread
            start_new_session=True,  # its own process group: stop() kills nvcc's children too
        )
        with self._lock:
            self._running.add(proc)
        output, _ = proc.communicate()
        end = time.perf_counter()
        with self._lock:
            self._running.discard(proc)
            self._last_end = end
            self.stats.compile_s += end - start
        if proc.returncode == 0 and cubin.is_file():
            self._share(job, cubin)
            os.replace(cubin, self.stage.root / f"{job.key}.cubin")
            with self._lock:
                self.stats.compiled += 1
                self._results[job.key] = "compiled"
        else:
            self._failed(
                job, f"nvcc exited with {proc.returncode}: {output.decode(errors='replace')[-400:]}"
            )

    def _failed(self, job: AheadJob, reason: str) -> None:
        with contextlib.suppress(OSError):
            self.stage.fail(job.key, reason)
        with self._lock:
            self._results[job.key] = "failed"
            self.stats.failed += 1
            self.stats.failures = (*self.stats.failures, f"{job.label}: {reason}")[:5]
        log.warning(
            "compiling ahead failed for %s (its worker compiles it instead): %s", job.label, reason
        )

    def finish(self) -> AheadStats:
        """Wait for every job (the workers are done by now, so this returns at once unless the
        pool ended early) and count what the workers took."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)
        with self._lock:
            if self._first_start is not None and self._last_end is not None:
                self.stats.wall_s = self._last_end - self._first_start
            self.stats.first_start = self._first_start
        self.stats.handed_over = self.stage.count("used")
        return self.stats

    def stop(self) -> None:
        """Abandon queued jobs and kill running nvcc (the warm was interrupted)."""
        self._stopping = True
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
        with self._lock:
            running = list(self._running)
        for proc in running:
            with contextlib.suppress(OSError):
                os.killpg(proc.pid, signal.SIGKILL)
        for job in self.jobs:  # no interposer may wait for a job that will never run
            if not (self.stage.root / f"{job.key}.cubin").exists():
                with contextlib.suppress(OSError):
                    self.stage.fail(job.key, "warm stopped")


def _remove_old_cubins(shared: Path) -> None:
    """Shared cubins older than ``SHARED_TTL_S``: no running warm wants them any more."""
    cutoff = time.time() - SHARED_TTL_S
    with contextlib.suppress(OSError), os.scandir(shared) as it:
        for entry in it:
            with contextlib.suppress(OSError):
                if entry.stat().st_mtime < cutoff:
                    os.unlink(entry.path)
