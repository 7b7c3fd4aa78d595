"""jitwarm's nvcc interposer, each mode run as DeepGEMM runs it: the written wrapper script,
executed, with a stand-in "real nvcc" that logs every run and writes ``REAL:<source>``."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from jitwarm.interposer import (
    CAPTURE_FILE_VAR,
    MODE_VAR,
    REAL_NVCC_VAR,
    STAGE_VAR,
    WAIT_VAR,
    Mode,
    SourceCapture,
    Stage,
    compile_key,
    write_interposer,
)
from jitwarm.warmer._session import WorkerSession

VERSION = (
    "nvcc: NVIDIA (R) Cuda compiler driver\n"
    "Cuda compilation tools, release 12.9, V12.9.86\n"
    "Build cuda_12.9.r12.9/compiler.36037853_0\n"
)
FLAGS = ["-std=c++20", "--gpu-architecture=sm_90a", "-O3"]
SOURCE = "// a kernel\n__global__ void k() {}\n"


@pytest.fixture
def real_nvcc(tmp_path: Path) -> Path:
    """A real-nvcc double: ``--version`` prints VERSION; a compile logs its arguments to
    ``real.log`` and writes ``REAL:`` plus the source to ``-o``; REAL_EXIT sets its status."""
    path = tmp_path / "real-nvcc"
    path.write_text(
        "#!/bin/sh\n"
        f'echo "$@" >> {tmp_path}/real.log\n'
        'for a in "$@"; do case "$a" in --version|-V) printf %s "$VERSION_TEXT"; exit 0;; esac; done\n'
        "src=; out=; prev=\n"
        'for a in "$@"; do case "$a" in *.cu) src="$a";; esac\n'
        '  [ "$prev" = -o ] && out="$a"; prev="$a"; done\n'
        '{ printf REAL:; cat "$src"; } > "$out"\n'
        'exit "${REAL_EXIT:-0}"\n'
    )
    path.chmod(0o755)
    return path


def _request(tmp_path: Path, source: str = SOURCE, flags: list[str] = FLAGS) -> list[str]:
    """DeepGEMM's compile request: ``<tmp>/<uuid>/kernel.cu -cubin -o <cubin> <flags>``."""
    work = tmp_path / "root" / "tmp" / f"u{time.monotonic_ns()}"
    work.mkdir(parents=True)
    (work / "kernel.cu").write_text(source)
    return [str(work / "kernel.cu"), "-cubin", "-o", str(work / "kernel.cubin"), *flags]


def _run(
    wrapper: Path, args: list[str], env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, "VERSION_TEXT": VERSION, **(env or {})}
    return subprocess.run([str(wrapper), *args], env=full, capture_output=True, text=True)


def _real_runs(tmp_path: Path) -> list[str]:
    log = tmp_path / "real.log"
    return log.read_text().splitlines() if log.exists() else []


@pytest.mark.parametrize("mode", Mode.ALL)
def test_version_is_the_real_nvccs_own_text_in_every_mode(
    tmp_path: Path, real_nvcc: Path, mode: str
) -> None:
    wrapper = write_interposer(tmp_path / "ip", mode, real_nvcc=real_nvcc)
    for flag in ("--version", "-V"):
        done = _run(wrapper, [flag], {STAGE_VAR: str(tmp_path / "stage")})
        assert (done.returncode, done.stdout) == (0, VERSION)
    assert _real_runs(tmp_path) == ["--version", "-V"]


def test_capture_records_the_source_and_compiles_nothing(tmp_path: Path, real_nvcc: Path) -> None:
    wrapper = write_interposer(tmp_path / "ip", Mode.CAPTURE, real_nvcc=real_nvcc)
    args = _request(tmp_path)
    target = tmp_path / "call-1.cu"
    done = _run(wrapper, args, {CAPTURE_FILE_VAR: str(target)})
    assert done.returncode == 86
    assert done.stderr.strip() == f"jitwarm capture: not compiling {args[0]}"
    assert target.read_text() == SOURCE
    assert Path(f"{target}.args").read_text().splitlines() == args
    assert not Path(args[3]).exists() and _real_runs(tmp_path) == []


