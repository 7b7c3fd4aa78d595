"""Which kernels of a plan warm compiles ahead, for which installs and settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from _wheels import unpacked_wheel
from fakes.helpers import FAKE_NVCC
from jitwarm import dgenv
from jitwarm.ahead._compiler import AheadCompiler, plan_jobs
from jitwarm.ahead._source import SourceRenderer
from jitwarm.models._loader import load_model
from jitwarm.plan import Plan, plan_serving
from jitwarm.serving import ServingConfig
from jitwarm.warmer._items import plan_work_items


@pytest.fixture
def install(monkeypatch: pytest.MonkeyPatch) -> Path:
    """The deep_gemm folder of the pinned 2.5.0 wheel (its real extension and headers), as the
    one this interpreter would import."""
    pkg = unpacked_wheel("2.5.0") / "deep_gemm"
    monkeypatch.setattr(dgenv, "deepgemm_dir", lambda: pkg)
    for var in dgenv.key_env():
        monkeypatch.delenv(var, raising=False)
    return pkg


def _plan(arch: str = "sm90") -> Plan:
    return plan_serving(load_model("deepseek-v3"), ServingConfig(tp=8, arch=arch))


def _for_plan(
    plan: Plan, tmp_path: Path, env: dict[str, str] | None = None
) -> AheadCompiler | None:
    return AheadCompiler.for_plan(
        plan,
        plan_work_items(plan, sweep_parts=4),
        cache_root=tmp_path / "cache-root",
        stage_dir=tmp_path / "stage",
        slots=4,
        env={dgenv.NVCC_VAR: str(FAKE_NVCC), **(env or {})},
    )


def test_every_kernel_of_deepseek_v3_is_compiled_ahead(install: Path, tmp_path: Path) -> None:
    plan = _plan()
    compiler = _for_plan(plan, tmp_path)
    assert compiler is not None
    assert len(compiler.jobs) == plan.num_kernels == 167
    assert compiler.covers(plan_work_items(plan, sweep_parts=16))
    ests = [j.est_s for j in compiler.jobs]
    assert ests == sorted(ests, reverse=True)  # longest first, as the workers' queue
    assert compiler.nvcc == FAKE_NVCC
    assert all(f"-I{(install / 'include').absolute()}" in j.flags for j in compiler.jobs)


def test_sources_already_cached_are_not_compiled_again(install: Path, tmp_path: Path) -> None:
    plan = _plan()
    first = _for_plan(plan, tmp_path)
    assert first is not None
    entry = tmp_path / "cache-root" / "cache" / "kernel.sm90_fp8_gemm_1d2d.0123"
    entry.mkdir(parents=True)
    (entry / "kernel.cu").write_text(first.jobs[0].source)
    again = _for_plan(plan, tmp_path)
    assert again is not None
    assert (len(again.jobs), again.stats.already_cached) == (166, 1)
    assert again.covers(plan_work_items(plan, sweep_parts=16))  # the cached one counts as covered


def test_nothing_ahead_off_sm90_with_key_changing_settings_or_another_build(
    install: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    plan = _plan()
    assert _for_plan(plan.model_copy(update={"arch": "sm100"}), tmp_path) is None
    assert _for_plan(plan, tmp_path, {"DG_JIT_DEBUG": "1"}) is None
    other = unpacked_wheel("2.8.0") / "deep_gemm"  # DeepJIT's: its extension renders no source
    monkeypatch.setattr(dgenv, "deepgemm_dir", lambda: other)
    assert _for_plan(plan, tmp_path) is None
    monkeypatch.setattr(dgenv, "deepgemm_dir", lambda: None)
    assert _for_plan(plan, tmp_path) is None


def test_sweep_items_are_not_covered(install: Path, tmp_path: Path) -> None:
    plan = _plan()
    compiler = _for_plan(plan, tmp_path)
    assert compiler is not None
    swept = plan_work_items(plan, sweep_parts=2, full_sweep=True)
    assert not compiler.covers(swept)


def test_plan_jobs_share_one_job_per_source(tmp_path: Path) -> None:
    plan = _plan()
    renderer = SourceRenderer(tmp_path, include_hash="0" * 32)
    items = plan_work_items(plan)
    jobs = plan_jobs(items, renderer)
    assert len({j.key for j in jobs}) == len(jobs)
    assert sorted(k for j in jobs for k in j.kernel_keys) == sorted(
        i.kernel_key for i in items if i.kernel_key
    )
