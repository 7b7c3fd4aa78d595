"""The report: per-family counts, failures with reasons, JSON, and the progress bar."""

import io
import json

from rich.console import Console
from tests._warm_items import report_item as _item

from jitwarm.warmer._backend import CallOutcome, ItemOutcome
from jitwarm.warmer._progress import ProgressBar
from jitwarm.warmer._report import build_report


def _report(items, outcomes):  # type: ignore[no-untyped-def]
    return build_report(
        items,
        outcomes,
        plan_digest="d",
        arch="sm90",
        num_sms=132,
        cache_root="/c",
        jobs=2,
        devices=["0", "1"],
        wall_s=12.5,
        new_cache_entries=3,
    )


def test_counts_per_family_and_totals() -> None:
    items = [
        _item(0, "a", (1,)),
        _item(1, "a", (2,)),
        _item(2, "b", (5, 6, 7)),
        _item(3, "b", (9,)),
    ]
    outcomes = {
        0: ItemOutcome(0, 0, (CallOutcome(1, 4.0, compiled=1),), 4.1),
        1: ItemOutcome(1, 1, (CallOutcome(2, 0.01),), 0.02),
        2: ItemOutcome(
            2,
            0,
            (CallOutcome(5, 3.0, compiled=1), CallOutcome(6, 0.1), CallOutcome(7, 5.0, compiled=2)),
            8.2,
        ),
        3: ItemOutcome(3, 1, (CallOutcome(9, 0.5, error="boom"),), 0.5),
    }
    report = _report(items, outcomes)
    a, b = report.families["a"], report.families["b"]
    assert (a.items, a.calls, a.compiled, a.cached, a.failed, a.compile_s) == (2, 2, 1, 1, 0, 4.0)
    assert (b.items, b.calls, b.compiled, b.cached, b.failed, b.compile_s) == (2, 4, 3, 0, 1, 8.0)
    assert (report.compiled, report.cached, report.failed) == (4, 1, 1)
    assert report.compile_s == 12.0 and not report.ok
    (failure,) = report.failures
    assert failure.m == 9 and failure.reason == "m=9: boom" and failure.label == "b item 3"


def test_an_item_that_never_ran_counts_as_failed() -> None:
    report = _report([_item(0, "a", (1,))], {})
    assert report.failed == 1 and report.failures[0].reason == "not run"


def test_json_has_the_totals_and_is_serializable() -> None:
    items = [_item(0, "a", (1,))]
    report = _report(items, {0: ItemOutcome(0, 0, (CallOutcome(1, 4.0, compiled=1),), 4.0)})
    body = json.loads(json.dumps(report.to_json()))
    assert body["compiled"] == 1 and body["ok"] is True and body["wall_s"] == 12.5
    assert body["families"]["a"]["compile_s"] == 4.0 and "items" not in body
    assert json.loads(json.dumps(report.to_json(with_items=True)))["items"][0][
        "compile_times_s"
    ] == [4.0]


def test_progress_bar_counts_items_and_compiles() -> None:
    buf = io.StringIO()
    console = Console(file=buf, force_terminal=True, width=120)
    items = [_item(i, "a", (i + 1,)) for i in range(3)]
    with ProgressBar(3, console=console) as bar:
        for i, it in enumerate(items):
            bar.on_done(it, ItemOutcome(i, 0, (CallOutcome(i + 1, 1.0, compiled=1),), 1.0))
    text = buf.getvalue()
    assert "3/3" in text and "3 compiled" in text


def test_json_writes_statuses_and_families_as_their_plain_strings() -> None:
    # Family and ItemStatus are str enums: the JSON report keeps the strings it always had.
    from jitwarm.plan._schema import Family

    items = [_item(0, Family.FP8_GEMM_NT, (1,)), _item(1, Family.FP8_GEMM_NT, (2,))]
    outcomes = {
        0: ItemOutcome(0, 0, (CallOutcome(1, 4.0, compiled=1),), 4.0),
        1: ItemOutcome(1, 0, (CallOutcome(2, 0.1),), 0.1, compiled_elsewhere=1),
    }
    text = json.dumps(_report(items, outcomes).to_json(with_items=True))
    assert '"status": "compiled"' in text and '"status": "compiled elsewhere"' in text
    assert '"fp8_gemm_nt": {' in text and "Family" not in text and "ItemStatus" not in text
