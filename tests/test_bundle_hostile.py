"""Hostile, corrupt, truncated and fuzzed bundles: refused before anything is installed."""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import tarfile
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from _cubin import gemm_source, real_cubin, write_entry
from jitwarm.bundle import (
    MANIFEST_NAME,
    BundleError,
    BundleLimits,
    Provenance,
    ProvenanceMismatchError,
    export_bundle,
    import_bundle,
)
from jitwarm.cache import EntryStatus, scan_cache
from jitwarm.dgenv import CacheRoots, Layout

HOST = Provenance(arch="sm90", num_sms=132, cuda_version="13.0", layout=Layout.UPSTREAM)
ARGS = (
    "cute::UMMA::Major::K, 0, 4096, 7168, 1, 16, 32, 128, 128, 128, 64, 16, 128, 128, 1, "
    "false, 132, GemmType::Normal, cutlass::bfloat16_t, epilogue::transform::EpilogueIdentity"
)
Members = list[tuple[tarfile.TarInfo, bytes | None]]


@pytest.fixture(scope="module")
def good_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("src")
    for i in range(3):
        write_entry(
            root, "sm90_fp8_gemm_1d2d", f"{i:032x}", source=gemm_source(ARGS), cubin=real_cubin()
        )
    out = root.parent / "good.tar"
    export_bundle(scan_cache(root), out, provenance=HOST)
    return out


def _members(bundle: Path) -> Members:
    with tarfile.open(bundle) as tar:
        return [(m, tar.extractfile(m).read() if m.isreg() else None) for m in tar.getmembers()]


def _write(path: Path, members: Members, *, gz: bool = False) -> Path:
    with tarfile.open(path, "w:gz" if gz else "w", format=tarfile.PAX_FORMAT) as tar:
        for info, data in members:
            info = _copy(info)
            if data is not None:
                info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return path


def _copy(info: tarfile.TarInfo) -> tarfile.TarInfo:
    new = tarfile.TarInfo(info.name)
    for attr in ("size", "mode", "mtime", "type", "linkname", "uid", "gid", "devmajor", "devminor"):
        setattr(new, attr, getattr(info, attr))
    return new


def _manifest(members: Members) -> dict:
    return json.loads(members[0][1])


def _with_manifest(members: Members, manifest: dict) -> Members:
    return [(members[0][0], json.dumps(manifest).encode()), *members[1:]]


def _assert_nothing_installed(root: Path) -> None:
    cache = root / "cache"
    assert not cache.exists() or list(cache.iterdir()) == []
    tmp = root / "tmp"
    assert not tmp.exists() or list(tmp.iterdir()) == []


def _reg(name: str, data: bytes) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    return info, data


def _special(name: str, kind: bytes, linkname: str = "") -> tuple[tarfile.TarInfo, None]:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = linkname
    return info, None


ENTRY = "kernel.sm90_fp8_gemm_1d2d." + "0" * 32

HOSTILE: dict[str, Callable[[Members], Members]] = {
    "symlink": lambda m: [*m, _special(f"cache/{ENTRY}/meta.json", tarfile.SYMTYPE, "/etc/passwd")],
    "hardlink": lambda m: [
        *m,
        _special(f"cache/{ENTRY}/meta.json", tarfile.LNKTYPE, "/etc/passwd"),
    ],
    "char device": lambda m: [*m, _special(f"cache/{ENTRY}/meta.json", tarfile.CHRTYPE)],
    "fifo": lambda m: [*m, _special(f"cache/{ENTRY}/meta.json", tarfile.FIFOTYPE)],
    "folder": lambda m: [*m, _special(f"cache/{ENTRY}", tarfile.DIRTYPE)],
    "absolute": lambda m: [*m, _reg("/tmp/evil/kernel.cu", b"x")],
    "traversal": lambda m: [*m, _reg(f"cache/../../{ENTRY}/kernel.cu", b"x")],
    "dot entry": lambda m: [*m, _reg("cache/../kernel.cu", b"x")],
    "backslash": lambda m: [*m, _reg(f"cache\\{ENTRY}\\kernel.cu", b"x")],
    "unknown file": lambda m: [*m, _reg(f"cache/{ENTRY}/payload.so", b"x")],
    "bad entry name": lambda m: [*m, _reg("cache/evil-name/kernel.cu", b"x")],
    "outside cache": lambda m: [*m, _reg(f"tmp/{ENTRY}/kernel.cu", b"x")],
    "duplicate": lambda m: [*m, m[1]],
    "unlisted member": lambda m: [*m, _reg("cache/kernel.sm90_x.abc/kernel.cu", b"x")],
    "missing member": lambda m: m[:-1],
    "manifest not first": lambda m: [*m[1:], m[0]],
    "no manifest": lambda m: m[1:],
    "manifest not json": lambda m: [(m[0][0], b"{nope"), *m[1:]],
    "wrong format version": lambda m: _with_manifest(m, {**_manifest(m), "format_version": 99}),
    "size mismatch": lambda m: [*m[:1], (m[1][0], m[1][1] + b"\n"), *m[2:]],
}


