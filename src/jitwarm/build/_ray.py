"""Compile build jobs as Ray tasks on an existing cluster (``pip install 'jitwarm[ray]'``).

Each task gets the kernel source, its flags and the build's headers (put in Ray's object store
once, unpacked once per node into a private temp folder) and runs nvcc on its node, which needs
the same nvcc build (its version text is in every key: the task checks it). The cubin comes
back to this process, which stages and publishes the entry exactly as the local executor does,
so the cache is only ever written here.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import shutil
import tarfile
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from jitwarm.build._compile import CUBIN_FILE, SOURCE_FILE, run_nvcc
from jitwarm.build._job import BuildJob
from jitwarm.build._local import CompileSetup, Observer, job_result, stage_and_publish
from jitwarm.build._publish import is_committed, new_work_dir, write_synced
from jitwarm.build._report import JobResult, JobStatus
from jitwarm.errors import BuildError, UsageError


def _import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise UsageError(
            "--ray needs Ray: pip install 'jitwarm[ray]' (or pip install ray)"
        ) from None
    return ray


def pack_headers(include_dir: Path) -> bytes:
    """The include folder as a gzip tar (what every node needs to compile)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz", compresslevel=3) as tar:
        tar.add(include_dir, arcname="include")
    return buf.getvalue()


def _node_headers(blob: bytes, digest: str) -> Path:
    """Unpack the headers once per node (private folder, then one rename)."""
    base = Path(tempfile.gettempdir()) / "jitwarm-ray-headers"
    dest = base / digest
    if (dest / "include").is_dir():
        return dest / "include"
    base.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{digest[:12]}.", dir=base))
    try:
        with tarfile.open(fileobj=io.BytesIO(blob), mode="r:gz") as tar:
            if hasattr(tarfile, "data_filter"):  # our own tar (pack_headers); filter when we can
                tar.extractall(tmp, filter="data")
            else:
                tar.extractall(tmp)
        with contextlib.suppress(OSError):  # another task on this node unpacked them first
            os.rename(tmp, dest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return dest / "include"


def compile_remote(
    source: str, flags: Sequence[str], nvcc: str, version_text: str, blob: bytes, digest: str
) -> tuple[bool, bytes, float, str]:
    """Body of one Ray task: (ok, cubin, nvcc seconds, output or reason)."""
    import subprocess

    try:
        here = subprocess.run([nvcc, "--version"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError) as exc:
        return False, b"", 0.0, f"no nvcc at {nvcc} on this node ({exc})"
    if here.stdout != version_text:
        return (
            False,
            b"",
            0.0,
            f"nvcc at {nvcc} on this node is another build (its --version differs)",
        )
    include = _node_headers(blob, digest)
    work = Path(tempfile.mkdtemp(prefix="jitwarm-ray-"))
    try:
        write_synced(work / SOURCE_FILE, source)
        run = run_nvcc(Path(nvcc), work, flags, include)
        if not run.ok:
            return False, b"", run.seconds, run.reason
        return True, (work / CUBIN_FILE).read_bytes(), run.seconds, ""
    finally:
        shutil.rmtree(work, ignore_errors=True)


class RayExecutor:
    name = "ray"

    def __init__(
        self, address: str = "auto", *, version_text: str, init_kwargs: dict | None = None
    ) -> None:
        self.address = address
        self.version_text = version_text
        self.init_kwargs = init_kwargs or {}
        self.jobs = 0  # cluster CPUs, known once connected

    def run(
        self, jobs: Sequence[BuildJob], setup: CompileSetup, *, on_done: Observer | None = None
    ) -> list[JobResult]:
        ray = _import_ray()
        if not ray.is_initialized():
            try:
                ray.init(address=self.address, **self.init_kwargs)
            except Exception as exc:  # ConnectionError, or Ray's own errors
                raise BuildError(f"--ray {self.address}: cannot connect ({exc})") from None
        self.jobs = int(ray.cluster_resources().get("CPU", 0))
        results: list[JobResult] = []
        todo = []
        for job in sorted(jobs, key=lambda j: (-j.est_s, j.entry_name)):
            if is_committed(setup.all_roots, job.entry_name):
                results.append(job_result(job, JobStatus.PRESENT))
                if on_done:
                    on_done(results[-1])
            else:
                todo.append(job)
        if not todo:
            return results
        blob = pack_headers(setup.include_dir)
        digest = hashlib.sha256(blob).hexdigest()
        blob_ref = ray.put(blob)
        task = ray.remote(num_cpus=1, max_retries=1)(compile_remote)
        refs = {
            task.remote(j.source, j.flags, str(setup.nvcc), self.version_text, blob_ref, digest): j
            for j in todo
        }
        pending = list(refs)
        try:
            while pending:
                done, pending = ray.wait(pending, num_returns=1)
                for ref in done:
                    job = refs[ref]
                    result = self._finish(ray, ref, job, setup)
                    results.append(result)
                    if on_done:
                        on_done(result)
        except BaseException:
            for ref in pending:
                ray.cancel(ref, force=True)
            raise
        return results

    def _finish(self, ray: Any, ref: Any, job: BuildJob, setup: CompileSetup) -> JobResult:
        try:
            ok, cubin, seconds, reason = ray.get(ref)
        except Exception as exc:
            return job_result(
                job, JobStatus.FAILED, reason=f"Ray task failed: {type(exc).__name__}: {exc}"
            )
        if not ok:
            return job_result(job, JobStatus.FAILED, seconds, reason)
        work = new_work_dir(setup.root)
        try:
            write_synced(work / SOURCE_FILE, job.source)
            write_synced(work / CUBIN_FILE, cubin)
            return stage_and_publish(job, setup, work, seconds)
        finally:
            shutil.rmtree(work, ignore_errors=True)
