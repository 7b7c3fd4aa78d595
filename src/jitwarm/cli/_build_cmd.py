"""``jitwarm build``: a complete DeepGEMM kernel cache made on a machine with nvcc and no GPU."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from jitwarm.cli import app
from jitwarm.cli._output import fmt_seconds, print_json, stderr, stdout
from jitwarm.cli._plan_source import load_plan_arg
from jitwarm.cli._serving_options import with_serving_options
from jitwarm.errors import UsageError
from jitwarm.models import ModelSpec
from jitwarm.plan import plan_serving
from jitwarm.serving import ServingConfig

if TYPE_CHECKING:
    from jitwarm.build import BuildReport, JobResult

_B = "Build"


@app.command("build")
@with_serving_options()
def build_command(
    plan_file: Annotated[
        Path | None,
        typer.Option(
            "--plan",
            help="Build this plan manifest instead of planning --model.",
            rich_help_panel=_B,
        ),
    ] = None,
    target: Annotated[
        str,
        typer.Option(
            "--target",
            "-t",
            help="DeepGEMM build to build for: 'installed', a wheel file, NAME==VERSION (fetched with pip download), or a package folder.",
            rich_help_panel=_B,
        ),
    ] = "installed",
    profile: Annotated[
        str | None,
        typer.Option(
            "--profile",
            help="Profile name when the target cannot say (a vendored copy).",
            rich_help_panel=_B,
        ),
    ] = None,
    cache_dir: Annotated[
        Path | None,
        typer.Option(
            "--cache-dir",
            help="Cache root to fill (default: DG_JIT_CACHE_DIR, else ~/.dj).",
            rich_help_panel=_B,
        ),
    ] = None,
    jobs: Annotated[
        int | None,
        typer.Option(
            "--jobs",
            "-j",
            min=1,
            help="nvcc processes at once (default: one per core).",
            rich_help_panel=_B,
        ),
    ] = None,
    shard: Annotated[
        str | None,
        typer.Option(
            "--shard",
            help="Build only shard I of N (I/N, 0-based), balanced by predicted compile time.",
            rich_help_panel=_B,
        ),
    ] = None,
    ray: Annotated[
        str | None,
        typer.Option(
            "--ray",
            help="Compile as Ray tasks on a cluster: 'auto' or an address (pip install 'jitwarm\\[ray]').",
            rich_help_panel=_B,
        ),
    ] = None,
    bundle: Annotated[
        Path | None,
        typer.Option(
            "--bundle",
            help="Also export the built entries as a bundle with the build's provenance.",
            rich_help_panel=_B,
        ),
    ] = None,
    nvcc: Annotated[
        Path | None,
        typer.Option(
            "--nvcc",
            help="nvcc to compile with (default: the one DeepGEMM would find).",
            rich_help_panel=_B,
        ),
    ] = None,
    work_dir: Annotated[
        Path | None,
        typer.Option(
            "--work-dir",
            help="Where downloaded and unpacked wheels go (default ~/.cache/jitwarm/builds).",
            rich_help_panel=_B,
        ),
    ] = None,
    json_out: Annotated[
        bool,
        typer.Option(
            "--json",
            help="Print the report as JSON on stdout (no progress bar).",
            rich_help_panel=_B,
        ),
    ] = False,
    *,
    model: ModelSpec | None,
    serving: ServingConfig,
) -> None:
    """Render, key and compile every planned kernel for a DeepGEMM build, with no GPU."""
    from jitwarm.build import (
        LocalExecutor,
        RayExecutor,
        Shard,
        export_build_bundle,
        prepare_build,
        probe_nvcc,
        resolve_target,
        run_build,
    )

    if plan_file is None and model is None:
        raise UsageError("--model or --plan is required (what to build)")
    chosen = resolve_target(target, work_dir=work_dir, profile=profile)
    if plan_file is None and model is not None:  # planned with the target's selection models
        plan = plan_serving(model, serving, build=chosen.profile)
    else:
        plan = load_plan_arg(plan_file, model, serving)
    compiler = probe_nvcc(nvcc, arch=plan.arch)
    prepared = prepare_build(
        plan, chosen, compiler, cache_dir=cache_dir, shard=Shard.parse(shard) if shard else None
    )
    if prepared.total_jobs == 0:  # a build that makes nothing is not a success
        why = prepared.notes[0] if prepared.notes else "the plan has no kernels"
        raise UsageError(f"nothing to build for {chosen.label} on {plan.arch}: {why}")
    executor = (
        RayExecutor(ray, version_text=compiler.version_text)
        if ray
        else LocalExecutor.for_root(prepared.roots.writable, jobs)
    )
    show = not json_out and sys.stderr.isatty()
    if show:
        with _progress(len(prepared.jobs), chosen.label) as bar:
            report = run_build(prepared, executor=executor, on_done=bar)
    else:
        report = run_build(prepared, executor=executor)
    if bundle is not None and report.ok:
        export_build_bundle(prepared, bundle)
        report.bundle = str(bundle)
    if json_out:
        print_json(report.to_json())
    else:
        render_report(report)
    if not report.ok:
        if bundle is not None:
            stderr.print(f"no bundle written: {report.failed} kernels failed", highlight=False)
        raise typer.Exit(1)


class _progress:
    """A progress bar on stderr fed by the executor's per-kernel callback."""

    def __init__(self, total: int, label: str) -> None:
        self._bar = Progress(
            TextColumn(f"[bold]build {label}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[status]}"),
            TimeElapsedColumn(),
            console=stderr,
        )
        self._total = total
        self._counts: dict[str, int] = {}

    def __enter__(self) -> _progress:
        self._bar.__enter__()
        self._task = self._bar.add_task("", total=self._total, status="")
        return self

    def __exit__(self, *exc: object) -> None:
        self._bar.__exit__(None, None, None)

    def __call__(self, result: JobResult) -> None:
        self._counts[result.status] = self._counts.get(result.status, 0) + 1
        status = ", ".join(f"{n} {s}" for s, n in sorted(self._counts.items()))
        self._bar.update(self._task, advance=1, status=status)


def render_report(report: BuildReport) -> None:
    shard = f" shard {report.shard}" if report.shard else ""
    table = Table(
        title=f"build {report.distribution} {report.version} ({report.arch}, {report.num_sms} SMs){shard}: {report.cache_root}",
        title_justify="left",
    )
    for col in ("family", "kernels", "compiled", "present", "failed", "nvcc time"):
        table.add_column(col, justify="left" if col == "family" else "right")
    for family, c in report.families.items():
        table.add_row(
            family,
            str(c.kernels),
            str(c.compiled),
            str(c.present),
            f"[red]{c.failed}[/]" if c.failed else "0",
            fmt_seconds(c.compile_s),
        )
    stdout.print(table)
    release = report.nvcc_version_text.strip().splitlines()
    stdout.print(
        f"{report.compiled} kernels compiled, {report.present} already present, {report.failed} failed; "
        f"wall {fmt_seconds(report.wall_s)}, summed nvcc {fmt_seconds(report.compile_s)}, "
        f"{report.jobs} {'Ray CPUs' if report.executor == 'ray' else 'nvcc processes'}; "
        f"nvcc: {release[-2] if len(release) >= 2 else report.nvcc_path}",
        highlight=False,
    )
    if report.bundle:
        stdout.print(f"bundle: {report.bundle}", highlight=False)
    for note in report.notes:
        stderr.print(f"note: {note}", highlight=False)
    for f in report.failures:
        stderr.print(f"[red]{f.status}[/] {f.label} ({f.entry_name}): {f.reason}", highlight=False)
