"""``jitwarm verify``: prove nothing would compile, by running every planned call against the
cache under a stand-in compiler. Exit 0: nothing would compile; 3: something would; 1: some
calls could not be checked."""

# No `from __future__ import annotations`: with_serving_options rebuilds the signature, and
# typer must see real Annotated objects, not strings.
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from jitwarm.cli import app
from jitwarm.cli._build_option import DeepGEMMOption, resolve_build, selection_note
from jitwarm.cli._output import fmt_seconds, print_json, stderr, stdout
from jitwarm.cli._plan_source import load_plan_arg
from jitwarm.cli._serving_options import with_serving_options
from jitwarm.models import ModelSpec
from jitwarm.serving import ServingConfig
from jitwarm.verify import VerifyReport


@app.command("verify")
@with_serving_options()
def verify_command(
    plan_file: Annotated[
        Path | None,
        typer.Option(
            "--plan", help="Plan manifest (jitwarm plan -o FILE) or a recording to verify."
        ),
    ] = None,
    cache_dir: Annotated[
        str | None,
        typer.Option(
            "--cache-dir",
            metavar="<path>",
            help="Cache root (default: DG_JIT_CACHE_DIR, else DeepGEMM's default).",
        ),
    ] = None,
    jobs: Annotated[
        int | None,
        typer.Option("--jobs", "-j", min=1, help="Worker processes (default: one per GPU)."),
    ] = None,
    nvcc: Annotated[
        Path | None,
        typer.Option(
            "--nvcc", help="The nvcc the server runs; the stand-in answers --version like it."
        ),
    ] = None,
    allow_key_changing_env: Annotated[
        bool,
        typer.Option(
            "--allow-key-changing-env",
            help="Verify even with key-changing DG_* variables set that the plan lacks.",
        ),
    ] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the report as one JSON object.")
    ] = False,
    deepgemm: DeepGEMMOption = None,
    *,
    model: ModelSpec | None,
    serving: ServingConfig,
) -> None:
    """Run every planned call over its whole M set against the cache, compiling nothing, and
    list each kernel that would compile."""
    from jitwarm.deepgemm import verify_plan  # with DeepGEMM's calls as the default

    build = resolve_build(deepgemm)
    plan = load_plan_arg(plan_file, model, serving, build=build)
    note = selection_note(build, plan.arch)
    report = verify_plan(
        plan,
        cache_dir=cache_dir,
        jobs=jobs,
        real_nvcc=nvcc,
        allow_key_changing_env=allow_key_changing_env,
        progress=not as_json and sys.stderr.isatty(),
    )
    if as_json:
        print_json({**report.to_json(), "deepgemm": build.to_json(), "selection_note": note})
    else:
        render_report(report)
        stdout.print(f"DeepGEMM: {build.describe()}", highlight=False)
        if note is not None:
            stdout.print(f"[yellow]{note}[/]", highlight=False)
    if report.exit_code:
        raise typer.Exit(report.exit_code)


def render_report(report: VerifyReport) -> None:
    if report.missing:
        table = Table(title="kernels that would compile", title_justify="left")
        for col in ("family", "shape", "kernel", "M values"):
            table.add_column(col, overflow="fold")
        for k in report.missing:
            kernel = f"{k.kernel or '?'}<{k.template_args or '?'}>"
            table.add_row(
                k.family, k.shape, escape(kernel), f"{k.m_values.describe(3)} ({len(k.m_values)})"
            )
        stdout.print(table)
    for f in report.failed:
        stderr.print(
            f"[yellow]not verified[/]: {f.family} {f.shape} M {f.m_values.describe(3)}: "
            f"{escape(f.reason)}"
        )
    if report.cache_changes:
        stderr.print(
            "[red]the cache changed during verify[/]: "
            + escape("; ".join(report.cache_changes[:5]))
        )
    stdout.print(
        f"{report.calls} calls in {fmt_seconds(report.wall_s)} against {report.cache_root} "
        f"({report.cache_entries} entries): {report.calls_ok} ran from the cache, "
        f"{report.calls_missing} would compile {len(report.missing)} kernels"
        + (f", {sum(len(f.m_values) for f in report.failed)} not verified" if report.failed else "")
    )
    if report.exit_code == 0:
        stdout.print("[green]ok[/]: nothing would compile")
