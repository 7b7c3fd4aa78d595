"""Run keyed jobs on a few threads so that concurrent processes of one cache root split the
work instead of queueing behind each other.

Every process orders its kernels the same way (longest first). Waiting on the lock of a kernel
another process is compiling would leave this process's slot idle while that one works, and N
processes would walk the list in lock step. Instead a job whose lock is held elsewhere goes to
the back of the queue once; it is waited for (then found published) only when nothing else is
left to start.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from typing import Generic, TypeVar

from jitwarm.locks._kernel_locks import Hold

J = TypeVar("J")
R = TypeVar("R")

TryHold = Callable[[str], AbstractContextManager["Hold | None"]]
BlockingHold = Callable[[str], AbstractContextManager[Hold]]


class BusyFirstQueue(Generic[J]):
    """Jobs in their order; :meth:`defer` sends one to the back, once."""

    def __init__(self, jobs: Sequence[J]) -> None:
        self._queue: deque[tuple[J, bool]] = deque((job, False) for job in jobs)
        self._lock = threading.Lock()

    def pop(self) -> tuple[J, bool] | None:
        """The next job and whether it was deferred before; None when the queue is empty."""
        with self._lock:
            return self._queue.popleft() if self._queue else None

    def defer(self, job: J) -> None:
        with self._lock:
            self._queue.append((job, True))


def work_loop(
    queue: BusyFirstQueue[J],
    key: Callable[[J], str],
    work: Callable[[J, Hold | None], R],
    done: Callable[[J, R], None],
    *,
    try_hold: TryHold | None,
    hold: BlockingHold | None,
    stopping: Callable[[], bool] = lambda: False,
) -> None:
    """One thread's share: take jobs until none is left. ``work(job, held)`` runs under the
    job's lock (``held`` None without locks); ``done`` receives its result."""
    while not stopping() and (item := queue.pop()) is not None:
        job, deferred = item
        if hold is None:
            done(job, work(job, None))
            continue
        if try_hold is not None and not deferred:
            with try_hold(key(job)) as held:
                if held is not None:
                    done(job, work(job, held))
                    continue
            queue.defer(job)  # another process compiles it: start something else first
            continue
        with hold(key(job)) as waited:
            done(job, work(job, waited))
