"""Join bundles (the shards of one build, or builds of several plans for one host) into one.

Every input is validated as ``bundle import`` validates it (``open_bundle``) and every member's
sha256 is checked while it is copied. Inputs must agree on everything a key or a hit depends on
(layout, arch, SM count, DeepGEMM build, nvcc version text, key-changing settings): a mix is
refused in one line naming the field and the two bundles. Entries are deduplicated by name
(the name is the key); the first bundle that has one wins.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tarfile
import tempfile
import time
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from jitwarm.bundle._export import add_member
from jitwarm.bundle._manifest import MANIFEST_NAME, BundleEntry, BundleManifest, Provenance
from jitwarm.bundle._read import OpenBundle, open_bundle
from jitwarm.errors import BundleError

# Provenance fields that must be equal across merged bundles (what keys and hits depend on).
_MUST_AGREE = (
    ("arch", "arch"),
    ("num_sms", "SM count"),
    ("deepgemm_distribution", "DeepGEMM distribution"),
    ("deepgemm_version", "DeepGEMM version"),
    ("deepgemm_build", "DeepGEMM build"),
    ("nvcc_version", "nvcc version text"),
    ("key_env", "key-changing settings"),
)


@dataclass(frozen=True)
class MergeResult:
    manifest: BundleManifest
    path: Path
    duplicates: int  # entries left out because an earlier bundle had them


def merge_bundles(
    inputs: Sequence[Path], out: Path, *, jitwarm_version: str = "0+source"
) -> MergeResult:
    if not inputs:
        raise BundleError("bundle merge: no input bundles")
    if any(Path(p).resolve() == Path(out).resolve() for p in inputs if Path(p).exists()):
        raise BundleError(f"{out}: the output is also an input")
    with ExitStack() as stack:
        opened = [stack.enter_context(open_bundle(Path(p))) for p in inputs]
        first = opened[0]
        for other in opened[1:]:
            _check_agree(first, other)
        chosen: list[tuple[OpenBundle, BundleEntry]] = []
        seen: set[str] = set()
        for b in opened:
            for e in b.manifest.entries:
                if e.name not in seen:
                    seen.add(e.name)
                    chosen.append((b, e))
        total = sum(len(b.manifest.entries) for b in opened)
        digests = {b.manifest.plan_digest for b in opened}
        models = {b.manifest.plan_model for b in opened}
        manifest = BundleManifest(
            jitwarm_version=jitwarm_version,
            created_s=time.time(),
            layout=first.manifest.layout,
            provenance=_merged_provenance([b.manifest.provenance for b in opened]),
            plan_digest=digests.pop() if len(digests) == 1 else None,
            plan_model=models.pop() if len(models) == 1 else None,
            entries=sorted((e for _, e in chosen), key=lambda e: e.name),
        )
        _write(out, manifest, chosen)
    return MergeResult(manifest, out, total - len(chosen))


def _check_agree(a: OpenBundle, b: OpenBundle) -> None:
    if a.manifest.layout is not b.manifest.layout:
        raise BundleError(
            f"cannot merge {b.path} into {a.path}: cache layout {b.manifest.layout.value} vs "
            f"{a.manifest.layout.value}"
        )
    pa, pb = a.manifest.provenance, b.manifest.provenance
    for attr, label in _MUST_AGREE:
        va, vb = getattr(pa, attr), getattr(pb, attr)
        if va != vb:
            if attr == "nvcc_version":
                va, vb = (_nvcc_build(v) for v in (va, vb))
            raise BundleError(
                f"cannot merge {b.path} into {a.path}: {label} differs ({vb!r} vs {va!r})"
            )


def _nvcc_build(text: str | None) -> str | None:
    lines = (text or "").strip().splitlines()
    return ", ".join(lines[-2:]) if lines else None


def _merged_provenance(provs: list[Provenance]) -> Provenance:
    first = provs[0]
    notes = list(dict.fromkeys(n for p in provs for n in p.notes))
    update = {"notes": notes, "built_without_gpu": all(p.built_without_gpu for p in provs)}
    for attr in ("gpu_name", "deepgemm_path", "nvcc_path"):
        if len({getattr(p, attr) for p in provs}) > 1:
            update[attr] = None  # informational, and not the same: say nothing
    return first.model_copy(update=update)


def _write(
    out: Path, manifest: BundleManifest, chosen: list[tuple[OpenBundle, BundleEntry]]
) -> None:
    mode = "w" if out.name.endswith(".tar") else "w:gz"
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            with tarfile.open(fileobj=fh, mode=mode, format=tarfile.PAX_FORMAT) as tar:
                add_member(tar, MANIFEST_NAME, manifest.to_bytes(), manifest.created_s)
                by_name = {e.name: e for _, e in chosen}
                for bundle, entry in chosen:
                    for f in by_name[entry.name].files:
                        member = bundle.members[f"cache/{entry.name}/{f.name}"]
                        data = _read_checked(bundle, member, f.sha256)
                        add_member(tar, member.name, data, member.mtime)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, out)
        tmp = ""
    finally:
        if tmp:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)


def _read_checked(bundle: OpenBundle, member: tarfile.TarInfo, sha256: str) -> bytes:
    src = bundle.tar.extractfile(member)
    data = src.read(member.size + 1) if src is not None else b""
    if len(data) != member.size or hashlib.sha256(data).hexdigest() != sha256:
        raise BundleError(
            f"{bundle.path}: {member.name} does not match its sha256 in the manifest; "
            "nothing was written",
            path=bundle.path,
            member=member.name,
        )
    return data