REASONS = {
    "symlink": "link",
    "hardlink": "link",
    "char device": "device or fifo",
    "fifo": "device or fifo",
    "folder": "folder member",
    "absolute": "absolute path",
    "traversal": "path traversal",
    "dot entry": "path traversal",
    "backslash": "backslash",
    "unknown file": "not a cache entry file",
    "bad entry name": "not a DeepGEMM cache entry name",
    "outside cache": "not cache/<entry>/<file>",
    "duplicate": "appears twice",
    "unlisted member": "not in the manifest",
    "missing member": "not in the archive",
    "manifest not first": "first member is not",
    "no manifest": "first member is not",
    "manifest not json": "not valid JSON",
    "wrong format version": "format_version 99",
    "size mismatch": "the manifest says",
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_archives_are_refused(tmp_path: Path, good_bundle: Path, case: str) -> None:
    bad = _write(tmp_path / "bad.tar", HOSTILE[case](_members(good_bundle)))
    dst = tmp_path / "dst"
    with pytest.raises(BundleError, match=re.escape(REASONS[case])):
        import_bundle(bad, CacheRoots(dst), host=HOST)
    _assert_nothing_installed(dst)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.tar"] + (
        ["dst"] if dst.exists() else []
    )


def test_tampered_cubin_fails_its_hash(tmp_path: Path, good_bundle: Path) -> None:
    members = _members(good_bundle)
    i = next(i for i, (m, _) in enumerate(members) if m.name.endswith(".cubin"))
    data = bytearray(members[i][1])
    data[-1] ^= 0xFF  # same size, different bytes
    members[i] = (members[i][0], bytes(data))
    bad = _write(tmp_path / "bad.tar", members)
    with pytest.raises(BundleError, match="sha256"):
        import_bundle(bad, CacheRoots(tmp_path / "dst"), host=HOST)
    _assert_nothing_installed(tmp_path / "dst")


def test_self_consistent_poisoned_cubin_is_refused(tmp_path: Path, good_bundle: Path) -> None:
    members = _members(good_bundle)
    manifest = _manifest(members)
    garbage = b"CUDA_ERROR_INVALID_IMAGE"
    manifest["entries"][0]["files"] = [
        {**f, "size_bytes": len(garbage), "sha256": hashlib.sha256(garbage).hexdigest()}
        if f["name"] == "kernel.cubin"
        else f
        for f in manifest["entries"][0]["files"]
    ]
    target = f"cache/{manifest['entries'][0]['name']}/kernel.cubin"
    members = [(m, garbage if m.name == target else d) for m, d in members]
    bad = _write(tmp_path / "bad.tar", _with_manifest(members, manifest))
    with pytest.raises(BundleError, match="poisoned"):
        import_bundle(bad, CacheRoots(tmp_path / "dst"), host=HOST)
    _assert_nothing_installed(tmp_path / "dst")


def test_size_limits(tmp_path: Path, good_bundle: Path) -> None:
    with pytest.raises(BundleError, match="member limit"):
        import_bundle(
            good_bundle,
            CacheRoots(tmp_path / "a"),
            host=HOST,
            limits=BundleLimits(max_member_bytes=1000),
        )
    with pytest.raises(BundleError, match="total limit"):
        import_bundle(
            good_bundle,
            CacheRoots(tmp_path / "b"),
            host=HOST,
            limits=BundleLimits(max_total_bytes=5000),
        )
    with pytest.raises(BundleError, match="members"):
        import_bundle(
            good_bundle, CacheRoots(tmp_path / "c"), host=HOST, limits=BundleLimits(max_members=2)
        )
    for d in ("a", "b", "c"):
        _assert_nothing_installed(tmp_path / d)


