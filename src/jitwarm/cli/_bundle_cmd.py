"""``jitwarm bundle export | import | inspect``: ship a kernel cache with its provenance."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from jitwarm.bundle import (
    BundleLimits,
    BundleManifest,
    Provenance,
    export_bundle,
    host_provenance,
    import_bundle,
    merge_bundles,
    open_bundle,
)
from jitwarm.cache import format_size, parse_size, scan_cache
from jitwarm.cli import app
from jitwarm.cli._build_option import check_plan_for_cache
from jitwarm.cli._cache_cmd import (
    CacheDirOpt,
    JsonOpt,
    LayoutChoice,
    LayoutOpt,
    plain,
    resolve_roots,
    say,
    say_err,
)
from jitwarm.cli._output import output_file, print_json, stdout
from jitwarm.plan import Plan, jitwarm_version
from jitwarm.serving import Arch

bundle_app = typer.Typer(
    name="bundle",
    help="Pack a kernel cache with its provenance, and install it on another host.",
    no_args_is_help=True,
)
app.add_typer(bundle_app, name="bundle")

ArchOpt = Annotated[
    Arch | None, typer.Option("--arch", help="GPU arch kernels run on (default: probe the GPU).")
]
SmsOpt = Annotated[
    int | None,
    typer.Option("--num-sms", min=1, help="SM count kernels are built for (default: probe)."),
]
_DEFAULT_LIMITS = BundleLimits()


def _host(arch: Arch | None, num_sms: int | None) -> Provenance:
    return host_provenance(arch=arch.value if arch else None, num_sms=num_sms)


@bundle_app.command("export")
def export_command(
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Bundle file to write (.tar.gz or .tar).")
    ],
    plan_file: Annotated[
        Path | None, typer.Option("--plan", help="Pack only the entries this plan needs.")
    ] = None,
    cache_dir: CacheDirOpt = None,
    layout: LayoutOpt = LayoutChoice.AUTO,
    arch: ArchOpt = None,
    num_sms: SmsOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Pack the healthy entries a plan needs (or all) with a manifest of provenance and hashes."""
    output_file(output, "--output")
    plan = Plan.load(plan_file) if plan_file is not None else None
    info = scan_cache(resolve_roots(cache_dir, layout), layout=layout.layout)
    if plan is not None and plan_file is not None:
        check_plan_for_cache(plan, plan_file, info.roots.writable)
    for w in info.warnings:
        say_err(f"warning: {w}")
    host = _host(arch, num_sms)
    if plan is not None and (host.arch is None or host.num_sms is None):
        say_err("warning: GPU not detected; provenance takes arch and SM count from the plan")
        host = host.model_copy(
            update={"arch": host.arch or plan.arch, "num_sms": host.num_sms or plan.num_sms}
        )
    result = export_bundle(
        info, output, provenance=host, plan=plan, jitwarm_version=jitwarm_version()
    )
    m = result.manifest
    if result.skipped_broken:
        say_err(
            f"warning: {len(result.skipped_broken)} broken entries left out "
            "(see `jitwarm cache check`)"
        )
    if result.plan_kernels_missing:
        say_err(
            f"warning: {result.plan_kernels_missing} kernels the plan predicts are not "
            "in this cache (warm first)"
        )
    if result.left_out_of_plan_families:
        say_err(
            f"note: {len(result.left_out_of_plan_families)} entries of the plan's families were "
            "left out as not needed by it (other shapes or settings; see docs/cache-and-bundles.md)"
        )
    if as_json:
        print_json(
            {
                "path": str(output),
                "entries": len(m.entries),
                "total_bytes": m.total_bytes,
                "plan_digest": m.plan_digest,
                "plan_kernels_missing": result.plan_kernels_missing,
                "skipped_broken": list(result.skipped_broken),
                "left_out_of_plan_families": list(result.left_out_of_plan_families),
                "provenance": m.provenance.model_dump(mode="json"),
            }
        )
        return
    say(
        f"wrote {output}: {len(m.entries)} entries, {format_size(m.total_bytes)} of kernels "
        f"({format_size(output.stat().st_size)} packed)"
    )
    _render_provenance(m.provenance)


@bundle_app.command("import")
def import_command(
    bundle: Annotated[
        Path,
        typer.Argument(
            exists=True, dir_okay=False, help="Bundle file written by `jitwarm bundle export`."
        ),
    ],
    cache_dir: CacheDirOpt = None,
    layout: LayoutOpt = LayoutChoice.AUTO,
    force: Annotated[
        bool, typer.Option("--force", help="Install even if provenance does not match this host.")
    ] = False,
    arch: ArchOpt = None,
    num_sms: SmsOpt = None,
    max_member_size: Annotated[
        str, typer.Option("--max-member-size", help="Refuse members larger than this.")
    ] = f"{_DEFAULT_LIMITS.max_member_bytes // 1024**2}MiB",
    max_total_size: Annotated[
        str, typer.Option("--max-total-size", help="Refuse bundles unpacking to more than this.")
    ] = f"{_DEFAULT_LIMITS.max_total_bytes // 1024**3}GiB",
    as_json: JsonOpt = False,
) -> None:
    """Check every member and hash, check provenance, then install entries atomically."""
    limits = BundleLimits(
        max_member_bytes=parse_size(max_member_size, flag="--max-member-size"),
        max_total_bytes=parse_size(max_total_size, flag="--max-total-size"),
    )
    roots = resolve_roots(cache_dir, layout)
    result = import_bundle(bundle, roots, host=_host(arch, num_sms), force=force, limits=limits)
    for w in result.warnings:
        say_err(f"warning: {w}")
    for mm in result.mismatches:
        say_err(f"warning: provenance mismatch overridden by --force: {mm}")
    if as_json:
        print_json(
            {
                "cache_root": str(roots.writable),
                "imported": list(result.imported),
                "skipped": list(result.skipped),
                "mismatches_overridden": list(result.mismatches),
                "warnings": list(result.warnings),
            }
        )
        return
    say(
        f"imported {len(result.imported)} entries into {roots.writable}, "
        f"skipped {len(result.skipped)} already present"
    )


