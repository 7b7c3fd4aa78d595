"""Verify on the fake deep_gemm: every planned call against the cache under the stand-in
compiler, nothing compiled, each missing kernel listed with its M values."""

from __future__ import annotations

import json
import os
from pathlib import Path
from types import ModuleType

import pytest

from jitwarm import guard
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
from jitwarm.record import plan_from_recording
from jitwarm.serving import ServingConfig
from jitwarm.verify import _api as verify_api
from jitwarm.verify import verify_plan
from jitwarm.verify._snapshot import CacheSnapshot

META_CONV = METADATA_CONVENTIONS

pytest_plugins = ["fakes.fixtures"]


def entry(
    family: Family,
    n: int,
    k: int,
    ms: MSet,
    *,
    groups: int = 1,
    conv: Conventions = Conventions(),
    dims: dict[str, int] | None = None,
    m_kind: MKind = MKind.ROWS,
) -> PlanEntry:
    selection, kernels = select_kernels(
        family, n, k, groups, conv, ms, arch="sm90", num_sms=132, mk_alignment=128
    )
    return PlanEntry(
        family=family,
        n=n,
        k=k,
        num_groups=groups,
        dims=dims or {},
        conventions=conv,
        phases=["prefill"],
        m_kind=m_kind,
        m_values=ms.to_json(),
        selection=selection,
        kernels=kernels,
        modules=[],
    )


def make_plan(*entries: PlanEntry) -> Plan:
    return Plan(
        jitwarm_version="test",
        arch="sm90",
        num_sms=132,
        model=ModelRef(name="t", architecture="t", source="t"),
        serving={"mk_alignment": 128},
        entries=list(entries),
    )


GEMM = entry(Family.FP8_GEMM_NT, 512, 7168, MSet.span(1, 700))
META = entry(
    Family.PAGED_MQA_METADATA,
    0,
    0,
    MSet.span(1, 70),
    conv=META_CONV,
    dims={"block_kv": 64},
    m_kind=MKind.BATCH,
)


