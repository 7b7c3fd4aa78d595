"""``jitwarm warm`` on a DeepJIT build is a local GPU-free build first.

The pinned tokenspeed-deepgemm 2.8.0 wheel is the "installed" build (its unpacked folder first
on the path, found by detection without importing it), and a stand-in nvcc answers
``--version`` with the text captured on the H200 and writes a dummy cubin, so no real compile
runs. Expected entry names and sources are DeepGEMM's own (tests/data/deepgemm-2.8-h200).
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from _build_gt import ground_truth
from _cli import run
from _wheels import unpacked_wheel
from jitwarm.models._loader import load_model
from jitwarm.plan import Family, plan_serving
from jitwarm.profiles import detect_build
from jitwarm.serving import ServingConfig
from jitwarm.warmer import FakeBackend
from jitwarm.warmer import _api as warm_api

SRC = Path(__file__).resolve().parents[1] / "src"
V3_TP8 = "deepseek-v3 --tp 8"


def stand_in_nvcc(folder: Path) -> Path:
    """An nvcc that reports the captured version text and 'compiles' a dummy cubin."""
    version = folder / "nvcc-version.txt"
    version.write_text(ground_truth()["nvcc_version_text"])
    nvcc = folder / "nvcc"
    nvcc.write_text(
        "#!/bin/sh\n"
        f'case "$1" in --version) cat "{version}"; exit 0;; '
        '--list-gpu-code) echo "sm_90 sm_100"; exit 0;; esac\n'
        'while [ $# -gt 0 ]; do [ "$1" = "--output-file" ] && printf cubin > "$2"; shift; done\n'
    )
    nvcc.chmod(0o755)
    return nvcc


@pytest.fixture
def installed_280(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """tokenspeed-deepgemm 2.8.0 installed (as files), the stand-in nvcc, a clean env; returns
    that env for subprocesses."""
    site = unpacked_wheel("2.8.0")
    for var in [v for v in os.environ if v.startswith(("DG_", "DJ_", "JITWARM_"))]:
        monkeypatch.delenv(var)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    monkeypatch.syspath_prepend(str(site))
    importlib.invalidate_caches()
    monkeypatch.setenv("DG_JIT_NVCC_COMPILER", str(stand_in_nvcc(tmp_path)))
    assert detect_build().profile_name == "tokenspeed-deepgemm-2.8.0"
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(SRC), str(site)]),
    }


@pytest.fixture
def no_workers(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if warm starts a worker or its fork server."""

    def refuse(*a: object, **k: object) -> None:
        raise AssertionError("a worker was started")

    monkeypatch.setattr(warm_api, "default_backend", refuse)
    monkeypatch.setattr(warm_api, "prestart", refuse)
    monkeypatch.setattr(warm_api, "run_pool", refuse)


def _v3_entries() -> dict[str, dict]:
    return {e["entry"]: e for e in ground_truth()["entries"] if e["first_planned_by"] == V3_TP8}


def test_warm_builds_the_whole_plan_here_then_a_rerun_does_nothing(
    installed_280, no_workers, tmp_path, capsys
):
    root = tmp_path / "root"
    args = ["warm", "--model", "deepseek-v3", "--tp", "8", "--cache-dir", str(root), "--json"]
    code, out, err = run(capsys, *args)
    assert code == 0, err
    report = json.loads(out)
    expected = _v3_entries()
    assert len(expected) == 167
    published = {p.name for p in (root / "cache").iterdir()}
    assert published == set(expected)  # exactly DeepGEMM's own entry names, nothing else
    for name in sorted(published)[:5]:
        entry = root / "cache" / name
        assert (entry / "kernel.cu").read_text() == expected[name]["kernel_cu"]
        assert (entry / ".committed").is_file() and (entry / "kernel.cubin").read_bytes()
        meta = json.loads((entry / "meta.json").read_text())
        assert meta["compiler_info"]["version"] == ground_truth()["nvcc_version_text"]
    a = report["ahead"]
    assert a["kind"] == "deepjit-local"
    assert (a["planned"], a["already_present"], a["compiled"], a["failed"]) == (167, 0, 167, 0)
    assert (a["items_to_workers"], report["jobs"], report["compiled"]) == (0, 0, 167)
    assert not list((root / "tmp").iterdir())  # every staging folder was published
    # the compiles held the per-kernel locks (jitwarm.locks), one file per entry name
    assert len(list((root / "jitwarm-locks" / "kernels").glob("*.lock"))) == 167

    code, out, err = run(capsys, *args)
    assert code == 0, err
    again = json.loads(out)
    assert (again["compiled"], again["cached"], again["failed"], again["jobs"]) == (0, 167, 0, 0)
    assert (again["ahead"]["already_present"], again["ahead"]["compiled"]) == (167, 0)
    assert {p.name for p in (root / "cache").iterdir()} == published


