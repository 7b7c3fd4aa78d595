"""The compile step as a two-method interface, so scheduling, the pool and the report are tested
on any CPU with the fake beside it (``jitwarm.warmer._fake``), and run for real with
``jitwarm.deepgemm._backend.DeepGEMMBackend``.

A backend is created in the parent process, pickled into each worker process, and there gets
``setup`` once (after the worker's environment is in place, before anything touches the GPU)
and ``run`` for each item. One calling thread per worker: DeepGEMM's in-process caches are not
thread-safe.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from jitwarm.warmer._items import WorkItem
    from jitwarm.warmer._settings import PlanSettings


# Error text after which a worker's CUDA context is unusable: it must restart, not go on.
CUDA_FATAL_MARKS = (
    "CUDA error",
    "CUDA_ERROR",
    "cudaError",
    "illegal memory access",
    "device-side assert",
)


def is_cuda_fatal(error: str | None) -> bool:
    return error is not None and any(mark in error for mark in CUDA_FATAL_MARKS)


@dataclass(frozen=True)
class WorkerContext:
    """What a worker process knows besides its items (each carries its plan entry)."""

    worker_id: int
    settings: PlanSettings
    cache_root: Path
    log_dir: Path
    device: str | None  # this worker's CUDA_VISIBLE_DEVICES (None: inherited / not set)


@dataclass(frozen=True)
class WorkerStartup:
    """Wall-clock times of one worker's start: its fork server's imports done, the process
    running, ready to compile."""

    imports_done_at: float
    started_at: float
    ready_at: float


@dataclass(frozen=True)
class CallOutcome:
    """One DeepGEMM call at one M."""

    m: int
    wall_s: float
    compiled: int = 0  # kernels this call compiled (0: everything was cached)
    error: str | None = None
    source_digest: str | None = None  # capture mode: sha256 of the kernel source it would build


@dataclass(frozen=True)
class ItemOutcome:
    item_id: int
    worker_id: int
    calls: tuple[CallOutcome, ...]
    wall_s: float
    device: str | None = None
    error: str | None = None  # a failure of the item as a whole (setup, crash)
    fatal: bool = False  # the worker cannot go on (a CUDA error poisons its context)
    started_at: float = 0.0  # wall clock (time.time()) in the worker, set by the pool
    ended_at: float = 0.0
    # Kernels another process compiled while this one waited for them (``jitwarm.locks``),
    # found published afterwards: not this process's compiles.
    compiled_elsewhere: int = 0
    lock_wait_s: float = 0.0  # seconds waiting for another process's compile of this kernel

    @property
    def compiled(self) -> int:
        return sum(c.compiled for c in self.calls)

    @property
    def compile_s(self) -> float:
        return sum(c.wall_s for c in self.calls if c.compiled)

    @property
    def failed_calls(self) -> tuple[CallOutcome, ...]:
        return tuple(c for c in self.calls if c.error is not None)

    @property
    def failed(self) -> bool:
        return self.error is not None or bool(self.failed_calls)

    @property
    def reason(self) -> str | None:
        if self.error is not None:
            return self.error
        bad = self.failed_calls
        return f"m={bad[0].m}: {bad[0].error}" if bad else None


@runtime_checkable
class Backend(Protocol):
    """What a worker process calls. ``preload`` names modules a fork server imports once so
    workers start without importing them again (empty: none).

    A backend may also name a ``device_warmup`` ("module:function"): the pool runs it on a side
    thread as soon as a worker process starts, before the worker's task is even unpickled, so
    slow device initialisation overlaps the worker's own imports (see ``jitwarm.deepgemm``)."""

    preload: tuple[str, ...]

    def setup(self, ctx: WorkerContext) -> None:
        """Prepare this worker; raise ``WorkerSetupError`` (or anything) to refuse."""

    def run(self, item: WorkItem) -> ItemOutcome:
        """Make the item's calls; record failures in the outcome rather than raising."""


@dataclass
class ItemRecorder:
    """Collects call outcomes of one item, for backends."""

    item: WorkItem
    worker_id: int
    device: str | None
    calls: list[CallOutcome] = field(default_factory=list)

    def outcome(
        self, wall_s: float, *, error: str | None = None, fatal: bool = False
    ) -> ItemOutcome:
        return ItemOutcome(
            item_id=self.item.item_id,
            worker_id=self.worker_id,
            calls=tuple(self.calls),
            wall_s=wall_s,
            device=self.device,
            error=error,
            fatal=fatal,
        )


# The backend warm uses when its caller passes none: DeepGEMM's, which ``jitwarm.deepgemm``
# registers when imported (``jitwarm.warm`` and the CLI import it). The adapter is injected from
# above; this package never imports it.
BackendFactory = Callable[..., Backend]
_DEFAULT_FACTORY: list[BackendFactory] = []


def register_default_backend(factory: BackendFactory) -> None:
    """Make ``factory(capture=...)`` the backend of warms that pass none."""
    _DEFAULT_FACTORY[:] = [factory]


def registered_default_backend() -> BackendFactory | None:
    return _DEFAULT_FACTORY[0] if _DEFAULT_FACTORY else None
