"""Concurrent warms on one cache root, with the fake compile step in separate processes: each
kernel compiled once in total, a killed holder costs only its own kernel, reports add up."""

from __future__ import annotations

import collections
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from tests._concurrent_warm import SERVING, runner_env
from tests._warm_plans import exact_plan

from jitwarm.warmer._cache_entries import list_entries

RUNNER = Path(__file__).resolve().parent / "_concurrent_warm.py"


def _start(root: Path, log: Path, *, jobs: int, compile_s: float, leader: bool = False) -> Any:
    args = [sys.executable, str(RUNNER), str(root), str(log), str(jobs), str(compile_s)]
    return subprocess.Popen(
        [*args, *(["leader"] if leader else [])],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=runner_env(),
        text=True,
    )


def _reports(procs: list[Any]) -> list[dict[str, Any]]:
    out = []
    for proc in procs:
        stdout, stderr = proc.communicate(timeout=120)
        assert proc.returncode in (0, 1), stderr
        out.append(json.loads(stdout))
    return out


def _compiles(log: Path) -> collections.Counter[str]:
    """How many times each kernel's compile began."""
    lines = log.read_text().splitlines() if log.exists() else []
    return collections.Counter(line.split()[1] for line in lines if line.startswith("start "))


def test_four_concurrent_warms_compile_each_kernel_once(tmp_path: Path) -> None:
    plan, log = exact_plan(**SERVING), tmp_path / "compiles.log"
    procs = [_start(tmp_path / "root", log, jobs=2, compile_s=0.3) for _ in range(4)]
    reports = _reports(procs)
    compiles = _compiles(log)
    assert len(compiles) == plan.num_kernels and set(compiles.values()) == {1}
    assert len(list_entries(tmp_path / "root")) == plan.num_kernels
    assert all(r["ok"] for r in reports)
    # the reports add up: every kernel compiled by exactly one of them
    assert sum(r["compiled"] for r in reports) == plan.num_kernels
    for r in reports:
        assert r["compiled"] + r["compiled_elsewhere"] + r["cached"] == plan.num_kernels
    waited = [row for r in reports for row in r["items"] if row["status"] == "compiled elsewhere"]
    assert waited and all(row["compiled"] == 0 and row["lock_wait_s"] > 0 for row in waited)


def test_a_holder_killed_mid_compile_costs_only_its_own_kernel(tmp_path: Path) -> None:
    plan, log = exact_plan(**SERVING), tmp_path / "compiles.log"
    procs = [_start(tmp_path / "root", log, jobs=2, compile_s=0.5) for _ in range(3)]
    deadline = time.monotonic() + 60
    while not (log.exists() and log.read_text().strip()):
        assert time.monotonic() < deadline, "no compile began"
        time.sleep(0.02)
    _, victim_kernel, victim_pid = log.read_text().splitlines()[0].split()
    os.kill(int(victim_pid), signal.SIGKILL)  # a worker, mid-compile, holding the kernel's lock
    reports = _reports(procs)
    compiles = _compiles(log)
    assert compiles.pop(victim_kernel) == 2  # the killed compile, and the one that took it over
    assert len(compiles) == plan.num_kernels - 1 and set(compiles.values()) == {1}
    assert len(list_entries(tmp_path / "root")) == plan.num_kernels
    failed = [r for r in reports if not r["ok"]]
    assert len(failed) == 1 and failed[0]["failed"] == 1  # only the victim's warm lost an item
    assert "exited with code -9" in failed[0]["failures"][0]["reason"]
    assert sum(r["compiled"] for r in reports) == plan.num_kernels


def test_leader_only_lets_one_warm_compile_and_the_others_check(tmp_path: Path) -> None:
    plan, log = exact_plan(**SERVING), tmp_path / "compiles.log"
    procs = [_start(tmp_path / "root", log, jobs=2, compile_s=0.2, leader=True) for _ in range(3)]
    reports = _reports(procs)
    assert set(_compiles(log).values()) == {1} and len(_compiles(log)) == plan.num_kernels
    roles = sorted(r["peer_role"] for r in reports)
    assert roles == ["follower", "follower", "leader"]
    (leader,) = [r for r in reports if r["peer_role"] == "leader"]
    assert leader["compiled"] == plan.num_kernels and leader["peer_wait_s"] is None
    for follower in (r for r in reports if r["peer_role"] == "follower"):
        assert follower["ok"] and follower["compiled"] == 0
        assert follower["cached"] == plan.num_kernels and follower["peer_wait_s"] > 0
        assert follower["jobs"] <= 2
