"""``verify_plan(plan)``: prove a cache covers every planned call, compiling nothing.

Every reachable M of every plan entry is called through DeepGEMM (warm's worker pool, one
calling thread per process) with ``DG_JIT_NVCC_COMPILER`` pointing at a stand-in compiler: a
call whose kernels are cached runs, a call that needs a missing kernel raises and names it.
The cache root is snapshotted before and after: it must not change.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from jitwarm import dgenv
from jitwarm.errors import NoNvccError, VerifyUsageError
from jitwarm.gpu_host import require_gpu_host
from jitwarm.interposer import Mode, write_interposer
from jitwarm.plan import Plan
from jitwarm.profiles import resolve_cache_roots
from jitwarm.verify._backend import CaptureCallsBackend
from jitwarm.verify._calls import CallsProvider, default_calls
from jitwarm.verify._report import VerifyReport, find_calls
from jitwarm.verify._snapshot import CacheSnapshot
from jitwarm.warmer import (
    PRINT_COMPILES_VAR,
    GpuInfo,
    ItemMode,
    PlanSettings,
    PoolObserver,
    PoolSpec,
    WorkItem,
    assign_devices,
    run_pool,
    sweep_items,
    visible_gpus,
    worker_env,
)

log = logging.getLogger(__name__)


# Calls per work item: small enough to spread an entry over workers and show progress.
CALLS_PER_ITEM = 512


def verify_items(plan: Plan, *, jobs: int) -> list[WorkItem]:
    """Every reachable M of every entry, cut into items of about CALLS_PER_ITEM calls."""
    items: list[WorkItem] = []
    for entry in plan.entries:
        ms = list(entry.mset)
        parts = max(jobs, -(-len(ms) // CALLS_PER_ITEM))
        items += sweep_items(entry, ms, parts=parts, first_id=len(items), mode=ItemMode.CAPTURE)
    return items


def verify_plan(
    plan: Plan,
    *,
    cache_dir: str | os.PathLike[str] | None = None,
    jobs: int | None = None,
    devices: Sequence[str] | None = None,
    real_nvcc: Path | None = None,
    allow_key_changing_env: bool = False,
    calls: CallsProvider | None = None,
    progress: bool = False,
) -> VerifyReport:
    """Call every planned (entry, M) against the cache at ``cache_dir`` (else
    ``DG_JIT_CACHE_DIR``, else DeepGEMM's default root) without compiling anything.

    ``real_nvcc``: the nvcc the server runs (default: the one DeepGEMM would find), which the
    stand-in imitates. ``jobs``: worker processes (default: one per visible GPU).
    ``calls``: what the workers call DeepGEMM through (default: the registered one, DeepGEMM's;
    see :mod:`jitwarm.verify._calls`). ``progress``: a progress bar on stderr (the CLI's
    choice; the library is silent by default).
    """
    started = time.perf_counter()
    if jobs is not None and jobs < 1:
        raise VerifyUsageError(f"--jobs must be >= 1, got {jobs}")
    calls = calls if calls is not None else default_calls()
    if getattr(calls, "requires_gpu_host", False):
        require_gpu_host("verify", devices=devices)  # before anything is created
    cache_root = resolve_cache_roots(cache_dir).writable
    # The whole current environment: pool workers fork from a server that may have started
    # under an older one (an earlier call in this process).
    env = {
        **os.environ,
        **worker_env(plan, cache_root=cache_root, allow_key_changing_env=allow_key_changing_env),
    }
    env.pop(PRINT_COMPILES_VAR, None)  # warm's compile signal; verify compiles nothing
    gpus = [GpuInfo(d, None) for d in devices] if devices is not None else visible_gpus()
    jobs = jobs or max(1, len(gpus))
    existed = {p: p.exists() for p in (cache_root, cache_root / "tmp")}
    before = CacheSnapshot.take(cache_root)
    workdir = Path(tempfile.mkdtemp(prefix="jitwarm-verify-"))
    try:
        real = real_nvcc or dgenv.find_nvcc({**os.environ, **plan.jit_env})
        if dgenv.nvcc_version_text(real) is None:
            raise NoNvccError(
                f"no working nvcc ({real or 'none found'}): verify's stand-in compiler answers "
                "--version with the nvcc the server runs; pass --nvcc or set CUDA_HOME",
                nvcc=real,
            )
        assert real is not None
        standin = write_interposer(workdir / "standin", Mode.CAPTURE, real_nvcc=real)
        env[dgenv.NVCC_VAR] = str(standin)
        backend = CaptureCallsBackend(calls=calls, standin=standin, workdir=workdir)
        backend.sources_dir.mkdir()
        items = verify_items(plan, jobs=jobs)
        spec = PoolSpec(
            settings=PlanSettings.of(plan),
            env=env,
            cache_root=cache_root,
            log_dir=workdir,
            backend=backend,
        )
        devs = assign_devices(min(jobs, len(items)) or 1, gpus)
        with contextlib.ExitStack() as stack:
            observer: PoolObserver | None = None
            if progress and items:
                from jitwarm.warmer import ProgressBar

                observer = stack.enter_context(ProgressBar(len(items), description="verifying"))
            outcomes = run_pool(items, spec, devs, observer=observer)
        findings = find_calls(items, outcomes, sources_dir=backend.sources_dir)
    finally:
        _tidy(cache_root, existed, workdir / "sources")
        if not os.environ.get("JITWARM_KEEP_LOGS"):
            shutil.rmtree(workdir, ignore_errors=True)
    after = CacheSnapshot.take(cache_root)
    report = VerifyReport(
        plan_digest=plan.digest(),
        cache_root=str(cache_root),
        jobs=jobs,
        findings=findings,
        cache_changes=tuple(after.changes_since(before)),
        cache_entries=len(after.entries),
        wall_s=time.perf_counter() - started,
    )
    if report.cache_changes:
        log.error("the cache changed during verify: %s", "; ".join(report.cache_changes[:5]))
    return report


def _tidy(root: Path, existed: dict[Path, bool], sources: Path) -> None:
    """Remove what failed stand-in compiles can leave behind (a worker killed between its call
    and its clean-up): ``tmp/<uuid>/`` folders holding only a ``kernel.cu`` whose source verify
    captured, and the ``tmp/`` folder and the root themselves when verify created them."""
    tmp = root / "tmp"
    captured = {p.stem for p in sources.glob("*.cu")} if sources.is_dir() else set()
    with contextlib.suppress(OSError):
        for folder in tmp.iterdir():
            with contextlib.suppress(OSError):
                if sorted(os.listdir(folder)) != ["kernel.cu"]:
                    continue
                digest = hashlib.sha256((folder / "kernel.cu").read_bytes()).hexdigest()
                if digest in captured:
                    shutil.rmtree(folder, ignore_errors=True)
    for path in (tmp, root):
        if not existed[path]:
            with contextlib.suppress(OSError):
                path.rmdir()  # only when empty
