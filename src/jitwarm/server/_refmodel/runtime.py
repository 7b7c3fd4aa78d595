"""Build the reference model on a device and run its warmup strategies' GEMM calls."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from jitwarm.plan import Family, Plan
from jitwarm.server._refmodel.jit import (
    JitEvent,
    JitTracker,
    ObservedJit,
    PassThroughJit,
    SimulatedJit,
)
from jitwarm.server._refmodel.kernels import KernelKeyer
from jitwarm.server._refmodel.model import RefModel
from jitwarm.server._refmodel.shapes import RefShapes

log = logging.getLogger(__name__)


@dataclass
class RefRuntime:
    model: RefModel
    tracker: JitTracker
    device: str  # "cpu" or "cuda"
    cache_root: Path
    jit: SimulatedJit | ObservedJit | PassThroughJit
    guard: Any = None  # jitwarm.guard.Guard watching deep_gemm in this process (GPU)
    _guard_seen: int = 0

    def step(self, phase: str, items: list[tuple[int, list[int], bool]]) -> list[int | None]:
        tokens = self.model.step(phase, items)
        self.pump_guard_events()
        return tokens

    def mark_ready(self) -> None:
        """Warmup is over: compiles from now on are inline (for the tracker and the guard)."""
        self.pump_guard_events()
        self.tracker.serving = True
        if self.guard is not None:
            self.guard.mark_ready()

    def pump_guard_events(self) -> None:
        """Move the guard's new compile events into the tracker (the guard is the observer)."""
        if self.guard is None:
            return
        events = list(self.guard.events)
        for e in events[self._guard_seen :]:
            entry = e.new_entries[0] if e.new_entries else ""
            self.tracker.add(JitEvent(e.family, entry, "compile", e.wall_s, e.phase == "inline"))
        self._guard_seen = len(events)

    def free(self, seq_id: int) -> None:
        self.model.free(seq_id)

    def sweep_linears(self, m_values: Iterable[int]) -> int:
        """The seed's warmup: call every dense FP8 linear at every M, serially, in process.
        Returns the number of calls made."""
        calls = 0
        linears = [(s, w) for s, w in self.model.gemm_weights() if s.family is Family.FP8_GEMM_NT]
        for m in m_values:
            for _, weights in linears:
                self.model.warm_call(Family.FP8_GEMM_NT, m, weights)
                calls += 1
        return calls

    def warm_plan_in_process(self, plan: Plan) -> int:
        """One call per distinct plan kernel, serially, in this process (jitwarm's exact M set
        without its parallel compile pool). Returns the number of calls."""
        by_dims = {(s.n, s.k, s.num_groups): w for s, w in self.model.gemm_weights()}
        calls = 0
        for entry in plan.entries:
            weights = by_dims.get((entry.n, entry.k, entry.num_groups))
            if weights is None or entry.kernels is None:
                continue
            for kernel in entry.kernels:
                self.model.warm_call(entry.family, kernel.m, weights)
                calls += 1
        return calls


def build_runtime(
    shapes: RefShapes,
    *,
    device: str,
    seed: int,
    cache_root: Path,
    cpu_shrink: int = 16,
    sim_compile_s: float = 4.5,
    sim_load_s: float = 0.01,
    cpu_attention_window: int = 64,
    threads: int | None = None,
    plan: Plan | None = None,
) -> RefRuntime:
    """The model on ``device`` ("cpu" or "cuda"), weights from ``seed``. On the CPU, widths are
    divided by ``cpu_shrink`` and compiles are simulated into ``cache_root``; on the GPU,
    ``cache_root`` is DeepGEMM's ``DG_JIT_CACHE_DIR`` (set before DeepGEMM is imported).
    ``plan`` (the serving plan) primes the kernel lookup; without it every new M is scored."""
    tracker = JitTracker()
    keyer = KernelKeyer(num_sms=shapes.num_sms, mk_alignment=shapes.mk_alignment, plan=plan)
    if threads:
        torch.set_num_threads(threads)
    if device == "cpu":
        from jitwarm.server._refmodel.ops_cpu import CpuOps

        gen = torch.Generator().manual_seed(seed)
        jit = SimulatedJit(cache_root, tracker, compile_s=sim_compile_s, load_s=sim_load_s)
        ops: Any = CpuOps(jit, keyer, gen)
        model = RefModel(
            shapes,
            shapes.dims.scaled(cpu_shrink),
            ops,
            gen,
            masked_align=1,
            attention_window=cpu_attention_window,
        )
        return RefRuntime(model, tracker, "cpu", cache_root, jit)
    if device != "cuda":
        raise ValueError(f"device must be 'cpu' or 'cuda', got {device!r}")
    os.environ["DG_JIT_CACHE_DIR"] = str(cache_root)
    from jitwarm.server._refmodel.ops_deepgemm import DeepGemmOps, import_deep_gemm

    guard = _install_guard(cache_root)  # before deep_gemm is imported: it wraps it on import
    dg = import_deep_gemm()
    if dg.get_num_sms() != shapes.num_sms:  # kernels (and plan keys) are built for num_sms
        dg.set_num_sms(shapes.num_sms)
    dev = torch.device("cuda", torch.cuda.current_device())
    gen = torch.Generator(device=dev).manual_seed(seed)
    jit = PassThroughJit() if guard is not None else ObservedJit(cache_root, tracker)
    ops = DeepGemmOps(dg, jit, keyer, gen, dev)
    model = RefModel(shapes, shapes.dims, ops, gen, masked_align=128)
    return RefRuntime(model, tracker, "cuda", cache_root, jit, guard)


def _install_guard(cache_root: Path) -> Any:
    """jitwarm's guard in warn mode, armed by :meth:`RefRuntime.mark_ready`; None (and the
    server's own cache-growth observer) when the guard is not installed."""
    try:
        from jitwarm import guard
    except ImportError:
        return None
    return guard.install_guard("warn", readiness="mark", cache_root=cache_root)


def cuda_usable() -> bool:
    """A CUDA device and an importable DeepGEMM (the GPU path needs both)."""
    try:
        if not torch.cuda.is_available():
            return False
        from jitwarm.deepgemm import deepgemm_module

        deepgemm_module()
    except Exception:  # any import failure (missing, ABI mismatch) means: no GPU path
        return False
    return True
