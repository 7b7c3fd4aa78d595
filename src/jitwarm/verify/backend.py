"""The verify worker: every call under the stand-in compiler, against the real cache.

It plugs into warm's worker pool as a :class:`jitwarm.warmer.backend.Backend` and uses warm's nvcc
stand-in (:mod:`jitwarm.deepgemm.capture`, pure Python). A call whose kernels are all cached
runs; a call that needs a missing kernel runs the stand-in, which saves the kernel source, and
the call raises: the outcome carries that source's digest, and the source is kept in
``sources_dir/<digest>.cu`` for the report. The ``tmp/<uuid>/`` folder the failed compile left
in the cache root is removed right away. torch and deep_gemm come in through the calls
provider, in the worker only.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

from jitwarm import dgenv
from jitwarm._atomic import atomic_write_text
from jitwarm.deepgemm.capture import CAPTURE_FILE_VAR, SourceCapture
from jitwarm.errors import WorkerSetupError
from jitwarm.verify.calls import load_provider
from jitwarm.warmer.backend import (
    CallOutcome,
    ItemOutcome,
    ItemRecorder,
    WorkerContext,
    is_cuda_fatal,
)
from jitwarm.warmer.items import WorkItem

log = logging.getLogger(__name__)

WOULD_COMPILE = "would compile (kernel missing from the cache)"


@dataclass
class CaptureCallsBackend:
    provider: str
    standin: Path  # the stand-in script every worker must be using
    workdir: Path  # per-worker capture folders and the kept sources live here
    preload: tuple[str, ...] = ()
    _ctx: WorkerContext | None = field(default=None, repr=False)
    _calls: ModuleType | None = field(default=None, repr=False)
    _capture: SourceCapture | None = field(default=None, repr=False)

    @property
    def sources_dir(self) -> Path:
        return self.workdir / "sources"

    def setup(self, ctx: WorkerContext) -> None:
        if os.environ.get(dgenv.NVCC_VAR) != str(self.standin):
            # Without the stand-in a missing kernel would really compile into the cache.
            raise WorkerSetupError(f"{dgenv.NVCC_VAR} does not point at the stand-in compiler")
        folder = self.workdir / f"capture-{ctx.worker_id}"
        folder.mkdir(parents=True, exist_ok=True)
        self._capture = SourceCapture(folder)
        _silence_c_stdout()
        self._calls = load_provider(self.provider)
        self._calls.prepare(ctx)
        self._ctx = ctx

    def run(self, item: WorkItem) -> ItemOutcome:
        assert self._ctx is not None and self._calls is not None and self._capture is not None
        ctx, capture = self._ctx, self._capture
        rec = ItemRecorder(item, ctx.worker_id, os.environ.get("CUDA_VISIBLE_DEVICES"))
        start = time.perf_counter()
        try:
            for m in item.ms:
                capture.arm()
                t0 = time.perf_counter()
                error = None
                try:
                    self._calls.build_call(ctx.plan, item.entry_index, m)()
                except Exception as exc:
                    error = _one_line(exc)
                wall = time.perf_counter() - t0
                compiled_as = _compiled_source_path()
                captured = capture.take()
                if captured is not None:
                    digest, source = captured
                    self._keep(digest, source)
                    if compiled_as is not None:
                        _remove_abandoned(compiled_as, ctx.cache_root / "tmp")
                    rec.calls.append(
                        CallOutcome(m, wall, error=WOULD_COMPILE, source_digest=digest)
                    )
                    continue
                rec.calls.append(CallOutcome(m, wall, error=error))
                if is_cuda_fatal(error):
                    return rec.outcome(time.perf_counter() - start, error=error, fatal=True)
        finally:
            release = getattr(self._calls, "release", None)
            if release is not None:
                release()
        return rec.outcome(time.perf_counter() - start)

    def _keep(self, digest: str, source: str) -> None:
        path = self.sources_dir / f"{digest}.cu"
        if not path.exists():
            atomic_write_text(path, source)


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return f"{type(exc).__name__}: {text[:300]}"


def _compiled_source_path() -> Path | None:
    """The ``kernel.cu`` path DeepGEMM handed the stand-in in this call (the stand-in writes
    its arguments beside the capture file), so only this call's own leftover is removed, never
    the folder of a compile another process has in flight."""
    capture_file = os.environ.get(CAPTURE_FILE_VAR)
    if not capture_file:
        return None
    try:
        args = Path(capture_file + ".args").read_text().splitlines()
    except OSError:
        return None
    return next((Path(a) for a in args if a.endswith(".cu")), None)


def _remove_abandoned(kernel_cu: Path, tmp: Path) -> None:
    """Remove the ``tmp/<uuid>/`` folder a compile refused by the stand-in left behind
    (DeepGEMM does not clean it up): only one under the cache root's ``tmp/`` that holds
    nothing but that ``kernel.cu``."""
    folder = kernel_cu.parent
    with contextlib.suppress(OSError):
        if folder.parent.resolve() == tmp.resolve() and os.listdir(folder) == ["kernel.cu"]:
            shutil.rmtree(folder)


def _silence_c_stdout() -> None:
    """DeepGEMM printf()s a line per failed compile on fd 1; in a worker that is noise on the
    user's terminal (and would corrupt ``--json`` output)."""
    with contextlib.suppress(OSError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.close(devnull)
