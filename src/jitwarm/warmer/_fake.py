"""A fake compile step for tests and dry runs, shipped beside the real one (like httpx's
MockTransport).

It behaves like DeepGEMM's disk cache as warm sees it: each (entry, M) maps to one kernel; a
missing kernel is "compiled" into ``tmp/<uuid>/`` and published by renaming the folder into
``cache/kernel.<name>.<hash>/``; a present one is a cache hit. Kernels follow the plan's
partition where it has one, else fixed-width M buckets. Failures, worker crashes and compiles
that hold the GIL (as upstream-JIT DeepGEMM's do) can be planted per (entry key, M).
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import os
import shutil
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from jitwarm.errors import WorkerSetupError
from jitwarm.plan import PlanEntry
from jitwarm.warmer._backend import CallOutcome, ItemOutcome, ItemRecorder, WorkerContext
from jitwarm.warmer._items import ItemMode, WorkItem


def fake_kernel_name(entry: PlanEntry, m: int, *, sweep_width: int = 64) -> str:
    """The cache entry name the fake gives the kernel ``entry`` uses at ``m``."""
    if entry.kernels is not None:
        index = next(
            (i for i, k in enumerate(entry.kernels) if any(lo <= m <= hi for lo, hi in k.m_ranges)),
            -1,
        )
        tag = f"k{index}" if index >= 0 else f"m{m}"
    else:
        tag = f"b{(m - 1) // sweep_width}"
    digest = hashlib.sha256(f"{entry.key}|{tag}".encode()).hexdigest()[:32]
    return f"kernel.fake_{entry.family.value}.{digest}"


@dataclass
class FakeBackend:
    compile_s: float = 0.0
    sweep_width: int = 64
    fail_on: frozenset[tuple[str, int]] = frozenset()  # (entry key, m): the call raises
    crash_on: frozenset[tuple[str, int]] = frozenset()  # (entry key, m): the worker dies
    setup_error: str | None = None
    # (entry key, m): "compile" for hold_gil_s seconds with the GIL held, as upstream JIT does
    hold_gil_on: frozenset[tuple[str, int]] = frozenset()
    hold_gil_s: float = 1.0
    # seconds a worker takes to exit, as tearing down a CUDA context does
    teardown_s: float = 0.0
    preload: tuple[str, ...] = ()
    device_warmup: str | None = None  # "module:function", as DeepGEMMBackend's
    # Appends "start <name> <pid>" when a compile begins and "done <name> <pid>" when it is
    # published, one line each (O_APPEND): how many times each kernel was compiled, and by whom,
    # across concurrent warms (what a counting nvcc wrapper tells on a GPU host).
    compile_log: Path | None = None
    _ctx: WorkerContext | None = field(default=None, repr=False)

    def setup(self, ctx: WorkerContext) -> None:
        if self.setup_error is not None:
            raise WorkerSetupError(self.setup_error, usage=True)
        self._ctx = ctx
        if self.teardown_s:
            from multiprocessing.util import Finalize

            Finalize(self, time.sleep, args=(self.teardown_s,), exitpriority=0)

    def run(self, item: WorkItem) -> ItemOutcome:
        assert self._ctx is not None, "setup() first"
        ctx = self._ctx
        entry = item.entry
        rec = ItemRecorder(item, ctx.worker_id, os.environ.get("CUDA_VISIBLE_DEVICES"))
        start = time.perf_counter()
        for m in item.ms:
            t0 = time.perf_counter()
            key = (entry.key, m)
            if key in self.crash_on:
                os._exit(17)
            name = fake_kernel_name(entry, m, sweep_width=self.sweep_width)
            if key in self.fail_on:
                rec.calls.append(CallOutcome(m, time.perf_counter() - t0, error="planted failure"))
                continue
            if item.mode == ItemMode.CAPTURE:
                digest = hashlib.sha256(name.encode()).hexdigest()
                rec.calls.append(CallOutcome(m, time.perf_counter() - t0, source_digest=digest))
                continue
            if key in self.hold_gil_on:
                ctypes.PyDLL(None).usleep(int(self.hold_gil_s * 1e6))  # PyDLL keeps the GIL
            compiled = self._publish(ctx.cache_root, name)
            rec.calls.append(CallOutcome(m, time.perf_counter() - t0, compiled=compiled))
        return rec.outcome(time.perf_counter() - start)

    def _publish(self, root: Path, name: str) -> int:
        final = root / "cache" / name
        if final.is_dir():
            return 0
        tmp = root / "tmp" / uuid.uuid4().hex
        tmp.mkdir(parents=True)
        (tmp / "kernel.cu").write_text(f"// {name}\n")
        self._log("start", name)
        if self.compile_s:
            time.sleep(self.compile_s)
        (tmp / "kernel.cubin").write_bytes(b"\x7fELF fake")
        final.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.rename(tmp, final)
        except OSError:  # another worker published it first
            with contextlib.suppress(OSError):
                shutil.rmtree(tmp)
        self._log("done", name)
        return 1

    def _log(self, event: str, name: str) -> None:
        if self.compile_log is None:
            return
        fd = os.open(self.compile_log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, f"{event} {name} {os.getpid()}\n".encode())
        finally:
            os.close(fd)
