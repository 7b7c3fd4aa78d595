"""A worker process's DeepGEMM session: the one set-up path of warm's and verify's workers
(where DeepGEMM's output goes, the nvcc interposer in capture mode with its cache root, then
the device and the plan's settings, through the caller's ``prepare``) and, per call under
capture, what the interposer recorded.

Pure Python: verify's workers may run a test double of DeepGEMM; the real device set-up is
``jitwarm.deepgemm``'s, passed in as ``prepare``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from jitwarm import dgenv
from jitwarm.errors import WorkerSetupError
from jitwarm.interposer import Captured, Mode, SourceCapture, write_interposer
from jitwarm.warmer._backend import WorkerContext


@dataclass(frozen=True)
class CaptureSetup:
    """How a worker captures kernel sources instead of compiling them.

    ``interposer``: the capture interposer the parent installed before any worker started
    (verify: its fork server imports deep_gemm), which the worker's environment must name; None:
    the worker writes its own, answering ``--version`` like the nvcc DeepGEMM would run (warm).
    ``scratch_root``: capture against an empty cache root of this worker's (warm's exact mode:
    every kernel is captured, and failed attempts stay out of the real root); else against the
    pool's cache root (verify: cached kernels run, missing ones are captured).
    """

    interposer: Path | None = None
    scratch_root: bool = False


class WorkerSession:
    """DeepGEMM set up in this worker; ``arm`` / ``take`` around each call under capture."""

    def __init__(self, capture: SourceCapture | None, cache_root: Path) -> None:
        self.capture = capture
        self.cache_root = cache_root

    @classmethod
    def open(
        cls,
        ctx: WorkerContext,
        *,
        output: Path,
        stderr_too: bool,
        capture: CaptureSetup | None,
        prepare: Callable[[WorkerContext], None],
    ) -> WorkerSession:
        """``output``: where DeepGEMM's C stdout (and with ``stderr_too`` stderr) goes, off the
        user's terminal (and out of ``--json`` output). ``prepare``: the device set-up
        (``jitwarm.deepgemm``'s, or a test double's)."""
        _redirect(output, stderr_too=stderr_too)
        sources, cache_root = None, ctx.cache_root
        if capture is not None:
            folder = ctx.log_dir / f"capture-{ctx.worker_id}"
            folder.mkdir(parents=True, exist_ok=True)
            _install_capture(capture, folder)
            if capture.scratch_root:
                cache_root = folder / "root"
                os.environ[dgenv.CACHE_DIR_VAR] = str(cache_root)
            sources = SourceCapture(folder)
        prepare(ctx)
        return cls(sources, cache_root)

    def arm(self) -> None:
        if self.capture is not None:
            self.capture.arm()

    def take(self) -> Captured | None:
        """What the call since ``arm`` asked to compile (None: nothing, or not capturing). The
        ``tmp/<uuid>/`` folder the refused compile left is removed (DeepGEMM does not)."""
        captured = self.capture.take() if self.capture is not None else None
        if captured is not None and captured.source_path is not None:
            _remove_abandoned(captured.source_path, self.cache_root / "tmp")
        return captured


def _install_capture(setup: CaptureSetup, folder: Path) -> None:
    if setup.interposer is not None:
        if os.environ.get(dgenv.NVCC_VAR) != str(setup.interposer):
            # Without the interposer a missing kernel would really compile into the cache.
            raise WorkerSetupError(f"{dgenv.NVCC_VAR} does not point at the stand-in compiler")
        return
    real = dgenv.find_nvcc()
    if real is None or not real.exists():
        raise WorkerSetupError("exact mode needs nvcc (the stand-in answers --version with it)")
    os.environ[dgenv.NVCC_VAR] = str(write_interposer(folder, Mode.CAPTURE, real_nvcc=real))


def _redirect(output: Path, *, stderr_too: bool) -> None:
    fd = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(fd, 1)
    if stderr_too:
        os.dup2(fd, 2)
    os.close(fd)


def _remove_abandoned(kernel_cu: Path, tmp: Path) -> None:
    """Remove the ``tmp/<uuid>/`` folder of a compile the interposer refused: only one under the
    cache root's ``tmp/`` that holds nothing but that ``kernel.cu`` (never the folder of a
    compile another process has in flight)."""
    folder = kernel_cu.parent
    with contextlib.suppress(OSError):
        if folder.parent.resolve() == tmp.resolve() and os.listdir(folder) == ["kernel.cu"]:
            shutil.rmtree(folder)
