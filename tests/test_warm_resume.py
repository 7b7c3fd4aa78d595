"""Resumption: a warm killed with SIGKILL leaves only complete cache entries, and a rerun
compiles exactly what is left."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests._warm_plans import exact_plan

from jitwarm.warmer import FakeBackend, warm
from jitwarm.warmer._cache_entries import list_entries

_SCRIPT = """
import sys
from jitwarm.plan import Plan
from jitwarm.warmer import FakeBackend, warm

if __name__ == "__main__":
    plan = Plan.load(sys.argv[1])
    warm(plan, jobs=2, cache_dir=sys.argv[2], backend=FakeBackend(compile_s=0.05))
"""


def _wait_for(predicate, timeout_s: float = 60.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.02)


def test_sigkill_mid_run_then_rerun_compiles_only_the_rest(tmp_path: Path) -> None:
    plan = exact_plan()
    plan_file, cache, script = tmp_path / "plan.json", tmp_path / "cache-root", tmp_path / "run.py"
    plan_file.write_text(plan.to_json())
    script.write_text(_SCRIPT)
    proc = subprocess.Popen([sys.executable, str(script), str(plan_file), str(cache)])
    try:
        _wait_for(lambda: len(list_entries(cache)) >= 6)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(30)
    time.sleep(0.5)
    survived = list_entries(cache)
    assert 6 <= len(survived) < plan.num_kernels
    for name in survived:  # published entries are whole
        assert {p.name for p in (cache / "cache" / name).iterdir()} == {"kernel.cu", "kernel.cubin"}
    rerun = warm(plan, jobs=2, cache_dir=cache, backend=FakeBackend())
    # Each rerun compile added a missing entry, nothing present was compiled again, and all is
    # there now (a compile that ended just after the kill may have published a whole entry).
    assert rerun.ok and rerun.compiled == rerun.new_cache_entries
    assert rerun.cached >= len(survived)
    assert rerun.compiled + rerun.cached == plan.num_kernels == len(list_entries(cache))
