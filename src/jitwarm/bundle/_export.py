"""Pack the cache entries a plan needs (or all healthy ones) into a bundle with a manifest."""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import os
import tarfile
import tempfile
import time
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

from jitwarm.bundle._manifest import (
    MANIFEST_NAME,
    BundleEntry,
    BundleFile,
    BundleManifest,
    Provenance,
)
from jitwarm.cache import (
    ENTRY_FILES,
    CacheEntry,
    CacheInfo,
    EntryStatus,
    PlanIndex,
    kernel_identity,
    read_noatime,
)
from jitwarm.dgenv import Layout
from jitwarm.errors import BundleError
from jitwarm.plan import Plan

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ExportResult:
    manifest: BundleManifest
    path: Path
    skipped_broken: tuple[str, ...]  # entries left out because check would flag them
    plan_kernels_missing: int  # predicted plan kernels with no entry in the cache
    # healthy entries of the plan's families that the plan rule left out (other shapes or
    # settings); many of them may mean the rule and this DeepGEMM build disagree
    left_out_of_plan_families: tuple[str, ...] = ()


def select_entries(
    info: CacheInfo,
    plan: Plan | None,
    layout: Layout,
    *,
    only: Collection[str] | None = None,
) -> list[CacheEntry]:
    """Healthy entries of ``layout`` (writable root first, one per name), filtered by the plan
    if one is given, or to the entry names in ``only`` (a build knows its entries' names)."""
    index = PlanIndex.from_plan(plan) if plan is not None and only is None else None
    seen: dict[str, CacheEntry] = {}
    for e in info.ok_entries:
        if e.name in seen or e.layout is not layout:
            continue
        if only is not None and e.name not in only:
            continue
        if index is None or index.needs(e.family, e.kernel_name, e.template_args):
            seen[e.name] = e
    return sorted(seen.values(), key=lambda e: e.name)


def export_bundle(
    info: CacheInfo,
    out: Path,
    *,
    provenance: Provenance,
    plan: Plan | None = None,
    only: Collection[str] | None = None,
    jitwarm_version: str = "0+source",
) -> ExportResult:
    """Write a bundle to ``out`` atomically (temp file beside it, then one rename).

    ``only``: exactly these entry names (when present), instead of the plan's rule."""
    layout = info.layout or provenance.layout or Layout.UPSTREAM
    entries = select_entries(info, plan, layout, only=only)
    bundle_entries, payload = [], []
    for e in entries:
        files = []
        for f in e.files:
            if f.name not in ENTRY_FILES:
                continue  # dumps (kernel.ptx, kernel.sass) are not needed to load a kernel
            try:
                data = read_noatime(e.path / f.name)
            except FileNotFoundError:
                raise BundleError(
                    f"{e.path}: vanished during export (pruned?); run it again"
                ) from None
            digest = hashlib.sha256(data).hexdigest()
            files.append(BundleFile(name=f.name, size_bytes=len(data), sha256=digest))
            payload.append((e, f.name, digest))
        bundle_entries.append(
            BundleEntry(
                name=e.name,
                kernel_name=e.kernel_name,
                family=e.family.value if e.family else None,
                template_args=e.template_args,
                files=files,
            )
        )
    manifest = BundleManifest(
        jitwarm_version=jitwarm_version,
        created_s=time.time(),
        layout=layout,
        provenance=provenance.model_copy(update={"layout": layout}),
        plan_digest=plan.digest() if plan is not None else None,
        plan_model=plan.model.name if plan is not None else None,
        entries=bundle_entries,
    )
    _write_archive(out, manifest, payload)
    broken = tuple(
        e.name for e in info.entries if e.status in (EntryStatus.INCOMPLETE, EntryStatus.POISONED)
    )
    chosen = {e.name for e in entries}
    families = {pe.family for pe in plan.entries} if plan is not None else set()
    left_out = tuple(
        e.name for e in info.ok_entries if e.family in families and e.name not in chosen
    )
    return ExportResult(manifest, out, broken, _missing_predictions(plan, entries), left_out)


def _missing_predictions(plan: Plan | None, entries: list[CacheEntry]) -> int:
    if plan is None:
        return 0
    have = {(e.family, kernel_identity(e.template_args)) for e in entries if e.template_args}
    return sum(
        1
        for pe in plan.entries
        for kn in pe.kernels or []
        if kn.template_args and (pe.family, kernel_identity(kn.template_args)) not in have
    )


def _write_archive(out: Path, manifest: BundleManifest, payload: list) -> None:
    mode = "w" if out.name.endswith(".tar") else "w:gz"
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            with tarfile.open(fileobj=fh, mode=mode, format=tarfile.PAX_FORMAT) as tar:
                add_member(tar, MANIFEST_NAME, manifest.to_bytes(), manifest.created_s)
                for entry, name, digest in payload:
                    data = read_noatime(entry.path / name)
                    if hashlib.sha256(data).hexdigest() != digest:
                        raise BundleError(
                            f"{entry.path / name} changed during export; run it again"
                        )
                    add_member(tar, f"cache/{entry.name}/{name}", data, entry.created_s)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, out)
        tmp = ""
    except FileNotFoundError as exc:
        raise BundleError(
            f"{exc.filename}: vanished during export (pruned?); run it again"
        ) from None
    finally:
        if tmp:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)


def add_member(tar: tarfile.TarFile, name: str, data: bytes, mtime: float) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o644
    info.mtime = int(mtime)
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    tar.addfile(info, io.BytesIO(data))
