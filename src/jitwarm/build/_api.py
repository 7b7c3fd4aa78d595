"""``build_cache``: a plan's kernels rendered, keyed and compiled for a DeepGEMM build on a
machine with nvcc and no GPU, published in that build's cache layout, optionally bundled.

plan -> render (jitwarm.deepjit) -> jobs -> shard -> executor (local / Ray) -> report
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from jitwarm.build._job import BuildJob
from jitwarm.build._local import CompileSetup, LocalExecutor, Observer
from jitwarm.build._nvcc import Nvcc, nvcc_arch
from jitwarm.build._report import BuildReport, JobResult
from jitwarm.build._shard import Shard, shard_jobs
from jitwarm.build._target import TargetBuild
from jitwarm.dgenv import CacheRoots, Layout, resolve_cache_roots
from jitwarm.errors import BuildError
from jitwarm.plan import Plan
from jitwarm.profiles import BuildMismatchError

log = logging.getLogger(__name__)


class Executor(Protocol):
    name: str
    jobs: int

    def run(
        self, jobs: Sequence[BuildJob], setup: CompileSetup, *, on_done: Observer | None = None
    ) -> list[JobResult]: ...


@dataclass(frozen=True)
class PreparedBuild:
    """Everything decided before the first compile: what to build and where."""

    plan: Plan
    target: TargetBuild
    nvcc: Nvcc
    roots: CacheRoots
    jobs: list[BuildJob]  # this shard's
    total_jobs: int  # over all shards
    shard: Shard | None
    render_s: float
    notes: tuple[str, ...] = ()  # what of the plan is not built here, and why


def prepare_build(
    plan: Plan,
    target: TargetBuild,
    nvcc: Nvcc,
    *,
    cache_dir: str | Path | None = None,
    shard: Shard | None = None,
    render: Callable[[Plan, TargetBuild, Nvcc], list[BuildJob]] | None = None,
) -> PreparedBuild:
    """Check the plan against the build, render every kernel and pick this shard's."""
    if plan.build is not None and plan.build != target.profile.name:
        raise BuildMismatchError(
            "the plan",
            plan.build,
            target.profile.name,
            "plan with the target's build (jitwarm build --model ... --target ...), or pass "
            "--target for the plan's build",
        )
    arch = _deepjit_target(target, plan.arch)
    start = time.perf_counter()
    notes: tuple[str, ...] = ()
    if render is None:
        from jitwarm.build._render import plan_build_jobs, unbuilt_notes

        render = plan_build_jobs
        notes = tuple(unbuilt_notes(plan, target))
    jobs = render(plan, target, nvcc)
    render_s = time.perf_counter() - start
    wrong = [j for j in jobs if f"--gpu-architecture={arch}" not in j.flags]
    if wrong:
        raise BuildError(f"{wrong[0].entry_name}: rendered for another arch than {arch}")
    roots = resolve_cache_roots(cache_dir, layout=Layout.DEEPJIT)
    mine = shard_jobs(jobs, shard)
    return PreparedBuild(
        plan, target, nvcc, roots, mine, len({j.entry_name for j in jobs}), shard, render_s, notes
    )


def _deepjit_target(target: TargetBuild, arch: str) -> str:
    """The ``--gpu-architecture`` the build's DeepJIT compiles ``arch`` for: its profile's
    (``sm_90a``; an arch family from sm100 on, ``sm_100f``), else the arch-specific one."""
    flags = target.profile.deepjit_flags
    name = flags.arch_name(arch) if flags is not None else None
    return f"sm_{name}" if name is not None else nvcc_arch(arch)


def run_build(
    prepared: PreparedBuild,
    *,
    executor: Executor | None = None,
    on_done: Observer | None = None,
    timeout_s: float | None = None,
) -> BuildReport:
    """Compile and publish every job of ``prepared``; already committed entries are skipped."""
    p = prepared
    executor = executor or LocalExecutor.for_root(p.roots.writable)
    setup = CompileSetup(
        nvcc=p.nvcc.path,
        include_dir=p.target.include_dir,
        root=p.roots.writable,
        read_roots=p.roots.read_only,
        timeout_s=timeout_s,
    )
    start = time.perf_counter()
    results = executor.run(p.jobs, setup, on_done=on_done)
    wall = time.perf_counter() - start
    _record_provenance(p)
    notes = list(p.notes)
    return BuildReport(
        profile=p.target.profile.name,
        distribution=p.target.distribution,
        version=p.target.version,
        arch=p.plan.arch,
        num_sms=p.plan.num_sms,
        nvcc_path=str(p.nvcc.path),
        nvcc_version_text=p.nvcc.version_text,
        cache_root=str(p.roots.writable),
        plan_digest=p.plan.digest(),
        jobs=executor.jobs,
        executor=executor.name,
        shard=str(p.shard) if p.shard else None,
        planned=len(p.jobs),
        wall_s=wall,
        results=sorted(results, key=lambda r: r.entry_name),
        render_s=round(p.render_s, 3),
        notes=notes,
    )


def _record_provenance(p: PreparedBuild) -> None:
    """What built the root's kernels, where ``jitwarm doctor`` looks (as warm leaves it)."""
    from jitwarm.build._provenance import build_provenance
    from jitwarm.bundle import write_cache_provenance

    try:
        write_cache_provenance(p.roots.writable, build_provenance(p.plan, p.target, p.nvcc))
    except OSError as exc:
        log.warning("could not record provenance in %s: %s", p.roots.writable, exc)


def build_cache(
    plan: Plan,
    target: TargetBuild,
    nvcc: Nvcc,
    *,
    cache_dir: str | Path | None = None,
    jobs: int | None = None,
    shard: Shard | None = None,
    executor: Executor | None = None,
    bundle: Path | None = None,
    on_done: Observer | None = None,
) -> BuildReport:
    """Render, compile and publish ``plan`` for ``target``; with ``bundle``, also export this
    shard's entries as a bundle whose provenance names the build."""
    prepared = prepare_build(plan, target, nvcc, cache_dir=cache_dir, shard=shard)
    executor = executor or LocalExecutor.for_root(prepared.roots.writable, jobs)
    report = run_build(prepared, executor=executor, on_done=on_done)
    if bundle is not None and report.ok:
        export_build_bundle(prepared, bundle)
        report.bundle = str(bundle)
    return report


def export_build_bundle(prepared: PreparedBuild, out: Path) -> Path:
    """This shard's committed entries as a bundle with the build's provenance."""
    from jitwarm.build._provenance import build_provenance
    from jitwarm.bundle import export_bundle
    from jitwarm.cache import scan_cache
    from jitwarm.plan import jitwarm_version

    p = prepared
    info = scan_cache(p.roots, layout=Layout.DEEPJIT)
    names = {j.entry_name for j in p.jobs}
    result = export_bundle(
        info,
        out,
        provenance=build_provenance(p.plan, p.target, p.nvcc),
        plan=p.plan,
        only=names,
        jitwarm_version=jitwarm_version(),
    )
    missing = names - {e.name for e in result.manifest.entries}
    if missing:
        raise BuildError(
            f"{out}: {len(missing)} built entries are not healthy in {p.roots.writable} "
            f"(e.g. {sorted(missing)[0]}); run `jitwarm cache check`"
        )
    return out
