"""Shards built into separate roots, each exported as a bundle with the build's provenance,
merged back and imported into an empty root: every entry arrives once, as DeepGEMM wrote it.
Mixed or hostile bundles are refused in one line; bundle import and doctor say in one line when
this host's nvcc --version text differs."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest

from _build_gt import ground_truth, gt_job, real_nvcc
from _cli import run
from _wheels import unpacked_wheel
from jitwarm.build import (
    NOT_VERIFIED,
    LocalExecutor,
    Shard,
    export_build_bundle,
    prepare_build,
    probe_nvcc,
    resolve_target,
    run_build,
)
from jitwarm.bundle import (
    BundleError,
    ProvenanceMismatchError,
    compare_provenance,
    import_bundle,
    merge_bundles,
    open_bundle,
)
from jitwarm.dgenv import CacheRoots
from jitwarm.models._loader import load_model
from jitwarm.plan import plan_serving
from jitwarm.serving import ServingConfig

METADATA = "sm90_paged_mqa_logits_metadata"


@pytest.fixture(scope="module")
def shard_bundles(tmp_path_factory):
    """Two metadata kernels of DeepGEMM 2.8.0, built as shards 0/2 and 1/2 with bundles."""
    nvcc = probe_nvcc(real_nvcc(), arch="sm90")
    target = resolve_target(str(unpacked_wheel("2.8.0")))
    entries = [e for e in ground_truth()["entries"] if e["entry"].startswith(METADATA)][:2]
    jobs = [
        gt_job(e["entry"], target.package_dir, nvcc.path, est_s=1.0 + i)
        for i, e in enumerate(entries)
    ]
    plan = plan_serving(load_model("deepseek-v3"), ServingConfig(tp=8))
    base = tmp_path_factory.mktemp("shards")
    out = []
    for i in range(2):
        prepared = prepare_build(
            plan,
            target,
            nvcc,
            cache_dir=base / f"root{i}",
            shard=Shard(i, 2),
            render=lambda *a: jobs,
        )
        report = run_build(prepared, executor=LocalExecutor(1))
        assert report.ok and report.compiled == 1, report.failures
        assert (base / f"root{i}" / "jitwarm-provenance.json").is_file()
        out.append(export_build_bundle(prepared, base / f"shard{i}.tar.gz"))
    return out, entries, plan, nvcc


def test_shard_bundles_merge_and_import_as_deepgemm_wrote_them(shard_bundles, tmp_path):
    (a, b), entries, plan, nvcc = shard_bundles
    merged = merge_bundles([a, b, a], tmp_path / "all.tar.gz")
    assert merged.duplicates == 1
    m = merged.manifest
    assert sorted(e.name for e in m.entries) == sorted(e["entry"] for e in entries)
    p = m.provenance
    assert (p.deepgemm_build, p.deepgemm_distribution, p.deepgemm_version) == (
        "tokenspeed-deepgemm-2.8.0",
        "tokenspeed-deepgemm",
        "2.8.0.post20260924",
    )
    assert (p.arch, p.num_sms, p.built_without_gpu) == ("sm90", 132, True)
    assert p.nvcc_version == nvcc.version_text.strip() and p.deepgemm_path is None
    assert m.plan_digest == plan.digest()
    assert not any(NOT_VERIFIED in n for n in p.notes)

    host = p.model_copy(
        update={"deepgemm_path": "/site-packages/deep_gemm", "nvcc_path": "/x/nvcc"}
    )
    result = import_bundle(tmp_path / "all.tar.gz", CacheRoots(tmp_path / "gpu-root"), host=host)
    assert sorted(result.imported) == sorted(e["entry"] for e in entries)
    for e in entries:
        entry = tmp_path / "gpu-root" / "cache" / e["entry"]
        assert (entry / "kernel.cu").read_text() == e["kernel_cu"]
        assert (entry / ".committed").exists() and (entry / "kernel.cubin").stat().st_size > 0


def test_doctor_on_the_built_root_flags_another_nvcc(shard_bundles, tmp_path, capsys, monkeypatch):
    (a, _), *_ = shard_bundles
    root = a.parent / "root0"
    fake = tmp_path / "nvcc"
    fake.write_text(
        "#!/bin/sh\nprintf 'Cuda compilation tools, release 13.0, V13.0.48\\nBuild cuda_13.0.r13.0/compiler.35059454_0\\n'\n"
    )
    fake.chmod(0o755)
    monkeypatch.setenv("DG_JIT_NVCC_COMPILER", str(fake))
    code, out, _ = run(
        capsys, "doctor", "--cache-dir", str(root), "--arch", "sm90", "--num-sms", "132", "--json"
    )
    assert code == 1
    [finding] = [
        f for f in json.loads(out)["findings"] if "every DeepJIT entry would miss" in f["message"]
    ]
    assert finding["status"] == "fail" and finding["recompiles"]
    assert "V13.0.88" in finding["message"] and "V13.0.48" in finding["message"]
    assert "\n" not in finding["message"] and "jitwarm build" in finding["fix"]


def test_nvcc_text_mismatch_is_one_line_with_the_fix(shard_bundles, tmp_path):
    (a, _), *_ = shard_bundles
    with open_bundle(a) as opened:
        built = opened.manifest.provenance
    other = built.nvcc_version.replace("V13.0.88", "V13.0.48").replace("36424714_0", "35059454_0")
    host = built.model_copy(update={"nvcc_version": other})
    mismatches, _ = compare_provenance(built, host)
    assert len(mismatches) == 1
    line = mismatches[0]
    assert "\n" not in line and "every DeepJIT entry would miss" in line
    assert "V13.0.88" in line and "V13.0.48" in line and "jitwarm build" in line
    with pytest.raises(ProvenanceMismatchError) as info:
        import_bundle(a, CacheRoots(tmp_path / "r"), host=host)
    assert "\n" not in str(info.value)
    assert not (tmp_path / "r" / "cache").exists() or not any((tmp_path / "r" / "cache").iterdir())


def _rewrite(src: Path, dst: Path, *, manifest=None, member_bytes=None) -> Path:
    """A copy of a bundle with its manifest (a function of the JSON) or one member changed."""
    with tarfile.open(src) as tin, tarfile.open(dst, "w:gz") as tout:
        for m in tin:
            data = tin.extractfile(m).read()
            if m.name == "jitwarm-bundle.json" and manifest is not None:
                data = json.dumps(manifest(json.loads(data))).encode()
            elif m.name.endswith("kernel.cubin") and member_bytes is not None:
                data = member_bytes(data)
            m.size = len(data)
            tout.addfile(m, io.BytesIO(data))
    return dst


def _prov(change):
    def edit(raw):
        raw["provenance"].update(change)
        return raw

    return edit


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"num_sms": 78}, "SM count differs"),
        ({"arch": "sm100"}, "arch differs"),
        ({"deepgemm_version": "2.8.2.post20261020"}, "DeepGEMM version differs"),
        (
            {"nvcc_version": "Cuda compilation tools, release 12.9, V12.9.86"},
            "nvcc version text differs",
        ),
    ],
)
def test_merge_refuses_mixed_builds(shard_bundles, tmp_path, change, expected):
    (a, b), *_ = shard_bundles
    bad = _rewrite(b, tmp_path / "b.tar.gz", manifest=_prov(change))
    with pytest.raises(BundleError) as info:
        merge_bundles([a, bad], tmp_path / "out.tar.gz")
    assert expected in str(info.value) and "\n" not in str(info.value)
    assert not (tmp_path / "out.tar.gz").exists()


def test_merge_refuses_tampered_and_foreign_files(shard_bundles, tmp_path):
    (a, b), *_ = shard_bundles
    flipped = _rewrite(b, tmp_path / "t.tar.gz", member_bytes=lambda d: d[:-1] + bytes([d[-1] ^ 1]))
    with pytest.raises(BundleError, match="sha256"):
        merge_bundles([a, flipped], tmp_path / "out.tar.gz")
    junk = tmp_path / "junk.tar.gz"
    junk.write_bytes(b"not a tar")
    with pytest.raises(BundleError, match="not a readable bundle"):
        merge_bundles([a, junk], tmp_path / "out.tar.gz")
    assert not (tmp_path / "out.tar.gz").exists()


def test_cli_merge_and_inspect(shard_bundles, tmp_path, capsys):
    (a, b), *_ = shard_bundles
    code, out, err = run(
        capsys, "bundle", "merge", str(a), str(b), "-o", str(tmp_path / "m.tar.gz")
    )
    assert code == 0, err
    assert "2 entries from 2 bundles" in out
    code, out, _ = run(capsys, "bundle", "inspect", str(tmp_path / "m.tar.gz"))
    assert code == 0
    assert "tokenspeed-deepgemm-2.8.0" in out and "without a GPU" in out
    bad = _rewrite(b, tmp_path / "b.tar.gz", manifest=_prov({"num_sms": 78}))
    code, _, err = run(
        capsys, "bundle", "merge", str(a), str(bad), "-o", str(tmp_path / "x.tar.gz")
    )
    assert code == 2 and err.count("\n") == 1 and "SM count differs" in err


def test_sm100_provenance_says_not_verified(shard_bundles):
    from jitwarm.build import build_provenance

    _, _, plan, nvcc = shard_bundles
    target = resolve_target(str(unpacked_wheel("2.8.0")))
    p = build_provenance(plan.model_copy(update={"arch": "sm100", "num_sms": 148}), target, nvcc)
    assert any(n.startswith(NOT_VERIFIED) for n in p.notes)
