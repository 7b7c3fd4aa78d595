"""`jitwarm serve` leaves no temporary cache behind: not on a failed start, not on SIGTERM
before it is ready."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from tests._serve_args import SMALL_SERVE_ARGS

from jitwarm.server._process import ServerProcess

pytest.importorskip("torch")
pytest.importorskip("fastapi")


def _wait_for(predicate, timeout_s: float) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_sigterm_during_warmup_removes_the_scratch_cache(tmp_path: Path) -> None:
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    # The seed's dense sweep at 2 s per simulated compile: minutes, so SIGTERM lands in it.
    args = [*SMALL_SERVE_ARGS, "--warmup", "dense", "--sim-compile-s", "2"]
    srv = ServerProcess(args, log_path=tmp_path / "serve.log", env={"TMPDIR": str(tmp)})
    with srv:
        assert _wait_for(lambda: any(tmp.glob("jitwarm-sim-cache-*")), 90)
        time.sleep(1.0)  # inside the warmup
        srv.stop()
    assert not srv.left_behind
    assert list(tmp.glob("jitwarm-sim-cache-*")) == []


def test_a_failed_start_removes_the_scratch_cache(tmp_path: Path) -> None:
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    bad = tmp_path / "kernels.tar.gz"
    bad.write_bytes(b"not a bundle")
    args = [*SMALL_SERVE_ARGS, "--warmup", "bundle", "--bundle", str(bad)]
    srv = ServerProcess(args, log_path=tmp_path / "serve.log", env={"TMPDIR": str(tmp)})
    with srv:
        assert srv.proc is not None
        srv.proc.wait(120)
    assert srv.proc.returncode == 2
    assert list(tmp.glob("jitwarm-sim-cache-*")) == []
