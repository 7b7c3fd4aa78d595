"""What a warm did: per item, per family and in total. Built once from outcomes, at the end of
a warm; rendered by the CLI. Every part is a frozen record of raw values; ``to_json`` gives the
JSON report (its keys and their order are what benchmarks and tests read)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from jitwarm.strenum import StrEnum
from jitwarm.warmer._backend import ItemOutcome, WorkerStartup

if TYPE_CHECKING:
    from jitwarm.ahead import AheadStats


class ItemStatus(StrEnum):  # values are those of warm's JSON report
    COMPILED = "compiled"
    COMPILED_ELSEWHERE = "compiled elsewhere"  # another process compiled it while this one waited
    CACHED = "cached"
    FAILED = "failed"


class PeerRole(StrEnum):  # ``leader_only``: what this process did among the warms of its plan
    LEADER = "leader"  # warmed the plan
    FOLLOWER = "follower"  # waited for a peer that warmed it, then checked its work


class ReportedItem(Protocol):
    """What the report reads of a work item (``jitwarm.warmer.WorkItem`` is one)."""

    @property
    def item_id(self) -> int: ...

    @property
    def family(self) -> str: ...

    @property
    def entry_key(self) -> str: ...

    @property
    def label(self) -> str: ...

    @property
    def ms(self) -> tuple[int, ...]: ...


def item_status(outcome: ItemOutcome) -> ItemStatus:
    if outcome.failed:
        return ItemStatus.FAILED
    if outcome.compiled:
        return ItemStatus.COMPILED
    return ItemStatus.COMPILED_ELSEWHERE if outcome.compiled_elsewhere else ItemStatus.CACHED


@dataclass(frozen=True)
class FamilyStats:
    items: int = 0
    calls: int = 0
    compiled: int = 0  # kernels compiled by this process (nvcc ran here)
    compiled_elsewhere: int = 0  # kernels another process compiled while this one waited
    cached: int = 0  # items that compiled nothing (all their kernels were already on disk)
    failed: int = 0  # items with a failure
    compile_s: float = 0.0  # summed wall time of calls that compiled

    @classmethod
    def of(cls, done: Sequence[tuple[ItemOutcome, ItemStatus]]) -> FamilyStats:
        """The counts of one family's items, from their outcomes and statuses."""
        calls = compiled = elsewhere = 0
        compile_s = 0.0
        for outcome, status in done:  # summed in item order, as the report always did
            calls += len(outcome.calls)
            compiled += outcome.compiled
            compile_s += outcome.compile_s
            if status == ItemStatus.COMPILED_ELSEWHERE:
                elsewhere += outcome.compiled_elsewhere
        return cls(
            items=len(done),
            calls=calls,
            compiled=compiled,
            compiled_elsewhere=elsewhere,
            cached=sum(1 for _, s in done if s == ItemStatus.CACHED),
            failed=sum(1 for _, s in done if s == ItemStatus.FAILED),
            compile_s=compile_s,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "items": self.items,
            "calls": self.calls,
            "compiled": self.compiled,
            "compiled_elsewhere": self.compiled_elsewhere,
            "cached": self.cached,
            "failed": self.failed,
            "compile_s": round(self.compile_s, 3),
        }


@dataclass(frozen=True)
class Failure:
    label: str
    entry: str
    m: int | None
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {"label": self.label, "entry": self.entry, "m": self.m, "reason": self.reason}


@dataclass(frozen=True)
class CaptureStats:
    """Exact mode: sweep calls run under the stand-in compiler to find their kernels."""

    calls: int
    distinct_kernels: int
    failed_calls: int
    wall_s: float

    def to_json(self) -> dict[str, Any]:
        return {
            "calls": self.calls,
            "distinct_kernels": self.distinct_kernels,
            "failed_calls": self.failed_calls,
            "wall_s": self.wall_s,
        }


@dataclass(frozen=True)
class ItemRow:
    """One work item in the report (``to_json(with_items=True)``); seconds rounded to ms."""

    label: str
    entry: str
    ms: tuple[int, int]  # first and last M called
    calls: int  # M values the item called
    status: ItemStatus
    compiled: int
    compiled_elsewhere: int
    lock_wait_s: float
    compile_s: float
    wall_s: float
    worker: int
    device: str | None
    compile_times_s: tuple[float, ...]
    # From the warm's start (how busy the workers were); None when the pool did not time it.
    start_s: float | None = None
    end_s: float | None = None

    @classmethod
    def of(cls, item: ReportedItem, outcome: ItemOutcome, started_at: float | None) -> ItemRow:
        timed = started_at is not None and bool(outcome.started_at)
        return cls(
            label=item.label,
            entry=item.entry_key,
            ms=(item.ms[0], item.ms[-1]),
            calls=len(item.ms),
            status=item_status(outcome),
            compiled=outcome.compiled,
            compiled_elsewhere=outcome.compiled_elsewhere,
            lock_wait_s=round(outcome.lock_wait_s, 3),
            compile_s=round(outcome.compile_s, 3),
            wall_s=round(outcome.wall_s, 3),
            worker=outcome.worker_id,
            device=outcome.device,
            compile_times_s=tuple(round(c.wall_s, 3) for c in outcome.calls if c.compiled),
            start_s=round(outcome.started_at - started_at, 3) if timed else None,  # type: ignore[operator]
            end_s=round(outcome.ended_at - started_at, 3) if timed else None,  # type: ignore[operator]
        )

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "label": self.label,
            "entry": self.entry,
            "ms": list(self.ms),
            "calls": self.calls,
            "status": self.status,
            "compiled": self.compiled,
            "compiled_elsewhere": self.compiled_elsewhere,
            "lock_wait_s": self.lock_wait_s,
            "compile_s": self.compile_s,
            "wall_s": self.wall_s,
            "worker": self.worker,
            "device": self.device,
            "compile_times_s": list(self.compile_times_s),
        }
        if self.start_s is not None:
            out.update(start_s=self.start_s, end_s=self.end_s)
        return out