@bundle_app.command("merge")
def merge_command(
    bundles: Annotated[
        list[Path],
        typer.Argument(
            exists=True, dir_okay=False, help="Bundles to join (e.g. the shards of one build)."
        ),
    ],
    output: Annotated[Path, typer.Option("--output", "-o", help="Bundle file to write.")],
    as_json: JsonOpt = False,
) -> None:
    """Join bundles of one build into one: each validated, entries deduplicated by name; bundles
    of different builds, arches, SM counts or nvcc versions are refused."""
    output_file(output, "--output")
    result = merge_bundles(bundles, output, jitwarm_version=jitwarm_version())
    m = result.manifest
    if as_json:
        print_json(
            {
                "path": str(output),
                "inputs": [str(b) for b in bundles],
                "entries": len(m.entries),
                "duplicates": result.duplicates,
                "total_bytes": m.total_bytes,
                "provenance": m.provenance.model_dump(mode="json"),
            }
        )
        return
    say(
        f"wrote {output}: {len(m.entries)} entries from {len(bundles)} bundles "
        f"({result.duplicates} duplicates left out), {format_size(m.total_bytes)}"
    )


@bundle_app.command("inspect")
def inspect_command(
    bundle: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="Bundle file.")],
    entries: Annotated[bool, typer.Option("--entries", help="List every entry.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Show a bundle's manifest: provenance, plan, entries per family. Validates its structure."""
    with open_bundle(bundle) as opened:
        m = opened.manifest
    if as_json:
        print_json(m.model_dump(mode="json"))
        return
    _render_manifest(bundle, m, list_entries=entries)


def _render_manifest(path: Path, m: BundleManifest, *, list_entries: bool) -> None:
    say(
        f"{path}: jitwarm bundle v{m.format_version} by jitwarm {m.jitwarm_version}, "
        f"layout {m.layout.value}, {len(m.entries)} entries, {format_size(m.total_bytes)}"
    )
    if m.plan_digest:
        say(f"plan: {m.plan_model} (digest {m.plan_digest[:16]})")
    _render_provenance(m.provenance)
    if list_entries:
        table = Table(title="entries", title_justify="left")
        for col in ("family", "kernel", "name", "size"):
            table.add_column(col, overflow="fold")
        for e in m.entries:
            table.add_row(
                *plain(
                    e.family or f"({e.kernel_name})",
                    e.kernel_name,
                    e.name,
                    format_size(e.size_bytes),
                )
            )
    else:
        counts = Counter(e.family or f"({e.kernel_name})" for e in m.entries)
        table = Table(title="entries per family", title_justify="left")
        table.add_column("family")
        table.add_column("entries")
        for fam, n in sorted(counts.items()):
            table.add_row(*plain(fam, str(n)))
    stdout.print(table)


def _nvcc_build(p: Provenance) -> str | None:
    """``V13.0.88, cuda_13.0.r13.0/compiler.36424714_0``: the part of the version text that
    tells two nvcc builds apart (DeepJIT keys on all of it)."""
    lines = [ln.strip() for ln in (p.nvcc_version or "").splitlines() if ln.strip()]
    if len(lines) < 2:
        return None
    return f"{lines[-2].split(',')[-1].strip()}, {lines[-1].removeprefix('Build ')}"


def _render_provenance(p: Provenance) -> None:
    table = Table(title="provenance", title_justify="left", show_header=False)
    table.add_column("field")
    table.add_column("value", overflow="fold")
    dg = " ".join(x for x in (p.deepgemm_distribution, p.deepgemm_version) if x) or "unknown"
    rows = [
        ("arch", p.arch or "unknown"),
        ("SMs", str(p.num_sms) if p.num_sms else "unknown"),
        ("GPU", p.gpu_name or "unknown"),
        ("DeepGEMM", dg),
        ("DeepGEMM build", p.deepgemm_build or "unknown"),
        ("DeepGEMM module", p.deepgemm_module or "unknown"),
        ("DeepGEMM path", p.deepgemm_path or "unknown"),
        ("nvcc", f"{_nvcc_build(p) or p.cuda_version or 'unknown'} ({p.nvcc_path or 'not found'})"),
        ("layout", p.layout.value if p.layout else "unknown"),
        ("key env", ", ".join(f"{k}={v}" for k, v in p.key_env.items()) or "defaults"),
    ]
    if p.built_without_gpu:
        rows.append(("built", "without a GPU (jitwarm build)"))
    rows += [("note", n) for n in p.notes]
    for k, v in rows:
        table.add_row(*plain(k, v))
    stdout.print(table)
