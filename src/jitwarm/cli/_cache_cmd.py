"""``jitwarm cache ls | stats | check | prune``: a DeepGEMM kernel cache as a table or JSON."""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from jitwarm import profiles
from jitwarm.cache import (
    DEFAULT_TMP_GRACE_S,
    CacheInfo,
    EntryStatus,
    Finding,
    FindingKind,
    check_cache,
    format_age,
    format_size,
    parse_age,
    parse_size,
    plan_prune,
    quarantine_findings,
    scan_cache,
)
from jitwarm.cli import app
from jitwarm.cli._build_option import check_plan_for_cache
from jitwarm.cli._output import print_json, stderr, stdout
from jitwarm.dgenv import CacheRoots, Layout, resolve_cache_roots
from jitwarm.errors import UsageError
from jitwarm.locks import prune_idle_locks
from jitwarm.plan import Plan

cache_app = typer.Typer(
    name="cache",
    help="Inspect, check and prune a DeepGEMM kernel cache.",
    no_args_is_help=True,
)
app.add_typer(cache_app, name="cache")


class LayoutChoice(str, Enum):
    AUTO = "auto"
    UPSTREAM = "upstream"
    DEEPJIT = "deepjit"

    @property
    def layout(self) -> Layout | None:
        return None if self is LayoutChoice.AUTO else Layout(self.value)


class SortKey(str, Enum):
    NAME = "name"
    SIZE = "size"
    LAST_USED = "last-used"
    FAMILY = "family"


CacheDirOpt = Annotated[
    str | None,
    typer.Option(
        "--cache-dir",
        metavar="<path>",
        help="Cache root (W or W:R1:R2). Default: DG_JIT_CACHE_DIR, else ~/.deep_gemm or ~/.dj.",
    ),
]
LayoutOpt = Annotated[
    LayoutChoice, typer.Option("--layout", help="Cache layout: upstream JIT, DeepJIT, or auto.")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object.")]
YesOpt = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]
DryRunOpt = Annotated[
    bool, typer.Option("--dry-run", help="Show what would change; change nothing.")
]


def say(text: str) -> None:
    """A result line on stdout, printed as written (no markup, no highlighting)."""
    stdout.print(text, markup=False, highlight=False)


def say_err(text: str) -> None:
    """A message on stderr, printed as written."""
    stderr.print(text, markup=False, highlight=False)


def plain(*cells: str) -> list[Text]:
    """Table cells shown as written: paths and messages may hold [brackets] rich would eat."""
    return [Text(c) for c in cells]


def resolve_roots(cache_dir: str | None, layout: LayoutChoice) -> CacheRoots:
    if layout.layout is None:  # auto: the default root of the build found here
        return profiles.resolve_cache_roots(cache_dir)
    return resolve_cache_roots(cache_dir, layout=layout.layout)


def confirm_or_refuse(question: str, *, yes: bool) -> bool:
    """True to go ahead. Never waits on a closed or piped stdin: without a TTY, --yes is needed."""
    if yes:
        return True
    if not sys.stdin.isatty():
        raise UsageError(
            "refusing to change the cache without confirmation: stdin is not a "
            "terminal (pass --yes, or --dry-run to preview)"
        )
    return typer.confirm(question, default=False, err=True)


def _roots_json(info: CacheInfo) -> dict[str, object]:
    return {
        "writable_root": str(info.roots.writable),
        "read_only_roots": [str(r) for r in info.roots.read_only],
        "root_source": info.roots.source,
        "layout": info.layout.value if info.layout else None,
    }


def _warn(info: CacheInfo) -> None:
    for w in info.warnings:
        say_err(f"warning: {w}")


