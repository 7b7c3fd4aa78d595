"""Compiles the reference server meets: simulated on the CPU, observed on the GPU.

Both sides speak :class:`JitEvent`: a kernel was compiled (nvcc ran), loaded from the disk
cache, and whether that happened while serving (after readiness), which is the failure jitwarm
exists to prevent.

The simulation keeps a disk cache in the upstream-JIT builds' layout (``cache/kernel.<impl>.<hash>/``
holding ``kernel.cu`` and ``kernel.cubin``, published from ``tmp/<uuid>/`` by one rename), so
jitwarm's cache, verify and bundle tools read a CPU-mode cache like a real one. Its cubins are
minimal CUDA ELF headers with no code. Pure Python.
"""

from __future__ import annotations

import logging
import os
import shutil
import struct
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from jitwarm.server._refmodel.kernels import KernelRef

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class JitEvent:
    family: str
    entry: str  # cache entry name
    kind: str  # "compile" or "load"
    seconds: float
    serving: bool  # after readiness


class JitTracker:
    """Collects events; the engine drains them after each step and reports them."""

    def __init__(self) -> None:
        self.serving = False
        self._events: list[JitEvent] = []
        self._lock = threading.Lock()

    def record(self, ref: KernelRef, kind: str, seconds: float) -> None:
        event = JitEvent(ref.family.value, ref.entry_name, kind, seconds, self.serving)
        if kind == "compile" and self.serving:
            log.warning("inline JIT compile while serving: %s (%.1f s)", ref.entry_name, seconds)
        with self._lock:
            self._events.append(event)

    def add(self, event: JitEvent) -> None:
        with self._lock:
            self._events.append(event)

    def drain(self) -> list[JitEvent]:
        with self._lock:
            events, self._events = self._events, []
        return events


# -- the simulation -------------------------------------------------------------------------


def _render_source(ref: KernelRef) -> str:
    """A kernel.cu that names its kernel and template arguments the way DeepGEMM renders them."""
    return (
        "// Includes' hash value: jitwarm-simulated\n"
        "// jitwarm reference server, CPU mode: a simulated compile; no GPU code inside\n"
        f"#include <deep_gemm/impls/{ref.impl}.cuh>\n\n"
        "using namespace deep_gemm;\n\n"
        "static void __instantiate_kernel() {\n"
        f"    auto ptr = reinterpret_cast<void*>(&{ref.impl}_impl<\n"
        f"        {ref.template_args}\n"
        "    >);\n"
        "};\n"
    )


def _stub_cubin() -> bytes:
    """A 64-bit little-endian CUDA ELF (e_machine 190) with one empty section header."""
    ident = b"\x7fELF" + bytes([2, 1, 1, 0x33, 7]) + bytes(7)
    header = struct.pack("<HHIQQQIHHHHHH", 2, 190, 1, 0, 0, 64, 0, 64, 56, 0, 64, 1, 0)
    return ident + header + bytes(64)


class SimulatedJit:
    """A stand-in for DeepGEMM's JIT: the first use of a kernel in a process costs a load
    (``load_s``) when the disk cache has it, a compile (``compile_s``, blocking the calling
    thread as an upstream-JIT build blocks its process) when it does not."""

    def __init__(
        self, root: Path, tracker: JitTracker, *, compile_s: float, load_s: float = 0.01
    ) -> None:
        self.root = Path(root)
        self.tracker = tracker
        self.compile_s = compile_s
        self.load_s = load_s
        self._in_process: set[str] = set()
        (self.root / "cache").mkdir(parents=True, exist_ok=True)

    def entry_path(self, ref: KernelRef) -> Path:
        return self.root / "cache" / ref.entry_name

    def has_entry(self, ref: KernelRef) -> bool:
        return (self.entry_path(ref) / "kernel.cubin").is_file()

    def ensure(self, ref: KernelRef) -> None:
        """What a DeepGEMM call does before launching: find or build its kernel."""
        if ref.entry_name in self._in_process:
            return
        t0 = time.monotonic()
        if self.has_entry(ref):
            time.sleep(self.load_s)
            kind = "load"
        else:
            self.compile_to_disk(ref)
            kind = "compile"
        self._in_process.add(ref.entry_name)
        self.tracker.record(ref, kind, time.monotonic() - t0)

    def compile_to_disk(self, ref: KernelRef) -> bool:
        """Compile into the disk cache only (what a separate warm process does). False when
        the entry was already there."""
        if self.has_entry(ref):
            return False
        time.sleep(self.compile_s)
        tmp = self.root / "tmp" / uuid.uuid4().hex
        tmp.mkdir(parents=True)
        try:
            (tmp / "kernel.cu").write_text(_render_source(ref))
            (tmp / "kernel.cubin").write_bytes(_stub_cubin())
            os.rename(tmp, self.entry_path(ref))
        except OSError:
            if not self.has_entry(ref):  # another writer did not win the race either
                raise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return True


# -- observing real DeepGEMM ----------------------------------------------------------------


class ObservedJit:
    """Counts real compiles: a kernel met for the first time in this process whose call grew
    the disk cache compiled (there is no DeepGEMM callback; the cache is the evidence)."""

    def __init__(self, root: Path | None, tracker: JitTracker) -> None:
        self.root = root
        self.tracker = tracker
        self._in_process: set[str] = set()

    def _entries(self) -> int:
        if self.root is None:
            return 0
        try:
            return sum(1 for _ in os.scandir(self.root / "cache"))
        except FileNotFoundError:
            return 0

    def call(self, ref: KernelRef, run: Callable[[], T], synchronize: Callable[[], None]) -> T:
        if ref.entry_name in self._in_process:
            return run()
        before = self._entries()
        t0 = time.monotonic()
        out = run()
        synchronize()
        seconds = time.monotonic() - t0
        self._in_process.add(ref.entry_name)
        self.tracker.record(ref, "compile" if self._entries() > before else "load", seconds)
        return out


class PassThroughJit:
    """No observation of its own: another observer (jitwarm's guard) reports the compiles."""

    def call(self, ref: KernelRef, run: Callable[[], T], synchronize: Callable[[], None]) -> T:
        return run()
