"""Warm on a DeepJIT build as a local, GPU-free build first (issue 13 item 6, issue 15 item 4).

When the build warm targets (the detected or ``--deepgemm`` build) is a DeepJIT build whose
kernel families jitwarm renders (``BuildProfile.rendered_families``), warm first renders every
planned kernel's source, flags and entry name on the CPU (``jitwarm.deepjit``) and looks each
entry up under the cache roots (``DG_JIT_CACHE_DIR``, read-only roots included; a hit needs
``.committed``, as DeepJIT's). What is missing is compiled in warm's own process by
``jitwarm.build``'s local executor (nvcc, one per core, longest first) and published straight
into the writable root in DeepJIT's layout (kernel.cu, kernel.cubin, meta.json, ``.committed``,
one rename). Worker processes (torch + DeepGEMM) then run only for the plan items no rendered
kernel covers: sweep entries, families the profile does not render, kernels a port refuses.
With everything covered and present, warm starts no worker and imports no torch.

DeepGEMM stays the authority on loading: a server's DeepGEMM looks every kernel up under the
key it computes itself from the source it generates. A rendered source that disagrees with the
library's (a port bug, a build its profile misdescribes) has another key, so its entry is never
loaded: it is a miss at ``jitwarm verify`` time (verify runs every planned call against the
cache with a stand-in compiler and proves the cache complete on the GPU), never a corrupt cache.
Nothing here writes under a key DeepGEMM would compute for a different source.

Locks: :func:`compile_missing` takes ``hold`` (entry name -> context manager), which the
executor holds around each kernel's committed check, compile and publish; warm passes
``jitwarm.locks.KernelLocks.hold`` of the writable root, so concurrent warms of one root compile
each entry once and the others find it committed (reported as already cached). Without locks
(a root where none can be made) two warms may both compile it: DeepJIT's one-rename publish
keeps that safe, only wasted.

A local nvcc failure fails its items (the report gives nvcc's error line); DeepGEMM's own nvcc
would run the same source and flags, so the workers are not asked again (``--no-ahead`` makes
them compile everything).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jitwarm import dgenv
from jitwarm.dgenv import CacheRoots, Layout
from jitwarm.errors import JitwarmError
from jitwarm.plan import Plan
from jitwarm.profiles import DetectedBuild, JitGeneration
from jitwarm.warmer._backend import CallOutcome, ItemOutcome
from jitwarm.warmer._items import WorkItem, kernel_key
from jitwarm.warmer._report import DeepJitLocalSummary, ToWorkers

if TYPE_CHECKING:
    from jitwarm.build import BuildJob, JobResult, KernelHold, Nvcc, TargetBuild
    from jitwarm.locks import TryHold

log = logging.getLogger(__name__)

KIND = DeepJitLocalSummary.KIND  # the report's ``ahead.kind`` for this step
LOCAL_WORKER = -1  # the worker id in report rows of items built in warm's own process


@dataclass(frozen=True)
class LocalBuild:
    """What the CPU decided before any compile: every rendered entry, which of them are
    committed under the roots already, and which work items (by kernel key) they serve."""

    target: TargetBuild
    nvcc: Nvcc
    roots: CacheRoots
    jobs: tuple[BuildJob, ...]  # one per rendered entry, plan order
    present: frozenset[str]  # entry names committed in some root
    entry_of: Mapping[str, str]  # work item kernel key -> entry name
    gaps: Mapping[str, str]  # work item kernel key or entry key -> why it was not rendered
    render_s: float

    @property
    def missing(self) -> list[BuildJob]:
        return [j for j in self.jobs if j.entry_name not in self.present]

    def covers(self, item: WorkItem) -> bool:
        return item.kernel_key is not None and item.kernel_key in self.entry_of

    def split(self, items: Sequence[WorkItem]) -> tuple[list[WorkItem], list[WorkItem]]:
        """(items a rendered kernel serves, items left for the workers)."""
        covered = [i for i in items if self.covers(i)]
        return covered, [i for i in items if not self.covers(i)]

    def why_not(self, item: WorkItem) -> str:
        """Why ``item`` goes to the workers."""
        return self.gaps.get(item.kernel_key or "") or self.gaps.get(
            item.entry_key, "not rendered for this build"
        )


@dataclass
class LocalResult:
    """What the local step did: per entry, plus the items it served and those it did not."""

    build: LocalBuild
    results: dict[str, JobResult] = field(default_factory=dict)  # by entry name
    wall_s: float = 0.0
    nvcc_jobs: int = 0
    covered: list[WorkItem] = field(default_factory=list)
    to_workers: list[WorkItem] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(1 for r in self.results.values() if r.status == status)

    def outcomes(self, items: Sequence[WorkItem]) -> dict[int, ItemOutcome]:
        """An outcome per covered item, as a worker would report it: the first item of an
        entry compiled here counts the compile, the others (and present entries) are cached;
        a failed compile fails every item of its entry."""
        from jitwarm.build import JobStatus

        counted: set[str] = set()
        out: dict[int, ItemOutcome] = {}
        for item in items:
            name = self.build.entry_of[item.kernel_key or ""]
            result = self.results.get(name)
            m = item.ms[0]
            if result is None or result.status == JobStatus.PRESENT:
                call = CallOutcome(m, 0.0)
            elif result.status == JobStatus.COMPILED:
                first = name not in counted
                counted.add(name)
                call = CallOutcome(m, result.compile_s if first else 0.0, compiled=int(first))
            else:
                why = f"local nvcc: {result.reason} (--no-ahead: DeepGEMM's workers compile it)"
                call = CallOutcome(m, result.compile_s, error=why)
            out[item.item_id] = ItemOutcome(item.item_id, LOCAL_WORKER, (call,), call.wall_s)
        return out

    def summary(self) -> DeepJitLocalSummary:
        """The report's ``ahead`` part for this step."""
        from jitwarm.build import JobStatus

        failures = tuple(
            f"{r.label}: {r.reason}"
            for r in self.results.values()
            if r.status in (JobStatus.FAILED, JobStatus.CANCELLED)
        )
        b = self.build
        return DeepJitLocalSummary(
            profile=b.target.profile.name,
            nvcc=str(b.nvcc.path),
            planned=len(b.jobs),
            already_present=len(b.jobs) - len(b.missing),
            compiled=self.count(JobStatus.COMPILED),
            present_at_publish=sum(
                1
                for j in b.missing
                if (r := self.results.get(j.entry_name)) and r.status == JobStatus.PRESENT
            ),
            failed=len(failures),
            failures=failures,
            compile_s=round(sum(r.compile_s for r in self.results.values()), 3),
            wall_s=round(self.wall_s, 3),
            render_s=round(b.render_s, 3),
            nvcc_jobs=self.nvcc_jobs,
            items_covered=len(self.covered),
            items_to_workers=len(self.to_workers),
            to_workers=tuple(ToWorkers(i.label, b.why_not(i)) for i in self.to_workers),
        )


