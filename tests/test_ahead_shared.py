"""Compiling ahead in concurrent warms of one cache root: each nvcc request runs once in total,
the other warm takes the cubin (and its workers' DeepGEMM the hand-over), reports attribute it."""

from __future__ import annotations

import os
import stat
import subprocess
import threading
import uuid
from pathlib import Path

import pytest
from tests._warm_items import work_item

from fakes.helpers import FAKE_NVCC
from jitwarm.ahead._compiler import SHARED_DIR, AheadCompiler, AheadJob
from jitwarm.dgenv import NVCC_VAR
from jitwarm.interposer import REAL_NVCC_VAR, compile_key
from jitwarm.locks import KernelLocks
from jitwarm.warmer._api import attribute_ahead
from jitwarm.warmer._backend import CallOutcome, ItemOutcome
from jitwarm.warmer._report import build_report

FLAGS = ("-std=c++20", "-I/opt/dg/include", "--gpu-architecture=sm_90a", "-O3")


def _job(source: str) -> AheadJob:
    key = compile_key(source.encode(), ["<s>.cu", "-cubin", "-o", "<o>", *FLAGS])
    assert key is not None
    return AheadJob(key, source, FLAGS, 1.0, source.strip(), (f"item:{source.strip()}",))


def _counting_nvcc(tmp_path: Path) -> tuple[Path, Path]:
    """nvcc that logs each compile (not --version) and runs the test double."""
    log, wrapper = tmp_path / "nvcc-runs.log", tmp_path / "nvcc"
    wrapper.write_text(
        "#!/bin/sh\n"
        'case " $* " in *" --version "*) ;; *) echo run >> ' + str(log) + " ;; esac\n"
        f'exec {FAKE_NVCC} "$@"\n'
    )
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    return wrapper, log


def _compiler(
    tmp_path: Path, root: Path, name: str, jobs: list[AheadJob], nvcc: Path
) -> AheadCompiler:
    return AheadCompiler(
        jobs,
        stage_dir=tmp_path / name / "stage",
        nvcc=nvcc,
        slots=2,
        locks=KernelLocks(root, scope="nvcc"),
        shared_dir=root / SHARED_DIR,
        nvcc_identity="nvcc 13.0",
    )


@pytest.fixture
def slow_nvcc(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_NVCC_SLEEP_S", "0.3")


@pytest.mark.usefixtures("slow_nvcc")
def test_two_warms_run_each_nvcc_request_once(tmp_path: Path) -> None:
    root = tmp_path / "root"
    nvcc, log = _counting_nvcc(tmp_path)
    jobs = [_job(f"// kernel {i}\n") for i in range(6)]
    warms = [_compiler(tmp_path, root, name, jobs, nvcc) for name in ("a", "b")]
    threads = [threading.Thread(target=w.start) for w in warms]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stats = [w.finish() for w in warms]
    assert len(log.read_text().splitlines()) == len(jobs)  # nvcc ran once per request
    assert sum(s.compiled for s in stats) == len(jobs)
    assert sum(s.compiled_elsewhere for s in stats) == len(jobs)
    assert all(s.failed == 0 for s in stats)
    for w in warms:  # each warm's stage has every cubin, with the bytes nvcc wrote
        for job in jobs:
            assert (w.stage.root / f"{job.key}.cubin").read_text() == f"FAKECUBIN\n{job.source}"
    # the attribution: each kernel "compiled" in exactly one warm, "elsewhere" in the other
    a, b = (w.attribution() for w in warms)
    assert set(a) == set(b) == {k for j in jobs for k in j.kernel_keys}
    assert all({a[k], b[k]} == {"compiled", "elsewhere"} for k in a)


@pytest.mark.usefixtures("slow_nvcc")
def test_a_cubin_compiled_by_another_warm_is_handed_to_deepgemm(tmp_path: Path) -> None:
    root = tmp_path / "root"
    job = _job("// kernel one\n")
    first = _compiler(tmp_path, root, "a", [job], FAKE_NVCC)
    first.start()
    first.finish()
    second = _compiler(tmp_path, root, "b", [job], Path("/bin/false"))  # could not compile it
    second.start()
    assert second.finish().compiled_elsewhere == 1
    # DeepGEMM 2.5.0's miss in the second warm's worker: the shim hands over the shared cubin
    work = root / "tmp" / uuid.uuid4().hex
    work.mkdir(parents=True)
    (work / "kernel.cu").write_text(job.source)
    env = {**os.environ, **second.worker_env(), REAL_NVCC_VAR: "/bin/false"}
    done = subprocess.run(
        [
            env[NVCC_VAR],
            str(work / "kernel.cu"),
            "-cubin",
            "-o",
            str(work / "kernel.cubin"),
            *FLAGS,
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert (work / "kernel.cubin").read_text() == "FAKECUBIN\n// kernel one\n"


def test_reports_count_a_kernel_taken_from_another_warm_as_compiled_elsewhere() -> None:
    items = [work_item(i, (m,), f"k{i}") for i, m in enumerate((64, 128, 256))]
    # every worker's DeepGEMM printed a compile line when it took its cubin
    outcomes = {
        i.item_id: ItemOutcome(i.item_id, 0, (CallOutcome(i.ms[0], 0.1, 1),), 0.1) for i in items
    }
    ahead = {"k0": "compiled", "k1": "elsewhere"}  # k2: its ahead compile failed
    report = build_report(
        items,
        attribute_ahead(items, outcomes, ahead),
        plan_digest="d",
        arch="sm90",
        num_sms=132,
        cache_root="/r",
        jobs=1,
        devices=[None],
        wall_s=1.0,
        new_cache_entries=3,
    )
    assert [row.status for row in report.items] == ["compiled", "compiled elsewhere", "compiled"]
    assert (report.compiled, report.compiled_elsewhere) == (2, 1)
