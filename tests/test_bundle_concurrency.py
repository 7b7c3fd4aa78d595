"""Several processes import, warm (DeepGEMM-style publish), prune and fix one shared root at
once: no process ever sees a partial entry, and the cache ends consistent."""

from __future__ import annotations

import multiprocessing as mp
import os
import shutil
import stat
import uuid
from pathlib import Path

from _cubin import gemm_source, real_cubin, write_entry
from jitwarm.bundle import Provenance, export_bundle, import_bundle
from jitwarm.cache import (
    CUBIN_FILE,
    SOURCE_FILE,
    EntryStatus,
    FindingKind,
    check_cache,
    plan_prune,
    quarantine_findings,
    scan_cache,
)
from jitwarm.dgenv import CacheRoots, Layout

HOST = Provenance(arch="sm90", num_sms=132, cuda_version="13.0", layout=Layout.UPSTREAM)
ARGS = (
    "cute::UMMA::Major::K, 0, {n}, 7168, 1, 16, 32, 128, 128, 128, 64, 16, 128, 128, 1, "
    "false, 132, GemmType::Normal, cutlass::bfloat16_t, epilogue::transform::EpilogueIdentity"
)
NUM_BUNDLED, NUM_WARMED = 12, 12  # warmers publish 6 of the bundled entries and 6 of their own


def _entry_files(i: int, cubin: bytes) -> tuple[str, dict[str, bytes]]:
    """Deterministic content per kernel, as a real compile would produce."""
    name = f"kernel.sm90_fp8_gemm_1d2d.{i:032x}"
    return name, {
        SOURCE_FILE: gemm_source(ARGS.format(n=128 * (i + 1))).encode(),
        CUBIN_FILE: cubin + i.to_bytes(4, "little"),
    }


def _importer(root: str, bundle: str, start: mp.synchronize.Barrier, out: mp.Queue) -> None:
    start.wait()
    errors = []
    for _ in range(4):
        try:
            import_bundle(Path(bundle), CacheRoots(Path(root)), host=HOST)
        except Exception as exc:  # any error is a failure of the property under test
            errors.append(f"import: {exc!r}")
    out.put(errors)


def _warmer(
    root: str, cubin: bytes, first: int, start: mp.synchronize.Barrier, out: mp.Queue
) -> None:
    """Publish the way DeepGEMM 2.5.0 does: compile into tmp/<uuid>, rename, drop on loss."""
    start.wait()
    base = Path(root)
    for _ in range(3):
        for i in range(first, first + NUM_WARMED):
            name, files = _entry_files(i, cubin)
            if (base / "cache" / name).exists():
                continue
            tmp = base / "tmp" / uuid.uuid4().hex
            tmp.mkdir(parents=True)
            for fname, data in files.items():
                (tmp / fname).write_bytes(data)
            (base / "cache").mkdir(exist_ok=True)
            try:
                os.rename(tmp, base / "cache" / name)
            except OSError:
                shutil.rmtree(tmp)
    out.put([])


def _pruner(root: str, start: mp.synchronize.Barrier, out: mp.Queue) -> None:
    start.wait()
    errors = []
    for _ in range(6):
        try:
            plan_prune(scan_cache(Path(root)), older_than_s=0.0).execute()
        except Exception as exc:
            errors.append(f"prune: {exc!r}")
    out.put(errors)


def _fixer(root: str, start: mp.synchronize.Barrier, out: mp.Queue) -> None:
    start.wait()
    errors = []
    for _ in range(6):
        report = check_cache(scan_cache(Path(root)), tmp_grace_s=3600)
        for f in report.findings:
            if f.kind in (FindingKind.INCOMPLETE, FindingKind.POISONED):
                errors.append(f"check saw {f.kind.value} {f.path.name}: {f.detail}")
        quarantine_findings(report)
    out.put(errors)


def _watcher(
    root: str, start: mp.synchronize.Barrier, done: mp.synchronize.Event, out: mp.Queue
) -> None:
    """Open every visible entry and check it is whole. A folder missing a file only counts if
    that very folder (same inode) is still at its cache path: deletions rename first."""
    start.wait()
    cache = Path(root) / "cache"
    errors, looks = [], 0
    while not done.is_set() or looks < 50:
        looks += 1
        try:
            names = os.listdir(cache)
        except FileNotFoundError:
            continue
        for name in names:
            path = cache / name
            try:
                fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
            except (FileNotFoundError, NotADirectoryError):
                continue
            try:
                whole = all(_is_file(f, fd) for f in (SOURCE_FILE, CUBIN_FILE))
                if not whole and _same_inode(path, fd):
                    errors.append(f"partial entry visible: {name}")
            finally:
                os.close(fd)
    out.put(errors)


def _is_file(name: str, fd: int) -> bool:
    try:
        return stat.S_ISREG(os.stat(name, dir_fd=fd).st_mode)
    except FileNotFoundError:
        return False


def _same_inode(path: Path, fd: int) -> bool:
    try:
        return os.stat(path).st_ino == os.fstat(fd).st_ino
    except FileNotFoundError:
        return False


def test_concurrent_imports_warms_prunes_and_fixes(tmp_path: Path) -> None:
    cubin = real_cubin()
    src = tmp_path / "src"
    for i in range(NUM_BUNDLED):
        name, files = _entry_files(i, cubin)
        write_entry(
            src,
            "sm90_fp8_gemm_1d2d",
            name.rsplit(".", 1)[1],
            source=files[SOURCE_FILE].decode(),
            cubin=files[CUBIN_FILE],
        )
    bundle = tmp_path / "k.tar.gz"
    export_bundle(scan_cache(src), bundle, provenance=HOST)
    root = tmp_path / "shared"
    root.mkdir()

    ctx = mp.get_context("spawn")
    out: mp.Queue = ctx.Queue()
    done = ctx.Event()
    writers = [
        *(("import", _importer, (str(root), str(bundle))) for _ in range(3)),
        ("warm", _warmer, (str(root), cubin, NUM_BUNDLED // 2)),
        ("warm", _warmer, (str(root), cubin, NUM_BUNDLED // 2)),
        ("prune", _pruner, (str(root),)),
        ("fix", _fixer, (str(root),)),
    ]
    start = ctx.Barrier(len(writers) + 1)
    procs = [ctx.Process(target=fn, args=(*args, start, out)) for _, fn, args in writers]
    watcher = ctx.Process(target=_watcher, args=(str(root), start, done, out))
    for p in [*procs, watcher]:
        p.start()
    results = [out.get(timeout=300) for _ in procs]
    done.set()
    results.append(out.get(timeout=300))
    for p in [*procs, watcher]:
        p.join(timeout=60)
        assert p.exitcode == 0
    errors = [e for r in results for e in r]
    assert errors == []

    # The cache is consistent: whole, valid entries with the right bytes, no leftovers.
    info = scan_cache(root)
    assert all(e.status is EntryStatus.OK for e in info.entries)
    for e in info.entries:
        expected = _entry_files(int(e.key, 16), cubin)[1]
        assert {f: (e.path / f).read_bytes() for f in expected} == expected
    assert list((root / "tmp").iterdir()) == []
    assert not (root / "jitwarm-trash").exists() or list((root / "jitwarm-trash").iterdir()) == []
    assert not (root / "jitwarm-quarantine").exists()

    # and a last import completes it.
    import_bundle(bundle, CacheRoots(root), host=HOST)
    names = {e.name for e in scan_cache(root).ok_entries}
    assert {_entry_files(i, cubin)[0] for i in range(NUM_BUNDLED)} <= names