def test_entries_in_a_read_only_root_count_as_present(installed_280, no_workers, tmp_path, capsys):
    ro, rw = tmp_path / "ro", tmp_path / "rw"
    code, _, err = run(
        capsys, "warm", "--model", "deepseek-v3", "--tp", "8", "--cache-dir", str(ro)
    )
    assert code == 0, err
    code, out, err = run(
        capsys, "warm", "--model", "deepseek-v3", "--tp", "8", "--cache-dir", f"{rw}:{ro}", "--json"
    )
    assert code == 0, err
    assert json.loads(out)["ahead"]["already_present"] == 167
    assert not (rw / "cache").exists()


def test_a_rerun_imports_neither_torch_nor_deep_gemm(installed_280, tmp_path):
    root = tmp_path / "root"
    cmd = [sys.executable, "-X", "importtime", "-m", "jitwarm", "warm", "--model", "deepseek-v3"]
    cmd += ["--tp", "8", "--cache-dir", str(root), "--json"]
    subprocess.run(cmd, env=installed_280, check=True, capture_output=True, timeout=600)
    done = subprocess.run(cmd, env=installed_280, check=True, capture_output=True, text=True)
    assert json.loads(done.stdout)["cached"] == 167
    imported = {
        line.split("|")[-1].strip() for line in done.stderr.splitlines() if "import time:" in line
    }
    assert "deep_gemm" not in imported and "torch" not in imported
    assert "rich.progress" not in imported


def _small_v3_plan():
    """The first entry of each family of the V3 TP8 plan, at most two kernels each (five
    kernels: its first masked entry has one)."""
    plan = plan_serving(load_model("deepseek-v3"), ServingConfig(tp=8))
    entries, seen = [], set()
    for e in plan.entries:
        if e.family in seen:
            continue
        seen.add(e.family)
        entries.append(e.model_copy(update={"kernels": e.kernels[:2]}))
    return plan.model_copy(update={"entries": entries})


def test_unrendered_items_go_to_the_workers_and_nothing_else(installed_280, tmp_path):
    plan = _small_v3_plan()
    families = [e.family for e in plan.entries]
    assert Family.M_GROUPED_MASKED in families and len(families) == 3
    # the first entry becomes a sweep (no selection model); the masked family is not rendered
    sweep = plan.entries[0].model_copy(update={"kernels": None, "mset": plan.entries[0].mset})
    plan = plan.model_copy(update={"entries": [sweep, *plan.entries[1:]]})
    build = detect_build()
    profile = dataclasses.replace(
        build.profile,
        rendered_families=build.profile.rendered_families - {Family.M_GROUPED_MASKED.value},
    )
    build = dataclasses.replace(build, profile=profile)
    root = tmp_path / "root"
    report = warm_api.warm(plan, jobs=2, cache_dir=root, backend=FakeBackend(), build=build)
    assert report.ok
    a = report.ahead
    assert a.to_json()["kind"] == "deepjit-local" and (a.planned, a.compiled) == (2, 2)
    by_worker = {}
    for row in report.items:
        by_worker.setdefault(row.worker == -1, []).append(row.entry)
    local_entries = set(by_worker[True])
    assert local_entries == {plan.entries[1].key}  # only the rendered family built here
    assert set(by_worker[False]) == {plan.entries[0].key, plan.entries[2].key}
    reasons = {r.reason.split(":")[0] for r in a.to_workers}
    assert reasons == {"sweep", "no_generator"}
    names = {p.name for p in (root / "cache").iterdir()}
    rendered = {n for n in names if not n.startswith("kernel.fake_")}
    assert len(rendered) == 2 and rendered <= set(_v3_entries())
    fakes = names - rendered  # the workers' (fake DeepGEMM) entries: the other two entries
    assert fakes and all(n.startswith("kernel.fake_") for n in fakes)