@dataclass(frozen=True)
class AheadSummary:
    """Compiling ahead in the warm's own process (upstream-JIT builds, ``jitwarm.ahead``)."""

    planned: int  # kernels rendered and queued
    already_cached: int  # rendered, but their source is in the cache already: not queued
    compiled: int
    compiled_elsewhere: int  # another warm on this root ran this nvcc request; taken from it
    failed: int
    handed_over: int  # cubins the workers' DeepGEMM took from the stage
    compile_s: float  # summed nvcc seconds
    lock_wait_s: float  # summed seconds waiting for other warms' nvcc of the same request
    wall_s: float  # from the first nvcc start to the last end
    failures: tuple[str, ...]
    first_nvcc_s: float | None  # from the warm's start to the first nvcc start; None: none ran

    @classmethod
    def of(cls, stats: AheadStats, *, since: float | None = None) -> AheadSummary:
        """``since``: perf_counter() of the warm's start (gives ``first_nvcc_s``)."""
        first = stats.first_start
        return cls(
            planned=stats.planned,
            already_cached=stats.already_cached,
            compiled=stats.compiled,
            compiled_elsewhere=stats.compiled_elsewhere,
            failed=stats.failed,
            handed_over=stats.handed_over,
            compile_s=round(stats.compile_s, 3),
            lock_wait_s=round(stats.lock_wait_s, 3),
            wall_s=round(stats.wall_s, 3),
            failures=tuple(stats.failures),
            first_nvcc_s=round(first - since, 3)
            if since is not None and first is not None
            else None,
        )

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "planned": self.planned,
            "already_cached": self.already_cached,
            "compiled": self.compiled,
            "compiled_elsewhere": self.compiled_elsewhere,
            "failed": self.failed,
            "handed_over": self.handed_over,
            "compile_s": self.compile_s,
            "lock_wait_s": self.lock_wait_s,
            "wall_s": self.wall_s,
            "failures": list(self.failures),
        }
        if self.first_nvcc_s is not None:
            out["first_nvcc_s"] = self.first_nvcc_s
        return out


@dataclass(frozen=True)
class ToWorkers:
    """A plan item the local build left to the workers, and why."""

    label: str
    reason: str


@dataclass(frozen=True)
class DeepJitLocalSummary:
    """On a DeepJIT build: the local GPU-free build's split (``jitwarm.warmer._deepjit_ahead``);
    JSON ``ahead.kind`` is ``deepjit-local``."""

    KIND: ClassVar[str] = "deepjit-local"

    profile: str
    nvcc: str
    planned: int  # entries rendered
    already_present: int  # committed under a cache root before this warm
    compiled: int
    present_at_publish: int  # committed by another process while this one compiled it
    failed: int
    failures: tuple[str, ...]
    compile_s: float
    wall_s: float
    render_s: float
    nvcc_jobs: int
    items_covered: int
    items_to_workers: int
    to_workers: tuple[ToWorkers, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.KIND,
            "profile": self.profile,
            "nvcc": self.nvcc,
            "planned": self.planned,
            "already_present": self.already_present,
            "compiled": self.compiled,
            "present_at_publish": self.present_at_publish,
            "failed": self.failed,
            "failures": list(self.failures),
            "compile_s": self.compile_s,
            "wall_s": self.wall_s,
            "render_s": self.render_s,
            "nvcc_jobs": self.nvcc_jobs,
            "items_covered": self.items_covered,
            "items_to_workers": self.items_to_workers,
            "to_workers": [{"label": r.label, "reason": r.reason} for r in self.to_workers],
        }


@dataclass(frozen=True)
class WorkerTimes:
    """Seconds from the start of the warm (sorted): until each worker was ready to compile,
    until its process ran, and until the fork server it came from had imported torch and the
    rest (0: a fork server of an earlier warm in this process was reused)."""

    ready_s: tuple[float, ...] = ()
    started_s: tuple[float, ...] = ()
    imports_done_s: float | None = None

    @classmethod
    def of(cls, startup: Sequence[WorkerStartup], started_at: float | None) -> WorkerTimes:
        if started_at is None or not startup:
            return cls()

        def since(t: float) -> float:
            return round(t - started_at, 3)

        return cls(
            ready_s=tuple(sorted(since(s.ready_at) for s in startup)),
            started_s=tuple(sorted(since(s.started_at) for s in startup)),
            imports_done_s=max(0.0, since(min(s.imports_done_at for s in startup))),
        )


