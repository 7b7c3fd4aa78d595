"""The warm report is frozen, built once, and its JSON is what it was before the report became
typed parts: the stored example was written by the dict-based report (commit 0462c3e), and the
key lists below were written by hand from that output."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from tests._warm_items import ReportItem, report_item

from jitwarm.ahead import AheadStats
from jitwarm.warmer._backend import CallOutcome, ItemOutcome, WorkerStartup
from jitwarm.warmer._report import AheadSummary, CaptureStats, WarmReport, build_report

EXAMPLE = Path(__file__).parent / "data" / "warm-report"

TOP_KEYS = [
    "plan_digest",
    "arch",
    "num_sms",
    "cache_root",
    "jobs",
    "devices",
    "wall_s",
    "families",
    "failures",
    "new_cache_entries",
    "exact",
    "capture",
    "workers_ready_s",
    "workers_started_s",
    "imports_done_s",
    "ahead",
    "peer_role",
    "peer_wait_s",
    "compiled",
    "compiled_elsewhere",
    "cached",
    "failed",
    "compile_s",
    "ok",
]
FAMILY_KEYS = ["items", "calls", "compiled", "compiled_elsewhere", "cached", "failed", "compile_s"]
ROW_KEYS = [
    "label",
    "entry",
    "ms",
    "calls",
    "status",
    "compiled",
    "compiled_elsewhere",
    "lock_wait_s",
    "compile_s",
    "wall_s",
    "worker",
    "device",
    "compile_times_s",
]
AHEAD_KEYS = [
    "planned",
    "already_cached",
    "compiled",
    "compiled_elsewhere",
    "failed",
    "handed_over",
    "compile_s",
    "lock_wait_s",
    "wall_s",
    "failures",
    "first_nvcc_s",
]


def _item(i: int, family: str, ms: tuple[int, ...], key: str | None = None) -> ReportItem:
    return report_item(i, family, ms)  # the report reads no kernel key


def _example() -> WarmReport:
    """The scenario the stored example was written from: timed rows, an untimed one, a failed
    call, an item that never ran, exact mode, worker start-up and compiling ahead."""
    items = [
        _item(0, "a", (1,), "k0"),
        _item(1, "a", (2,)),
        _item(2, "b", (5, 6, 7)),
        _item(3, "b", (9,)),
        _item(4, "b", (11,)),
    ]
    calls = (CallOutcome(5, 3.0, compiled=1), CallOutcome(6, 0.1), CallOutcome(7, 5.0, compiled=2))
    outcomes = {
        0: ItemOutcome(
            0, 0, (CallOutcome(1, 4.0004, compiled=1),), 4.1234, "0", None, False, 100.5, 104.6
        ),
        1: ItemOutcome(1, 1, (CallOutcome(2, 0.01),), 0.02, "1", None, False, 100.7, 100.9),
        2: ItemOutcome(2, 0, calls, 8.2),
        3: ItemOutcome(3, 1, (CallOutcome(9, 0.5, error="boom"),), 0.5),
    }
    stats = AheadStats(
        planned=3,
        already_cached=1,
        compiled=2,
        compiled_elsewhere=0,
        failed=1,
        handed_over=2,
        compile_s=7.12345,
        lock_wait_s=0.5,
        wall_s=3.33333,
        failures=("x: bad",),
        first_start=50.25,
    )
    return build_report(
        items,
        outcomes,
        plan_digest="d",
        arch="sm90",
        num_sms=132,
        cache_root="/c",
        jobs=2,
        devices=["0", "1"],
        wall_s=12.56789,
        new_cache_entries=3,
        exact=True,
        capture=CaptureStats(10, 3, 1, 2.5),
        started_at=100.0,
        worker_startup=[WorkerStartup(100.2, 100.4, 100.1), WorkerStartup(100.3, 100.6, 100.1)],
        ahead=AheadSummary.of(stats, since=50.0),
    )


def test_the_json_is_byte_for_byte_the_stored_example() -> None:
    report = _example()
    assert json.dumps(report.to_json(), indent=2) + "\n" == (EXAMPLE / "example.json").read_text()
    with_items = json.dumps(report.to_json(with_items=True), indent=2) + "\n"
    assert with_items == (EXAMPLE / "example-with-items.json").read_text()


def test_the_json_keys_are_those_benchmarks_read() -> None:
    body = _example().to_json(with_items=True)
    assert list(body) == [*TOP_KEYS[:12], "items", *TOP_KEYS[12:]]
    assert list(_example().to_json()) == TOP_KEYS
    assert all(list(f) == FAMILY_KEYS for f in body["families"].values())
    assert list(body["items"][0]) == [*ROW_KEYS, "start_s", "end_s"]  # timed by the pool
    assert list(body["items"][2]) == ROW_KEYS
    assert list(body["failures"][0]) == ["label", "entry", "m", "reason"]
    assert list(body["capture"]) == ["calls", "distinct_kernels", "failed_calls", "wall_s"]
    assert list(body["ahead"]) == AHEAD_KEYS


def test_the_report_and_its_parts_are_frozen() -> None:
    report = _example()
    parts = [report, report.families["a"], report.items[0], report.failures[0], report.capture]
    for part in [*parts, report.ahead, report.workers]:
        field = dataclasses.fields(part)[0].name  # type: ignore[arg-type]
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(part, field, None)
    assert isinstance(report.items, tuple) and isinstance(report.failures, tuple)


def test_the_start_up_lists_are_copies() -> None:
    report = _example()
    report.workers_ready_s.append(99.0)
    assert report.workers_ready_s == [0.1, 0.1] and report.to_json()["workers_ready_s"] == [
        0.1,
        0.1,
    ]
