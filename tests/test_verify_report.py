"""Verify's report: frozen, built once from the calls' findings; its JSON keys are those the
CLI's --json always printed (written by hand from that output)."""

from __future__ import annotations

import dataclasses

import pytest

from jitwarm.mset import MSet
from jitwarm.verify import CallFindings, FailedCalls, MissingKernel, VerifyReport

JSON_KEYS = [
    "ok",
    "exit_code",
    "plan_digest",
    "cache_root",
    "cache_entries",
    "cache_unchanged",
    "cache_changes",
    "jobs",
    "calls",
    "calls_ok",
    "calls_missing",
    "missing_kernels",
    "failed",
    "wall_s",
]


def _report(**changes: object) -> VerifyReport:
    missing = MissingKernel("fp8_gemm_nt", "e", "n=1 k=2", "ab", None, None, MSet.of([64, 65]))
    failed = FailedCalls("fp8_gemm_nt", "e", "n=1 k=2", "boom", MSet.of([7]))
    base = VerifyReport(
        plan_digest="d",
        cache_root="/c",
        jobs=2,
        findings=CallFindings(calls=10, calls_ok=7, missing=(missing,), failed=(failed,)),
        cache_changes=(),
        cache_entries=5,
        wall_s=1.23456,
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def test_json_keys_and_values() -> None:
    body = _report().to_json()
    assert list(body) == JSON_KEYS
    assert (body["ok"], body["exit_code"], body["calls_missing"], body["wall_s"]) == (
        False,
        3,
        2,
        1.235,
    )
    assert body["cache_changes"] == [] and body["cache_unchanged"] is True
    assert body["missing_kernels"][0]["num_m"] == 2 and body["failed"][0]["reason"] == "boom"


def test_exit_codes() -> None:
    assert _report(findings=CallFindings(calls=3, calls_ok=3)).exit_code == 0
    only_failed = CallFindings(calls=3, calls_ok=2, failed=_report().failed)
    assert _report(findings=only_failed).exit_code == 1
    changed = _report(findings=CallFindings(calls=3, calls_ok=3), cache_changes=("added x",))
    assert changed.exit_code == 1 and changed.to_json()["cache_changes"] == ["added x"]


def test_the_report_is_frozen() -> None:
    report = _report()
    with pytest.raises(dataclasses.FrozenInstanceError):
        report.wall_s = 0.0  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        report.findings.calls = 0  # type: ignore[misc]