@pytest.mark.parametrize("gz", [False, True])
def test_truncated_bundles_install_nothing(tmp_path: Path, good_bundle: Path, gz: bool) -> None:
    full = _write(tmp_path / "full.tar", _members(good_bundle), gz=gz).read_bytes()
    cut_points = sorted({*range(0, len(full), max(1, len(full) // 40)), len(full) - 1})
    for cut in cut_points:
        part = tmp_path / "part.tar"
        part.write_bytes(full[:cut])
        dst = tmp_path / f"dst{cut}"
        try:
            result = import_bundle(part, CacheRoots(dst), host=HOST)
        except BundleError:
            _assert_nothing_installed(dst)
        else:  # only possible when the cut falls in the end-of-archive padding
            assert len(result.imported) == 3, cut
            assert all(e.status is EntryStatus.OK for e in scan_cache(dst).entries)


def _import_outcome(data: bytes) -> None:
    """Import ``data`` as a bundle; it either installs whole, valid entries or refuses."""
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        bundle = base / "b.tar"
        bundle.write_bytes(data)
        dst = base / "root"
        try:
            result = import_bundle(bundle, CacheRoots(dst), host=HOST)
        except (BundleError, ProvenanceMismatchError):
            _assert_nothing_installed(dst)
        else:
            entries = scan_cache(dst).entries
            assert len(entries) == len(result.imported)
            assert all(e.status is EntryStatus.OK for e in entries)
            assert list((dst / "tmp").iterdir()) == []
        assert sorted(os.listdir(base)) in (["b.tar"], ["b.tar", "root"])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_fuzzed_bytes_never_half_install(good_bundle: Path, data: st.DataObject) -> None:
    raw = bytearray(good_bundle.read_bytes())
    for _ in range(data.draw(st.integers(1, 6), label="mutations")):
        pos = data.draw(st.integers(0, len(raw) - 1), label="pos")
        raw[pos] = data.draw(st.integers(0, 255), label="byte")
    _import_outcome(bytes(raw))


_NAME_PARTS = st.sampled_from(
    [
        "cache",
        "..",
        ".",
        "",
        "/",
        "kernel.cu",
        "kernel.cubin",
        "meta.json",
        ".committed",
        "etc",
        "kernel.sm90_fp8_gemm_1d2d.00",
        "sm90_x.ff",
        "a\\b",
        "C:",
        "\x00",
    ]
)
_TYPES = st.sampled_from(
    [
        tarfile.REGTYPE,
        tarfile.SYMTYPE,
        tarfile.LNKTYPE,
        tarfile.DIRTYPE,
        tarfile.CHRTYPE,
        tarfile.FIFOTYPE,
        tarfile.CONTTYPE,
    ]
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    members=st.lists(
        st.tuples(st.lists(_NAME_PARTS, min_size=1, max_size=4), _TYPES, st.binary(max_size=64)),
        max_size=5,
    )
)
def test_fuzzed_members_are_refused_or_harmless(good_bundle: Path, members: list) -> None:
    base = _members(good_bundle)
    extra: Members = []
    for parts, kind, payload in members:
        name = "/".join(parts).replace("\x00", "")
        if not name:
            continue
        info = tarfile.TarInfo(name)
        info.type = kind
        if kind in (tarfile.SYMTYPE, tarfile.LNKTYPE):
            info.linkname = "../../etc/passwd"
        extra.append((info, payload if kind in (tarfile.REGTYPE, tarfile.CONTTYPE) else None))
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for info, data in [*base, *extra]:
            info = _copy(info)
            if data is not None:
                info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    _import_outcome(buf.getvalue())


def test_manifest_first_check_happens_before_any_write(tmp_path: Path, good_bundle: Path) -> None:
    members = _members(good_bundle)
    bad = _write(tmp_path / "bad.tar", [*members, _reg("/etc/evil", b"x")])
    with pytest.raises(BundleError, match="absolute path"):
        import_bundle(bad, CacheRoots(tmp_path / "dst"), host=HOST)
    assert not (tmp_path / "dst").exists()  # validation precedes even creating the root
    assert members[0][0].name == MANIFEST_NAME