@dataclass(frozen=True)
class PeerWait:
    """``leader_only``: this process's role, and how long a follower waited for the leader."""

    role: PeerRole
    waited_s: float | None = None


@dataclass(frozen=True)
class WarmReport:
    plan_digest: str
    arch: str
    num_sms: int
    cache_root: str
    jobs: int
    devices: tuple[str | None, ...]
    wall_s: float
    families: Mapping[str, FamilyStats]  # by family name, sorted
    failures: tuple[Failure, ...]
    new_cache_entries: int
    exact: bool = False
    capture: CaptureStats | None = None
    items: tuple[ItemRow, ...] = ()
    workers: WorkerTimes = WorkerTimes()
    # Compiling ahead in the warm's own process, if it ran: upstream-JIT builds' AheadSummary,
    # or on a DeepJIT build the local build's split.
    ahead: AheadSummary | DeepJitLocalSummary | None = None
    peer: PeerWait | None = None

    # The start-up times as the report always gave them (lists, sorted; a copy per call).
    @property
    def workers_ready_s(self) -> list[float]:
        return list(self.workers.ready_s)

    @property
    def workers_started_s(self) -> list[float]:
        return list(self.workers.started_s)

    @property
    def imports_done_s(self) -> float | None:
        return self.workers.imports_done_s

    @property
    def peer_role(self) -> PeerRole | None:
        return self.peer.role if self.peer is not None else None

    @property
    def peer_wait_s(self) -> float | None:
        return self.peer.waited_s if self.peer is not None else None

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
        body: dict[str, Any] = {
            "plan_digest": self.plan_digest,
            "arch": self.arch,
            "num_sms": self.num_sms,
            "cache_root": self.cache_root,
            "jobs": self.jobs,
            "devices": list(self.devices),
            "wall_s": round(self.wall_s, 3),
            "families": {name: f.to_json() for name, f in self.families.items()},
            "failures": [f.to_json() for f in self.failures],
            "new_cache_entries": self.new_cache_entries,
            "exact": self.exact,
            "capture": self.capture.to_json() if self.capture is not None else None,
        }
        if with_items:
            body["items"] = [row.to_json() for row in self.items]
        body.update(
            workers_ready_s=self.workers_ready_s,
            workers_started_s=self.workers_started_s,
            imports_done_s=self.imports_done_s,
            ahead=self.ahead.to_json() if self.ahead is not None else None,
            peer_role=self.peer_role,
            peer_wait_s=self.peer_wait_s,
            compiled=self.compiled,
            compiled_elsewhere=self.compiled_elsewhere,
            cached=self.cached,
            failed=self.failed,
            compile_s=round(self.compile_s, 3),
            ok=self.ok,
        )
        return body


def build_report(
    items: Sequence[ReportedItem],
    outcomes: Mapping[int, ItemOutcome],
    *,
    plan_digest: str,
    arch: str,
    num_sms: int,
    cache_root: str,
    jobs: int,
    devices: Sequence[str | None],
    wall_s: float,
    new_cache_entries: int,
    exact: bool = False,
    capture: CaptureStats | None = None,
    started_at: float | None = None,
    worker_startup: Sequence[WorkerStartup] = (),
    ahead: AheadSummary | DeepJitLocalSummary | None = None,
    peer: PeerWait | None = None,
) -> WarmReport:
    """``started_at``: wall clock of the warm's start; item rows then carry their start and end
    in seconds from it (how busy the workers were), and ``worker_startup`` becomes how long the
    workers took to start."""
    by_family: dict[str, list[tuple[ItemOutcome, ItemStatus]]] = {}
    failures: list[Failure] = []
    rows: list[ItemRow] = []
    for item in items:
        outcome = outcomes.get(item.item_id)
        if outcome is None:  # never ran (interrupted): count it as failed, say why
            outcome = ItemOutcome(item.item_id, -1, (), 0.0, error="not run")
        status = item_status(outcome)
        by_family.setdefault(item.family, []).append((outcome, status))
        if status == ItemStatus.FAILED:
            bad = outcome.failed_calls
            reason = outcome.reason or "unknown"
            failures.append(Failure(item.label, item.entry_key, bad[0].m if bad else None, reason))
        rows.append(ItemRow.of(item, outcome, started_at))
    return WarmReport(
        plan_digest=plan_digest,
        arch=arch,
        num_sms=num_sms,
        cache_root=cache_root,
        jobs=jobs,
        devices=tuple(devices),
        wall_s=wall_s,
        families={name: FamilyStats.of(done) for name, done in sorted(by_family.items())},
        failures=tuple(failures),
        new_cache_entries=new_cache_entries,
        exact=exact,
        capture=capture,
        items=tuple(rows),
        workers=WorkerTimes.of(worker_startup, started_at),
        ahead=ahead,
        peer=peer,
    )