def test_capture_without_a_capture_file_still_refuses(tmp_path: Path, real_nvcc: Path) -> None:
    wrapper = write_interposer(tmp_path / "ip", Mode.CAPTURE, real_nvcc=real_nvcc)
    args = _request(tmp_path)
    env = {k: v for k, v in os.environ.items() if k != CAPTURE_FILE_VAR}
    done = subprocess.run([str(wrapper), *args], env=env, capture_output=True, text=True)
    assert done.returncode == 86 and not Path(args[3]).exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ip", "real-nvcc", "root"]


def test_the_wrappers_mode_wins_over_an_inherited_one(tmp_path: Path, real_nvcc: Path) -> None:
    """A capture worker inherits warm's hand-over environment: its own wrapper still captures."""
    wrapper = write_interposer(tmp_path / "ip", Mode.CAPTURE, real_nvcc=real_nvcc)
    args = _request(tmp_path)
    done = _run(wrapper, args, {MODE_VAR: Mode.PASS_THROUGH, REAL_NVCC_VAR: "/bin/false"})
    assert done.returncode == 86 and _real_runs(tmp_path) == []


def test_pass_through_is_the_real_nvcc(tmp_path: Path, real_nvcc: Path) -> None:
    wrapper = write_interposer(tmp_path / "ip", Mode.PASS_THROUGH, real_nvcc=real_nvcc)
    args = _request(tmp_path)
    done = _run(wrapper, args, {CAPTURE_FILE_VAR: str(tmp_path / "unused.cu")})
    assert done.returncode == 0 and Path(args[3]).read_text() == "REAL:" + SOURCE
    assert _real_runs(tmp_path) == [" ".join(args)]
    assert not (tmp_path / "unused.cu").exists()
    failing = _run(wrapper, _request(tmp_path), {"REAL_EXIT": "3"})
    assert failing.returncode == 3  # nvcc's own status reaches DeepGEMM


def _hand_over_env(tmp_path: Path, real_nvcc: Path) -> tuple[Path, Stage, dict[str, str]]:
    stage = Stage(tmp_path / "stage")
    stage.root.mkdir()
    wrapper = write_interposer(stage.root, Mode.HAND_OVER)  # the real nvcc from the env
    env = {STAGE_VAR: str(stage.root), REAL_NVCC_VAR: str(real_nvcc), WAIT_VAR: "5"}
    return wrapper, stage, env


def _stage_cubin(stage: Stage, source: str, flags: list[str], data: str) -> str:
    key = compile_key(source.encode(), ["x.cu", "-cubin", "-o", "x.cubin", *flags])
    assert key is not None
    (stage.root / f"{key}.cubin").write_text(data)
    return key


def test_hand_over_copies_the_staged_cubin(tmp_path: Path, real_nvcc: Path) -> None:
    wrapper, stage, env = _hand_over_env(tmp_path, real_nvcc)
    key = _stage_cubin(stage, SOURCE, FLAGS, "STAGED")
    args = _request(tmp_path)
    done = _run(wrapper, args, env)
    assert done.returncode == 0, done.stderr
    assert Path(args[3]).read_text() == "STAGED" and (stage.root / f"{key}.used").exists()
    assert _real_runs(tmp_path) == []


