"""The verify worker: every call under the capture interposer, against the real cache.

It plugs into warm's worker pool as a :class:`jitwarm.warmer.Backend` and sets up DeepGEMM
through the worker session warm's workers use (``jitwarm.warmer.WorkerSession``), capturing
with the interposer the parent installed (:mod:`jitwarm.interposer`, capture mode).
A call whose kernels are all cached runs; a call that needs a missing kernel runs the
interposer, which saves the kernel source, and the call raises: the outcome carries that
source's digest, and the source is kept in ``sources_dir/<digest>.cu`` for the report. The
session removes the ``tmp/<uuid>/`` folder the refused compile left in the cache root. torch
and deep_gemm come in through the calls provider (``jitwarm.verify._calls``), in the worker
only.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from jitwarm._atomic import atomic_write_text
from jitwarm.verify._calls import CallsProvider
from jitwarm.warmer import (
    CallOutcome,
    CaptureSetup,
    ItemOutcome,
    ItemRecorder,
    WorkerContext,
    WorkerSession,
    WorkItem,
    is_cuda_fatal,
)

log = logging.getLogger(__name__)

WOULD_COMPILE = "would compile (kernel missing from the cache)"


@dataclass
class CaptureCallsBackend:
    calls: CallsProvider
    standin: Path  # the capture interposer every worker must be using
    workdir: Path  # the pool's log folder: per-worker capture folders and the kept sources
    _ctx: WorkerContext | None = field(default=None, repr=False)
    _session: WorkerSession | None = field(default=None, repr=False)

    @property
    def preload(self) -> tuple[str, ...]:
        return self.calls.preload

    @property
    def sources_dir(self) -> Path:
        return self.workdir / "sources"

    def setup(self, ctx: WorkerContext) -> None:
        # DeepGEMM printf()s a line per failed compile on fd 1: noise on the user's terminal,
        # and it would corrupt ``--json`` output.
        self._session = WorkerSession.open(
            ctx,
            output=Path(os.devnull),
            stderr_too=False,
            capture=CaptureSetup(interposer=self.standin),
            prepare=self.calls.prepare,
        )
        self._ctx = ctx

    def run(self, item: WorkItem) -> ItemOutcome:
        assert self._ctx is not None and self._session is not None, "setup() first"
        ctx, session = self._ctx, self._session
        rec = ItemRecorder(item, ctx.worker_id, os.environ.get("CUDA_VISIBLE_DEVICES"))
        start = time.perf_counter()
        try:
            for m in item.ms:
                session.arm()
                t0 = time.perf_counter()
                error = None
                try:
                    self.calls.build_call(item.entry, m, ctx.settings)()
                except Exception as exc:
                    error = _one_line(exc)
                wall = time.perf_counter() - t0
                captured = session.take()
                if captured is not None:
                    self._keep(captured.digest, captured.source)
                    rec.calls.append(
                        CallOutcome(m, wall, error=WOULD_COMPILE, source_digest=captured.digest)
                    )
                    continue
                rec.calls.append(CallOutcome(m, wall, error=error))
                if is_cuda_fatal(error):
                    return rec.outcome(time.perf_counter() - start, error=error, fatal=True)
        finally:
            self.calls.release()
        return rec.outcome(time.perf_counter() - start)

    def _keep(self, digest: str, source: str) -> None:
        path = self.sources_dir / f"{digest}.cu"
        if not path.exists():
            atomic_write_text(path, source)


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return f"{type(exc).__name__}: {text[:300]}"
