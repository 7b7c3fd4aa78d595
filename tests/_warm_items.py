"""Work items for warm's tests that need no plan: real ones over one small entry, and a
stand-in with only what warm's report reads (its tests keep the made-up families and entry
keys the stored report example was written with)."""

from __future__ import annotations

from dataclasses import dataclass

from jitwarm.plan import Family, PlanEntry, Selection
from jitwarm.warmer import WorkItem

ENTRY = PlanEntry(
    family=Family.FP8_GEMM_NT,
    n=512,
    k=7168,
    phases=["prefill"],
    m_values=[[1, 4096]],
    selection=Selection.SWEEP,
    kernels=None,
    modules=[],
)


def work_item(
    item_id: int, ms: tuple[int, ...], kernel_key: str | None, est_s: float = 1.0
) -> WorkItem:
    """An item of ``ENTRY`` (``kernel_key``: what the scheduler and attribution go by)."""
    return WorkItem(
        item_id=item_id,
        entry=ENTRY,
        ms=ms,
        kernel=None,
        kernel_key=kernel_key,
        est_s=est_s,
        label=f"item {item_id}",
    )


@dataclass(frozen=True)
class ReportItem:
    """What warm's report reads of an item (``jitwarm.warmer._report.ReportedItem``)."""

    item_id: int
    family: str
    entry_key: str
    ms: tuple[int, ...]
    label: str


def report_item(i: int, family: str, ms: tuple[int, ...]) -> ReportItem:
    return ReportItem(i, family, f"{family}/e", ms, f"{family} item {i}")
