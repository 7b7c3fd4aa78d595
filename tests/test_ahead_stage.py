"""Compiling ahead and handing cubins over through the nvcc interposer's hand-over mode, with
the test double of nvcc and a shell command shaped like DeepGEMM 2.5.0's (``cd <tmp> && <nvcc>
<src> -cubin -o ...``)."""

from __future__ import annotations

import os
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from fakes.helpers import FAKE_NVCC
from jitwarm.ahead._compiler import AheadCompiler, AheadJob
from jitwarm.dgenv import NVCC_VAR
from jitwarm.interposer import REAL_NVCC_VAR, compile_key

FLAGS = ("-std=c++20", "-I/opt/dg/include", "--gpu-architecture=sm_90a", "-O3")


def _job(source: str, label: str = "k") -> AheadJob:
    key = compile_key(source.encode(), ["<s>.cu", "-cubin", "-o", "<o>", *FLAGS])
    assert key is not None
    return AheadJob(key, source, FLAGS, 1.0, label, (label,))


def _deepgemm_compile(
    root: Path, env: dict[str, str], source: str
) -> tuple[subprocess.CompletedProcess[str], Path]:
    """What DeepGEMM 2.5.0 does on a miss: the source in tmp/<uuid>/, nvcc run from tmp/."""
    work = root / "tmp" / uuid.uuid4().hex
    work.mkdir(parents=True)
    (work / "kernel.cu").write_text(source)
    cubin = work / "kernel.cubin"
    command = f"cd {work.parent} && {env[NVCC_VAR]} {work / 'kernel.cu'} -cubin -o {cubin} {' '.join(FLAGS)}"
    return subprocess.run(
        command, shell=True, env=env, capture_output=True, text=True, timeout=60
    ), cubin


def _compiler(
    tmp_path: Path, jobs: list[AheadJob], nvcc: Path = FAKE_NVCC, slots: int = 2
) -> AheadCompiler:
    return AheadCompiler(jobs, stage_dir=tmp_path / "stage", nvcc=nvcc, slots=slots)


def test_key_is_source_and_flags_not_paths() -> None:
    args = ["/a/tmp/1/kernel.cu", "-cubin", "-o", "/a/tmp/1/kernel.cubin", *FLAGS]
    moved = ["/b/tmp/2/kernel.cu", "-cubin", "-o", "/b/tmp/2/kernel.cubin", *FLAGS]
    key = compile_key(b"src", args)
    assert key == compile_key(b"src", moved)
    assert key != compile_key(b"src2", args)
    assert key != compile_key(b"src", [*args[:-1], "-O2"])
    assert compile_key(b"src", ["/a/kernel.cu", "-cubin"]) is None
    assert compile_key(b"src", ["/a/kernel.cu", "-ptx", "-o", "/a/k.ptx"]) is None


def test_workers_deepgemm_takes_the_cubin_compiled_ahead(tmp_path: Path) -> None:
    jobs = [_job("// kernel one\n", "one"), _job("// kernel two\n", "two")]
    compiler = _compiler(tmp_path, jobs)
    env = {**os.environ, "FAKE_NVCC_SLEEP_S": "0.3"}
    os.environ["FAKE_NVCC_SLEEP_S"] = "0.3"
    try:
        compiler.start()
        # A fallback to the real compiler would fail here: the cubin can only come from the stage.
        worker = {**env, **compiler.worker_env(), REAL_NVCC_VAR: "/bin/false"}
        done, cubin = _deepgemm_compile(tmp_path / "root", worker, "// kernel one\n")
        stats = compiler.finish()
    finally:
        os.environ.pop("FAKE_NVCC_SLEEP_S")
    assert done.returncode == 0, done.stderr
    assert cubin.read_text() == "FAKECUBIN\n// kernel one\n"
    assert (stats.planned, stats.compiled, stats.failed, stats.handed_over) == (2, 2, 0, 1)
    assert stats.wall_s > 0 and stats.compile_s >= 0.5


def test_a_source_not_compiled_ahead_goes_to_the_real_nvcc(tmp_path: Path) -> None:
    compiler = _compiler(tmp_path, [_job("// planned\n")])
    compiler.start()
    worker = {**os.environ, **compiler.worker_env()}
    done, cubin = _deepgemm_compile(tmp_path / "root", worker, "// rendered differently\n")
    stats = compiler.finish()
    assert done.returncode == 0, done.stderr
    assert cubin.read_text() == "FAKECUBIN\n// rendered differently\n"
    assert stats.handed_over == 0
    version = subprocess.run(
        [worker[NVCC_VAR], "--version"], env=worker, capture_output=True, text=True
    )
    assert "release 13.0" in version.stdout  # the key's compiler identity is the real one's


