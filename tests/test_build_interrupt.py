"""A build stopped at any point leaves no partial entry: SIGKILL mid-compile, then a rerun
publishes the entry; an interrupt kills nvcc's whole process group (its children too)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

from jitwarm.build import CompileSetup, JobStatus, LocalExecutor
from jitwarm.build._compile import ProcessGroups, run_nvcc
from jitwarm.build._job import BuildJob

# A stand-in nvcc: records its pid and its child's, waits, then writes the --output-file.
_FAKE_NVCC = textwrap.dedent(
    """\
    #!/bin/sh
    sleep "${FAKE_NVCC_SLEEP:-0}" &
    echo "$$ $!" >> "$FAKE_NVCC_PIDS"
    wait
    printf 'cubin' > "$4"
    """
)


def _fake_nvcc(tmp_path: Path) -> Path:
    nvcc = tmp_path / "nvcc"
    nvcc.write_text(_FAKE_NVCC)
    nvcc.chmod(0o755)
    return nvcc


def _job(name: str = "sm90_paged_mqa_logits_metadata.0123456789abcdef0123456789abcdef") -> BuildJob:
    return BuildJob(
        name, "// source\n", ("--gpu-architecture=sm_90a",), 1.0, name, "f", lambda w: "{}"
    )


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie counts as gone
    with open(f"/proc/{pid}/stat") as fh:
        return fh.read().split(")")[-1].split()[0] != "Z"


def _wait_for(pred, timeout_s: float = 20.0) -> bool:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.05)
    return False


def test_sigkill_mid_compile_leaves_no_entry_and_rerun_publishes(tmp_path, monkeypatch):
    nvcc, root, pids = _fake_nvcc(tmp_path), tmp_path / "root", tmp_path / "pids"
    script = textwrap.dedent(
        f"""
        from pathlib import Path
        from jitwarm.build import CompileSetup, LocalExecutor, BuildJob
        job = BuildJob({_job().entry_name!r}, "// source\\n", ("--gpu-architecture=sm_90a",), 1.0, "x", "f", lambda w: "{{}}")
        LocalExecutor(1).run([job], CompileSetup(Path({str(nvcc)!r}), Path("/nonexistent"), Path({str(root)!r})))
        """
    )
    env = {**os.environ, "FAKE_NVCC_SLEEP": "60", "FAKE_NVCC_PIDS": str(pids)}
    proc = subprocess.Popen([sys.executable, "-c", script], env=env)
    try:
        assert _wait_for(lambda: pids.exists() and pids.read_text().strip())
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    shell_pid, sleep_pid = map(int, pids.read_text().split())
    assert _wait_for(lambda: not _alive(shell_pid)), "nvcc outlived the killed build"
    if _alive(sleep_pid):  # an orphaned grandchild finishes on its own; don't leave it
        os.kill(sleep_pid, signal.SIGKILL)
    assert not (root / "cache" / _job().entry_name).exists()
    assert [p for p in (root / "tmp").iterdir() if (p / ".committed").exists()] == []

    monkeypatch.setenv("FAKE_NVCC_SLEEP", "0")
    monkeypatch.setenv("FAKE_NVCC_PIDS", str(tmp_path / "pids2"))
    [result] = LocalExecutor(1).run([_job()], CompileSetup(nvcc, Path("/nonexistent"), root))
    assert result.status == JobStatus.COMPILED
    assert (root / "cache" / _job().entry_name / ".committed").exists()


def test_kill_all_ends_nvcc_and_its_children(tmp_path, monkeypatch):
    nvcc, pids = _fake_nvcc(tmp_path), tmp_path / "pids"
    monkeypatch.setenv("FAKE_NVCC_SLEEP", "60")
    monkeypatch.setenv("FAKE_NVCC_PIDS", str(pids))
    work = tmp_path / "work"
    work.mkdir()
    groups = ProcessGroups()
    out = {}
    t = threading.Thread(
        target=lambda: out.update(run=run_nvcc(nvcc, work, (), tmp_path, groups=groups))
    )
    t.start()
    assert _wait_for(lambda: pids.exists() and pids.read_text().strip())
    started = time.monotonic()
    groups.kill_all()
    t.join(timeout=10)
    assert not t.is_alive() and time.monotonic() - started < 5
    assert not out["run"].ok and "signal" in out["run"].output
    _, sleep_pid = map(int, pids.read_text().split())
    assert _wait_for(lambda: not _alive(sleep_pid)), "nvcc's child survived"


def test_failed_compile_is_reported_and_leaves_nothing(tmp_path):
    nvcc = tmp_path / "nvcc"
    nvcc.write_text(
        "#!/bin/sh\necho 'kernel.cu(3): error: identifier \"x\" is undefined' >&2\nexit 2\n"
    )
    nvcc.chmod(0o755)
    [result] = LocalExecutor(1).run([_job()], CompileSetup(nvcc, tmp_path, tmp_path / "root"))
    assert result.status == JobStatus.FAILED
    assert result.reason == 'kernel.cu(3): error: identifier "x" is undefined'
    assert not (tmp_path / "root" / "cache").exists()
    assert list((tmp_path / "root" / "tmp").iterdir()) == []
