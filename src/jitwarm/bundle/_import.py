"""Install a bundle into a cache root so no partial entry is ever visible.

1. Validate the whole archive (``open_bundle``) before writing anything.
2. Compare provenance with this host; refuse on a mismatch unless forced.
3. Extract every entry the cache lacks into one private staging folder under ``<root>/tmp/``,
   hashing as it writes; any bad hash or an entry that would not pass ``check`` (say, a cubin
   that is not a CUDA ELF) aborts the import with nothing published.
4. Publish each staged entry with one ``os.rename`` into ``cache/``. If another process
   published the same entry first, the rename fails and ours is dropped: skipped, not an error.

A file lock per root keeps concurrent imports of the same bundle from staging the same entries
twice; correctness never depends on it (the rename does that).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import logging
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import filelock

from jitwarm.bundle._host import compare_provenance
from jitwarm.bundle._manifest import BundleEntry, BundleLimits, BundleManifest, Provenance
from jitwarm.bundle._read import OpenBundle, open_bundle
from jitwarm.cache import CacheWriteError, EntryStatus, fsync_dir, new_staging_dir, scan_entry
from jitwarm.dgenv import CacheRoots
from jitwarm.errors import BundleError, ProvenanceMismatchError

log = logging.getLogger(__name__)

LOCK_DIR = "jitwarm-locks"
_CHUNK = 1024 * 1024
_LOCK_TIMEOUT_S = 600.0


@dataclass(frozen=True)
class ImportResult:
    manifest: BundleManifest
    imported: tuple[str, ...]
    skipped: tuple[str, ...]  # already present in some root (or published by another process)
    mismatches: tuple[str, ...] = ()  # provenance differences overridden by force
    warnings: tuple[str, ...] = field(default_factory=tuple)


def import_bundle(
    path: Path,
    roots: CacheRoots,
    *,
    host: Provenance,
    force: bool = False,
    limits: BundleLimits | None = None,
) -> ImportResult:
    with open_bundle(path, limits=limits) as bundle:
        mismatches, warnings = compare_provenance(bundle.manifest.provenance, host)
        if mismatches and not force:
            raise ProvenanceMismatchError(mismatches)
        root = roots.writable
        try:
            (root / "cache").mkdir(parents=True, exist_ok=True)
            (root / "tmp").mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CacheWriteError(
                f"{root}: cannot create cache folders: {exc}", path=root
            ) from None
        with _dedup_lock(root):
            wanted = [e for e in bundle.manifest.entries if not _present(roots, e.name)]
            wanted_names = {e.name for e in wanted}
            skipped = [e.name for e in bundle.manifest.entries if e.name not in wanted_names]
            warnings += _broken_present(root, skipped)
            imported = _stage_and_publish(bundle, root, wanted, skipped)
    return ImportResult(
        bundle.manifest,
        tuple(imported),
        tuple(skipped),
        tuple(mismatches) if force else (),
        tuple(warnings),
    )


def _present(roots: CacheRoots, name: str) -> bool:
    return any(os.path.lexists(r / "cache" / name) for r in roots.all)


def _broken_present(root: Path, names: list[str]) -> list[str]:
    """Warnings for skipped entries whose existing copy in the writable root is broken."""
    out = []
    for name in names:
        path = root / "cache" / name
        try:
            entry = scan_entry(path, root)
        except OSError:
            continue
        if entry.status is not EntryStatus.OK:
            out.append(
                f"{name}: kept the existing {entry.status.value} copy ({entry.problem}); "
                "run `jitwarm cache check --fix`, then import again"
            )
    return out


@contextlib.contextmanager
def _dedup_lock(root: Path) -> Iterator[None]:
    """Serialize imports into one root to avoid duplicate staging; never required."""
    try:
        (root / LOCK_DIR).mkdir(exist_ok=True)
        lock = filelock.FileLock(str(root / LOCK_DIR / "import.lock"), timeout=_LOCK_TIMEOUT_S)
        lock.acquire()
    except (OSError, filelock.Timeout) as exc:
        log.warning("import lock unavailable (%s); importing without it", exc)
        yield
        return
    try:
        yield
    finally:
        lock.release()


def _stage_and_publish(
    bundle: OpenBundle, root: Path, wanted: list[BundleEntry], skipped: list[str]
) -> list[str]:
    if not wanted:
        return []
    staging = new_staging_dir(root, "jitwarm-import-")
    try:
        for entry in wanted:
            _stage_entry(bundle, staging, entry)
        fsync_dir(staging)
        imported = []
        for entry in wanted:
            if _publish(staging / entry.name, root / "cache" / entry.name):
                imported.append(entry.name)
            else:
                skipped.append(entry.name)
        fsync_dir(root / "cache")
        return imported
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _stage_entry(bundle: OpenBundle, staging: Path, entry: BundleEntry) -> None:
    folder = staging / entry.name
    folder.mkdir()
    for f in entry.files:
        member = bundle.members[f"cache/{entry.name}/{f.name}"]
        target = folder / f.name
        digest = hashlib.sha256()
        written = 0
        try:
            src = bundle.tar.extractfile(member)
            if src is None:
                raise BundleError(
                    f"{bundle.path}: {member.name} cannot be read",
                    path=bundle.path,
                    member=member.name,
                )
            with open(target, "xb") as out:
                while chunk := src.read(_CHUNK):
                    written += len(chunk)
                    if written > f.size_bytes:
                        break
                    digest.update(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
        except (EOFError, OSError) as exc:
            if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EACCES):
                raise CacheWriteError(
                    f"{target}: cannot write: {exc.strerror}", path=target
                ) from None
            raise BundleError(
                f"{bundle.path}: {member.name} is truncated or corrupt ({exc})",
                path=bundle.path,
                member=member.name,
            ) from None
        if written != f.size_bytes or digest.hexdigest() != f.sha256:
            raise BundleError(
                f"{bundle.path}: {member.name} does not match its sha256 in the manifest; "
                "nothing was installed",
                path=bundle.path,
                member=member.name,
            )
    fsync_dir(folder)
    staged = scan_entry(folder, staging, layout=bundle.manifest.layout, name=entry.name)
    if staged.status is not EntryStatus.OK:
        raise BundleError(
            f"{bundle.path}: entry {entry.name} is {staged.status.value} ({staged.problem}); "
            "nothing was installed",
            path=bundle.path,
        )


def _publish(staged: Path, target: Path) -> bool:
    """One rename; False when another process published the entry first."""
    try:
        os.rename(staged, target)
    except OSError as exc:
        if os.path.lexists(target) or exc.errno in (errno.EEXIST, errno.ENOTEMPTY):
            return False
        raise CacheWriteError(
            f"{target}: cannot publish: {exc.strerror or exc}", path=target
        ) from None
    return True