@cache_app.command("ls")
def ls_command(
    cache_dir: CacheDirOpt = None,
    layout: LayoutOpt = LayoutChoice.AUTO,
    family: Annotated[
        str | None, typer.Option("--family", help="Only entries of this family (or kernel name).")
    ] = None,
    sort: Annotated[SortKey, typer.Option("--sort", help="Order of the rows.")] = SortKey.FAMILY,
    show_args: Annotated[bool, typer.Option("--args", help="Show template arguments.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """List cache entries: family, kernel, size, last use and status."""
    info = scan_cache(resolve_roots(cache_dir, layout), layout=layout.layout)
    _warn(info)
    entries = list(info.entries)
    if family:
        entries = [e for e in entries if family in (e.family_label, e.kernel_name)]
    keys = {
        SortKey.NAME: lambda e: e.name,
        SortKey.SIZE: lambda e: (-e.size_bytes, e.name),
        SortKey.LAST_USED: lambda e: (-e.last_used_s, e.name),
        SortKey.FAMILY: lambda e: (e.family_label, e.kernel_name, e.name),
    }
    entries.sort(key=keys[sort])
    if as_json:
        print_json(
            {
                **_roots_json(info),
                "entries": [e.to_json() for e in entries],
                "warnings": list(info.warnings),
            }
        )
        return
    table = Table(title=escape(f"DeepGEMM cache {info.roots.describe()}"), title_justify="left")
    for col in ("family", "kernel", "key", "size", "last used", "status"):
        table.add_column(col, overflow="fold")
    if show_args:
        table.add_column("template args", overflow="fold")
    for e in entries:
        status = e.status.value if e.problem is None else f"{e.status.value}: {e.problem}"
        status += " (read-only root)" if e.read_only else ""
        stray = e.status is EntryStatus.STRAY  # not a kernel: no family or kernel to show
        row = [
            "-" if stray else e.family_label,
            "-" if stray else e.kernel_name,
            e.key[:12],
            e.size_str,
            e.last_used_str,
            f"{status}: {e.path.name}" if stray else status,
        ]
        if show_args:
            row.append(e.template_args or "-")
        table.add_row(*plain(*row))
    stdout.print(table)
    say(f"{len(entries)} entries, {format_size(sum(e.size_bytes for e in entries))}")


@cache_app.command("stats")
def stats_command(
    cache_dir: CacheDirOpt = None,
    layout: LayoutOpt = LayoutChoice.AUTO,
    as_json: JsonOpt = False,
) -> None:
    """Totals per family: entries, bytes, kernel names, newest and oldest use."""
    info = scan_cache(resolve_roots(cache_dir, layout), layout=layout.layout)
    _warn(info)
    fams = info.family_stats()
    by_status = {s.value: sum(1 for e in info.entries if e.status is s) for s in EntryStatus}
    temp_bytes = sum(t.size_bytes for t in info.temp_dirs)
    if as_json:
        print_json(
            {
                **_roots_json(info),
                "entries": len(info.entries),
                "by_status": by_status,
                "size_bytes": info.size_bytes,
                "temp_dirs": len(info.temp_dirs),
                "temp_bytes": temp_bytes,
                "quarantined": info.quarantined,
                "families": [
                    {
                        "family": f.label,
                        "entries": f.entries,
                        "size_bytes": f.size_bytes,
                        "kernel_names": list(f.kernel_names),
                        "newest_use_s": f.newest_use_s,
                        "oldest_use_s": f.oldest_use_s,
                    }
                    for f in fams
                ],
                "warnings": list(info.warnings),
            }
        )
        return
    table = Table(title=escape(f"DeepGEMM cache {info.roots.describe()}"), title_justify="left")
    for col in ("family", "entries", "size", "kernels", "newest use", "oldest use"):
        table.add_column(col, overflow="fold")
    for f in fams:
        table.add_row(
            *plain(
                f.label,
                str(f.entries),
                format_size(f.size_bytes),
                ", ".join(f.kernel_names),
                format_age(f.newest_use_s),
                format_age(f.oldest_use_s),
            )
        )
    stdout.print(table)
    status = ", ".join(f"{n} {s}" for s, n in by_status.items() if n)
    say(
        f"{len(info.entries)} entries ({status or 'none'}), {format_size(info.size_bytes)}; "
        f"layout {info.layout.value if info.layout else 'unknown'}; "
        f"{len(info.temp_dirs)} temp folders ({format_size(temp_bytes)}); "
        f"{info.quarantined} quarantined"
    )


@cache_app.command("check")
def check_command(
    cache_dir: CacheDirOpt = None,
    layout: LayoutOpt = LayoutChoice.AUTO,
    fix: Annotated[
        bool,
        typer.Option("--fix", help="Move broken entries and stale temp folders to quarantine."),
    ] = False,
    tmp_grace: Annotated[
        str,
        typer.Option("--tmp-grace", help="Temp folders idle this long are leftovers (e.g. 1h)."),
    ] = f"{DEFAULT_TMP_GRACE_S:.0f}s",
    yes: YesOpt = False,
    dry_run: DryRunOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Find incomplete and poisoned entries and leftover temp folders; --fix quarantines them.

    Exit 0 when nothing needs fixing, 1 when something does (or could not be fixed)."""
    grace_s = parse_age(tmp_grace, flag="--tmp-grace")
    info = scan_cache(resolve_roots(cache_dir, layout), layout=layout.layout)
    _warn(info)
    report = check_cache(info, tmp_grace_s=grace_s)
    moved: list[tuple[Finding, Path | None]] = []
    if fix and report.fixable and not dry_run:
        question = f"Move {len(report.fixable)} items to quarantine under {info.roots.writable}?"
        if confirm_or_refuse(question, yes=yes):
            moved = quarantine_findings(report)
    fixed = {f.path for f, _ in moved}
    remaining = [f for f in report.findings if f.path not in fixed]
    needs_fix = [
        f
        for f in remaining
        if f.fixable or f.kind in (FindingKind.INCOMPLETE, FindingKind.POISONED)
    ]
    if as_json:
        print_json(
            {
                **_roots_json(info),
                "ok": not needs_fix,
                "findings": [f.to_json() for f in report.findings],
                "quarantined": [
                    {"path": str(f.path), "moved_to": str(dest) if dest else None}
                    for f, dest in moved
                ],
                "dry_run": dry_run,
                "warnings": list(info.warnings),
            }
        )
    else:
        _render_findings(info, report.findings, fixed, dry_run=dry_run and fix)
    if needs_fix:
        raise typer.Exit(1)


def _render_findings(
    info: CacheInfo, findings: tuple[Finding, ...], fixed: set[Path], *, dry_run: bool
) -> None:
    if not findings:
        say(f"{len(info.entries)} entries checked under {info.roots.describe()}: all good")
        return
    table = Table(title=escape(f"check {info.roots.describe()}"), title_justify="left")
    for col in ("kind", "path", "detail", "size", "action"):
        table.add_column(col, overflow="fold")
    for f in findings:
        if f.path in fixed:
            action = "quarantined"
        elif f.fixable:
            action = "would quarantine" if dry_run else "fixable (--fix)"
        else:
            action = "left alone"
        table.add_row(
            *plain(f.kind.value, str(f.path), f.detail, format_size(f.size_bytes), action)
        )
    stdout.print(table)
    say(f"{len(findings)} findings in {len(info.entries)} entries, {len(fixed)} quarantined")


@cache_app.command("prune")
def prune_command(
    cache_dir: CacheDirOpt = None,
    layout: LayoutOpt = LayoutChoice.AUTO,
    older_than: Annotated[
        str | None, typer.Option("--older-than", help="Prune entries unused this long (e.g. 14d).")
    ] = None,
    max_size: Annotated[
        str | None,
        typer.Option(
            "--max-size", help="Then prune least recently used down to this size (e.g. 20G)."
        ),
    ] = None,
    plan_file: Annotated[
        Path | None,
        typer.Option("--plan", "--not-in-plan", help="Prune entries this plan does not need."),
    ] = None,
    yes: YesOpt = False,
    dry_run: DryRunOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Delete entries by age, by a size budget, or by not being in a plan (writable root only)."""
    older_s = parse_age(older_than, flag="--older-than") if older_than is not None else None
    budget = parse_size(max_size, flag="--max-size") if max_size is not None else None
    plan = Plan.load(plan_file) if plan_file is not None else None
    info = scan_cache(resolve_roots(cache_dir, layout), layout=layout.layout)
    if plan is not None and plan_file is not None:
        check_plan_for_cache(plan, plan_file, info.roots.writable)
    _warn(info)
    strategy = plan_prune(info, older_than_s=older_s, max_size_bytes=budget, plan=plan)
    removed = 0
    if strategy.items and not dry_run:
        question = (
            f"Delete {len(strategy.items)} entries ({strategy.expected_freed_str}) "
            f"from {info.roots.writable}?"
        )
        if confirm_or_refuse(question, yes=yes):
            removed = strategy.execute()
    locks_removed = 0 if dry_run else prune_idle_locks(info.roots.writable)
    if as_json:
        print_json(
            {
                **_roots_json(info),
                "dry_run": dry_run,
                "planned": [{**i.entry.to_json(), "reason": i.reason} for i in strategy.items],
                "expected_freed_bytes": strategy.expected_freed_bytes,
                "kept_bytes": strategy.kept_bytes,
                "removed": removed,
                "locks_removed": locks_removed,
            }
        )
        return
    if strategy.items:
        table = Table(title=escape(f"prune {info.roots.describe()}"), title_justify="left")
        for col in ("family", "kernel", "key", "size", "last used", "reason"):
            table.add_column(col, overflow="fold")
        for i in strategy.items:
            e = i.entry
            table.add_row(
                *plain(
                    e.family_label, e.kernel_name, e.key[:12], e.size_str, e.last_used_str, i.reason
                )
            )
        stdout.print(table)
    verb = "would free" if dry_run or not removed else "freed"
    say(
        f"{len(strategy.items)} entries, {verb} {strategy.expected_freed_str}; "
        f"{format_size(strategy.kept_bytes)} of entries remain in the writable root"
        + (f"; {removed} deleted" if removed else "")
    )
