"""Open a bundle and validate every member before anything is extracted.

Refused: an unreadable or truncated archive; a first member that is not the manifest; any
member that is not a regular file (links, devices, fifos, folders, sparse files); names that
are absolute, contain ``..``, backslashes or anything outside ``cache/<entry>/<file>`` with a
DeepGEMM entry name and a known file name; duplicates; members over the size limits; a member
set or sizes that differ from the manifest; entries missing a file their layout requires.
Hashes are checked while extracting (``_import``), before anything is published.
"""

from __future__ import annotations

import re
import tarfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from jitwarm.bundle._manifest import MANIFEST_NAME, BundleLimits, BundleManifest
from jitwarm.cache import ENTRY_FILES, REQUIRED_FILES, parse_entry_name
from jitwarm.errors import BundleError

_ENTRY_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.]*")
_READ_ERRORS = (tarfile.TarError, EOFError, zlib.error, OSError)


@dataclass(frozen=True)
class OpenBundle:
    """A validated bundle: its manifest and, per member name, the tar header to read it by."""

    path: Path
    manifest: BundleManifest
    tar: tarfile.TarFile
    members: dict[str, tarfile.TarInfo]


def _member_problem(m: tarfile.TarInfo, limits: BundleLimits) -> str | None:
    if m.issym() or m.islnk():
        return f"link ({m.linkname!r})"
    if m.ischr() or m.isblk() or m.isfifo():
        return "device or fifo"
    if m.isdir():
        return "folder member"
    if not m.isreg() or m.issparse():
        return f"unsupported member type {m.type!r}"
    if m.size > limits.max_member_bytes:
        return f"{m.size} bytes, over the {limits.max_member_bytes}-byte member limit"
    return None


def _name_problem(name: str) -> str | None:
    if name.startswith("/") or re.match(r"[A-Za-z]:", name):
        return "absolute path"
    if "\\" in name or "\x00" in name:
        return "backslash or NUL in name"
    parts = name.split("/")
    if any(p in ("", ".", "..") for p in parts):
        return "path traversal or empty path part"
    if len(parts) != 3 or parts[0] != "cache":
        return "not cache/<entry>/<file>"
    entry, file = parts[1], parts[2]
    if not _ENTRY_NAME.fullmatch(entry) or parse_entry_name(entry) is None:
        return f"{entry!r} is not a DeepGEMM cache entry name"
    if file not in ENTRY_FILES:
        return f"{file!r} is not a cache entry file"
    return None


@contextmanager
def open_bundle(path: Path, *, limits: BundleLimits | None = None) -> Iterator[OpenBundle]:
    """Open and validate ``path``; raises :class:`BundleError` naming the first problem."""
    limits = limits or BundleLimits()
    try:
        tar = tarfile.open(path, mode="r:*")  # noqa: SIM115 (closed in the finally below)
    except FileNotFoundError:
        raise BundleError(f"{path}: no such file", path=path) from None
    except _READ_ERRORS as exc:
        # tarfile's own message lists every compression it tried, over several lines.
        reason = (
            "not a tar archive, plain or gzip/bzip2/xz-compressed"
            if isinstance(exc, tarfile.ReadError)
            else str(exc).splitlines()[0] or type(exc).__name__
        )
        raise BundleError(f"{path}: not a readable bundle ({reason})", path=path) from None
    try:
        yield _validate(path, tar, limits)
    finally:
        tar.close()


def _validate(path: Path, tar: tarfile.TarFile, limits: BundleLimits) -> OpenBundle:
    members: dict[str, tarfile.TarInfo] = {}
    manifest = None
    total = 0
    try:
        for i, m in enumerate(tar):
            if i >= limits.max_members + 1:
                raise BundleError(f"{path}: more than {limits.max_members} members", path=path)
            if i == 0:
                if m.name != MANIFEST_NAME or not m.isreg() or m.issparse():
                    raise BundleError(f"{path}: first member is not {MANIFEST_NAME}", path=path)
                if m.size > limits.max_manifest_bytes:
                    raise BundleError(
                        f"{path}: manifest of {m.size} bytes is over the limit", path=path
                    )
                fh = tar.extractfile(m)
                data = fh.read(m.size + 1) if fh else b""
                if len(data) != m.size:
                    raise BundleError(f"{path}: manifest is truncated", path=path)
                manifest = BundleManifest.from_bytes(data, source=str(path))
                continue
            problem = _member_problem(m, limits) or _name_problem(m.name)
            if problem:
                raise BundleError(
                    f"{path}: member {m.name!r} refused: {problem}", path=path, member=m.name
                )
            if m.name in members:
                raise BundleError(
                    f"{path}: member {m.name!r} appears twice", path=path, member=m.name
                )
            total += m.size
            if total > limits.max_total_bytes:
                raise BundleError(
                    f"{path}: over the {limits.max_total_bytes}-byte total limit", path=path
                )
            members[m.name] = m
    except _READ_ERRORS as exc:
        raise BundleError(f"{path}: truncated or corrupt archive ({exc})", path=path) from None
    if manifest is None:
        raise BundleError(f"{path}: empty archive, no {MANIFEST_NAME}", path=path)
    _match_manifest(path, manifest, members)
    return OpenBundle(path, manifest, tar, members)


def _match_manifest(
    path: Path, manifest: BundleManifest, members: dict[str, tarfile.TarInfo]
) -> None:
    listed: set[str] = set()
    names: set[str] = set()
    for e in manifest.entries:
        if e.name in names:
            raise BundleError(f"{path}: manifest lists entry {e.name} twice", path=path)
        names.add(e.name)
        have = {f.name for f in e.files}
        missing = [f for f in REQUIRED_FILES[manifest.layout] if f not in have]
        if missing:
            raise BundleError(f"{path}: entry {e.name} lacks {', '.join(missing)}", path=path)
        for f in e.files:
            member = f"cache/{e.name}/{f.name}"
            if member in listed:
                raise BundleError(
                    f"{path}: manifest lists {member} twice", path=path, member=member
                )
            listed.add(member)
            m = members.get(member)
            if m is None:
                raise BundleError(
                    f"{path}: {member} is in the manifest but not in the archive",
                    path=path,
                    member=member,
                )
            if m.size != f.size_bytes:
                raise BundleError(
                    f"{path}: {member} has {m.size} bytes, the manifest says {f.size_bytes}",
                    path=path,
                    member=member,
                )
    extra = sorted(set(members) - listed)
    if extra:
        raise BundleError(
            f"{path}: {extra[0]} is in the archive but not in the manifest",
            path=path,
            member=extra[0],
        )