def test_no_ahead_keeps_the_all_workers_path(installed_280, tmp_path, monkeypatch, capsys):
    plan = _small_v3_plan()
    plan_file = tmp_path / "plan.json"
    plan_file.write_text(plan.to_json())
    monkeypatch.setattr(warm_api, "default_backend", lambda capture=False: FakeBackend())
    root = tmp_path / "root"
    code, out, err = run(
        capsys, "warm", "--plan", str(plan_file), "--no-ahead", "-j", "2",
        "--cache-dir", str(root), "--json",
    )  # fmt: skip
    assert code == 0, err
    report = json.loads(out)
    assert report["ahead"] is None and report["compiled"] == plan.num_kernels
    assert all(p.name.startswith("kernel.fake_") for p in (root / "cache").iterdir())


def test_a_kernel_held_elsewhere_is_waited_for_and_found_present(installed_280, tmp_path):
    """``hold`` wraps each missing kernel's check, compile and publish: an entry another
    process published while this one waited is not compiled again."""
    from jitwarm.warmer import compile_missing, plan_work_items, prepare_local_build

    plan = _small_v3_plan()
    root = tmp_path / "root"
    items = plan_work_items(plan)
    local = prepare_local_build(plan, detect_build(), items, cache_dir=root, env={})
    assert local is not None and len(local.missing) == len(items) == 5
    elsewhere = local.missing[0].entry_name
    held: list[str] = []

    @contextlib.contextmanager
    def hold(name: str):
        held.append(name)
        if name == elsewhere:  # another warm publishes it while we wait for its lock
            entry = root / "cache" / name
            entry.mkdir(parents=True)
            (entry / "kernel.cubin").write_bytes(b"cubin")
            (entry / ".committed").touch()
        yield

    result = compile_missing(local, items, (), slots=2, hold=hold, progress=True)
    assert sorted(held) == sorted(j.entry_name for j in local.missing)
    assert result.results[elsewhere].status == "present"
    assert result.count("compiled") == 4
    assert not (root / "cache" / elsewhere / "kernel.cu").exists()  # not overwritten


def test_a_failed_local_compile_fails_its_items(installed_280, no_workers, tmp_path, capsys):
    nvcc = Path(os.environ["DG_JIT_NVCC_COMPILER"])
    nvcc.write_text(nvcc.read_text().replace("while", 'echo "error: boom" >&2; exit 1\nwhile'))
    plan_file = tmp_path / "plan.json"
    plan_file.write_text(_small_v3_plan().to_json())
    root = tmp_path / "root"
    code, out, err = run(capsys, "warm", "--plan", str(plan_file), "--cache-dir", str(root))
    assert code == 1
    assert "5 failed" in out and "local nvcc: error: boom" in err and "--no-ahead" in err
    assert not (root / "cache").exists()


def test_without_a_usable_nvcc_the_workers_warm_everything(
    installed_280, tmp_path, monkeypatch, caplog
):
    monkeypatch.setenv("DG_JIT_NVCC_COMPILER", str(tmp_path / "no-such-nvcc"))
    plan = _small_v3_plan()
    report = warm_api.warm(
        plan, jobs=2, cache_dir=tmp_path / "root", backend=FakeBackend(), build=detect_build()
    )
    assert report.ok and report.ahead is None and report.compiled == plan.num_kernels
    assert "not building DeepJIT kernels locally" in caplog.text


def test_concurrent_gpu_free_builds_of_one_root_compile_each_entry_once(installed_280, tmp_path):
    """Three `jitwarm build` processes started together on one root (issue 18: the GPU-free
    build too): every entry compiled once in total, each process reports the rest present."""
    nvcc = tmp_path / "nvcc"
    log = tmp_path / "compiles.log"
    nvcc.write_text(nvcc.read_text().replace("while", f'echo "$$" >> "{log}"; sleep 0.3\nwhile', 1))
    plan_file = tmp_path / "plan.json"
    plan = _small_v3_plan()
    plan_file.write_text(plan.to_json())
    root = tmp_path / "root"
    argv = [sys.executable, "-m", "jitwarm", "build", "--plan", str(plan_file), "--json"]
    argv += ["--target", str(unpacked_wheel("2.8.0") / "deep_gemm"), "--cache-dir", str(root)]
    argv += ["--jobs", "2", "--nvcc", str(nvcc)]
    procs = [
        subprocess.Popen(argv, env=installed_280, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for _ in range(3)
    ]
    outs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), [o[1][-500:] for o in outs]
    reports = [json.loads(o[0]) for o in outs]
    assert len(log.read_text().split()) == plan.num_kernels == 5
    assert sum(r["compiled"] for r in reports) == 5
    assert all(r["compiled"] + r["present"] == 5 for r in reports)
