"""The real compile step: DeepGEMM calls in warm's worker processes.

Importing this module imports neither torch nor deep_gemm: the backend object is created in the
parent and pickled into workers, which import them in ``setup``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from jitwarm.warmer import ItemOutcome, WorkerContext, WorkItem


@dataclass
class DeepGEMMBackend:
    """Runs plan entries' calls through ``deep_gemm`` on this worker's GPU.

    ``capture``: run under the nvcc stand-in against a scratch root, recording each call's
    kernel source instead of compiling it (warm's exact mode).
    """

    capture: bool = False
    requires_gpu_host: ClassVar[bool] = True  # warm checks torch, DeepGEMM and a GPU first
    # The fork server imports torch once (seconds); each worker imports deep_gemm and the rest
    # itself while its CUDA context is made on a side thread (both about a second, in parallel).
    preload: tuple[str, ...] = ("torch",)
    device_warmup: str = "jitwarm.deepgemm._cuda_context:retain_primary_context"
    _state: Any = field(default=None, repr=False)

    def setup(self, ctx: WorkerContext) -> None:
        from jitwarm.deepgemm._worker import WorkerState

        self._state = WorkerState.open(ctx, capture=self.capture)

    def run(self, item: WorkItem) -> ItemOutcome:
        assert self._state is not None, "setup() first"
        return self._state.run(item)

    def __getstate__(self) -> dict[str, Any]:
        return {
            "capture": self.capture,
            "preload": self.preload,
            "device_warmup": self.device_warmup,
            "_state": None,
        }
