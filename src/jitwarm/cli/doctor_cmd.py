"""``jitwarm doctor``: will this server find its kernels in this cache, or recompile them?

Compares the environment a server will run with (this host, this shell) against the one the
cache was built with: a bundle's manifest (``--bundle``), a provenance file (``--provenance``),
or the ``jitwarm-provenance.json`` warm leaves at the cache root. Each finding says what to
do. Exit 1 when something would make the server recompile (or fail to run a kernel).
"""

# No `from __future__ import annotations`: typer must see real Annotated objects.
import json
import os
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.markup import escape
from rich.table import Table

from jitwarm import dgenv
from jitwarm.bundle import PROVENANCE_FILE, Provenance, host_provenance, nvcc_version_mismatch
from jitwarm.cli import app
from jitwarm.cli._output import print_json, stdout
from jitwarm.errors import UsageError
from jitwarm.serving import Arch

LOW_DISK_BYTES = 1 << 30

OK, WARN, FAIL = "ok", "warn", "fail"


@dataclass(frozen=True)
class Finding:
    check: str
    status: str  # ok | warn | fail
    message: str
    fix: str | None = None
    recompiles: bool = False  # the server would miss the cache and compile


def load_built(
    bundle: Path | None, provenance: Path | None, root: Path
) -> tuple[Provenance | None, str]:
    """What the cache was built with, and where that was read from."""
    if bundle is not None and provenance is not None:
        raise UsageError("give either --bundle or --provenance, not both")
    if bundle is not None:
        return _bundle_provenance(bundle), str(bundle)
    path = provenance or root / PROVENANCE_FILE
    if provenance is None and not path.is_file():
        return None, str(path)
    try:
        raw = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UsageError(f"{path}: cannot read provenance: {exc}") from None
    try:
        # A bundle manifest JSON carries its provenance inside.
        return Provenance.model_validate(
            raw.get("provenance", raw) if isinstance(raw, dict) else raw
        ), str(path)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise UsageError(
            f"{path}: invalid provenance at '{'.'.join(map(str, err['loc']))}': {err['msg']}"
        ) from None


def _bundle_provenance(path: Path) -> Provenance:
    import tarfile

    from jitwarm.bundle import BundleManifest, open_bundle

    if not path.is_file():
        raise UsageError(f"{path}: no such bundle")
    if not tarfile.is_tarfile(path):
        return BundleManifest.from_bytes(path.read_bytes(), source=str(path)).provenance
    with open_bundle(path) as opened:
        return opened.manifest.provenance


def diagnose(
    built: Provenance | None, host: Provenance, roots: dgenv.CacheRoots, *, source: str
) -> list[Finding]:
    out = _host_findings(host, roots)
    if built is None:
        out.append(
            Finding(
                "provenance",
                WARN,
                f"no record of what the cache was built with ({source}); host checks only",
                fix="pass --bundle FILE, or warm the cache with jitwarm warm (it writes "
                f"{PROVENANCE_FILE} at the cache root)",
            )
        )
        return out
    return out + _compare(built, host)


def _host_findings(host: Provenance, roots: dgenv.CacheRoots) -> list[Finding]:
    out: list[Finding] = []
    if host.nvcc_version is None:
        out.append(
            Finding(
                "nvcc",
                FAIL,
                f"no working nvcc ({host.nvcc_path or 'none found'}): DeepGEMM runs "
                "`nvcc --version` at its first kernel call even when every kernel is cached",
                fix="install the CUDA toolkit's nvcc, or set DG_JIT_NVCC_COMPILER to it",
            )
        )
    else:
        out.append(Finding("nvcc", OK, f"nvcc {host.cuda_version} at {host.nvcc_path}"))
    if host.deepgemm_version is None:
        out.append(
            Finding(
                "deepgemm",
                FAIL,
                "DeepGEMM is not installed for this interpreter",
                fix="install the DeepGEMM build the cache was made with",
            )
        )
    else:
        out.append(
            Finding(
                "deepgemm",
                OK,
                f"{host.deepgemm_distribution} {host.deepgemm_version} at {host.deepgemm_path}",
            )
        )
    out += _root_findings(roots, host)
    return out


def _nearest_existing(path: Path) -> Path:
    while not path.exists() and path.parent != path:
        path = path.parent
    return path


def _root_findings(roots: dgenv.CacheRoots, host: Provenance) -> list[Finding]:
    out: list[Finding] = []
    w = roots.writable
    existing = _nearest_existing(w)
    entries = len(os.listdir(w / "cache")) if (w / "cache").is_dir() else 0
    if not os.access(existing, os.W_OK | os.X_OK):
        out.append(
            Finding(
                "cache_root",
                FAIL,
                f"{w} is not writable: a missing kernel cannot be compiled into it",
                fix=f"make {existing} writable, or set DG_JIT_CACHE_DIR to a writable folder",
            )
        )
    else:
        note = "" if w.is_dir() else " (does not exist yet; DeepGEMM creates it)"
        out.append(
            Finding("cache_root", OK, f"{w} is writable, {entries} entries [{roots.source}]{note}")
        )
    if roots.read_only:
        if host.layout is dgenv.Layout.UPSTREAM:
            out.append(
                Finding(
                    "read_only_roots",
                    WARN,
                    "DG_JIT_CACHE_DIR lists several roots, but this DeepGEMM build reads it as one "
                    "path",
                    fix="use one root with this build",
                )
            )
        for ro in roots.read_only:
            if not os.access(ro, os.R_OK | os.X_OK) or not ro.is_dir():
                out.append(
                    Finding(
                        "read_only_roots",
                        FAIL,
                        f"read-only root {ro} is missing or unreadable",
                        fix=f"mount or fix permissions of {ro}",
                        recompiles=True,
                    )
                )
            else:
                out.append(Finding("read_only_roots", OK, f"read-only root {ro} is readable"))
    free = shutil.disk_usage(existing).free
    if free < LOW_DISK_BYTES:
        out.append(
            Finding(
                "disk",
                WARN,
                f"{free / 2**20:.0f} MiB free at {existing}: a compile or bundle import may fail",
                fix="free disk space (a kernel takes about 0.5-2 MiB)",
            )
        )
    else:
        out.append(Finding("disk", OK, f"{free / 2**30:.1f} GiB free at {existing}"))
    return out


