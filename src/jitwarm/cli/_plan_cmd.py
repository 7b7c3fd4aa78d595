"""``jitwarm plan``: every kernel a server can reach, as a table or a versioned manifest."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from jitwarm._atomic import atomic_write_text
from jitwarm.cli import app
from jitwarm.cli._build_option import DeepGEMMOption, resolve_build
from jitwarm.cli._output import fmt_seconds, output_file, print_json, stderr, stdout
from jitwarm.cli._serving_options import with_serving_options
from jitwarm.errors import UsageError
from jitwarm.models import ModelSpec
from jitwarm.mset import MSet
from jitwarm.plan import Plan, estimate_compile, plan_serving
from jitwarm.serving import ServingConfig


@app.command("plan")
@with_serving_options()
def plan_command(
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Write the plan manifest (JSON) to this file."),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the plan manifest (JSON) on stdout, no table.")
    ] = False,
    schema: Annotated[
        bool, typer.Option("--schema", help="Print the manifest's JSON Schema and exit.")
    ] = False,
    deepgemm: DeepGEMMOption = None,
    *,
    model: ModelSpec | None,
    serving: ServingConfig,
) -> None:
    """Plan every DeepGEMM kernel a model can reach under a serving configuration; the plan
    records the DeepGEMM build found here (none when there is none)."""
    if schema:
        print_json(Plan.model_json_schema())
        return
    if model is None:
        raise UsageError(
            "--model is required (a preset name, a config.json, or a folder holding one)"
        )
    if output is not None:
        output_file(output, "--output")
    build = resolve_build(deepgemm)
    plan = plan_serving(model, serving, build=build.profile_name if build.found else None)
    if output is not None:
        atomic_write_text(output, plan.to_json())
        stderr.print(f"wrote plan ({len(plan.entries)} entries) to {output}", highlight=False)
    if as_json:
        stdout.out(plan.to_json(), highlight=False)
        return
    render_plan(plan)


def render_plan(plan: Plan) -> None:
    table = Table(
        title=f"{plan.model.name} on {plan.arch} ({plan.num_sms} SMs)", title_justify="left"
    )
    for col in ("family", "shape", "M", "selection", "kernels", "modules (layers)"):
        table.add_column(col, overflow="fold")
    for e in plan.entries:
        kernels = str(len(e.kernels)) if e.kernels is not None else f"sweep: {e.num_calls} calls"
        mods = "; ".join(f"{m.name} ({MSet.from_ranges(m.layers).describe(2)})" for m in e.modules)
        table.add_row(
            e.family.value,
            e.shape(),
            f"{e.m_kind.value} {e.mset.describe(3)}",
            e.selection.value,
            kernels,
            mods,
        )
    if plan.entries:
        stdout.print(table)
    else:
        stdout.print(f"{table.title}: nothing to plan", highlight=False)
    if not plan.entries:
        for note in plan.notes:  # the reason the table is empty
            stdout.print(f"note: {note}", markup=False, highlight=False)
        return
    estimate = estimate_compile(plan)
    est = estimate.seconds
    cores = os.cpu_count() or 1
    stdout.print(
        f"{len(plan.entries)} entries, {plan.num_kernels} distinct kernels, "
        f"{plan.num_calls} warm calls"
        + (f" ({len(plan.sweep_entries)} sweep entries)" if plan.sweep_entries else "")
    )
    bound = "at most " if estimate.is_upper_bound else ""
    stdout.print(
        f"estimated cold compile: {bound}{fmt_seconds(est)} in one process, "
        f"~{fmt_seconds(est / cores)} on {cores} cores: {estimate.describe()} "
        f"at 4.5 s per kernel (measured median on H100)"
    )
    for note in plan.notes:  # what was inferred or deliberately left out
        stdout.print(f"note: {note}", markup=False, highlight=False)
