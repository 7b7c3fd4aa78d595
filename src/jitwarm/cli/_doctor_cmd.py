"""``jitwarm doctor``: will this server find its kernels in this cache, or recompile them?

The checks are :mod:`jitwarm.doctor`'s; this module only gathers the inputs and renders.
Exit 1 when something would make the server recompile (or fail to run a kernel).
"""

# No `from __future__ import annotations`: typer must see real Annotated objects.
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from jitwarm import dgenv
from jitwarm.bundle import PROVENANCE_FILE, host_provenance
from jitwarm.cli import app
from jitwarm.cli._build_option import DeepGEMMOption, resolve_build
from jitwarm.cli._output import print_json, stdout
from jitwarm.doctor import FAIL, OK, WARN, Finding, diagnose, load_built
from jitwarm.serving import Arch


@app.command("doctor")
def doctor_command(
    bundle: Annotated[
        Path | None,
        typer.Option("--bundle", help="Bundle (or its manifest JSON) the cache came from."),
    ] = None,
    provenance: Annotated[
        Path | None,
        typer.Option(
            "--provenance", help=f"Provenance JSON (default: <cache root>/{PROVENANCE_FILE})."
        ),
    ] = None,
    cache_dir: Annotated[
        str | None,
        typer.Option("--cache-dir", metavar="<path>", help="Cache root the server will use."),
    ] = None,
    arch: Annotated[
        Arch | None, typer.Option("--arch", help="GPU arch the server runs on (default: probe).")
    ] = None,
    num_sms: Annotated[
        int | None,
        typer.Option("--num-sms", min=1, help="SM count the server sets (default: probe the GPU)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the findings as JSON.")] = False,
    deepgemm: DeepGEMMOption = None,
) -> None:
    """Check this environment against the one the cache was built with; say what to fix."""
    build = resolve_build(deepgemm)
    roots = dgenv.resolve_cache_roots(cache_dir, layout=build.layout)
    built, source = load_built(bundle, provenance, roots.writable)
    host = host_provenance(arch=arch.value if arch else None, num_sms=num_sms, build=build)
    findings = diagnose(built, host, roots, source=source, build=build)
    failed = [f for f in findings if f.status == FAIL]
    if as_json:
        print_json(
            {
                "ok": not failed,
                "recompiles": any(f.recompiles for f in failed),
                "built_with": source,
                "deepgemm": build.to_json(),
                "findings": [asdict(f) for f in findings],
            }
        )
    else:
        _render(findings, source)
    if failed:
        raise typer.Exit(1)


def _render(findings: list[Finding], source: str) -> None:
    table = Table(title=f"jitwarm doctor (built with: {escape(source)})", title_justify="left")
    for col in ("check", "status", "finding", "fix"):
        table.add_column(col, overflow="fold")
    style = {OK: "green", WARN: "yellow", FAIL: "red"}
    for f in findings:
        table.add_row(
            f.check, f"[{style[f.status]}]{f.status}[/]", escape(f.message), escape(f.fix or "")
        )
    stdout.print(table)
    failed = [f for f in findings if f.status == FAIL]
    if any(f.recompiles for f in failed):
        stdout.print("[red]the server would recompile kernels this cache holds[/]")
    elif failed:
        stdout.print("[red]problems found[/]")
    else:
        stdout.print("[green]ok[/]: the server will find its kernels")