def test_hand_over_waits_for_a_cubin_still_compiling(tmp_path: Path, real_nvcc: Path) -> None:
    wrapper, stage, env = _hand_over_env(tmp_path, real_nvcc)
    key = compile_key(SOURCE.encode(), ["x.cu", "-cubin", "-o", "x.cubin", *FLAGS])
    assert key is not None
    stage.plan(key)
    later = threading.Timer(0.5, lambda: (stage.root / f"{key}.cubin").write_text("LATE"))
    later.start()
    started = time.monotonic()
    args = _request(tmp_path)
    done = _run(wrapper, args, env)
    later.join()
    assert done.returncode == 0 and Path(args[3]).read_text() == "LATE"
    assert time.monotonic() - started >= 0.5 and _real_runs(tmp_path) == []


@pytest.mark.parametrize("case", ["other flags", "never planned", "failed ahead"])
def test_hand_over_passes_anything_else_to_the_real_nvcc(
    tmp_path: Path, real_nvcc: Path, case: str
) -> None:
    wrapper, stage, env = _hand_over_env(tmp_path, real_nvcc)
    if case == "other flags":
        _stage_cubin(stage, SOURCE, [*FLAGS[:-1], "-O2"], "STAGED")
    elif case == "failed ahead":
        key = compile_key(SOURCE.encode(), ["x.cu", "-cubin", "-o", "x.cubin", *FLAGS])
        assert key is not None
        stage.plan(key)
        stage.fail(key, "nvcc failed")
    args = _request(tmp_path)
    done = _run(wrapper, args, env)
    assert done.returncode == 0 and Path(args[3]).read_text() == "REAL:" + SOURCE
    assert _real_runs(tmp_path) == [" ".join(args)]


def test_a_missing_mode_or_real_nvcc_is_one_line_and_exit_2(tmp_path: Path) -> None:
    from jitwarm.interposer import _script as script

    env = {k: v for k, v in os.environ.items() if k not in (MODE_VAR, REAL_NVCC_VAR)}
    bare = subprocess.run(
        [sys.executable, "-I", "-S", script.__file__, "--version"],
        env={**env, MODE_VAR: "compile"},
        capture_output=True,
        text=True,
    )
    assert bare.returncode == 2 and len(bare.stderr.splitlines()) == 1
    assert "JITWARM_NVCC_MODE='compile' is not one of capture" in bare.stderr
    wrapper = write_interposer(tmp_path / "ip", Mode.PASS_THROUGH)
    no_real = subprocess.run([str(wrapper), "--version"], env=env, capture_output=True, text=True)
    assert no_real.returncode == 2 and no_real.stderr == (
        "jitwarm nvcc interposer: JITWARM_REAL_NVCC is not set\n"
    )
    with pytest.raises(ValueError, match="unknown nvcc interposer mode"):
        write_interposer(tmp_path / "ip", "compile")


def test_the_session_takes_each_calls_source_and_removes_its_leftover(
    tmp_path: Path, real_nvcc: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Per call: arm, DeepGEMM's refused compile, take -> the source's digest; the call's own
    ``tmp/<uuid>/`` is removed, a folder of a compile still in flight elsewhere is not."""
    monkeypatch.delenv(CAPTURE_FILE_VAR, raising=False)
    wrapper = write_interposer(tmp_path / "ip", Mode.CAPTURE, real_nvcc=real_nvcc)
    folder = tmp_path / "capture-0"
    folder.mkdir()
    session = WorkerSession(SourceCapture(folder), tmp_path / "root")
    busy = Path(_request(tmp_path, "// another process's\n")[0]).parent
    (busy / "kernel.cubin").write_text("in flight")
    for text in (SOURCE, "// second\n"):
        args = _request(tmp_path, text)
        session.arm()
        assert _run(wrapper, args).returncode == 86
        captured = session.take()
        assert captured is not None and captured.source == text
        assert captured.digest == hashlib.sha256(text.encode()).hexdigest()
        assert not Path(args[0]).parent.exists()
    session.arm()
    assert session.take() is None  # a call that compiled nothing
    assert CAPTURE_FILE_VAR not in os.environ and os.listdir(folder) == []
    assert sorted(os.listdir(busy)) == ["kernel.cu", "kernel.cubin"]
