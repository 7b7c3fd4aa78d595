"""What a warm did: per item, per family and in total. Built from outcomes; rendered by the CLI."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from jitwarm.strenum import StrEnum
from jitwarm.warmer.backend import ItemOutcome, WorkerStartup
from jitwarm.warmer.items import WorkItem


class ItemStatus(StrEnum):  # values are those of warm's JSON report
    COMPILED = "compiled"
    COMPILED_ELSEWHERE = "compiled elsewhere"  # another process compiled it while this one waited
    CACHED = "cached"
    FAILED = "failed"


def item_status(outcome: ItemOutcome) -> ItemStatus:
    if outcome.failed:
        return ItemStatus.FAILED
    if outcome.compiled:
        return ItemStatus.COMPILED
    return ItemStatus.COMPILED_ELSEWHERE if outcome.compiled_elsewhere else ItemStatus.CACHED


@dataclass
class FamilyStats:
    items: int = 0
    calls: int = 0
    compiled: int = 0  # kernels compiled by this process (nvcc ran here)
    compiled_elsewhere: int = 0  # kernels another process compiled while this one waited
    cached: int = 0  # items that compiled nothing (all their kernels were already on disk)
    failed: int = 0  # items with a failure
    compile_s: float = 0.0  # summed wall time of calls that compiled


@dataclass(frozen=True)
class Failure:
    label: str
    entry: str
    m: int | None
    reason: str


@dataclass
class CaptureStats:
    """Exact mode: sweep calls run under the stand-in compiler to find their kernels."""

    calls: int
    distinct_kernels: int
    failed_calls: int
    wall_s: float


@dataclass
class WarmReport:
    plan_digest: str
    arch: str
    num_sms: int
    cache_root: str
    jobs: int
    devices: list[str | None]
    wall_s: float
    families: dict[str, FamilyStats]
    failures: list[Failure]
    new_cache_entries: int
    exact: bool = False
    capture: CaptureStats | None = None
    items: list[dict[str, Any]] = field(default_factory=list)
    # Seconds from the start of the warm (sorted): until each worker was ready to compile, until
    # its process ran, and until the fork server it came from had imported torch and the rest.
    workers_ready_s: list[float] = field(default_factory=list)
    workers_started_s: list[float] = field(default_factory=list)
    imports_done_s: float | None = None
    # Compiling ahead in the warm's own process, if it ran: ``jitwarm.ahead.AheadStats``, or
    # on a DeepJIT build (``kind: deepjit-local``) the local build's split (``LocalResult``).
    ahead: dict[str, Any] | None = None
    # ``leader_only``: "leader" (warmed the plan) or "follower" (waited peer_wait_s for a peer
    # that warmed it, then checked its work); None otherwise.
    peer_role: str | None = None
    peer_wait_s: float | None = None

    @property
    def compiled(self) -> int:
        return sum(f.compiled for f in self.families.values())

    @property
    def compiled_elsewhere(self) -> int:
        return sum(f.compiled_elsewhere for f in self.families.values())

    @property
    def cached(self) -> int:
        return sum(f.cached for f in self.families.values())

    @property
    def failed(self) -> int:
        return sum(f.failed for f in self.families.values())

    @property
    def compile_s(self) -> float:
        return sum(f.compile_s for f in self.families.values())

    @property
    def ok(self) -> bool:
        return self.failed == 0

    def to_json(self, *, with_items: bool = False) -> dict[str, Any]:
        body = asdict(self)
        if not with_items:
            body.pop("items")
        body.update(
            compiled=self.compiled,
            compiled_elsewhere=self.compiled_elsewhere,
            cached=self.cached,
            failed=self.failed,
            compile_s=round(self.compile_s, 3),
            ok=self.ok,
        )
        body["wall_s"] = round(self.wall_s, 3)
        for stats in body["families"].values():
            stats["compile_s"] = round(stats["compile_s"], 3)
        return body


def build_report(
    items: Sequence[WorkItem],
    outcomes: Mapping[int, ItemOutcome],
    *,
    plan_digest: str,
    arch: str,
    num_sms: int,
    cache_root: str,
    jobs: int,
    devices: list[str | None],
    wall_s: float,
    new_cache_entries: int,
    exact: bool = False,
    capture: CaptureStats | None = None,
    started_at: float | None = None,
    worker_startup: Sequence[WorkerStartup] = (),
    ahead: dict[str, Any] | None = None,
) -> WarmReport:
    """``started_at``: wall clock of the warm's start; item rows then carry their start and end
    in seconds from it (how busy the workers were), and ``worker_startup`` becomes how long the
    workers took to start."""
    families: dict[str, FamilyStats] = {}
    failures: list[Failure] = []
    rows: list[dict[str, Any]] = []
    for item in items:
        stats = families.setdefault(item.family, FamilyStats())
        stats.items += 1
        outcome = outcomes.get(item.item_id)
        if outcome is None:  # never ran (interrupted): count it as failed, say why
            outcome = ItemOutcome(item.item_id, -1, (), 0.0, error="not run")
        status = item_status(outcome)
        stats.calls += len(outcome.calls)
        stats.compiled += outcome.compiled
        stats.compile_s += outcome.compile_s
        if status == ItemStatus.COMPILED_ELSEWHERE:
            stats.compiled_elsewhere += outcome.compiled_elsewhere
        if status == ItemStatus.FAILED:
            stats.failed += 1
            bad = outcome.failed_calls
            failures.append(
                Failure(
                    item.label,
                    item.entry_key,
                    bad[0].m if bad else None,
                    outcome.reason or "unknown",
                )
            )
        elif status == ItemStatus.CACHED:
            stats.cached += 1
        rows.append(
            {
                "label": item.label,
                "entry": item.entry_key,
                "ms": [item.ms[0], item.ms[-1]],
                "calls": len(item.ms),
                "status": status,
                "compiled": outcome.compiled,
                "compiled_elsewhere": outcome.compiled_elsewhere,
                "lock_wait_s": round(outcome.lock_wait_s, 3),
                "compile_s": round(outcome.compile_s, 3),
                "wall_s": round(outcome.wall_s, 3),
                "worker": outcome.worker_id,
                "device": outcome.device,
                "compile_times_s": [round(c.wall_s, 3) for c in outcome.calls if c.compiled],
            }
        )
        if started_at is not None and outcome.started_at:
            rows[-1].update(
                start_s=round(outcome.started_at - started_at, 3),
                end_s=round(outcome.ended_at - started_at, 3),
            )
    return WarmReport(
        plan_digest=plan_digest,
        arch=arch,
        num_sms=num_sms,
        cache_root=cache_root,
        jobs=jobs,
        devices=devices,
        wall_s=wall_s,
        families=dict(sorted(families.items())),
        failures=failures,
        new_cache_entries=new_cache_entries,
        exact=exact,
        capture=capture,
        items=rows,
        ahead=ahead,
        **_startup_fields(worker_startup, started_at),
    )


def _startup_fields(startup: Sequence[WorkerStartup], started_at: float | None) -> dict[str, Any]:
    if started_at is None or not startup:
        return {}

    def since(t: float) -> float:
        return round(t - started_at, 3)

    return {
        "workers_ready_s": sorted(since(s.ready_at) for s in startup),
        "workers_started_s": sorted(since(s.started_at) for s in startup),
        # 0: a fork server started before this warm (an earlier one in this process) was reused
        "imports_done_s": max(0.0, since(min(s.imports_done_at for s in startup))),
    }