def renders_for(build: DetectedBuild | None) -> bool:
    """Whether warm builds locally first for ``build``: a DeepJIT build with a profile that
    knows its flags and renders some families, installed with its headers."""
    if build is None or not build.found or build.profile is None or build.path is None:
        return False
    p = build.profile
    return (
        p.generation is JitGeneration.DEEPJIT
        and p.deepjit_flags is not None
        and p.extra_signature is not None
        and bool(p.rendered_families)
        and (build.path / "include" / "deep_gemm").is_dir()
    )


def prepare_local_build(
    plan: Plan,
    build: DetectedBuild,
    items: Sequence[WorkItem],
    *,
    cache_dir: str | Path | None,
    env: Mapping[str, str],
) -> LocalBuild | None:
    """Render ``plan`` for ``build`` and look its entries up; None when nothing of ``items``
    is covered or the step cannot run here (no nvcc, a render error: logged, and the
    workers warm everything as before)."""
    from jitwarm.build import TargetBuild, is_committed, probe_nvcc

    assert build.profile is not None and build.path is not None
    start = time.perf_counter()
    target = TargetBuild(
        build.profile,
        build.distribution or build.profile.distribution,
        build.version or build.profile.version,
        build.path,
        "installed",
    )
    try:
        nvcc = probe_nvcc(dgenv.find_nvcc({**os.environ, **env}), arch=plan.arch)
        jobs, entry_of, gaps = _render(plan, target, nvcc, env)
    except (JitwarmError, OSError) as exc:  # an optimisation only: the workers do it all
        log.warning("not building DeepJIT kernels locally: %s", exc)
        return None
    if not any(i.kernel_key in entry_of for i in items if i.kernel_key is not None):
        return None
    roots = dgenv.resolve_cache_roots(cache_dir, layout=Layout.DEEPJIT)
    present = frozenset(j.entry_name for j in jobs if is_committed(roots.all, j.entry_name))
    return LocalBuild(
        target, nvcc, roots, tuple(jobs), present, entry_of, gaps, time.perf_counter() - start
    )


