"""Will a server find its kernels in this cache, or recompile them? The checks behind
``jitwarm doctor``, as data.

Compares the environment a server will run with (this host, this shell, the DeepGEMM build it
imports) against the one the cache was built with: a bundle's manifest, a provenance file, or
the ``jitwarm-provenance.json`` warm leaves at the cache root. Each finding says what to do.
Pure Python: nothing here imports torch or deep_gemm.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from jitwarm import dgenv
from jitwarm.bundle import PROVENANCE_FILE, Provenance, nvcc_version_mismatch
from jitwarm.errors import UsageError
from jitwarm.profiles import UNVALIDATED, DetectedBuild

__all__ = ["FAIL", "OK", "UNVALIDATED", "WARN", "Finding", "diagnose", "load_built"]

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
    built: Provenance | None,
    host: Provenance,
    roots: dgenv.CacheRoots,
    *,
    source: str,
    build: DetectedBuild | None = None,
) -> list[Finding]:
    """Every finding, host first. ``build``: the DeepGEMM this host's server imports (what
    ``host`` was made from), for what only its profile can tell (unknown builds, selection
    models not validated for it)."""
    out = _host_findings(host, roots, build)
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


def _host_findings(
    host: Provenance, roots: dgenv.CacheRoots, build: DetectedBuild | None
) -> list[Finding]:
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
    out += _build_findings(host, build)
    out += _root_findings(roots, host)
    return out


def _build_findings(host: Provenance, build: DetectedBuild | None) -> list[Finding]:
    if build is not None and not build.found:
        return [
            Finding(
                "deepgemm",
                FAIL,
                f"DeepGEMM is not installed for this interpreter: {build.describe()}",
                fix="install the DeepGEMM build the cache was made with, or name one with "
                f"--deepgemm MODULE / {dgenv.DEEPGEMM_MODULE_VAR}",
            )
        ]
    if build is None:
        if host.deepgemm_version is None:
            return [
                Finding(
                    "deepgemm",
                    FAIL,
                    "DeepGEMM is not installed for this interpreter",
                    fix="install the DeepGEMM build the cache was made with",
                )
            ]
        where = f"{host.deepgemm_distribution} {host.deepgemm_version} at {host.deepgemm_path}"
        return [Finding("deepgemm", OK, where)]
    out = [Finding("deepgemm", OK if build.profile else WARN, build.describe())]
    arch = host.arch or "sm90"
    if not build.selection_validated(arch):
        out.append(
            Finding(
                "selection",
                WARN,
                f"{UNVALIDATED} on {arch}: jitwarm cannot predict its kernels, so warm captures "
                "the sources it really generates first (slower, still exact)",
                fix="nothing to do; a profile for this build (jitwarm.profiles) makes it fast",
            )
        )
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
        "build",
        built.deepgemm_build,
        host.deepgemm_build,
        "use the DeepGEMM build the cache was made with (--deepgemm MODULE picks one)",
        what="DeepGEMM build",
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
        what="DeepGEMM install path (the upstream JIT keys on its include path)",
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
