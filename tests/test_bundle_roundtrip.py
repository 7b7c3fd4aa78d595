"""Export a cache, inspect it, import it into an empty root: same entries, byte for byte."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from _cubin import gemm_source, real_cubin, render_kernel_cu, write_entry
from jitwarm.bundle import (
    GpuFacts,
    Provenance,
    ProvenanceMismatchError,
    compare_provenance,
    export_bundle,
    import_bundle,
    open_bundle,
)
from jitwarm.cache import EntryStatus, check_cache, scan_cache
from jitwarm.cli import main
from jitwarm.dgenv import CacheRoots, Layout
from jitwarm.models._loader import load_model
from jitwarm.plan import Plan, plan_serving
from jitwarm.plan._schema import Family
from jitwarm.serving import ServingConfig

HOST = Provenance(
    arch="sm90",
    num_sms=132,
    deepgemm_distribution="tokenspeed-deepgemm",
    deepgemm_version="2.5.0.post20260604",
    deepgemm_path="/opt/dg/deep_gemm",
    nvcc_version="Cuda compilation tools, release 13.0, V13.0.88",
    cuda_version="13.0",
    layout=Layout.UPSTREAM,
)


@pytest.fixture(scope="module")
def plan() -> Plan:
    return plan_serving(load_model("deepseek-v3"), ServingConfig(tp=8))


def _fill(root: Path, plan: Plan, *, deepjit: bool = False) -> list[str]:
    """Three kernels the plan needs, one it does not, one broken one."""
    cubin = real_cubin()
    needed = [
        kn.template_args
        for e in plan.entries
        if e.family is Family.FP8_GEMM_NT
        for kn in e.kernels or []
    ][:3]
    names = []
    for i, a in enumerate(needed):
        names.append(
            write_entry(
                root,
                "sm90_fp8_gemm_1d2d",
                f"{i:032x}",
                source=gemm_source(a),
                cubin=cubin,
                deepjit=deepjit,
            ).name
        )
    write_entry(
        root,
        "sm90_bf16_gemm",
        "e" * 32,
        deepjit=deepjit,
        cubin=cubin,
        source=render_kernel_cu("sm90_bf16_gemm", "1, 2, 3"),
    )
    write_entry(
        root,
        "sm90_fp8_gemm_1d2d",
        "f" * 32,
        deepjit=deepjit,
        cubin=b"",
        source=gemm_source(needed[0]),
    )
    return names


def _files(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted((root / "cache").rglob("*"))
        if p.is_file()
    }


@pytest.mark.parametrize("deepjit", [False, True])
def test_plan_bundle_round_trip(tmp_path: Path, plan: Plan, deepjit: bool) -> None:
    src, dst, out = tmp_path / "src", tmp_path / "dst", tmp_path / "k.tar.gz"
    needed = _fill(src, plan, deepjit=deepjit)
    other_sms = plan.entries[0].kernels[0].template_args.replace(", 132, Gemm", ", 114, Gemm")
    stale = write_entry(
        src,
        "sm90_fp8_gemm_1d2d",
        "9" * 32,
        source=gemm_source(other_sms),
        cubin=real_cubin(),
        deepjit=deepjit,
    )
    result = export_bundle(scan_cache(src), out, provenance=HOST, plan=plan)
    assert result.left_out_of_plan_families == (stale.name,)
    assert sorted(e.name for e in result.manifest.entries) == sorted(needed)
    assert result.manifest.plan_digest == plan.digest()
    assert result.manifest.layout is (Layout.DEEPJIT if deepjit else Layout.UPSTREAM)
    assert result.skipped_broken and result.plan_kernels_missing == plan.num_kernels - 3
    host = HOST.model_copy(update={"layout": result.manifest.layout})
    imported = import_bundle(out, CacheRoots(dst), host=host)
    assert sorted(imported.imported) == sorted(needed) and imported.skipped == ()
    src_files = {k: v for k, v in _files(src).items() if any(n in k for n in needed)}
    assert len(src_files) == len(needed) * (4 if deepjit else 2)
    assert _files(dst) == src_files
    info = scan_cache(dst)
    assert all(e.status is EntryStatus.OK for e in info.entries)
    assert check_cache(info).ok and list((dst / "tmp").iterdir()) == []
    again = import_bundle(out, CacheRoots(dst), host=host)
    assert again.imported == () and sorted(again.skipped) == sorted(needed)


def test_entries_in_a_read_only_root_are_skipped(tmp_path: Path, plan: Plan) -> None:
    _fill(tmp_path / "src", plan)
    out = tmp_path / "all.tar"
    manifest = export_bundle(scan_cache(tmp_path / "src"), out, provenance=HOST).manifest
    assert len(manifest.entries) == 4  # all healthy ones, the broken one left out
    roots = CacheRoots(tmp_path / "w", (tmp_path / "src",))
    result = import_bundle(out, roots, host=HOST)
    assert result.imported == () and len(result.skipped) == 4


def test_provenance_mismatch_refuses_unless_forced(tmp_path: Path, plan: Plan) -> None:
    _fill(tmp_path / "src", plan)
    out = tmp_path / "k.tar.gz"
    export_bundle(scan_cache(tmp_path / "src"), out, provenance=HOST, plan=plan)
    other = HOST.model_copy(
        update={"num_sms": 114, "deepgemm_version": "2.3.0", "key_env": {"DG_JIT_DEBUG": "1"}}
    )
    with pytest.raises(ProvenanceMismatchError) as exc:
        import_bundle(out, CacheRoots(tmp_path / "dst"), host=other)
    text = str(exc.value)
    assert "SM count: bundle 132, this host 114" in text
    assert "DeepGEMM version" in text and "DG_JIT_DEBUG: bundle unset, this host 1" in text
    assert not (tmp_path / "dst" / "cache").exists()
    forced = import_bundle(out, CacheRoots(tmp_path / "dst"), host=other, force=True)
    assert len(forced.imported) == 3 and len(forced.mismatches) == 3


def test_unknown_host_values_warn_but_do_not_refuse() -> None:
    mismatches, warnings = compare_provenance(HOST, Provenance(arch="sm90"))
    assert mismatches == []
    assert any("SM count: unknown on this host" in w for w in warnings)
    mismatches, _ = compare_provenance(
        HOST.model_copy(update={"layout": Layout.DEEPJIT}),
        HOST.model_copy(
            update={"layout": Layout.DEEPJIT, "nvcc_version": "release 13.0, V13.0.99"}
        ),
    )
    assert any("nvcc --version" in m for m in mismatches)


def test_cli_export_inspect_import(
    tmp_path: Path, plan: Plan, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import jitwarm.bundle._host as host_mod

    monkeypatch.setattr(host_mod, "probe_gpu", lambda **_: GpuFacts("sm90", 132, "NVIDIA H100"))
    src, dst = tmp_path / "src", tmp_path / "dst"
    needed = _fill(src, plan)
    plan_file = tmp_path / "plan.json"
    plan_file.write_text(plan.to_json())
    out = tmp_path / "k.tar.gz"

    def run(*argv: str) -> tuple[int, str, str]:
        with pytest.raises(SystemExit) as exc:
            main(list(argv))
            raise SystemExit(0)
        o, e = capsys.readouterr()
        return int(exc.value.code or 0), o, e

    code, _, err = run(
        "bundle", "export", "--plan", str(plan_file), "-o", str(out), "--cache-dir", str(src)
    )
    assert code == 0 and "broken entries left out" in err
    code, o, _ = run("bundle", "inspect", str(out), "--json")
    manifest = json.loads(o)
    assert code == 0 and manifest["provenance"]["num_sms"] == 132
    assert manifest["provenance"]["gpu_name"] == "NVIDIA H100"
    code, o, _ = run("bundle", "import", str(out), "--cache-dir", str(dst), "--json")
    assert code == 0 and sorted(json.loads(o)["imported"]) == sorted(needed)
    monkeypatch.setattr(host_mod, "probe_gpu", lambda **_: GpuFacts("sm100", 148, "NVIDIA B200"))
    code, o, err = run("bundle", "import", str(out), "--cache-dir", str(tmp_path / "b200"))
    assert code == 2 and o == "" and "arch: bundle sm90, this host sm100" in err
    code, _, err = run(
        "bundle", "import", str(tmp_path / "missing.tar.gz"), "--cache-dir", str(dst)
    )
    assert code == 2 and "does not exist" in err
    with open_bundle(out) as b:
        assert len(b.manifest.entries) == 3


def test_gpu_probe_falls_back_to_nvidia_smi(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import jitwarm.bundle._host as host_mod

    monkeypatch.setattr(host_mod, "_DRIVER_PROBE", "import sys; sys.exit(1)")  # no libcuda
    fake = tmp_path / "nvidia-smi"
    fake.write_text("#!/bin/sh\necho '9.0, NVIDIA H100 80GB HBM3'\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:{os.environ['PATH']}")
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    assert host_mod.probe_gpu() == GpuFacts("sm90", None, "NVIDIA H100 80GB HBM3")
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    assert host_mod.probe_gpu() == GpuFacts()
    # flags win over the probe; the SM count nvidia-smi cannot tell comes from --num-sms
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES")
    prov = host_mod.host_provenance(num_sms=132, env={"PATH": os.environ["PATH"]})
    assert (prov.arch, prov.num_sms, prov.gpu_name) == ("sm90", 132, "NVIDIA H100 80GB HBM3")


def test_session5_gpu_free_provenance_reads_its_profile_as_the_build() -> None:
    """Bundles `jitwarm build` wrote before the field was unified named the build "profile";
    read, it is deepgemm_build (so an import compares it instead of warning it is unknown)."""
    from jitwarm.bundle import Provenance

    p = Provenance.model_validate(
        {"arch": "sm90", "profile": "tokenspeed-deepgemm-2.8.0", "built_without_gpu": True}
    )
    assert p.deepgemm_build == "tokenspeed-deepgemm-2.8.0"
