"""`jitwarm build --arch sm100`: one kernel of the DeepSeek-V3 TP8 sm100 plan really compiled by
nvcc for the build's SM100 target, published as DeepJIT entries, bundled with provenance that
says no B200 ran it, and refused by an sm90 host; and the V4-Flash indexer's kernels (prefill,
paged, metadata) compiled the same way, on both 2.8 builds. (The sources themselves are checked
against the library's generator in test_deepjit_sm100.py and test_deepjit_sm100_indexer.py.)"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from _build_gt import real_nvcc
from _cli import run
from _wheels import unpacked_wheel
from jitwarm.cache import cubin_file_problem
from jitwarm.models._loader import load_model
from jitwarm.plan import Family, plan_serving
from jitwarm.serving import ServingConfig


@pytest.fixture(scope="module")
def one_kernel_plan(tmp_path_factory) -> Path:
    """The V3 TP8 sm100 plan cut to one fp8_gemm_nt kernel (about 10 s of nvcc)."""
    plan = plan_serving(
        load_model("deepseek-v3"),
        ServingConfig(tp=8, arch="sm100"),
        build="tokenspeed-deepgemm-2.8.0",
    )
    entry = next(e for e in plan.entries if e.family is Family.FP8_GEMM_NT)
    entry = entry.model_copy(update={"kernels": entry.kernels[:1]})
    path = tmp_path_factory.mktemp("plan") / "plan.json"
    path.write_text(plan.model_copy(update={"entries": [entry]}).to_json())
    return path


def test_sm100_build_compiles_bundles_and_is_marked_unverified(one_kernel_plan, tmp_path, capsys):
    real_nvcc()
    root, bundle = tmp_path / "root", tmp_path / "b.tar.gz"
    args = ["build", "--plan", str(one_kernel_plan), "--target", str(unpacked_wheel("2.8.0"))]
    code, out, err = run(capsys, *args, "--cache-dir", str(root), "--bundle", str(bundle))
    assert code == 0, err
    assert "1 kernels compiled" in out
    [entry] = (root / "cache").iterdir()
    assert entry.name.startswith("sm100_fp8_fp4_gemm_1d1d.")
    assert sorted(p.name for p in entry.iterdir()) == [
        ".committed",
        "kernel.cu",
        "kernel.cubin",
        "meta.json",
    ]
    assert cubin_file_problem(entry / "kernel.cubin") is None
    meta = json.loads((entry / "meta.json").read_text())
    # DeepJIT's Device::get_arch on an SM100: the arch family "100f" (deep_jit/backend/cuda/
    # device.hpp), which DeepGEMM 2.8.0's init_jit leaves as is.
    assert meta["compiler_options"]["arch"] == "100f"
    assert " --gpu-architecture=sm_100f " in meta["command"]

    code, out, _ = run(capsys, "bundle", "inspect", str(bundle))
    assert code == 0
    assert "sm100" in out and "not verified on hardware" in out

    code, out, err = run(
        capsys, "bundle", "import", str(bundle), "--arch", "sm90", "--num-sms", "132",
        "--cache-dir", str(tmp_path / "host"),
    )  # fmt: skip
    assert code != 0 and err.count("\n") == 1 and "arch" in err and "sm100" in err
    assert not (tmp_path / "host" / "cache").exists()


BUILDS = {"2.8.0": "tokenspeed-deepgemm-2.8.0", "2.8.2": "tokenspeed-deepgemm-2.8.2"}


@pytest.fixture(scope="module", params=sorted(BUILDS))
def indexer_plan(request, tmp_path_factory) -> tuple[str, Path]:
    """The V4-Flash TP4 sm100 plan cut to its DSA-indexer entries: prefill, paged, metadata;
    the prefill kernel also with a schedule_meta workspace (a second kernel, which it bakes)."""
    plan = plan_serving(
        load_model("deepseek-v4-flash"),
        ServingConfig(tp=4, arch="sm100"),
        build=BUILDS[request.param],
    )
    indexer = (Family.FP4_MQA_LOGITS, Family.FP4_PAGED_MQA_LOGITS, Family.PAGED_MQA_METADATA)
    entries = [e for e in plan.entries if e.family in indexer]
    assert sorted(len(e.kernels) for e in entries) == [1, 1, 1]
    [i] = [i for i, e in enumerate(entries) if e.family is Family.FP4_MQA_LOGITS]
    [kernel] = entries[i].kernels
    scheduled = kernel.model_copy(update={"params": {**kernel.params, "schedule_meta": True}})
    entries[i] = entries[i].model_copy(update={"kernels": [kernel, scheduled]})
    path = tmp_path_factory.mktemp("plan") / "plan.json"
    path.write_text(plan.model_copy(update={"entries": entries}).to_json())
    return request.param, path


def test_sm100_indexer_kernels_compile(indexer_plan, tmp_path, capsys):
    """The prefill-logits, paged-logits and metadata sources compile with nvcc against the
    build's headers (the logits kernels' static_assert checks the ported shared-memory size
    against their layout), and nothing of the indexer is left unrendered."""
    real_nvcc()
    build, plan = indexer_plan
    root = tmp_path / "root"
    args = ["build", "--plan", str(plan), "--target", str(unpacked_wheel(build))]
    code, out, err = run(capsys, *args, "--cache-dir", str(root), "--jobs", "2")
    assert code == 0, err
    assert "4 kernels compiled" in out
    assert "not built" not in out + err  # build's note for what it cannot render
    names = sorted(p.name.split(".")[0] for p in (root / "cache").iterdir())
    assert names == [
        "sm100_mqa_logits",
        "sm100_mqa_logits",
        "sm100_paged_mqa_logits",
        "sm100_paged_mqa_logits_metadata",
    ]
    for entry in (root / "cache").iterdir():
        assert cubin_file_problem(entry / "kernel.cubin") is None
