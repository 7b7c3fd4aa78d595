"""A rich progress bar over work items (kernels done / total, ETA), as a pool observer.

Only the CLI turns it on (not under --json, not without a TTY); the library stays silent.
"""

from __future__ import annotations

from types import TracebackType

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from jitwarm.warmer._backend import ItemOutcome
from jitwarm.warmer._items import WorkItem


class ProgressBar:
    """Use as a context manager around a pool run; pass it as the pool's observer."""

    def __init__(
        self, total: int, *, description: str = "kernels", console: Console | None = None
    ) -> None:
        self._progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[status]}"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=console or Console(stderr=True),
            transient=False,
        )
        self._description = description
        self._total = total
        self._compiled = 0
        self._failed = 0
        self._task = None

    def __enter__(self) -> ProgressBar:
        self._progress.__enter__()
        self._task = self._progress.add_task(self._description, total=self._total, status="")
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._progress.__exit__(exc_type, exc, tb)

    def on_start(self, item: WorkItem, worker_id: int) -> None:
        pass

    def on_done(self, item: WorkItem, outcome: ItemOutcome) -> None:
        self._compiled += outcome.compiled
        self._failed += int(outcome.failed)
        status = f"{self._compiled} compiled" + (
            f", [red]{self._failed} failed[/]" if self._failed else ""
        )
        if self._task is not None:
            self._progress.update(self._task, advance=1, status=status)