def _render(
    plan: Plan, target: TargetBuild, nvcc: Nvcc, env: Mapping[str, str]
) -> tuple[list[BuildJob], dict[str, str], dict[str, str]]:
    from jitwarm.build import job_from_source
    from jitwarm.deepjit import render_plan, unrendered_kernels

    # The key-changing settings the workers' DeepGEMM would run with: the plan's, over any
    # DG_JIT_*/DJ_JIT_* inherited (warm refused unplanned ones before this).
    key_env = {**target.profile.key_env(os.environ), **plan.jit_env, **env}
    sources = render_plan(plan, target.profile, target.include_dir, nvcc.version_text, env=key_env)
    unrendered = unrendered_kernels(plan, target.profile)
    entry_of: dict[str, str] = {}
    for ks in sources:
        for ref in ks.serves:
            entry = plan.entries[ref.entry_index]
            entry_of[kernel_key(entry, (entry.kernels or [])[ref.kernel_index])] = ks.entry_name
    gaps: dict[str, str] = {}
    for gap in unrendered:
        entry = plan.entries[gap.entry_index]
        if gap.kernel_index is None:
            gaps[entry.key] = f"{gap.reason.value}: {gap.detail}"
        else:
            k = (entry.kernels or [])[gap.kernel_index]
            gaps[kernel_key(entry, k)] = f"{gap.reason.value}: {gap.detail}"
    return [job_from_source(ks, plan, target, nvcc) for ks in sources], entry_of, gaps


def compile_missing(
    local: LocalBuild,
    covered: Sequence[WorkItem],
    to_workers: Sequence[WorkItem],
    *,
    slots: int | None = None,
    progress: bool = False,
    hold: KernelHold | None = None,
    try_hold: TryHold | None = None,
) -> LocalResult:
    """Compile and publish every missing entry of ``local`` in this process (one nvcc per
    slot, default one per core, longest first); present entries are not touched.

    ``hold``: a per-kernel lock (entry name -> context manager) for concurrent warms of one
    root (see the module docstring); ``try_hold``, its no-wait form, lets this process compile
    other kernels first while a peer holds one."""
    from jitwarm.build import CompileSetup, LocalExecutor

    result = LocalResult(local, covered=list(covered), to_workers=list(to_workers))
    todo = local.missing
    if not todo:
        return result
    executor = LocalExecutor(slots, hold=hold, try_hold=try_hold)
    setup = CompileSetup(
        nvcc=local.nvcc.path,
        include_dir=local.target.include_dir,
        root=local.roots.writable,
        read_roots=local.roots.read_only,
    )
    start = time.perf_counter()
    with _progress(len(todo), progress) as on_done:
        done = executor.run(todo, setup, on_done=on_done)
    result.wall_s = time.perf_counter() - start
    result.nvcc_jobs = executor.jobs
    result.results = {r.entry_name: r for r in done}
    return result


def merged(
    result: LocalResult,
    worker_items: Sequence[WorkItem],
    worker_outcomes: Mapping[int, ItemOutcome],
) -> tuple[list[WorkItem], dict[int, ItemOutcome]]:
    """The workers' items and outcomes plus the locally built ones, with ids that do not
    clash (the workers' first, in their order)."""
    first = max((i.item_id for i in worker_items), default=-1) + 1
    mine = [replace(i, item_id=first + n) for n, i in enumerate(result.covered)]
    outcomes = {**worker_outcomes, **result.outcomes(mine)}
    return [*worker_items, *mine], outcomes


class _progress:
    """A rich progress bar over the local compiles, only when asked (a TTY, not --json)."""

    def __init__(self, total: int, enabled: bool) -> None:
        self._total, self._enabled = total, enabled
        self._bar: Any = None

    def __enter__(self) -> Callable[[JobResult], None] | None:
        if not self._enabled:
            return None
        from jitwarm.warmer._progress import ProgressBar

        self._bar = ProgressBar(self._total, description="kernels (local nvcc)").__enter__()

        def on_done(r: JobResult) -> None:
            from jitwarm.build import JobStatus

            call = CallOutcome(
                0,
                r.compile_s,
                compiled=int(r.status == JobStatus.COMPILED),
                error=None if r.status in (JobStatus.COMPILED, JobStatus.PRESENT) else r.reason,
            )
            self._bar.on_done(None, ItemOutcome(0, LOCAL_WORKER, (call,), r.compile_s))

        return on_done

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.__exit__(*exc)


def record_provenance(local: LocalBuild, plan: Plan) -> None:
    """What built the root's kernels, where ``jitwarm doctor`` looks (as ``jitwarm build``
    leaves it)."""
    from jitwarm.build import build_provenance
    from jitwarm.bundle import write_cache_provenance

    try:
        write_cache_provenance(
            local.roots.writable, build_provenance(plan, local.target, local.nvcc)
        )
    except OSError as exc:
        log.warning("could not record provenance in %s: %s", local.roots.writable, exc)
