"""A :mod:`jitwarm.warm` backend for the reference server's CPU mode: ``jitwarm.warm`` runs
its real worker pool, and each worker "compiles" a planned kernel into the simulated cache
exactly as the CPU-mode server would (same entry names, same stall per kernel). Pure Python.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field

from jitwarm.server._refmodel.jit import JitTracker, SimulatedJit
from jitwarm.server._refmodel.kernels import IMPL_NAMES, KernelRef
from jitwarm.warmer import CallOutcome, ItemOutcome, ItemRecorder, WorkerContext, WorkItem


@dataclass
class SimulatedCompileBackend:
    compile_s: float = 4.5
    preload: tuple[str, ...] = ()
    _ctx: WorkerContext | None = field(default=None, repr=False)
    _jit: SimulatedJit | None = field(default=None, repr=False)

    def setup(self, ctx: WorkerContext) -> None:
        self._ctx = ctx
        self._jit = SimulatedJit(ctx.cache_root, JitTracker(), compile_s=self.compile_s)

    def run(self, item: WorkItem) -> ItemOutcome:
        assert self._ctx is not None and self._jit is not None, "setup() first"
        entry = item.entry
        rec = ItemRecorder(item, self._ctx.worker_id, os.environ.get("CUDA_VISIBLE_DEVICES"))
        start = time.perf_counter()
        impl = IMPL_NAMES.get(entry.family)
        for m in item.ms:
            t0 = time.perf_counter()
            kernel = next(
                (k for k in entry.kernels or () if any(lo <= m <= hi for lo, hi in k.m_ranges)),
                None,
            )
            if impl is None or kernel is None or kernel.template_args is None:
                rec.calls.append(
                    CallOutcome(m, 0.0, error=f"no simulated kernel for {entry.key} at M={m}")
                )
                continue
            compiled = self._jit.compile_to_disk(
                KernelRef(entry.family, impl, kernel.template_args)
            )
            rec.calls.append(CallOutcome(m, time.perf_counter() - t0, compiled=int(compiled)))
        return rec.outcome(time.perf_counter() - start)
