"""jitwarm.locks: per-kernel locks that other processes wait for, that die with their holder,
and that never fail a warm."""

from __future__ import annotations

import errno
import fcntl
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from jitwarm.errors import UsageError
from jitwarm.locks import KernelLocks, LockMode, LockSettings

SRC = Path(__file__).resolve().parents[1] / "src"

HOLDER = """
import sys, time
from pathlib import Path
from jitwarm.locks import KernelLocks, LockMode, LockSettings
root, mode, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
locks = KernelLocks(root, settings=LockSettings(mode=LockMode(mode)))
with locks.hold("kernel-a") as held:
    assert held.exclusive
    Path(root, "held").write_text("1")
    time.sleep(seconds)
"""


def _start_holder(root: Path, mode: str, seconds: float) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(root), mode, str(seconds)], env=env)
    deadline = time.monotonic() + 30
    while not (root / "held").exists():
        assert proc.poll() is None and time.monotonic() < deadline, "the holder did not start"
        time.sleep(0.02)
    return proc


def _locks(root: Path, mode: LockMode = LockMode.AUTO, **settings: float) -> KernelLocks:
    return KernelLocks(root, settings=LockSettings(mode=mode, **settings))


@pytest.mark.parametrize("mode", ["auto", "flock", "lease"])
def test_a_second_process_waits_for_the_holder(tmp_path: Path, mode: str) -> None:
    holder = _start_holder(tmp_path, mode, 1.0)
    with _locks(tmp_path, LockMode(mode)).hold("kernel-a") as held:
        assert holder.poll() is not None or mode == "lease"  # flock: held until the holder exits
        assert held.exclusive and held.contended and held.waited_s >= 0.5
    holder.wait(10)


def test_other_kernels_are_not_blocked(tmp_path: Path) -> None:
    holder = _start_holder(tmp_path, "auto", 30.0)
    try:
        with _locks(tmp_path).hold("kernel-b") as held:
            assert held.exclusive and not held.contended and held.waited_s < 1.0
    finally:
        holder.kill()
        holder.wait(10)


@pytest.mark.parametrize("mode", ["auto", "lease"])
def test_a_killed_holder_frees_its_kernel_at_once(tmp_path: Path, mode: str) -> None:
    # auto: the kernel drops the flock and the lease it leaves is broken because we hold the
    # flock; lease: the lease names a pid of this pid namespace that no longer runs.
    holder = _start_holder(tmp_path, mode, 600.0)
    holder.send_signal(signal.SIGKILL)
    holder.wait(10)
    locks = _locks(tmp_path, LockMode(mode), lease_s=600.0)
    lease = locks.path("kernel-a").with_suffix(".lease")
    assert lease.exists()  # left behind by the dead holder
    start = time.monotonic()
    with locks.hold("kernel-a") as held:
        assert held.exclusive
        assert json.loads(lease.read_text())["pid"] == os.getpid()
    assert time.monotonic() - start < 2.0
    assert not lease.exists()


def _foreign_lease(locks: KernelLocks, kernel_id: str) -> Path:
    lease = locks.path(kernel_id).with_suffix(".lease")
    lease.parent.mkdir(parents=True, exist_ok=True)
    holder = {"boot": "another-machine", "pidns": "pid:[1]", "pid": 1, "host": "node-7"}
    lease.write_text(json.dumps(holder))
    return lease


def test_another_machines_lease_is_trusted_while_it_changes(tmp_path: Path) -> None:
    locks = _locks(tmp_path, LockMode.LEASE, lease_s=0.6)
    lease = _foreign_lease(locks, "kernel-a")
    stop = threading.Event()

    def heartbeat() -> None:  # the other machine's holder, alive for 1.2 s
        end = time.monotonic() + 1.2
        while time.monotonic() < end and not stop.is_set():
            os.utime(lease, ns=(time.time_ns(), time.time_ns()))
            time.sleep(0.1)

    beat = threading.Thread(target=heartbeat)
    beat.start()
    try:
        with locks.hold("kernel-a") as held:
            # broken only once unchanged for lease_s after the heartbeats stopped
            assert held.exclusive and held.contended and held.waited_s >= 1.2 + 0.5
    finally:
        stop.set()
        beat.join()


