"""verify and record -> replay with the real DeepGEMM on a GPU (run on the device machine):
a cold cache reports every kernel with the M values that need it, a small warm removes exactly
its kernels from the report, the cache never changes, and a recording replayed by warm leaves
nothing to compile."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from _gpu import require_gpu
from jitwarm.mset import MSet
from jitwarm.plan._schema import (
    METADATA_CONVENTIONS,
    Conventions,
    Family,
    MKind,
    ModelRef,
    Plan,
    PlanEntry,
)
from jitwarm.plan._select import select_kernels
from jitwarm.serving import ServingConfig

pytestmark = pytest.mark.gpu


require_gpu()

from jitwarm.deepgemm import verify_plan, warm  # noqa: E402  (DeepGEMM's defaults)
from jitwarm.record import plan_from_recording  # noqa: E402
from jitwarm.verify._snapshot import CacheSnapshot  # noqa: E402

SRC = Path(__file__).resolve().parents[1] / "src"
META_CONV = METADATA_CONVENTIONS


def _entry(family: Family, n: int, k: int, ms: MSet, **kw: object) -> PlanEntry:
    conv = kw.pop("conventions", Conventions())
    selection, kernels = select_kernels(
        family,
        n,
        k,
        1,
        conv,
        ms,
        arch="sm90",
        num_sms=132,
        mk_alignment=128,  # type: ignore[arg-type]
    )
    return PlanEntry(
        family=family,
        n=n,
        k=k,
        conventions=conv,
        phases=["prefill"],
        m_values=ms.to_json(),
        selection=selection,
        kernels=kernels,
        modules=[],
        **kw,  # type: ignore[arg-type]
    )


GEMM = _entry(Family.FP8_GEMM_NT, 2112, 7168, MSet.span(1, 256))
META = _entry(
    Family.PAGED_MQA_METADATA,
    0,
    0,
    MSet.span(1, 40),
    conventions=META_CONV,
    dims={"block_kv": 64},
    m_kind=MKind.BATCH,
)
PLAN = Plan(
    jitwarm_version="test",
    arch="sm90",
    num_sms=132,
    model=ModelRef(name="gpu-test", architecture="t", source="t"),
    serving={"mk_alignment": 128},
    entries=[GEMM, META],
)


def _dump(name: str, body: object) -> None:
    folder = os.environ.get("JITWARM_GPU_REPORTS")
    if folder:
        Path(folder, f"{name}.json").write_text(json.dumps(body, indent=1))


def test_cold_cache_reports_every_kernel_and_changes_nothing(tmp_path: Path) -> None:
    report = verify_plan(PLAN, cache_dir=tmp_path, jobs=2)
    _dump("verify_cold", report.to_json())
    assert report.exit_code == 3 and report.calls == 256 + 40 and not report.failed
    gemm = [k for k in report.missing if k.family == "fp8_gemm_nt"]
    # The real library's choices, captured over every M, against the selection model's.
    assert sorted(k.m_values.to_json() for k in gemm) == sorted(k.m_ranges for k in GEMM.kernels)
    assert {k.template_args for k in gemm} == {k.template_args for k in GEMM.kernels}
    meta = sorted(k.m_values.to_json() for k in report.missing if k.family == META.family.value)
    assert meta == [[[1, 32]], [[33, 40]]]
    assert not report.cache_changes and CacheSnapshot.take(tmp_path).files == {}


def test_small_warm_then_verify(tmp_path: Path) -> None:
    picked = [GEMM.kernels[0], GEMM.kernels[-1]]
    some = PLAN.model_copy(update={"entries": [GEMM.model_copy(update={"kernels": picked})]})
    warmed = warm(some, cache_dir=tmp_path, jobs=2)
    assert warmed.ok and warmed.compiled == 2
    before = CacheSnapshot.take(tmp_path)
    report = verify_plan(PLAN, cache_dir=tmp_path, jobs=2)
    _dump("verify_after_two", report.to_json())
    reported = [k.m_values.to_json() for k in report.missing]
    assert all(k.m_ranges not in reported for k in picked)
    assert len(report.missing) == len(GEMM.kernels) - 2 + 2  # the rest, and both metadata buckets
    assert report.calls_ok == sum(len(MSet.from_ranges(k.m_ranges)) for k in picked)
    assert CacheSnapshot.take(tmp_path).files == before.files and not report.cache_changes
    assert warm(PLAN, cache_dir=tmp_path, jobs=8).ok
    final = verify_plan(PLAN, cache_dir=tmp_path, jobs=2)
    _dump("verify_warm", final.to_json())
    assert final.exit_code == 0 and final.calls_ok == 296, final.to_json()


SERVER = textwrap.dedent("""
    from jitwarm.deepgemm._calls import build_call
    from jitwarm.plan._schema import Family, PlanEntry, Selection
    entry = PlanEntry(family=Family.FP8_GEMM_NT, n=3072, k=1536, phases=["prefill"],
                      m_values=[[1, 4096]], selection=Selection.SWEEP, kernels=None, modules=[])
    for m in (7, 300):
        build_call(entry, m)()
""")


def test_record_replay_verify(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "DG_JIT_CACHE_DIR": str(tmp_path / "server-cache"),
        "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")]),
    }
    rec = tmp_path / "rec.json"
    cli = [sys.executable, "-c", "from jitwarm.cli import main; main()"]
    done = subprocess.run(
        [*cli, "run", "--guard", "warn", "--record", str(rec), "--", sys.executable, "-c", SERVER],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    plan = plan_from_recording(rec, ServingConfig(max_batched_tokens=512, max_running_seqs=16))
    (entry,) = plan.entries
    assert (entry.n, entry.k, entry.mset) == (3072, 1536, MSet.span(1, 512))
    cache = tmp_path / "replayed"
    replay = warm(plan, cache_dir=cache, jobs=8)
    assert replay.ok and replay.compiled == len(entry.kernels or [])
    report = verify_plan(plan, cache_dir=cache, jobs=2)
    _dump(
        "record_replay_verify",
        {"recording": json.loads(rec.read_text()), "verify": report.to_json()},
    )
    assert report.exit_code == 0 and report.calls == 512
