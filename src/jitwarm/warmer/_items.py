"""Work items: the unit warm hands to one worker. One per distinct kernel, or one chunk of a
sweep entry's M values. Pure Python: built from the plan alone."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from jitwarm.plan import (
    Family,
    Plan,
    PlanEntry,
    PlanKernel,
    estimate_kernel_s,
    kernel_key,  # re-exported: warm items name kernels by it
)
from jitwarm.strenum import StrEnum

# A chunk of a sweep entry holds at least this many M values: consecutive M values mostly
# share kernels, so small chunks would compile the same kernel in several workers.
MIN_SWEEP_CHUNK = 32
# Seconds per call that needs no compile (build tensors, run, synchronize), for estimates only.
CALL_S = 0.005


class ItemMode(StrEnum):
    # Compares equal to its string: pool.py tests `item.mode != "run"` without importing this.
    RUN = "run"  # call DeepGEMM for real: compiles whatever is missing
    CAPTURE = "capture"  # call under the stand-in compiler: learn each call's kernel source


@dataclass(frozen=True)
class WorkItem:
    """Calls of one plan entry at ``ms``, run in order by one worker. Self-contained: it carries
    its entry, so a worker needs no plan (items are pickled to workers one at a time).

    ``kernel`` is the planned kernel the item compiles and ``kernel_key`` names it (two items
    with the same key never run at once); both None for a sweep chunk, whose kernels are
    unknown. An item that compiles a captured source (warm's exact mode) has a ``source:`` key
    and no planned kernel.
    """

    item_id: int
    entry: PlanEntry = field(hash=False)
    ms: tuple[int, ...]
    kernel: PlanKernel | None = field(hash=False)
    kernel_key: str | None
    est_s: float
    label: str
    mode: ItemMode = ItemMode.RUN
    tags: dict[str, str] = field(default_factory=dict, hash=False, compare=False)

    @property
    def family(self) -> Family:
        return self.entry.family

    @property
    def entry_key(self) -> str:
        return self.entry.key

    @property
    def is_sweep_chunk(self) -> bool:
        return self.kernel_key is None


def _label(entry: PlanEntry, ms: Sequence[int]) -> str:
    where = f"m={ms[0]}" if len(ms) == 1 else f"m={ms[0]}..{ms[-1]} ({len(ms)} calls)"
    return f"{entry.family.value} {entry.shape()} {where}"


def chunk(
    values: Sequence[int], parts: int, *, min_size: int = MIN_SWEEP_CHUNK
) -> list[tuple[int, ...]]:
    """``values`` cut into at most ``parts`` runs of consecutive elements, each at least
    ``min_size`` long (except when there are fewer values), sizes differing by at most one."""
    if not values:
        return []
    parts = max(1, min(parts, len(values) // min_size or 1))
    size, extra = divmod(len(values), parts)
    out: list[tuple[int, ...]] = []
    start = 0
    for i in range(parts):
        end = start + size + (1 if i < extra else 0)
        out.append(tuple(values[start:end]))
        start = end
    return out


def plan_work_items(
    plan: Plan, *, sweep_parts: int = 1, full_sweep: bool = False
) -> list[WorkItem]:
    """The items that warm ``plan``: one per distinct kernel where the plan knows them, and
    ``sweep_parts`` chunks of every sweep entry's M set (each M called once).

    ``full_sweep`` treats every entry as a sweep (call each reachable M): the proof that a warm
    cache covers the whole domain.
    """
    items: list[WorkItem] = []
    seen: set[str] = set()
    for entry in plan.entries:
        if entry.kernels is not None and not full_sweep:
            for kernel in entry.kernels:
                key = kernel_key(entry, kernel)
                if key in seen:
                    continue  # the same kernel planned twice (merged manifests): compile once
                seen.add(key)
                items.append(
                    WorkItem(
                        item_id=len(items),
                        entry=entry,
                        ms=(kernel.m,),
                        kernel=kernel,
                        kernel_key=key,
                        est_s=estimate_kernel_s(entry, kernel),
                        label=_label(entry, (kernel.m,)),
                    )
                )
            continue
        items += sweep_items(entry, list(entry.mset), parts=sweep_parts, first_id=len(items))
    return items


def sweep_items(
    entry: PlanEntry,
    ms: Sequence[int],
    *,
    parts: int,
    first_id: int,
    mode: ItemMode = ItemMode.RUN,
) -> list[WorkItem]:
    out = []
    per_kernel = estimate_kernel_s(entry, None)
    for piece in chunk(ms, parts):
        # A chunk compiles an unknown number of kernels; count two so sweeps start early.
        est = (0.0 if mode == ItemMode.CAPTURE else 2 * per_kernel) + CALL_S * len(piece)
        out.append(
            WorkItem(
                item_id=first_id + len(out),
                entry=entry,
                ms=piece,
                kernel=None,
                kernel_key=None,
                est_s=est,
                label=_label(entry, piece),
                mode=mode,
            )
        )
    return out


def renumber(items: Iterable[WorkItem]) -> list[WorkItem]:
    """Items with ids 0..n-1 in the given order (ids index the pool's results)."""
    from dataclasses import replace

    return [replace(item, item_id=i) for i, item in enumerate(items)]


def split_sweeps(items: Sequence[WorkItem], *, parts: int) -> list[WorkItem]:
    """``items`` (planned with ``sweep_parts=1``) with each sweep chunk cut into ``parts``
    chunks: what ``plan_work_items(plan, sweep_parts=parts)`` gives, without planning again."""
    out: list[WorkItem] = []
    for item in items:
        if not item.is_sweep_chunk:
            out.append(item)
            continue
        out += sweep_items(item.entry, item.ms, parts=parts, first_id=0, mode=item.mode)
    return renumber(out)
