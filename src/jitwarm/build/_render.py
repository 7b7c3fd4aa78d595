"""From a plan to build jobs: the DeepJIT renderer (``jitwarm.deepjit``) gives every planned
kernel's exact source, flags and entry name for the target build; this adds what the build
needs around them (a compile-time guess for longest-first and sharding, a label, meta.json)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from jitwarm.build._job import BuildJob
from jitwarm.build._nvcc import Nvcc
from jitwarm.build._target import TargetBuild
from jitwarm.deepjit import KernelSource, meta_json, render_plan, unrendered_kernels
from jitwarm.plan import Plan, estimate_kernel_s


def plan_build_jobs(plan: Plan, target: TargetBuild, nvcc: Nvcc) -> list[BuildJob]:
    """One job per entry (key) the plan's kernels render to, in plan order."""
    sources = render_plan(plan, target.profile, target.include_dir, nvcc.version_text)
    return [job_from_source(ks, plan, target, nvcc) for ks in sources]


def unbuilt_notes(plan: Plan, target: TargetBuild) -> list[str]:
    """One line per reason some planned kernels cannot be rendered for ``target`` (they are
    left for the GPU host's warm), with an example."""
    gaps = unrendered_kernels(plan, target.profile)
    counts = Counter(g.reason.value for g in gaps)
    first = {}
    for g in gaps:
        first.setdefault(g.reason.value, g)
    return [
        f"{n} planned kernel group(s) not built ({reason}), e.g. {first[reason].describe()}; "
        "warm them on the GPU host"
        for reason, n in sorted(counts.items())
    ]


def job_from_source(ks: KernelSource, plan: Plan, target: TargetBuild, nvcc: Nvcc) -> BuildJob:
    entry = plan.entries[ks.entry_index]
    kernel = (entry.kernels or [])[ks.kernel_index]

    def meta(work: Path) -> str:
        return meta_json(
            ks,
            target.profile,
            nvcc_path=str(nvcc.path),
            nvcc_version_text=nvcc.version_text,
            library_root=str(target.package_dir),
            tmp_dir=str(work),
        )

    extra = f" (+{len(ks.serves) - 1} more)" if len(ks.serves) > 1 else ""
    return BuildJob(
        entry_name=ks.entry_name,
        source=ks.source,
        flags=tuple(ks.flags),
        est_s=round(estimate_kernel_s(entry, kernel), 6),
        label=f"{entry.family.value} {entry.shape()} m={kernel.m}{extra}",
        family=entry.family.value,
        meta_json=meta,
    )
