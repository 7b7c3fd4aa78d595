"""Run nvcc on one kernel source the way DeepJIT does (``backend/cuda/backend.hpp`` of
tokenspeed-deepjit 0.1.0): from inside the kernel's own folder, so no file there shadows a
header, with ``<dir>/kernel.cu --cubin --output-file <dir>/kernel.cubin <flags>
--include-path <include>``."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from jitwarm._pdeathsig import die_with_parent

SOURCE_FILE = "kernel.cu"
CUBIN_FILE = "kernel.cubin"
_OUTPUT_TAIL = 2000


@dataclass(frozen=True)
class NvccRun:
    ok: bool
    seconds: float
    output: str  # the tail of nvcc's stdout and stderr

    @property
    def reason(self) -> str:
        lines = [ln for ln in self.output.splitlines() if ln.strip()]
        errors = [ln for ln in lines if "error" in ln.lower()]
        return (errors or lines or ["nvcc failed with no output"])[0].strip()


def nvcc_command(nvcc: Path, work: Path, flags: Sequence[str], include_dir: Path) -> list[str]:
    """The argv DeepJIT builds (its meta.json ``command`` is these joined by spaces)."""
    work = Path(os.path.abspath(work))
    return [
        str(nvcc),
        str(work / SOURCE_FILE),
        "--cubin",
        "--output-file",
        str(work / CUBIN_FILE),
        *flags,
        "--include-path",
        str(include_dir),
    ]


class ProcessGroups:
    """The nvcc process groups now running, so an interrupt can kill them (and their cicc and
    ptxas children) at once."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running: set[subprocess.Popen[bytes]] = set()
        self.stopping = False

    def add(self, proc: subprocess.Popen[bytes]) -> None:
        with self._lock:
            self._running.add(proc)
        if self.stopping:
            self.kill_all()

    def discard(self, proc: subprocess.Popen[bytes]) -> None:
        with self._lock:
            self._running.discard(proc)

    def kill_all(self) -> None:
        self.stopping = True
        with self._lock:
            running = list(self._running)
        for proc in running:
            with contextlib.suppress(OSError):
                os.killpg(proc.pid, signal.SIGKILL)


def run_nvcc(
    nvcc: Path,
    work: Path,
    flags: Sequence[str],
    include_dir: Path,
    *,
    groups: ProcessGroups | None = None,
    timeout_s: float | None = None,
) -> NvccRun:
    """Compile ``<work>/kernel.cu`` into ``<work>/kernel.cubin``; nvcc gets a process group of
    its own and dies with the calling thread's process."""
    cubin = work / CUBIN_FILE
    start = time.perf_counter()
    try:
        proc = subprocess.Popen(
            nvcc_command(nvcc, work, flags, include_dir),
            cwd=work,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            preexec_fn=die_with_parent,
            start_new_session=True,
        )
    except OSError as exc:
        return NvccRun(False, 0.0, f"cannot run {nvcc}: {exc}")
    if groups is not None:
        groups.add(proc)
    try:
        output, _ = proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(OSError):
            os.killpg(proc.pid, signal.SIGKILL)
        output, _ = proc.communicate()
        output += f"\nnvcc timed out after {timeout_s:.0f} s".encode()
    finally:
        if groups is not None:
            groups.discard(proc)
    seconds = time.perf_counter() - start
    text = output.decode(errors="replace")[-_OUTPUT_TAIL:]
    if proc.returncode != 0:
        why = (
            f"killed by signal {-proc.returncode}"
            if proc.returncode < 0
            else f"exit {proc.returncode}"
        )
        return NvccRun(
            False, seconds, f"nvcc {why}\n{text}" if proc.returncode < 0 else text or why
        )
    if not cubin.is_file() or cubin.stat().st_size == 0:
        return NvccRun(False, seconds, f"nvcc did not produce a valid cubin\n{text}")
    return NvccRun(True, seconds, text)
