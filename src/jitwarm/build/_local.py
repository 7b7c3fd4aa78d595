"""Compile build jobs on this machine: one nvcc per slot (default: one per core), longest
first, each kernel staged in ``<root>/tmp/`` and published with one rename as DeepJIT does.

Ctrl-C (or any exception in the caller) kills every running nvcc's process group and removes
the temporary folders of kernels not yet published; published entries stay.
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from queue import Empty, SimpleQueue

from jitwarm.build._compile import SOURCE_FILE, ProcessGroups, run_nvcc
from jitwarm.build._job import BuildJob
from jitwarm.build._publish import is_committed, new_work_dir, publish, write_synced
from jitwarm.build._report import JobResult, JobStatus
from jitwarm.locks import BusyFirstQueue, KernelLocks, TryHold, work_loop

log = logging.getLogger(__name__)

Observer = Callable[[JobResult], None]
# A per-kernel lock by entry name (concurrent builds or warms of one root): held around the
# committed check, the compile and the publish, so a kernel another process is compiling is
# waited for and then found present. Correctness never depends on it (one-rename publish).
KernelHold = Callable[[str], AbstractContextManager[object]]


@dataclass(frozen=True)
class CompileSetup:
    """What every compile of one build shares."""

    nvcc: Path
    include_dir: Path
    root: Path  # writable cache root: staging in tmp/, entries in cache/
    read_roots: tuple[Path, ...] = ()  # read-only roots DeepGEMM also looks in
    timeout_s: float | None = None

    @property
    def all_roots(self) -> tuple[Path, ...]:
        return (self.root, *self.read_roots)


def default_jobs() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


class LocalExecutor:
    name = "local"

    def __init__(
        self,
        jobs: int | None = None,
        *,
        hold: KernelHold | None = None,
        try_hold: TryHold | None = None,
    ) -> None:
        self.jobs = max(1, jobs or default_jobs())
        self.hold = hold
        self.try_hold = try_hold  # with it, a kernel another process holds is done last

    @classmethod
    def for_root(cls, root: Path, jobs: int | None = None) -> LocalExecutor:
        """An executor holding ``root``'s per-kernel locks (the ones warm's local compiles
        take), so concurrent builds and warms of one root compile each entry once."""
        locks = KernelLocks(root)
        if not locks.usable():
            return cls(jobs)
        return cls(jobs, hold=locks.hold, try_hold=locks.try_hold)

    def run(
        self, jobs: Sequence[BuildJob], setup: CompileSetup, *, on_done: Observer | None = None
    ) -> list[JobResult]:
        groups = ProcessGroups()
        queue = BusyFirstQueue(sorted(jobs, key=lambda j: (-j.est_s, j.entry_name)))
        finished: SimpleQueue[JobResult | BaseException] = SimpleQueue()

        def work(job: BuildJob, _held: object) -> JobResult:
            if groups.stopping:
                return job_result(job, JobStatus.CANCELLED, reason="build interrupted")
            return _compile_unlocked(job, setup, groups)

        def loop() -> None:
            try:
                work_loop(
                    queue,
                    lambda j: j.entry_name,
                    work,
                    lambda _job, result: finished.put(result),
                    try_hold=self.try_hold,
                    hold=self.hold,
                    stopping=lambda: groups.stopping,
                )
            except BaseException as exc:  # surfaces in the caller's thread
                finished.put(exc)

        threads = [
            threading.Thread(target=loop, name=f"jitwarm-nvcc-{i}", daemon=True)
            for i in range(min(self.jobs, len(jobs)))
        ]
        results: list[JobResult] = []
        try:
            for t in threads:
                t.start()
            while len(results) < len(jobs):
                try:
                    got = finished.get(timeout=0.5)  # a timed wait lets Ctrl-C in
                except Empty:
                    continue
                if isinstance(got, BaseException):
                    raise got
                results.append(got)
                if on_done is not None:
                    on_done(got)
        except BaseException:
            groups.kill_all()
            for t in threads:  # nvcc is dead: each ends its job (or its lock wait) soon
                t.join(timeout=10)
            raise
        for t in threads:
            t.join()
        return results


def _compile_unlocked(job: BuildJob, setup: CompileSetup, groups: ProcessGroups) -> JobResult:
    if is_committed(setup.all_roots, job.entry_name):
        return job_result(job, JobStatus.PRESENT)
    work = new_work_dir(setup.root)
    try:
        write_synced(work / SOURCE_FILE, job.source)
        run = run_nvcc(
            setup.nvcc, work, job.flags, setup.include_dir, groups=groups, timeout_s=setup.timeout_s
        )
        if not run.ok:
            status = JobStatus.CANCELLED if groups.stopping else JobStatus.FAILED
            return job_result(job, status, run.seconds, run.reason)
        return stage_and_publish(job, setup, work, run.seconds)
    except Exception as exc:  # one kernel's failure never stops the others
        log.debug("build job %s failed", job.entry_name, exc_info=True)
        return job_result(job, JobStatus.FAILED, reason=f"{type(exc).__name__}: {exc}")
    finally:
        shutil.rmtree(work, ignore_errors=True)  # gone already once published


def stage_and_publish(job: BuildJob, setup: CompileSetup, work: Path, seconds: float) -> JobResult:
    """``work`` holds kernel.cu and kernel.cubin: add meta.json, then commit (DeepJIT's order)."""
    write_synced(work / "meta.json", job.meta_json(work))
    published = publish(work, setup.root, job.entry_name)
    return job_result(job, JobStatus.COMPILED if published else JobStatus.PRESENT, seconds)


def job_result(
    job: BuildJob, status: JobStatus, seconds: float = 0.0, reason: str = ""
) -> JobResult:
    return JobResult(job.entry_name, job.label, job.family, status, round(seconds, 3), reason)
