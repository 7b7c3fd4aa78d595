"""What a warm worker process does with DeepGEMM: set it up as the server will run it, make each
item's calls, and tell "compiled" from "already cached" per call.

Compile detection: warm sets ``DG_JIT_PRINT_COMPILER_COMMAND=1`` (print-only), so DeepGEMM
prints one line per compile on this process's stdout (the build profile's ``compile_log``;
any known build's for a build without a profile), which the worker points at its own log
file; after each call the worker flushes C stdio and counts the new lines. Calls slower than
``COMPILE_WALL_S`` with no such line (a build that does not print) count as one compile.
"""

from __future__ import annotations

import ctypes
import re
import time
from pathlib import Path

import torch

from jitwarm.deepgemm._calls import build_call
from jitwarm.deepgemm._configure import configure_deepgemm
from jitwarm.errors import UnsupportedFamilyError
from jitwarm.plan import PlanEntry, PlanKernel
from jitwarm.profiles import ANY_COMPILE_LOG, detect_build
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


def compile_line() -> re.Pattern[str]:
    """The line the installed build prints per compile."""
    profile = detect_build().profile
    return re.compile(profile.compile_log if profile is not None else ANY_COMPILE_LOG)


COMPILE_LINE = compile_line()
COMPILE_WALL_S = 2.0
_REASON_CHARS = 1500
RESERVED_CAP_BYTES = 4 << 30


class WorkerState:
    def __init__(self, ctx: WorkerContext, session: WorkerSession, *, capture: bool) -> None:
        self.ctx = ctx
        self.session = session
        self.capture = capture
        self._log_path = _log_path(ctx)
        self._log_pos = 0
        self._libc = ctypes.CDLL(None)
        self.device = torch.device("cuda")

    @classmethod
    def open(cls, ctx: WorkerContext, *, capture: bool) -> WorkerState:
        # DeepGEMM prints (C printf) on fd 1; keep it off the user's terminal and readable here.
        session = WorkerSession.open(
            ctx,
            output=_log_path(ctx),
            stderr_too=True,
            capture=CaptureSetup(scratch_root=True) if capture else None,
            prepare=configure_deepgemm,
        )
        return cls(ctx, session, capture=capture)

    # -- calls ----------------------------------------------------------------------------------
    def _new_output(self) -> str:
        self._libc.fflush(None)
        with open(self._log_path, "rb") as fh:
            fh.seek(self._log_pos)
            data = fh.read()
        self._log_pos += len(data)
        return data.decode(errors="replace")

    def run(self, item: WorkItem) -> ItemOutcome:
        entry = item.entry
        rec = ItemRecorder(item, self.ctx.worker_id, self.ctx.device)
        start = time.perf_counter()
        try:
            for m in item.ms:
                call = self._one(entry, m, item.kernel)
                rec.calls.append(call)
                if torch.cuda.memory_reserved() > RESERVED_CAP_BYTES:
                    # Growing M leaves ever larger freed blocks in the caching allocator; give
                    # them back so sibling workers on this GPU keep room.
                    torch.cuda.empty_cache()
                if is_cuda_fatal(call.error):
                    return rec.outcome(time.perf_counter() - start, fatal=True)
        finally:
            torch.cuda.empty_cache()
        return rec.outcome(time.perf_counter() - start)

    def _one(self, entry: PlanEntry, m: int, kernel: PlanKernel | None) -> CallOutcome:
        # kernel: the item's planned kernel, whose flags the call passes (a sweep chunk: None)
        self._new_output()  # skip anything printed before this call
        self.session.arm()
        t0 = time.perf_counter()
        error: str | None = None
        try:
            call = build_call(
                entry,
                m,
                self.device,
                num_sms=self.ctx.settings.num_sms,
                mk_alignment=self.ctx.settings.mk_alignment,
                for_capture=self.capture,
                kernel=kernel,
            )
            call()
            del call
            torch.cuda.synchronize()
        except UnsupportedFamilyError as exc:
            error = str(exc)
        except Exception as exc:
            error = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"
        wall = time.perf_counter() - t0
        printed = self._new_output()
        if self.capture:
            captured = self.session.take()
            if captured is not None:
                return CallOutcome(m, wall, source_digest=captured.digest)
            return CallOutcome(
                m, wall, error=error or "the call compiled nothing under the stand-in"
            )
        compiled = len(COMPILE_LINE.findall(printed))
        if not compiled and error is None and wall > COMPILE_WALL_S:
            compiled = 1
        if error is not None:
            error = _reason(error, printed)
        return CallOutcome(m, wall, compiled=compiled, error=error)


def _log_path(ctx: WorkerContext) -> Path:
    return ctx.log_dir / f"worker-{ctx.worker_id}.log"


def _reason(error: str, printed: str) -> str:
    """The exception plus what DeepGEMM printed about it (nvcc's errors), trimmed."""
    lines = [ln for ln in printed.splitlines() if ln.strip() and not COMPILE_LINE.search(ln)]
    tail = "\n".join(lines[-8:])
    text = f"{error}\n{tail}" if tail else error
    return text[:_REASON_CHARS]
