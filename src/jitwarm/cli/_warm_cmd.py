"""``jitwarm warm``: compile a plan's kernels on this GPU host, in parallel, then report."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from jitwarm.cli import app
from jitwarm.cli._build_option import DeepGEMMOption, resolve_build, selection_note
from jitwarm.cli._output import fmt_seconds, print_json, stderr, stdout
from jitwarm.cli._plan_source import load_plan_arg
from jitwarm.cli._serving_options import with_serving_options
from jitwarm.models import ModelSpec
from jitwarm.serving import ServingConfig
from jitwarm.warmer import DeepJitLocalSummary, WarmReport

_W = "Warm"


@app.command("warm")
@with_serving_options()
def warm_command(
    plan_file: Annotated[
        Path | None,
        typer.Option(
            "--plan",
            "--manifest",
            help="Warm this plan manifest (`jitwarm plan -o FILE`) or recording (`jitwarm run --record`) instead of planning --model.",
            rich_help_panel=_W,
        ),
    ] = None,
    jobs: Annotated[
        int | None,
        typer.Option(
            "--jobs",
            "-j",
            min=1,
            help="Worker processes (default: from CPU cores and GPU memory).",
            rich_help_panel=_W,
        ),
    ] = None,
    json_out: Annotated[
        bool,
        typer.Option(
            "--json",
            help="Print the report as JSON on stdout (no progress bar).",
            rich_help_panel=_W,
        ),
    ] = False,
    cache_dir: Annotated[
        Path | None,
        typer.Option(
            "--cache-dir",
            help="DeepGEMM cache root to fill (default: DG_JIT_CACHE_DIR, else DeepGEMM's default).",
            rich_help_panel=_W,
        ),
    ] = None,
    exact: Annotated[
        bool | None,
        typer.Option(
            "--exact/--no-exact",
            help="For sweep entries, find the distinct kernels first (stand-in compiler), then compile each once (default: on for a build whose selection model is unvalidated, which then sweeps every entry).",
            rich_help_panel=_W,
        ),
    ] = None,
    allow_key_changing_env: Annotated[
        bool,
        typer.Option(
            "--allow-key-changing-env",
            help="Warm even with DG_JIT_DEBUG and similar set (their keys differ from a server's).",
            rich_help_panel=_W,
        ),
    ] = False,
    ahead: Annotated[
        bool,
        typer.Option(
            "--ahead/--no-ahead",
            help="Start nvcc at once, in this process, for every kernel whose DeepGEMM source can be rendered exactly (DeepJIT builds: published straight into the cache, workers only for the rest, none when all is rendered; upstream-JIT builds: workers hand the cubins to DeepGEMM). --no-ahead: workers compile everything.",
            rich_help_panel=_W,
        ),
    ] = True,
    leader_only: Annotated[
        bool,
        typer.Option(
            "--leader-only",
            help="Of the warms of this plan started together on this cache root (one per rank), only the first compiles; the others wait for it, then check its work with a few workers.",
            rich_help_panel=_W,
        ),
    ] = False,
    deepgemm: DeepGEMMOption = None,
    *,
    model: ModelSpec | None,
    serving: ServingConfig,
) -> None:
    """Compile every kernel of a plan into the DeepGEMM cache, one call per distinct kernel."""
    from jitwarm.deepgemm import warm  # with DeepGEMM's backend as the default

    build = resolve_build(deepgemm)
    plan = load_plan_arg(plan_file, model, serving, build=build)
    note = selection_note(build, plan.arch)
    if exact is None:
        exact = note is not None
    if note is not None and exact:
        # Never trust a model this build was not checked against: capture what it generates.
        plan = plan.without_selection_model()
        stderr.print(note, highlight=False)
    show_progress = not json_out and sys.stderr.isatty()
    report = warm(
        plan,
        jobs=jobs,
        cache_dir=cache_dir,
        exact=exact,
        allow_key_changing_env=allow_key_changing_env,
        progress=show_progress,
        ahead=ahead,
        build=build,
        leader_only=leader_only,
    )
    if json_out:
        print_json({**report.to_json(), "deepgemm": build.to_json(), "selection_note": note})
    else:
        render_report(report)
        stdout.print(f"DeepGEMM: {build.describe()}", highlight=False)
        if note is not None:
            stdout.print(f"[yellow]{note}[/]", highlight=False)
    if not report.ok:
        raise typer.Exit(1)


def render_report(report: WarmReport) -> None:
    from rich.table import Table  # human output only: a --json rerun does not import it

    table = Table(title=f"warm: {report.cache_root}", title_justify="left")
    for col in ("family", "items", "compiled", "elsewhere", "cached", "failed", "compile time"):
        table.add_column(col, justify="left" if col == "family" else "right")
    for family, s in report.families.items():
        table.add_row(
            family,
            str(s.items),
            str(s.compiled),
            str(s.compiled_elsewhere),
            str(s.cached),
            f"[red]{s.failed}[/]" if s.failed else "0",
            fmt_seconds(s.compile_s),
        )
    stdout.print(table)
    if report.capture is not None:
        c = report.capture
        stdout.print(
            f"exact mode: {c.calls} sweep calls captured in {fmt_seconds(c.wall_s)}, "
            f"{c.distinct_kernels} distinct kernels"
        )
    stdout.print(
        f"{report.compiled} kernels compiled, {report.compiled_elsewhere} compiled elsewhere "
        f"(by another process, waited for), {report.cached} already cached, {report.failed} failed; "
        f"wall {fmt_seconds(report.wall_s)}, summed compile {fmt_seconds(report.compile_s)}, "
        f"{report.jobs} workers on {len({d for d in report.devices}) or 1} GPU(s)"
    )
    if isinstance(report.ahead, DeepJitLocalSummary):
        render_local_build(report.ahead)
    elif report.ahead is not None:
        a = report.ahead
        stdout.print(
            f"compiled ahead: {a.compiled} of {a.planned} kernels (nvcc from "
            f"{fmt_seconds(a.first_nvcc_s or 0.0)}, summed {fmt_seconds(a.compile_s)}), "
            f"{a.handed_over} taken by DeepGEMM, {a.failed} failed (compiled by workers)"
            + (
                f", {a.compiled_elsewhere} compiled by another warm of this root"
                if a.compiled_elsewhere
                else ""
            )
        )
    if report.peer_role == "follower":
        stdout.print(
            f"waited {fmt_seconds(report.peer_wait_s or 0.0)} for another process warming this "
            "plan, then checked its work"
        )
    if report.workers_ready_s:
        ready, started = report.workers_ready_s, report.workers_started_s
        imports = (
            f"imports done after {fmt_seconds(report.imports_done_s)}, "
            if report.imports_done_s
            else ""
        )
        stdout.print(
            f"start-up: {imports}workers running after {fmt_seconds(started[0])} to "
            f"{fmt_seconds(started[-1])}, ready to compile after {fmt_seconds(ready[0])} "
            f"to {fmt_seconds(ready[-1])}"
        )
    for f in report.failures:
        first, *rest = f.reason.splitlines() or [""]
        stderr.print(f"[red]failed[/] {f.label}: {first}", highlight=False)
        for line in rest[-3:]:
            stderr.print(f"    {line}", highlight=False)


def render_local_build(a: DeepJitLocalSummary) -> None:
    """The split of a warm on a DeepJIT build: what this process built, what the workers ran."""
    stdout.print(
        f"built here (no GPU): {a.planned} kernels rendered, {a.already_present} already "
        f"in the cache, {a.compiled} compiled with nvcc x{a.nvcc_jobs or 0} "
        f"(summed {fmt_seconds(float(a.compile_s))}), {a.failed} failed; "
        f"{a.items_to_workers} items left to workers",
        highlight=False,
    )
    for row in a.to_workers[:3]:
        stdout.print(f"  to workers: {row.label} ({row.reason})", highlight=False)
    if len(a.to_workers) > 3:
        stdout.print(f"  ... and {len(a.to_workers) - 3} more", highlight=False)
