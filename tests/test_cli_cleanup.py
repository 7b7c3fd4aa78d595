"""Nothing left behind: `jitwarm warm` stopped by SIGTERM removes its temporary folders."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests._warm_plans import exact_plan

from jitwarm.warmer._cache_entries import list_entries

# The CLI as a user runs it, with the fake compiler in place of DeepGEMM.
_SCRIPT = """
import sys
from jitwarm.cli import main
from jitwarm.warmer import FakeBackend, _api as api

if __name__ == "__main__":
    api.default_backend = lambda capture=False: FakeBackend(compile_s=0.1)
    main(["warm", "--plan", sys.argv[1], "--cache-dir", sys.argv[2], "-j", "2", "--no-ahead"])
"""


def test_sigterm_mid_warm_leaves_no_temporary_folder(tmp_path: Path) -> None:
    plan = exact_plan()
    plan_file, cache, script = tmp_path / "plan.json", tmp_path / "cache-root", tmp_path / "run.py"
    plan_file.write_text(plan.to_json())
    script.write_text(_SCRIPT)
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = {**os.environ, "TMPDIR": str(tmp)}
    proc = subprocess.Popen([sys.executable, str(script), str(plan_file), str(cache)], env=env)
    try:
        deadline = time.monotonic() + 60
        while len(list_entries(cache)) < 3:
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.02)
        assert any(tmp.iterdir())  # the warm's own folders are there while it runs
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(30)
    assert code == 128 + signal.SIGTERM
    time.sleep(0.5)  # workers exit with their parent
    assert sorted(p.name for p in tmp.iterdir()) == []