def test_a_hung_holder_is_waited_for_at_most_wait_s(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    holder = _start_holder(tmp_path, "auto", 600.0)
    try:
        with (
            caplog.at_level(logging.WARNING),
            _locks(tmp_path, wait_s=0.4).hold("kernel-a") as held,
        ):
            assert not held.exclusive and held.contended and 0.4 <= held.waited_s < 2.0
        assert any("compiling it here too" in r.message for r in caplog.records)
    finally:
        holder.kill()
        holder.wait(10)


def test_a_root_where_no_lock_can_be_made_warns_once_and_runs_unlocked(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    root = tmp_path / "not-a-folder"
    root.write_text("")  # <root>/jitwarm-locks cannot be made (as on a read-only mount)
    locks = _locks(root)
    with caplog.at_level(logging.WARNING):
        for kernel in ("a", "b"):
            with locks.hold(kernel) as held:
                assert not held.exclusive and not held.contended
    warnings = [r.message for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "may compile the same kernel twice" in warnings[0]


def test_without_flock_leases_still_exclude(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_flock(fd: int, op: int) -> None:
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(fcntl, "flock", no_flock)
    locks = _locks(tmp_path, wait_s=0.3)
    with locks.hold("kernel-a") as first:
        assert first.exclusive
        assert locks.path("kernel-a").with_suffix(".lease").exists()
        other = _locks(tmp_path, wait_s=0.3)
        seen: list[bool] = []
        thread = threading.Thread(target=lambda: seen.append(_try(other)))
        thread.start()
        thread.join()
        assert seen == [False]  # the lease kept the other instance out
    assert not locks.path("kernel-a").with_suffix(".lease").exists()


def _try(locks: KernelLocks) -> bool:
    with locks.hold("kernel-a") as held:
        return held.exclusive


def test_off_takes_no_lock(tmp_path: Path) -> None:
    with _locks(tmp_path, LockMode.OFF).hold("kernel-a") as held:
        assert not held.exclusive
    assert not (tmp_path / "jitwarm-locks").exists()


def test_bad_settings_are_usage_errors() -> None:
    with pytest.raises(UsageError, match="JITWARM_LOCKS='sometimes'"):
        LockSettings.from_env({"JITWARM_LOCKS": "sometimes"})
    with pytest.raises(UsageError, match="JITWARM_LOCK_WAIT_S='-1'"):
        LockSettings.from_env({"JITWARM_LOCK_WAIT_S": "-1"})
    assert LockSettings.from_env({"JITWARM_LOCKS": "FLOCK"}).mode == LockMode.FLOCK


@pytest.mark.parametrize("mode", ["auto", "lease"])
def test_try_hold_does_not_wait_for_another_process(tmp_path: Path, mode: str) -> None:
    holder = _start_holder(tmp_path, mode, 30.0)
    try:
        locks = _locks(tmp_path, LockMode(mode))
        start = time.monotonic()
        with locks.try_hold("kernel-a") as busy:
            assert busy is None and time.monotonic() - start < 1.0
        with locks.try_hold("kernel-b") as free:
            assert free is not None and free.exclusive and not free.contended
    finally:
        holder.kill()
        holder.wait(10)


def test_a_kernel_held_elsewhere_is_done_last_not_waited_for_first(tmp_path: Path) -> None:
    """Concurrent warms order kernels alike; a job another process holds goes to the back,
    so this process's slot compiles the others meanwhile (issue 18: no lock-step walk)."""
    from jitwarm.locks import BusyFirstQueue, work_loop

    holder = _start_holder(tmp_path, "auto", 3.0)  # holds kernel-a for 3 s
    locks = _locks(tmp_path)
    order: list[tuple[str, float, bool]] = []
    start = time.monotonic()

    def work(job: str, held: object) -> str:
        assert held is not None
        order.append((job, time.monotonic() - start, held.contended))  # type: ignore[attr-defined]
        return job

    try:
        work_loop(
            BusyFirstQueue(["kernel-a", "kernel-b", "kernel-c"]),
            lambda j: j,
            work,
            lambda _j, _r: None,
            try_hold=locks.try_hold,
            hold=locks.hold,
        )
    finally:
        holder.wait(30)
    assert [o[0] for o in order] == ["kernel-b", "kernel-c", "kernel-a"]
    assert order[1][1] < 1.0  # b and c did not wait for a's holder
    assert order[2][2]  # a was taken after its holder let go: most likely compiled there


def test_prune_removes_only_old_lock_files_nobody_holds(tmp_path: Path) -> None:
    from jitwarm.locks import prune_idle_locks

    locks = _locks(tmp_path)
    for kernel in ("old-free", "old-held", "new-free"):
        with locks.hold(kernel):
            pass
    day_ago = time.time() - 2 * 24 * 3600
    for kernel in ("old-free", "old-held"):
        os.utime(locks.path(kernel), (day_ago, day_ago))
    with locks.hold("old-held") as held:
        assert held.exclusive
        assert prune_idle_locks(tmp_path) == 1
    assert not locks.path("old-free").exists()
    assert locks.path("old-held").exists() and locks.path("new-free").exists()
    with locks.hold("old-free") as again:  # a pruned kernel locks as before
        assert again.exclusive and not again.contended
