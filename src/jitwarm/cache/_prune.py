"""Prune a cache: plan what to delete (a strategy with the bytes it frees), then execute it.

Criteria (any combination; an entry is pruned when any applies):
- ``older_than_s``: not used for that long (see ``_scan`` for what "used" means per layout);
- ``plan``: not needed by the plan (``PlanIndex.needs``);
- ``max_size_bytes``: after the above, least recently used entries go until the writable
  root's entries fit the budget.

Only the writable root is pruned; read-only roots are never changed. Broken entries are
``check``'s business and are left out here.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from jitwarm.cache._fsops import empty_trash, remove_entry
from jitwarm.cache._plan_match import PlanIndex
from jitwarm.cache._scan import CacheEntry, CacheInfo, EntryStatus
from jitwarm.cache._units import format_size
from jitwarm.errors import UsageError
from jitwarm.plan import Plan
from jitwarm.strenum import StrEnum


class PruneReason(StrEnum):
    # Values are what `cache prune` prints and writes to JSON.
    AGE = "unused"
    NOT_IN_PLAN = "not in plan"
    SIZE = "over size budget"


@dataclass(frozen=True)
class PruneItem:
    entry: CacheEntry
    reason: PruneReason


@dataclass(frozen=True)
class PruneStrategy:
    """What a prune will delete; nothing happens until :meth:`execute`."""

    items: tuple[PruneItem, ...]
    kept_bytes: int  # writable-root entry bytes that remain afterwards

    @property
    def expected_freed_bytes(self) -> int:
        return sum(i.entry.size_bytes for i in self.items)

    @property
    def expected_freed_str(self) -> str:
        return format_size(self.expected_freed_bytes)

    def execute(self) -> int:
        """Delete the planned entries (each leaves ``cache/`` in one rename, then is removed).

        Returns how many were deleted; entries another process removed first are skipped.
        """
        removed = 0
        roots = set()
        for item in self.items:
            roots.add(item.entry.root)
            if remove_entry(item.entry.path, item.entry.root):
                removed += 1
        for root in roots:
            empty_trash(root)
        return removed


def plan_prune(
    info: CacheInfo,
    *,
    older_than_s: float | None = None,
    max_size_bytes: int | None = None,
    plan: Plan | None = None,
    now: float | None = None,
) -> PruneStrategy:
    if older_than_s is None and max_size_bytes is None and plan is None:
        raise UsageError("prune needs a criterion: --older-than, --max-size or --plan")
    if older_than_s is not None and older_than_s < 0:
        raise UsageError("--older-than must not be negative")
    if max_size_bytes is not None and max_size_bytes < 0:
        raise UsageError("--max-size must not be negative")
    now = time.time() if now is None else now
    index = PlanIndex.from_plan(plan) if plan is not None else None
    candidates = [e for e in info.entries if not e.read_only and e.status is EntryStatus.OK]
    chosen: dict[str, PruneItem] = {}
    for e in candidates:
        if index is not None and not index.needs(e.family, e.kernel_name, e.template_args):
            chosen[e.name] = PruneItem(e, PruneReason.NOT_IN_PLAN)
        elif older_than_s is not None and now - e.last_used_s > older_than_s:
            chosen[e.name] = PruneItem(e, PruneReason.AGE)
    kept = [e for e in candidates if e.name not in chosen]
    kept_bytes = sum(e.size_bytes for e in kept)
    if max_size_bytes is not None and kept_bytes > max_size_bytes:
        for e in sorted(kept, key=lambda e: (e.last_used_s, e.name)):
            if kept_bytes <= max_size_bytes:
                break
            chosen[e.name] = PruneItem(e, PruneReason.SIZE)
            kept_bytes -= e.size_bytes
    items = sorted(chosen.values(), key=lambda i: (i.entry.last_used_s, i.entry.name))
    return PruneStrategy(tuple(items), kept_bytes)