def _failing_nvcc(tmp_path: Path) -> Path:
    bad = tmp_path / "bad-nvcc"
    bad.write_text("#!/bin/sh\necho 'error: no such header' >&2\nexit 1\n")
    bad.chmod(0o755)
    return bad


def test_a_failed_ahead_compile_falls_back_to_the_real_nvcc(tmp_path: Path) -> None:
    compiler = _compiler(tmp_path, [_job("// k\n", "k")], nvcc=_failing_nvcc(tmp_path))
    compiler.start()
    stats = compiler.finish()
    worker = {**os.environ, **compiler.worker_env(), REAL_NVCC_VAR: str(FAKE_NVCC)}
    done, cubin = _deepgemm_compile(tmp_path / "root", worker, "// k\n")
    assert done.returncode == 0 and cubin.read_text() == "FAKECUBIN\n// k\n"
    assert (stats.compiled, stats.failed) == (0, 1)
    assert "no such header" in stats.failures[0] and stats.failures[0].startswith("k: ")


def test_stop_kills_nvcc_and_releases_waiting_shims(tmp_path: Path) -> None:
    slow = tmp_path / "slow-nvcc"
    slow.write_text("#!/bin/sh\nsleep 30\n")
    slow.chmod(0o755)
    compiler = _compiler(
        tmp_path,
        [_job("// a\n", "a"), _job("// b\n", "b"), _job("// c\n", "c")],
        nvcc=slow,
        slots=1,
    )
    compiler.start()
    time.sleep(0.3)
    start = time.monotonic()
    compiler.stop()
    worker = {**os.environ, **compiler.worker_env(), REAL_NVCC_VAR: str(FAKE_NVCC)}
    done, _ = _deepgemm_compile(tmp_path / "root", worker, "// c\n")  # queued, never started
    assert done.returncode == 0
    compiler.finish()
    assert time.monotonic() - start < 10


@pytest.mark.parametrize(("jobs", "workers"), [(1, 1), (2, 2), (4, 2), (16, 4), (17, 5), (64, 16)])
def test_handover_needs_a_quarter_of_the_workers(jobs: int, workers: int) -> None:
    from jitwarm.warmer._api import handover_workers

    assert handover_workers(jobs) == workers


def test_the_cli_report_says_what_was_compiled_ahead(tmp_path: Path) -> None:
    from jitwarm.cli._output import stdout
    from jitwarm.cli._warm_cmd import render_report
    from jitwarm.warmer._report import AheadSummary, build_report

    # A real ahead compile: one kernel compiles and is handed over, one fails in nvcc.
    nvcc = tmp_path / "picky-nvcc"
    nvcc.write_text(f'#!/bin/sh\ngrep -q broken "$1" && exit 1\nexec {FAKE_NVCC} "$@"\n')
    nvcc.chmod(0o755)
    started = time.perf_counter()
    compiler = _compiler(tmp_path, [_job("// one\n", "one"), _job("// broken\n", "two")], nvcc)
    compiler.start()
    worker = {**os.environ, **compiler.worker_env(), REAL_NVCC_VAR: "/bin/false"}
    done, _ = _deepgemm_compile(tmp_path / "root", worker, "// one\n")
    assert done.returncode == 0, done.stderr
    stats = compiler.finish()
    ahead = stats.to_json(since=started)
    counts = [ahead[k] for k in ("planned", "compiled", "failed", "handed_over")]
    assert counts == [2, 1, 1, 1]
    report = build_report(
        [],
        {},
        plan_digest="d",
        arch="sm90",
        num_sms=132,
        cache_root="/c",
        jobs=4,
        devices=["0"],
        wall_s=20.0,
        new_cache_entries=2,
        ahead=AheadSummary.of(stats, since=started),
    )
    assert report.to_json()["ahead"]["handed_over"] == 1
    with stdout.capture() as captured:
        render_report(report)
    text = " ".join(captured.get().split())
    assert "compiled ahead: 1 of 2 kernels" in text
    assert "1 taken by DeepGEMM, 1 failed" in text


def test_a_shim_gives_up_waiting_after_its_limit(tmp_path: Path) -> None:
    compiler = _compiler(tmp_path, [_job("// never\n")])
    compiler.write_interposer()
    compiler.stage.plan(compiler.jobs[0].key)  # planned, but nothing compiles it: a stuck job
    worker = {
        **os.environ,
        **compiler.worker_env(),
        REAL_NVCC_VAR: str(FAKE_NVCC),
        "JITWARM_STAGE_WAIT_S": "0.2",
    }
    started = time.monotonic()
    done, cubin = _deepgemm_compile(tmp_path / "root", worker, "// never\n")
    assert done.returncode == 0 and cubin.read_text() == "FAKECUBIN\n// never\n"
    assert time.monotonic() - started < 5
