"""Compile build jobs on this machine: one nvcc per slot (default: one per core), longest
first, each kernel staged in ``<root>/tmp/`` and published with one rename as DeepJIT does.

Ctrl-C (or any exception in the caller) kills every running nvcc's process group and removes
the temporary folders of kernels not yet published; published entries stay.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

from jitwarm.build._compile import SOURCE_FILE, ProcessGroups, run_nvcc
from jitwarm.build._job import BuildJob
from jitwarm.build._publish import is_committed, new_work_dir, publish, write_synced
from jitwarm.build._report import JobResult, JobStatus

log = logging.getLogger(__name__)

Observer = Callable[[JobResult], None]


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

    def __init__(self, jobs: int | None = None) -> None:
        self.jobs = max(1, jobs or default_jobs())

    def run(
        self, jobs: Sequence[BuildJob], setup: CompileSetup, *, on_done: Observer | None = None
    ) -> list[JobResult]:
        groups = ProcessGroups()
        ordered = sorted(jobs, key=lambda j: (-j.est_s, j.entry_name))
        results: list[JobResult] = []
        pool = ThreadPoolExecutor(self.jobs, thread_name_prefix="jitwarm-nvcc")
        futures: dict[Future[JobResult], BuildJob] = {}
        try:
            for job in ordered:  # the pool's queue is FIFO: longest first
                futures[pool.submit(compile_job, job, setup, groups)] = job
            pending = set(futures)
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for fut in done:
                    result = fut.result()
                    results.append(result)
                    if on_done is not None:
                        on_done(result)
        except BaseException:
            groups.kill_all()
            pool.shutdown(wait=True, cancel_futures=True)
            raise
        pool.shutdown(wait=True)
        return results


def compile_job(job: BuildJob, setup: CompileSetup, groups: ProcessGroups) -> JobResult:
    """Stage, compile and publish one entry (or find it committed already)."""
    if groups.stopping:
        return job_result(job, JobStatus.CANCELLED, reason="build interrupted")
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


def job_result(job: BuildJob, status: str, seconds: float = 0.0, reason: str = "") -> JobResult:
    return JobResult(job.entry_name, job.label, job.family, status, round(seconds, 3), reason)
