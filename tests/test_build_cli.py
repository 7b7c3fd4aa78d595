"""``jitwarm build`` end to end on a CPU with the real renderer and nvcc: two small kernels of
the DeepSeek-V3.2 TP8 (3 draft tokens) plan for DeepGEMM 2.8.0 land under the entry names
DeepGEMM itself wrote on the H200, with its kernel.cu and meta.json; a rerun compiles nothing;
two shards with bundles merge back to the same entries."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from _build_gt import ground_truth, real_nvcc
from _cli import run
from _wheels import unpacked_wheel
from jitwarm.models._loader import load_model
from jitwarm.plan import Family, plan_serving
from jitwarm.serving import ServingConfig


@pytest.fixture(scope="module")
def small_plan(tmp_path_factory) -> Path:
    """The V3.2 plan cut to two kernels of its smallest family (paged-logits metadata)."""
    plan = plan_serving(
        load_model("deepseek-v3.2"),
        ServingConfig(tp=8, spec_draft_tokens=3),
        build="tokenspeed-deepgemm-2.8.0",
    )
    entry = next(e for e in plan.entries if e.family is Family.PAGED_MQA_METADATA)
    entry = entry.model_copy(update={"kernels": entry.kernels[:2]})
    path = tmp_path_factory.mktemp("plan") / "plan.json"
    path.write_text(plan.model_copy(update={"entries": [entry]}).to_json())
    return path


def _normalized_meta(meta: dict, root: Path, package: Path, nvcc_path: str) -> dict:
    text = json.dumps(meta)
    text = re.sub(re.escape(str(root)) + r"/tmp/[0-9a-f-]+", "<cache_root>/tmp/X", text)
    text = text.replace(str(package), "<deep_gemm>").replace(nvcc_path, "NVCC")
    return json.loads(text)


def test_build_cli_writes_deepgemms_entries(small_plan, tmp_path, capsys):
    real_nvcc()
    folder = unpacked_wheel("2.8.0")
    root = tmp_path / "root"
    args = ["build", "--plan", str(small_plan), "--target", str(folder), "--cache-dir", str(root)]
    code, out, err = run(capsys, *args, "--json", "--jobs", "2")
    assert code == 0, err
    report = json.loads(out)
    assert (report["compiled"], report["present"], report["failed"]) == (2, 0, 0)
    assert report["profile"] == "tokenspeed-deepgemm-2.8.0"
    assert report["compile_s"] > 0 and report["wall_s"] > 0

    by_name = {e["entry"]: e for e in ground_truth()["entries"]}
    built = sorted(p.name for p in (root / "cache").iterdir())
    assert len(built) == 2 and all(name in by_name for name in built)
    for name in built:
        gt, entry = by_name[name], root / "cache" / name
        assert (entry / "kernel.cu").read_text() == gt["kernel_cu"]
        meta = json.loads((entry / "meta.json").read_text())
        nvcc_path = meta["compiler_info"]["path"]
        mine = _normalized_meta(meta, root, folder / "deep_gemm", nvcc_path)
        theirs = json.loads(
            re.sub(
                r"<cache_root>/tmp/[0-9a-f-]+", "<cache_root>/tmp/X", json.dumps(gt["meta"])
            ).replace(gt["meta"]["compiler_info"]["path"], "NVCC")
        )
        if meta["compiler_info"]["version"] != gt["meta"]["compiler_info"]["version"]:
            pytest.skip("this nvcc is not the build the ground truth was captured with")
        assert mine == theirs

    code, out, _ = run(capsys, *args, "--json")
    again = json.loads(out)
    assert code == 0 and (again["compiled"], again["present"]) == (0, 2)


def test_build_cli_shards_bundle_and_merge(small_plan, tmp_path, capsys):
    real_nvcc()
    folder = unpacked_wheel("2.8.0")
    bundles = []
    for i in range(2):
        b = tmp_path / f"s{i}.tar.gz"
        code, out, err = run(
            capsys,
            *("build", "--plan", str(small_plan), "--target", str(folder)),
            *("--cache-dir", str(tmp_path / f"r{i}"), "--shard", f"{i}/2", "--bundle", str(b)),
        )
        assert code == 0, err
        assert "1 kernels compiled" in out and f"bundle: {b}" in out
        bundles.append(b)
    merged = tmp_path / "all.tar.gz"
    code, out, err = run(capsys, "bundle", "merge", *map(str, bundles), "-o", str(merged))
    assert code == 0, err
    code, out, _ = run(capsys, "bundle", "inspect", str(merged), "--json")
    names = sorted(e["name"] for e in json.loads(out)["entries"])
    shard_names = sorted(p.name for i in range(2) for p in (tmp_path / f"r{i}" / "cache").iterdir())
    assert names == shard_names and len(names) == 2


def test_plan_for_another_build_is_one_line(small_plan, tmp_path, capsys):
    from jitwarm.plan import Plan

    plan = Plan.load(small_plan).model_copy(update={"build": "tokenspeed-deepgemm-2.8.2"})
    other = tmp_path / "plan.json"
    other.write_text(plan.to_json())
    code, _, err = run(
        capsys, "build", "--plan", str(other), "--target", str(unpacked_wheel("2.8.0"))
    )
    assert code == 2 and err.count("\n") == 1
    assert "made for DeepGEMM build tokenspeed-deepgemm-2.8.2" in err


def test_build_cli_no_model_no_plan_is_one_line(capsys):
    code, _, err = run(capsys, "build")
    assert code == 2 and err.count("\n") == 1 and "--model or --plan" in err


def test_a_build_with_nothing_to_build_fails_in_one_line(tmp_path, capsys):
    # sm100 mega-MoE: 2.8.0 has a selection model but no generator port
    plan = plan_serving(
        load_model("deepseek-v4-flash"),
        ServingConfig(tp=4, ep=4, moe_path="mega", arch="sm100"),
        build="tokenspeed-deepgemm-2.8.0",
    )
    unported = [e for e in plan.entries if e.family is Family.MEGA_MOE]
    assert unported
    path = tmp_path / "plan.json"
    path.write_text(plan.model_copy(update={"entries": unported}).to_json())
    args = ["build", "--plan", str(path), "--cache-dir", str(tmp_path / "root")]
    code, out, err = run(capsys, *args, "--target", str(unpacked_wheel("2.8.0")))
    assert code == 2 and err.count("\n") == 1 and out == ""
    assert "nothing to build for tokenspeed-deepgemm 2.8.0" in err and "sm100" in err
    assert not (tmp_path / "root" / "cache").exists()