def _compare(built: Provenance, host: Provenance) -> list[Finding]:
    out: list[Finding] = []

    def check(
        name: str, b: object, h: object, fix: str, *, what: str, recompiles: bool = True
    ) -> None:
        if b is None or h is None:
            if b != h:
                side = "this host" if h is None else "the cache's provenance"
                out.append(Finding(name, WARN, f"{what}: unknown on {side}, not compared"))
            return
        if b == h:
            out.append(Finding(name, OK, f"{what}: {h} (as built)"))
        else:
            out.append(
                Finding(
                    name,
                    FAIL,
                    f"{what}: {h} here, cache built with {b}",
                    fix=fix,
                    recompiles=recompiles,
                )
            )

    check(
        "gpu_arch",
        built.arch,
        host.arch,
        f"use a cache built on {host.arch} GPUs (jitwarm warm there)",
        what="GPU arch",
    )
    check(
        "num_sms",
        built.num_sms,
        host.num_sms,
        f"call deep_gemm.set_num_sms({built.num_sms}) in the server, "
        f"or re-warm with --num-sms {host.num_sms}",
        what="SM count (baked into every kernel)",
    )
    nvcc_fix = (
        f"set DG_JIT_NVCC_COMPILER={built.nvcc_path}"
        if built.nvcc_path
        else f"install nvcc {built.cuda_version}"
    ) + " (the release is part of every key)"
    deepjit = dgenv.Layout.DEEPJIT in (built.layout, host.layout)
    nvcc_differs = nvcc_version_mismatch(built, host) if deepjit else None
    if nvcc_differs:  # one line with the fix: DeepJIT keys on the whole --version text
        message, _, fix = nvcc_differs.partition(": ")
        out.append(Finding("nvcc", FAIL, message, fix=fix, recompiles=True))
    else:
        check("nvcc", built.cuda_version, host.cuda_version, nvcc_fix, what="nvcc release")
    pin = f"pip install {built.deepgemm_distribution}=={built.deepgemm_version}"
    check(
        "deepgemm",
        built.deepgemm_distribution,
        host.deepgemm_distribution,
        pin,
        what="DeepGEMM distribution",
    )
    check("deepgemm", built.deepgemm_version, host.deepgemm_version, pin, what="DeepGEMM version")
    check(
        "deepgemm",
        built.deepgemm_path,
        host.deepgemm_path,
        f"install DeepGEMM at {built.deepgemm_path} (same venv path), or re-warm on this host",
        what="DeepGEMM install path (2.5.0 keys on its include path)",
        recompiles=not deepjit,
    )
    check(
        "layout",
        built.layout.value if built.layout else None,
        host.layout.value if host.layout else None,
        "use the DeepGEMM build the cache was made with",
        what="cache layout",
    )
    b_env = {k: v for k, v in built.key_env.items() if k != dgenv.NVCC_VAR}
    h_env = {k: v for k, v in host.key_env.items() if k != dgenv.NVCC_VAR}
    for var in sorted(b_env.keys() | h_env.keys()):
        b, h = b_env.get(var), h_env.get(var)
        if b != h:
            fix = f"unset {var}" if b is None else f"export {var}={b}"
            out.append(
                Finding(
                    "key_env",
                    FAIL,
                    f"{var}={h or 'unset'} here, cache built with {var}={b or 'unset'}",
                    fix=fix + " (it changes every cache key)",
                    recompiles=True,
                )
            )
    if b_env == h_env:
        out.append(
            Finding(
                "key_env",
                OK,
                f"key-changing DG_* settings match ({', '.join(sorted(h_env)) or 'none set'})",
            )
        )
    return out


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
        str | None, typer.Option("--cache-dir", help="Cache root the server will use.")
    ] = None,
    arch: Annotated[
        Arch | None, typer.Option("--arch", help="GPU arch the server runs on (default: probe).")
    ] = None,
    num_sms: Annotated[
        int | None,
        typer.Option("--num-sms", min=1, help="SM count the server sets (default: probe the GPU)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the findings as JSON.")] = False,
) -> None:
    """Check this environment against the one the cache was built with; say what to fix."""
    roots = dgenv.resolve_cache_roots(cache_dir)
    built, source = load_built(bundle, provenance, roots.writable)
    host = host_provenance(arch=arch.value if arch else None, num_sms=num_sms)
    findings = diagnose(built, host, roots, source=source)
    failed = [f for f in findings if f.status == FAIL]
    if as_json:
        print_json(
            {
                "ok": not failed,
                "recompiles": any(f.recompiles for f in failed),
                "built_with": source,
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