@pytest.fixture
def verify_env(fake_dg: ModuleType, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """The fake deep_gemm, with the fake's calls as verify's default (what the CLI gets)."""
    import fake_calls

    monkeypatch.setattr(verify_api, "default_calls", fake_calls.FakeCalls)
    return fake_dg


def warm(dg: ModuleType, plan: Plan, picks: dict[int, list[int]] | None = None) -> None:
    """Compile kernels the way warm does: one call per planned kernel (or the picked M)."""
    import fake_calls

    for index, e in enumerate(plan.entries):
        ms = (
            picks.get(index, [])
            if picks is not None
            else [k.m for k in e.kernels or []] or list(e.mset)
        )
        for m in ms:
            fake_calls.build_call(e, m, num_sms=plan.num_sms)()


def run_verify(plan: Plan, **kw: object):  # type: ignore[no-untyped-def]
    import fake_calls

    calls = fake_calls.FakeCalls()
    return verify_plan(plan, devices=[], jobs=2, calls=calls, **kw)  # type: ignore[arg-type]


def test_cold_cache_lists_every_kernel_with_its_m_values(
    verify_env: ModuleType, dg_cache: Path
) -> None:
    plan = make_plan(GEMM, META)
    report = run_verify(plan)
    assert report.exit_code == 3 and report.calls == 770 and report.calls_ok == 0
    gemm = [k for k in report.missing if k.family == "fp8_gemm_nt"]
    # The library's own choices, captured, group M exactly as the selection model predicts.
    assert sorted(k.m_values.to_json() for k in gemm) == sorted(k.m_ranges for k in GEMM.kernels)
    assert {k.template_args for k in gemm} == {k.template_args for k in GEMM.kernels}
    assert all(k.kernel == "sm90_fp8_gemm_1d2d_impl" for k in gemm)
    meta = sorted(k.m_values.to_json() for k in report.missing if k.family == META.family.value)
    assert meta == [[[1, 32]], [[33, 64]], [[65, 70]]]
    assert not report.cache_changes and os.listdir(dg_cache) == []  # nothing left behind


def test_warmed_kernels_are_not_reported(verify_env: ModuleType, dg_cache: Path) -> None:
    plan = make_plan(GEMM, META)
    warmed = [GEMM.kernels[0], GEMM.kernels[3]]
    warm(verify_env, plan, {0: [k.m for k in warmed], 1: [40]})
    before = CacheSnapshot.take(dg_cache)
    report = run_verify(plan)
    reported = {str(k.m_values.to_json()) for k in report.missing}
    assert all(str(k.m_ranges) not in reported for k in warmed)
    assert "[[33, 64]]" not in reported and len(report.missing) == 3 + 2
    assert report.calls_ok == sum(len(MSet.from_ranges(k.m_ranges)) for k in warmed) + 32
    assert CacheSnapshot.take(dg_cache).files == before.files and not report.cache_changes
    assert not (dg_cache / "tmp").exists() or os.listdir(dg_cache / "tmp") == []


def test_fully_warm_cache_passes(verify_env: ModuleType, dg_cache: Path) -> None:
    plan = make_plan(GEMM, META)
    warm(verify_env, plan)
    report = run_verify(plan)
    assert report.exit_code == 0, report.to_json()
    assert report.calls == report.calls_ok == 770 and report.cache_entries == len(GEMM.kernels) + 3


def test_the_stand_in_answers_like_the_servers_nvcc(
    verify_env: ModuleType, dg_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan = make_plan(GEMM)
    monkeypatch.setenv("FAKE_NVCC_RELEASE", "12.9")  # the server's nvcc, as warm saw it
    warm(verify_env, plan)
    assert run_verify(plan).exit_code == 0
    monkeypatch.setenv("FAKE_NVCC_RELEASE", "13.0")  # another nvcc: every key differs
    report = run_verify(plan)
    assert report.exit_code == 3 and report.calls_missing == 700


def test_calls_that_fail_otherwise_are_not_verified(verify_env: ModuleType) -> None:
    bad = entry(
        Family.M_GROUPED_CONTIGUOUS,
        512,
        7168,
        MSet.of([100]),
        groups=8,
        conv=Conventions(gemm_type="MGroupedContiguous"),
        m_kind=MKind.TOTAL_ROWS,
    )
    report = run_verify(make_plan(bad))
    assert report.exit_code == 1 and not report.missing
    (failed,) = report.failed
    assert failed.m_values == MSet.of([100]) and "contiguous shapes" in failed.reason


def test_record_replay_verify(verify_env: ModuleType, tmp_path: Path) -> None:
    import fake_tensor as ft

    rec = tmp_path / "rec.json"
    guard.install_guard("warn", record_path=rec, module=verify_env)
    for m in (7, 300):  # what a server happened to run
        a = (ft.empty(m, 1536, dtype=ft.float8_e4m3fn), ft.mn_major(m, 12))
        b = (ft.empty(3072, 1536, dtype=ft.float8_e4m3fn), ft.empty(24, 12, dtype=ft.float32))
        verify_env.fp8_gemm_nt(a, b, ft.empty(m, 3072, dtype=ft.bfloat16))
    guard.uninstall_guard()
    plan = plan_from_recording(rec, ServingConfig(max_batched_tokens=512, max_running_seqs=32))
    assert run_verify(plan).exit_code == 3  # two M values ran; the domain needs more kernels
    warm(verify_env, plan)  # replay: one call per kernel over the widened domain
    report = run_verify(plan)
    assert report.exit_code == 0 and report.calls == 512


def test_cli_verify_json(
    verify_env: ModuleType, dg_cache: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from jitwarm.cli import main

    plan_file = tmp_path / "plan.json"
    plan_file.write_text(make_plan(META).to_json())
    with pytest.raises(SystemExit) as done:
        main(
            ["verify", "--plan", str(plan_file), "--cache-dir", str(dg_cache), "--json", "-j", "1"]
        )
    assert done.value.code == 3
    out = json.loads(capsys.readouterr().out)
    assert out["calls"] == 70 and len(out["missing_kernels"]) == 3 and out["cache_unchanged"]
    with pytest.raises(SystemExit) as done:
        main(["verify", "--plan", str(plan_file), "--model", "deepseek-v3"])
    assert done.value.code == 2
    assert (
        capsys.readouterr().err.strip()
        == "jitwarm: error: give either a plan manifest or --model, not both"
    )


def test_no_nvcc_is_a_usage_error(verify_env: ModuleType, tmp_path: Path) -> None:
    from jitwarm.verify._api import NoNvccError

    with pytest.raises(NoNvccError, match="--version"):
        run_verify(make_plan(META), real_nvcc=tmp_path / "missing-nvcc")
