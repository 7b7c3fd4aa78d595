"""Where verify gets its DeepGEMM calls: a *calls provider*, plugged in as warm's backend is
(``jitwarm.warmer.Backend``): an object the caller creates (or the registered default),
pickled into each worker process, where verify's backend uses it.

The default is DeepGEMM's (``jitwarm.deepgemm.DeepGEMMCalls``), which ``jitwarm.deepgemm``
registers when imported (``jitwarm.verify_plan`` and the CLI import it): the adapter is
injected from above, this package never imports it. The test double of deep_gemm ships one in
tests/fakes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from jitwarm.errors import VerifyUsageError

if TYPE_CHECKING:
    from jitwarm.plan import PlanEntry
    from jitwarm.warmer import PlanSettings, WorkerContext


@runtime_checkable
class CallsProvider(Protocol):
    """What a verify worker calls DeepGEMM through. ``preload`` names modules a fork server
    imports once, so workers start without importing them again (empty: none). A provider may
    also set ``requires_gpu_host`` (True: verify first checks for torch, DeepGEMM and a GPU, as
    warm does for its backend)."""

    preload: tuple[str, ...]

    def prepare(self, ctx: WorkerContext) -> None:
        """Once per worker, before the first call: apply the plan's settings to DeepGEMM."""

    def build_call(self, entry: PlanEntry, m: int, settings: PlanSettings) -> Callable[[], object]:
        """The call of ``entry`` at ``m``, ready to run (arguments allocated)."""

    def release(self) -> None:
        """After each work item: give back what its calls held."""


CallsFactory = Callable[[], CallsProvider]
_DEFAULT_FACTORY: list[CallsFactory] = []


def register_default_calls(factory: CallsFactory) -> None:
    """Make ``factory()`` the calls provider of verifies that pass none."""
    _DEFAULT_FACTORY[:] = [factory]


def default_calls() -> CallsProvider:
    """The registered default (DeepGEMM's, once ``jitwarm.deepgemm`` is imported)."""
    if not _DEFAULT_FACTORY:
        raise VerifyUsageError(
            "no DeepGEMM calls provider: call jitwarm.verify_plan (it brings DeepGEMM's), "
            "import jitwarm.deepgemm first, or pass calls="
        )
    return _DEFAULT_FACTORY[0]()
