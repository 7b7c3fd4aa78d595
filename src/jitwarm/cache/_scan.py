"""A DeepGEMM kernel cache as data: scan the roots into frozen records holding raw values.

Sizes are bytes, times are epoch seconds, locations are Paths; display strings are properties.
A scan survives damage: a broken entry becomes an entry with a status and a problem, an
unreadable piece becomes a warning. The one error is "no cache here".

Last use: DeepJIT touches ``.committed`` on every disk hit, so its mtime is the last use.
The upstream JIT touches nothing; the cubin's access time is the best sign (coarse under ``relatime``,
absent under ``noatime``), and the folder's mtime (its publication) is the floor. Scans read
with ``O_NOATIME`` so they do not count as use.
"""

from __future__ import annotations

import logging
import os
import stat
import time
from collections import Counter
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

from jitwarm.cache._elf import cubin_problem
from jitwarm.cache._fsops import QUARANTINE_DIR, read_noatime, tree_size
from jitwarm.cache._identity import family_of, parse_entry_name, parse_template_args
from jitwarm.cache._units import format_age, format_size
from jitwarm.dgenv import CacheRoots, Layout
from jitwarm.errors import CacheNotFoundError
from jitwarm.plan import Family

log = logging.getLogger(__name__)

SOURCE_FILE = "kernel.cu"
CUBIN_FILE = "kernel.cubin"
META_FILE = "meta.json"
COMMIT_MARKER = ".committed"
REQUIRED_FILES = {
    Layout.UPSTREAM: (SOURCE_FILE, CUBIN_FILE),
    Layout.DEEPJIT: (SOURCE_FILE, CUBIN_FILE, META_FILE, COMMIT_MARKER),
}
ENTRY_FILES = frozenset({SOURCE_FILE, CUBIN_FILE, META_FILE, COMMIT_MARKER})
_SOURCE_READ_LIMIT = 256 * 1024  # generated sources are ~1 KiB; never slurp a huge stray file


class EntryStatus(str, Enum):
    OK = "ok"
    INCOMPLETE = "incomplete"  # a required file or the commit marker is missing
    POISONED = "poisoned"  # kernel.cubin is empty or not a valid CUDA ELF
    STRAY = "stray"  # not a cache entry (a link, a file, a name DeepGEMM never writes)


@dataclass(frozen=True)
class CachedFile:
    name: str
    size_bytes: int
    mtime_s: float


@dataclass(frozen=True)
class CacheEntry:
    """One folder under ``<root>/cache/``."""

    path: Path
    root: Path
    layout: Layout
    kernel_name: str
    key: str
    family: Family | None
    template_args: str | None
    files: tuple[CachedFile, ...]
    created_s: float
    last_used_s: float
    status: EntryStatus
    problem: str | None = None
    read_only: bool = False

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def size_bytes(self) -> int:
        return sum(f.size_bytes for f in self.files)

    @property
    def family_label(self) -> str:
        return self.family.value if self.family is not None else f"({self.kernel_name})"

    @property
    def size_str(self) -> str:
        return format_size(self.size_bytes)

    @property
    def last_used_str(self) -> str:
        return format_age(self.last_used_s)

    def to_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "path": str(self.path),
            "layout": self.layout.value,
            "kernel_name": self.kernel_name,
            "key": self.key,
            "family": self.family.value if self.family is not None else None,
            "template_args": self.template_args,
            "size_bytes": self.size_bytes,
            "created_s": self.created_s,
            "last_used_s": self.last_used_s,
            "status": self.status.value,
            "problem": self.problem,
            "read_only": self.read_only,
            "files": [f.name for f in self.files],
        }


@dataclass(frozen=True)
class TempDir:
    """A folder under ``<root>/tmp/``: a compile or import in progress, or left behind."""

    path: Path
    root: Path
    size_bytes: int
    last_activity_s: float  # newest mtime inside: a live compile keeps this fresh
    read_only: bool = False

    def to_json(self) -> dict[str, object]:
        return {
            "path": str(self.path),
            "size_bytes": self.size_bytes,
            "last_activity_s": self.last_activity_s,
            "read_only": self.read_only,
        }


@dataclass(frozen=True)
class FamilyStats:
    label: str
    entries: int
    size_bytes: int
    kernel_names: tuple[str, ...]
    newest_use_s: float
    oldest_use_s: float


@dataclass(frozen=True)
class CacheInfo:
    roots: CacheRoots
    layout: Layout | None  # the layout most entries have; None for an empty cache
    entries: tuple[CacheEntry, ...]
    temp_dirs: tuple[TempDir, ...]
    quarantined: int
    warnings: tuple[str, ...] = ()
    scanned_at_s: float = field(default_factory=time.time)

    @property
    def size_bytes(self) -> int:
        return sum(e.size_bytes for e in self.entries) + sum(t.size_bytes for t in self.temp_dirs)

    @property
    def ok_entries(self) -> tuple[CacheEntry, ...]:
        return tuple(e for e in self.entries if e.status is EntryStatus.OK)

    def names(self) -> set[str]:
        """Names of the entries DeepGEMM can use, in any root."""
        return {e.name for e in self.ok_entries}

    def family_stats(self) -> list[FamilyStats]:
        groups: dict[str, list[CacheEntry]] = {}
        for e in self.entries:
            if e.status is not EntryStatus.STRAY:
                groups.setdefault(e.family_label, []).append(e)
        return [
            FamilyStats(
                label=label,
                entries=len(es),
                size_bytes=sum(e.size_bytes for e in es),
                kernel_names=tuple(sorted({e.kernel_name for e in es})),
                newest_use_s=max(e.last_used_s for e in es),
                oldest_use_s=min(e.last_used_s for e in es),
            )
            for label, es in sorted(groups.items())
        ]


