"""Which item a free worker takes next: longest first, never a kernel another worker is on.

Handing items out one at a time to whichever worker is free is the greedy longest-processing-
time rule; it keeps the tail short when estimates are roughly right.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from jitwarm.warmer._items import WorkItem


class Scheduler:
    """Pending items in longest-first order, with the kernels now being compiled."""

    def __init__(self, items: Iterable[WorkItem]) -> None:
        self._pending = sorted(items, key=lambda i: (-i.est_s, i.item_id))
        self._running: dict[int, WorkItem] = {}
        self._busy_keys: set[str] = set()

    def take(self) -> WorkItem | None:
        """The longest pending item whose kernel no worker is compiling, or None."""
        for pos, item in enumerate(self._pending):
            if item.kernel_key is None or item.kernel_key not in self._busy_keys:
                del self._pending[pos]
                self._running[item.item_id] = item
                if item.kernel_key is not None:
                    self._busy_keys.add(item.kernel_key)
                return item
        return None

    def finish(self, item_id: int) -> WorkItem:
        item = self._running.pop(item_id)
        if item.kernel_key is not None:
            self._busy_keys.discard(item.kernel_key)
        return item

    def drop_pending(self) -> list[WorkItem]:
        """Remove and return every item not yet handed out (used when no worker can run)."""
        left, self._pending = self._pending, []
        return left

    @property
    def pending(self) -> int:
        return len(self._pending)

    @property
    def running(self) -> int:
        return len(self._running)

    @property
    def done(self) -> bool:
        return not self._pending and not self._running
