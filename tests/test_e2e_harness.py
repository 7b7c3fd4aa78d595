"""The end-to-end harness's bookkeeping: comparing tokens across modes and joining modes that
ran apart (benchmarks/e2e/run_e2e.py; the runs themselves need a server and smg)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

pytest.importorskip("httpx")
HARNESS = Path(__file__).resolve().parents[1] / "benchmarks" / "e2e" / "run_e2e.py"


@pytest.fixture(scope="module")
def e2e():
    spec = importlib.util.spec_from_file_location("run_e2e", HARNESS)
    module = importlib.util.module_from_spec(spec)
    sys.modules["run_e2e"] = module
    spec.loader.exec_module(module)
    return module


def _mode(e2e, concurrent, alone):
    return {
        "token_digests": [e2e.token_digest(t) for t in concurrent],
        "alone_digests": [e2e.token_digest(t) for t in alone],
    }


def test_outputs_compare_alone_and_concurrent_requests_against_jitwarm(e2e):
    ref = _mode(e2e, [[1, 2], [3], None], [[4]])
    same = _mode(e2e, [[1, 2], [3], [9]], [[4]])  # the failed reference request is not compared
    differs = _mode(e2e, [[1, 2], [3, 3], None], [[5]])
    out = e2e.compare_outputs({"none": same, "jitwarm": ref, "bundle": differs})
    assert out["reference"] == "jitwarm"
    assert out["concurrent"]["none"] == {"compared": 2, "mismatches": 0}
    assert out["concurrent"]["bundle"] == {"compared": 2, "mismatches": 1}
    assert out["alone"]["bundle"] == {"compared": 1, "mismatches": 1}
    assert out["identical"] is False
    assert e2e.compare_outputs({"none": same, "jitwarm": ref})["identical"] is True


def test_merge_takes_earlier_modes_of_the_same_workload_only(e2e, tmp_path):
    args = e2e.parse_args(["--modes", "dense", "--requests", "5"])
    earlier = {
        "config": {k: getattr(args, k) for k in e2e.WORKLOAD_KEYS},
        "modes": {"jitwarm": _mode(e2e, [[1]], [[2]])},
    }
    path = tmp_path / "a.json"
    path.write_text(json.dumps(earlier))
    merged = e2e.merge_earlier(args, [path])
    assert list(merged) == ["jitwarm"] and merged["jitwarm"]["merged_from"] == str(path)
    other = e2e.parse_args(["--modes", "dense", "--requests", "6"])
    with pytest.raises(SystemExit, match="requests differ"):
        e2e.merge_earlier(other, [path])
