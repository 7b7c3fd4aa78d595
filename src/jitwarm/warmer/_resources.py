"""GPUs, cores and memory: how many workers, and which GPU each one sees.

Found without torch: ``CUDA_VISIBLE_DEVICES`` when set (honoured as given, UUIDs too), else
``nvidia-smi``. Each worker gets one visible device, round-robin.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from jitwarm.plan import CallSize, Plan, PlanEntry, spec

# GPU memory a worker holds besides its tensors: CUDA context, allocator slack, loaded cubins.
WORKER_BASE_MIB = 1024
# nvcc on a DeepGEMM kernel peaks near this much host memory.
NVCC_HOST_MIB = 2048


@dataclass(frozen=True)
class GpuInfo:
    device: str  # what to put in CUDA_VISIBLE_DEVICES
    free_mib: int | None


def visible_gpus(env: Mapping[str, str] | None = None) -> list[GpuInfo]:
    """GPUs workers may use. An existing CUDA_VISIBLE_DEVICES is honoured as given."""
    env = os.environ if env is None else env
    queried = _query_nvidia_smi()
    if "CUDA_VISIBLE_DEVICES" in env:
        devices = [d.strip() for d in env["CUDA_VISIBLE_DEVICES"].split(",") if d.strip()]
        by_index = {g.device: g.free_mib for g in queried}
        return [GpuInfo(d, by_index.get(d)) for d in devices]
    return queried


def _query_nvidia_smi() -> list[GpuInfo]:
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return []
    try:
        done = subprocess.run(
            [exe, "--query-gpu=index,memory.free", "--format=csv,noheader,nounits"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return []
    out = []
    for line in done.stdout.splitlines() if done.returncode == 0 else []:
        parts = [p.strip() for p in line.split(",")]
        if len(parts) == 2 and parts[0].isdigit():
            out.append(GpuInfo(parts[0], int(parts[1]) if parts[1].isdigit() else None))
    return out


def usable_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def host_memory_mib() -> int | None:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // (1 << 20)
    except (ValueError, OSError, AttributeError):
        return None


def call_bytes(entry: PlanEntry, m: int) -> int:
    """Rough bytes of the tensors one call at ``m`` allocates (inputs, output, scales), by how
    the family's call grows with M (its registry entry's ``call_size``)."""
    n, k, g = entry.n, entry.k, entry.num_groups
    size = spec(entry.family).call_size
    if size is CallSize.MASKED:
        rows = max(128, -(-m // 128) * 128)
        return g * (rows * k + n * k + 2 * rows * n)
    if size is CallSize.CONTIGUOUS:
        return m * k + g * n * k + 2 * m * n
    if size is CallSize.BATCHED:
        return g * (m * k + n * k + 2 * m * n)
    if size is CallSize.HC_PRENORM:
        return 2 * m * k + 4 * n * k + 4 * m * n * entry.dims.get("num_splits", 1)
    if size is CallSize.MQA_LOGITS:
        heads, dim = entry.dims.get("heads", 64), entry.dims.get("head_dim", 128)
        return m * heads * dim + m * dim + 4 * m * (m + 512)
    if size is CallSize.PAGED_MQA_LOGITS:
        heads, dim = entry.dims.get("heads", 64), entry.dims.get("head_dim", 128)
        return m * heads * dim * 2 + m * 1024 * (dim + 4)
    return m * k + n * k + 2 * m * n


def worker_mib(plan: Plan) -> int:
    """GPU memory one worker may need: the largest call of the plan plus the base."""
    biggest = max((call_bytes(e, e.mset.max) for e in plan.entries if e.m_values), default=0)
    return WORKER_BASE_MIB + int(biggest * 1.25) // (1 << 20)


def default_jobs(
    num_items: int,
    *,
    cpus: int,
    gpus: Sequence[GpuInfo],
    per_worker_mib: int,
    host_mib: int | None = None,
) -> int:
    """Workers to start: one per core, fewer if GPU or host memory cannot hold them, never more
    than there are items."""
    jobs = max(1, cpus)
    free = [g.free_mib for g in gpus]
    if free and all(f is not None for f in free):
        jobs = min(jobs, max(len(gpus), sum(f // max(1, per_worker_mib) for f in free)))  # type: ignore[operator]
    if host_mib:
        jobs = min(jobs, max(1, host_mib // NVCC_HOST_MIB))
    return max(1, min(jobs, num_items))


def assign_devices(jobs: int, gpus: Sequence[GpuInfo]) -> list[str | None]:
    """The CUDA_VISIBLE_DEVICES of each worker: round-robin over the GPUs (None: leave unset)."""
    if not gpus:
        return [None] * jobs
    return [gpus[i % len(gpus)].device for i in range(jobs)]
