"""warm() end to end with the fake compile step: processes, devices, failures, exact mode."""

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from tests._device_warmup import WarmupCheckingBackend
from tests._warm_plans import exact_plan, sweep_plan

from jitwarm.warmer import FakeBackend, WorkerSetupError, warm
from jitwarm.warmer._cache_entries import list_entries
from jitwarm.warmer._fake import fake_kernel_name


def test_compiles_each_kernel_once_then_finds_them_cached(tmp_path: Path) -> None:
    plan = exact_plan()
    first = warm(plan, jobs=3, cache_dir=tmp_path, backend=FakeBackend(), devices=["0", "1"])
    assert first.ok and first.compiled == plan.num_kernels == first.new_cache_entries
    assert len(list_entries(tmp_path)) == plan.num_kernels
    again = warm(plan, jobs=3, cache_dir=tmp_path, backend=FakeBackend(), devices=["0", "1"])
    assert again.ok and again.compiled == 0 and again.new_cache_entries == 0
    assert again.cached == plan.num_kernels


def test_workers_round_robin_over_an_existing_cuda_visible_devices(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3,5")
    report = warm(exact_plan(), jobs=4, cache_dir=tmp_path, backend=FakeBackend())
    assert report.devices == ("3", "5", "3", "5")
    seen = {(row.worker, row.device) for row in report.items}
    # the fake reports the CUDA_VISIBLE_DEVICES it found in its own process
    assert seen and all(device == ["3", "5"][worker % 2] for worker, device in seen)


def test_one_failure_does_not_stop_the_rest(tmp_path: Path) -> None:
    plan = exact_plan()
    bad_m = plan.entries[0].kernels[0].m  # type: ignore[index]
    report = warm(
        plan,
        jobs=2,
        cache_dir=tmp_path,
        backend=FakeBackend(fail_on=frozenset({(plan.entries[0].key, bad_m)})),
    )
    assert not report.ok and report.failed == 1
    assert report.compiled == plan.num_kernels - 1
    (failure,) = report.failures
    assert failure.m == bad_m and "planted failure" in failure.reason
    assert report.families[plan.entries[0].family.value].failed == 1


def test_a_dying_worker_fails_only_its_item(tmp_path: Path) -> None:
    plan = exact_plan()
    bad_m = plan.entries[1].kernels[-1].m  # type: ignore[index]
    report = warm(
        plan,
        jobs=2,
        cache_dir=tmp_path,
        backend=FakeBackend(crash_on=frozenset({(plan.entries[1].key, bad_m)})),
    )
    assert report.failed == 1 and report.compiled == plan.num_kernels - 1
    assert "worker exited with code 17" in report.failures[0].reason


def test_warm_returns_without_waiting_for_workers_to_tear_down(tmp_path: Path) -> None:
    plan = exact_plan()
    start = time.monotonic()
    report = warm(plan, jobs=2, cache_dir=tmp_path, backend=FakeBackend(teardown_s=60.0))
    # every kernel is published before warm returns; the workers' slow exit is not waited for
    assert report.ok and len(list_entries(tmp_path)) == plan.num_kernels
    assert time.monotonic() - start < 8.0


def test_the_report_says_how_the_workers_started(tmp_path: Path) -> None:
    report = warm(exact_plan(), jobs=3, cache_dir=tmp_path, backend=FakeBackend())
    ready, started = report.workers_ready_s, report.workers_started_s
    # a worker that came up after the last item was handed out is not waited for
    assert 1 <= len(ready) == len(started) <= 3 and ready == sorted(ready)
    first_start = min(row.start_s for row in report.items if row.start_s is not None)
    # no item starts before a worker is ready, and no worker is ready after the warm ended
    assert 0 <= ready[0] <= first_start + 0.05 and ready[-1] <= report.wall_s
    # a worker runs after its fork server's imports and is ready after it runs
    assert report.imports_done_s is not None and report.imports_done_s <= started[0] + 0.05
    assert all(s <= r for s, r in zip(started, ready, strict=True))
    body = report.to_json()
    assert body["workers_ready_s"] == ready and body["workers_started_s"] == started


def test_the_device_warmup_runs_in_every_worker(tmp_path: Path) -> None:
    backend = WarmupCheckingBackend(device_warmup="tests._device_warmup:mark")
    # a worker whose warm-up did not run refuses to start, and warm then raises
    report = warm(exact_plan(), jobs=3, cache_dir=tmp_path, backend=backend)
    assert report.ok and report.workers_ready_s


def test_a_failing_device_warmup_is_left_to_setup(tmp_path: Path) -> None:
    backend = FakeBackend(device_warmup="tests._device_warmup:explode")
    report = warm(exact_plan(), jobs=2, cache_dir=tmp_path, backend=backend)
    assert report.ok and len(list_entries(tmp_path)) == exact_plan().num_kernels


def test_no_worker_can_start(tmp_path: Path) -> None:
    with pytest.raises(WorkerSetupError, match="no worker could start: wrong GPU") as info:
        warm(exact_plan(), jobs=2, cache_dir=tmp_path, backend=FakeBackend(setup_error="wrong GPU"))
    assert info.value.usage


def test_exact_mode_compiles_each_distinct_sweep_kernel_once(tmp_path: Path) -> None:
    plan = sweep_plan()
    distinct = {fake_kernel_name(e, m) for e in plan.entries for m in e.mset}
    report = warm(plan, jobs=4, cache_dir=tmp_path, exact=True, backend=FakeBackend())
    assert report.ok and report.capture is not None
    assert report.capture.calls == sum(len(e.mset) for e in plan.entries)
    assert report.capture.distinct_kernels == len(distinct)
    assert report.compiled == len(distinct)  # never the same kernel twice
    assert list_entries(tmp_path) == distinct
    assert sum(len(row.ms) > 0 for row in report.items) == len(distinct)


def test_plain_sweep_runs_every_m_and_covers_every_kernel(tmp_path: Path) -> None:
    plan = sweep_plan()
    distinct = {fake_kernel_name(e, m) for e in plan.entries for m in e.mset}
    report = warm(plan, jobs=3, cache_dir=tmp_path, backend=FakeBackend())
    assert report.ok and report.capture is None
    assert sum(s.calls for s in report.families.values()) == sum(len(e.mset) for e in plan.entries)
    assert list_entries(tmp_path) == distinct and report.compiled >= len(distinct)


def test_full_sweep_on_a_warm_cache_compiles_nothing(tmp_path: Path) -> None:
    plan = exact_plan()
    warm(plan, jobs=2, cache_dir=tmp_path, backend=FakeBackend())
    check = warm(plan, jobs=2, cache_dir=tmp_path, backend=FakeBackend(), full_sweep=True)
    assert check.ok and check.compiled == 0
    assert sum(s.calls for s in check.families.values()) == sum(len(e.mset) for e in plan.entries)


def test_a_worker_holding_the_gil_does_not_stall_the_others(tmp_path: Path) -> None:
    """DeepGEMM 2.5.0 holds the GIL for a whole compile; the other workers' hand-offs must not
    wait for it (they did with a shared multiprocessing.Queue, whose feeder thread keeps a
    cross-process lock until it gets its GIL back)."""
    from jitwarm.warmer._items import plan_work_items

    plan = exact_plan()
    first = min(plan_work_items(plan), key=lambda i: (-i.est_s, i.item_id))  # handed out first
    backend = FakeBackend(hold_gil_on=frozenset({(first.entry_key, first.ms[0])}), hold_gil_s=2.0)
    report = warm(plan, jobs=2, cache_dir=tmp_path, backend=backend)
    assert report.ok
    held = next(r.to_json() for r in report.items if r.label == first.label)
    others = [r.to_json() for r in report.items if r.worker != held["worker"]]
    assert sum(r["start_s"] < held["end_s"] for r in others) >= 10


def test_a_script_without_a_main_guard_gets_a_clear_error(tmp_path: Path) -> None:
    # forkserver workers import the caller's script again; unguarded, it would warm from each
    script = tmp_path / "unguarded.py"
    script.write_text(
        "import sys\n"
        f"sys.path.insert(0, {str(Path(__file__).parent)!r})\n"
        "from _warm_plans import exact_plan\n"
        "from jitwarm.warmer import FakeBackend, warm\n"
        f"warm(exact_plan(), jobs=2, cache_dir={str(tmp_path / 'cache')!r}, backend=FakeBackend())\n"
    )
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode != 0
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("jitwarm.errors.WorkerSetupError: no worker could start")
    assert '`if __name__ == "__main__":` guard' in last


def test_workers_start_together_when_the_plan_is_large(tmp_path: Path) -> None:
    # Each worker re-imports the caller's script before it runs (here: 0.5 s). A task larger
    # than a pipe holds, sent as process arguments, made the parent wait for each worker in
    # turn; through a file, the four start within one such import of each other.
    script = tmp_path / "large_plan.py"
    script.write_text(
        "import json, time\n"
        "time.sleep(0.5)\n"
        "if __name__ == '__main__':\n"
        "    import pickle\n"
        "    from jitwarm.models._loader import load_model\n"
        "    from jitwarm.plan import plan_serving\n"
        "    from jitwarm.serving import ServingConfig\n"
        "    from jitwarm.warmer import FakeBackend, warm\n"
        "    plan = plan_serving(load_model('deepseek-v3'), ServingConfig(tp=8))\n"
        "    assert len(pickle.dumps(plan)) > 1 << 16\n"
        f"    report = warm(plan, jobs=4, cache_dir={str(tmp_path / 'cache')!r},\n"
        "                  backend=FakeBackend(compile_s=0.05))\n"
        "    print(json.dumps(report.workers_started_s))\n"
    )
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    started = json.loads(done.stdout.strip().splitlines()[-1])
    assert len(started) == 4
    assert started[-1] - started[0] < 1.0, started
    assert "Traceback" not in done.stderr


def _processes_mentioning(text: str) -> list[int]:
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if text in (proc / "cmdline").read_bytes().decode(errors="replace"):
                    found.append(int(proc.name))
            except OSError:
                pass
    return found


@pytest.mark.skipif(not Path("/proc/self/cmdline").exists(), reason="needs /proc")
def test_a_killed_warm_leaves_no_worker_behind(tmp_path: Path) -> None:
    # The fork server (and the workers forked from it) carry the script's folder on their
    # command line; the fake compiles for 60 s, far past the 10 s allowed here.
    script = tmp_path / "killed.py"
    cache = tmp_path / "cache"
    script.write_text(
        "import sys\n"
        f"sys.path.insert(0, {str(Path(__file__).parent)!r})\n"
        "from _warm_plans import exact_plan\n"
        "from jitwarm.warmer import FakeBackend, warm\n"
        "if __name__ == '__main__':\n"
        f"    warm(exact_plan(), jobs=2, cache_dir={str(cache)!r}, backend=FakeBackend(compile_s=60))\n"
    )
    proc = subprocess.Popen([sys.executable, str(script)])
    try:
        deadline = time.monotonic() + 60
        while not any((cache / "tmp").glob("*")) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert any((cache / "tmp").glob("*")), "no worker started compiling"
        proc.kill()
        proc.wait()
        deadline = time.monotonic() + 10
        while _processes_mentioning(str(tmp_path)) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert _processes_mentioning(str(tmp_path)) == []
        assert not list((cache / "cache").glob("*"))  # nothing half-compiled was published
    finally:
        proc.kill()
        for pid in _processes_mentioning(str(tmp_path)):
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