def scan_cache(roots: CacheRoots | Path, *, layout: Layout | None = None) -> CacheInfo:
    """Scan every root. ``layout`` forces the entry rules; None reads each entry's own layout.

    Raises :class:`CacheNotFoundError` only when the writable root does not exist.
    """
    if isinstance(roots, Path):
        roots = CacheRoots(roots, (), "--cache-dir")
    if not roots.writable.is_dir():
        raise CacheNotFoundError(roots.writable)
    warnings: list[str] = []
    entries: list[CacheEntry] = []
    temps: list[TempDir] = []
    quarantined = 0
    for root in roots.all:
        read_only = root != roots.writable
        if not root.is_dir():
            warnings.append(f"read-only root {root} does not exist")
            continue
        entries += _scan_entries(root, layout, read_only, warnings)
        temps += _scan_temps(root, read_only, warnings)
        quarantine = root / QUARANTINE_DIR
        if quarantine.is_dir():
            quarantined += sum(1 for _ in quarantine.iterdir())
    counts = Counter(e.layout for e in entries if e.status is not EntryStatus.STRAY)
    detected = layout or (counts.most_common(1)[0][0] if counts else None)
    return CacheInfo(roots, detected, tuple(entries), tuple(temps), quarantined, tuple(warnings))


def _listdir(folder: Path, warnings: list[str]) -> list[os.DirEntry[str]]:
    try:
        with os.scandir(folder) as it:
            return sorted(it, key=lambda d: d.name)
    except FileNotFoundError:
        return []
    except OSError as exc:
        warnings.append(f"{folder}: cannot list: {exc.strerror or exc}")
        return []


def _scan_entries(
    root: Path, layout: Layout | None, read_only: bool, warnings: list[str]
) -> list[CacheEntry]:
    out = []
    for item in _listdir(root / "cache", warnings):
        try:
            out.append(scan_entry(Path(item.path), root, layout=layout, read_only=read_only))
        except OSError as exc:  # vanished or unreadable mid-scan (a concurrent prune)
            if not isinstance(exc, FileNotFoundError):
                warnings.append(f"{item.path}: skipped: {exc.strerror or exc}")
    return out


def scan_entry(
    path: Path,
    root: Path,
    *,
    layout: Layout | None = None,
    read_only: bool = False,
    name: str | None = None,
) -> CacheEntry:
    """One entry folder. ``name`` overrides the folder name (an entry moved aside or staged)."""
    forced = layout
    st = os.lstat(path)
    parsed = parse_entry_name(name or path.name)
    guess, kernel_name, key = parsed if parsed else (Layout.UPSTREAM, name or path.name, "")

    def unread(status: EntryStatus, problem: str, files: tuple[CachedFile, ...] = ()) -> CacheEntry:
        """An entry judged from its name and stat alone."""
        return CacheEntry(
            path,
            root,
            forced or guess,
            kernel_name,
            key,
            None,
            None,
            files,
            st.st_mtime,
            st.st_mtime,
            status,
            problem,
            read_only,
        )

    if stat.S_ISLNK(st.st_mode):
        return unread(EntryStatus.STRAY, "a symbolic link, not a folder (left alone)")
    if parsed is None:
        return unread(EntryStatus.STRAY, "not a DeepGEMM cache entry name (left alone)")
    if not stat.S_ISDIR(st.st_mode):
        # DeepGEMM would take this name for an entry and fail on it.
        return unread(
            EntryStatus.INCOMPLETE,
            "not a folder",
            (CachedFile(path.name, st.st_size, st.st_mtime),),
        )

    files: dict[str, os.stat_result] = {}
    with os.scandir(path) as children:  # a vanished entry raises: the caller skips it
        for child in children:
            cst = child.stat(follow_symlinks=False)
            if stat.S_ISREG(cst.st_mode):
                files[child.name] = cst
    layout = forced or (Layout.DEEPJIT if {META_FILE, COMMIT_MARKER} & files.keys() else guess)

    template_args = None
    if SOURCE_FILE in files:
        source = read_noatime(path / SOURCE_FILE, limit=_SOURCE_READ_LIMIT)
        template_args = parse_template_args(source.decode("utf-8", errors="replace"))
    family = family_of(kernel_name, template_args)

    status, problem = EntryStatus.OK, None
    missing = [f for f in REQUIRED_FILES[layout] if f not in files]
    if missing:
        status, problem = EntryStatus.INCOMPLETE, "missing " + ", ".join(missing)
    else:
        bad = cubin_problem(read_noatime(path / CUBIN_FILE))
        if bad:
            status, problem = EntryStatus.POISONED, f"{CUBIN_FILE}: {bad}"

    last_used = st.st_mtime
    if CUBIN_FILE in files:
        last_used = max(last_used, files[CUBIN_FILE].st_atime)
    if COMMIT_MARKER in files:
        last_used = max(last_used, files[COMMIT_MARKER].st_mtime)
    cached = tuple(
        CachedFile(name, fst.st_size, fst.st_mtime) for name, fst in sorted(files.items())
    )
    return CacheEntry(
        path,
        root,
        layout,
        kernel_name,
        key,
        family,
        template_args,
        cached,
        st.st_mtime,
        last_used,
        status,
        problem,
        read_only,
    )


def _scan_temps(root: Path, read_only: bool, warnings: list[str]) -> list[TempDir]:
    out = []
    for item in _listdir(root / "tmp", warnings):
        path = Path(item.path)
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            continue
        if stat.S_ISDIR(st.st_mode):
            size, newest = tree_size(path)
            out.append(TempDir(path, root, size, max(newest, st.st_mtime), read_only))
        else:
            out.append(TempDir(path, root, st.st_size, st.st_mtime, read_only))
    return out
