"""Device warm-ups for the pool tests: they run in worker processes, on a side thread."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from jitwarm.warmer._backend import WorkerContext
from jitwarm.warmer._errors import WorkerSetupError
from jitwarm.warmer._fake import FakeBackend

RAN = threading.Event()


def mark() -> None:
    RAN.set()


def explode() -> None:
    raise RuntimeError("no device here")


@dataclass
class WarmupCheckingBackend(FakeBackend):
    """Refuses to start unless ``mark`` ran in this worker process."""

    def setup(self, ctx: WorkerContext) -> None:
        super().setup(ctx)
        if not RAN.wait(10.0):
            raise WorkerSetupError("the device warm-up did not run in this worker")
