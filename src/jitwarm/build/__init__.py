"""GPU-free cache builds: render, key and compile a plan's DeepGEMM kernels on a machine with
nvcc and no GPU, publish them in the build's own cache layout, shard over machines or a Ray
cluster, and ship them as bundles. Imports neither torch nor deep_gemm; needs no CUDA driver.

target = resolve_target("tokenspeed-deepgemm==<version>")  # a profiled build, or a wheel
nvcc = probe_nvcc(arch=plan.arch)
report = build_cache(plan, target, nvcc, cache_dir="/cache/dj", bundle=Path("v3.tar.gz"))
"""

from jitwarm.build._api import (
    Executor,
    PreparedBuild,
    build_cache,
    export_build_bundle,
    prepare_build,
    run_build,
)
from jitwarm.build._compile import NvccRun, nvcc_command, run_nvcc
from jitwarm.build._job import BuildJob
from jitwarm.build._local import CompileSetup, KernelHold, LocalExecutor, default_jobs
from jitwarm.build._nvcc import MIN_RELEASE, Nvcc, nvcc_arch, probe_nvcc
from jitwarm.build._provenance import NOT_VERIFIED, build_provenance
from jitwarm.build._publish import is_committed
from jitwarm.build._ray import RayExecutor
from jitwarm.build._render import job_from_source
from jitwarm.build._report import BuildReport, FamilyCounts, JobResult, JobStatus
from jitwarm.build._shard import Shard, shard_jobs, split_jobs
from jitwarm.build._target import INSTALLED, TargetBuild, resolve_target
from jitwarm.errors import BuildError, NvccError, TargetError

__all__ = [
    "INSTALLED",
    "MIN_RELEASE",
    "NOT_VERIFIED",
    "BuildError",
    "BuildJob",
    "BuildReport",
    "CompileSetup",
    "Executor",
    "FamilyCounts",
    "JobResult",
    "JobStatus",
    "KernelHold",
    "LocalExecutor",
    "Nvcc",
    "NvccError",
    "NvccRun",
    "PreparedBuild",
    "RayExecutor",
    "Shard",
    "TargetBuild",
    "TargetError",
    "build_cache",
    "build_provenance",
    "default_jobs",
    "export_build_bundle",
    "is_committed",
    "job_from_source",
    "nvcc_arch",
    "nvcc_command",
    "prepare_build",
    "probe_nvcc",
    "resolve_target",
    "run_build",
    "run_nvcc",
    "shard_jobs",
    "split_jobs",
]
