"""The guard on the fake deep_gemm: compile detection, attribution, readiness, modes, metrics,
summary, the import hook and the interpreter-start hook."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from types import ModuleType

import pytest

from fakes.helpers import fake_env
from jitwarm import guard
from jitwarm.errors import InlineJITError
from jitwarm.guard import GuardMode, Readiness

SRC = Path(__file__).resolve().parents[1] / "src"

pytest_plugins = ["fakes.fixtures"]


def gemm(dg: ModuleType, m: int, n: int = 512, k: int = 7168) -> None:
    import fake_tensor as ft

    a = (ft.empty(m, k, dtype=ft.float8_e4m3fn), ft.mn_major(m, k // 128))
    b = (ft.empty(n, k, dtype=ft.float8_e4m3fn), ft.empty(n // 128, k // 128, dtype=ft.float32))
    dg.fp8_gemm_nt(a, b, ft.empty(m, n, dtype=ft.bfloat16))


def entries(root: Path) -> set[str]:
    return set(os.listdir(root / "cache")) if (root / "cache").exists() else set()


def test_wraps_kernel_entry_points_only(fake_dg: ModuleType) -> None:
    original = fake_dg.fp8_gemm_nt
    g = guard.install_guard("warn", module=fake_dg)
    assert fake_dg.fp8_gemm_nt is not original
    assert fake_dg.fp8_gemm_nt.__wrapped__ is original
    assert fake_dg.fp8_gemm_nt.__name__ == "fp8_gemm_nt"
    for name in (
        "set_num_sms",
        "get_num_sms",
        "ceil_div",
        "set_mk_alignment_for_contiguous_layout",
    ):
        assert not hasattr(getattr(fake_dg, name), "__wrapped__"), name
    kernels = {
        "fp8_gemm_nt",
        "m_grouped_fp8_gemm_nt_contiguous",
        "m_grouped_fp8_gemm_nt_masked",
        "fp8_einsum",
        "tf32_hc_prenorm_gemm",
        "fp8_mqa_logits",
        "fp8_paged_mqa_logits",
        "get_paged_mqa_logits_metadata",
    }
    assert set(fake_dg.__dict__) >= kernels
    assert {n for n, v in vars(fake_dg).items() if hasattr(v, "__wrapped__")} == kernels
    assert g.modules == ["deep_gemm"]
    guard.uninstall_guard()
    assert fake_dg.fp8_gemm_nt is original


def test_inline_compile_is_caught_with_signature_and_stack(
    fake_dg: ModuleType, dg_cache: Path
) -> None:
    g = guard.install_guard("warn", module=fake_dg)
    gemm(fake_dg, 5)  # compiles (cold cache)
    gemm(fake_dg, 6)  # same kernel (M <= 16): in-process hit
    assert g.counts.calls["fp8_gemm_nt"] == 2
    assert len(g.events) == 1
    ev = g.events[0]
    assert ev.family == "fp8_gemm_nt" and ev.phase == "inline" and ev.attributed
    assert ev.new_entries == sorted(entries(dg_cache))
    x, sfa = ev.signature["args"][0]
    assert x == {"shape": [5, 7168], "dtype": "float8_e4m3fn", "stride": [7168, 1]}
    assert sfa["stride"] == [1, 8]  # MN-major scales, rows padded to 4
    assert ev.signature["args"][2]["dtype"] == "bfloat16"
    assert any("test_guard.py" in frame and "gemm" in frame for frame in ev.stack)
    assert ev.wall_s > 0 and ev.child_cpu_s > 0
    assert g.summary()["inline_by_family"] == {"fp8_gemm_nt": 1}


def test_cache_folder_removed_and_recreated(fake_dg: ModuleType, dg_cache: Path) -> None:
    import shutil

    g = guard.install_guard("warn", module=fake_dg)
    gemm(fake_dg, 5)  # creates cache/ (it did not exist when the guard started)
    shutil.rmtree(dg_cache / "cache")  # an operator wipes the cache under a live server
    gemm(fake_dg, 4000)  # a new kernel, published into a new cache/
    assert [e.signature["args"][0][0]["shape"][0] for e in g.events] == [5, 4000]
    assert g.events[1].new_entries == sorted(entries(dg_cache))


def test_disk_hit_in_a_new_process_is_not_a_compile(fake_dg: ModuleType) -> None:
    gemm(fake_dg, 100)  # compiled before the guard
    fake_dg._reset_for_tests()  # a fresh process: loads from disk, compiles nothing
    g = guard.install_guard("warn", module=fake_dg)
    gemm(fake_dg, 100)
    assert g.events == [] and g.counts.calls["fp8_gemm_nt"] == 1


def test_entry_published_by_another_process_is_not_counted(
    fake_dg: ModuleType, dg_cache: Path
) -> None:
    def other_rank_publishes(*_args: object) -> None:
        (dg_cache / "cache" / "kernel.sm90_fp8_gemm_1d2d.0123").mkdir(parents=True)

    fake_dg.fp8_gemm_nt = other_rank_publishes
    g = guard.install_guard("warn", module=fake_dg)
    fake_dg.fp8_gemm_nt()
    assert g.events == [] and g.counts.foreign == 1


def test_entries_published_between_calls_are_never_inline(
    fake_dg: ModuleType, dg_cache: Path
) -> None:
    # Seen on the H100: a server warmed in worker processes, then its first call after
    # readiness reaped a child (child CPU rose) and saw every warmed entry as new.
    def cached_call_that_reaps_a_child(*_args: object) -> None:
        subprocess.run([sys.executable, "-c", "sum(range(3_000_000))"], check=True)

    fake_dg.fp8_gemm_nt = cached_call_that_reaps_a_child
    g = guard.install_guard("warn", module=fake_dg)
    for i in range(3):  # a warm pool publishing between calls
        (dg_cache / "cache" / f"kernel.sm90_fp8_gemm_1d2d.{i:04d}").mkdir(parents=True)
    fake_dg.fp8_gemm_nt()
    assert g.events == [] and g.counts.foreign == 3
    assert sum(g.counts.inline.values()) == 0


def test_nvrtc_builds_count_unattributed_entries(fake_dg: ModuleType, dg_cache: Path) -> None:
    def nvrtc_compile(*_args: object) -> None:  # in-process compile: no child process
        (dg_cache / "cache" / "kernel.x.1").mkdir(parents=True)

    fake_dg.fp8_gemm_nt = nvrtc_compile
    g = guard.install_guard("warn", module=fake_dg)
    g.nvrtc = True
    fake_dg.fp8_gemm_nt()
    assert len(g.events) == 1 and not g.events[0].attributed


def test_readiness_mark(fake_dg: ModuleType) -> None:
    g = guard.install_guard("error", readiness="mark", module=fake_dg)
    gemm(fake_dg, 5)  # warmup: counted, never raised
    assert g.counts.warmup["fp8_gemm_nt"] == 1 and not g.ready
    guard.mark_ready()
    gemm(fake_dg, 6)  # cached: fine
    with pytest.raises(InlineJITError, match="inline JIT compile of fp8_gemm_nt"):
        gemm(fake_dg, 4000)
    s = g.summary()
    assert (s["warmup_compiles"], s["inline_compiles"]) == (1, 1)
    assert s["ready_unix_s"] is not None


def test_readiness_file_and_after(fake_dg: ModuleType, tmp_path: Path) -> None:
    flag = tmp_path / "ready"
    g = guard.install_guard("warn", readiness=f"file:{flag}", module=fake_dg)
    gemm(fake_dg, 5)
    flag.touch()
    gemm(fake_dg, 4000)
    assert [e.phase for e in g.events] == ["warmup", "inline"]
    g = guard.install_guard("warn", readiness="after:3600", module=fake_dg)
    gemm(fake_dg, 200)
    assert [e.phase for e in g.events] == ["warmup"]


def test_error_mode_raises_after_the_call_and_the_kernel_is_cached(
    fake_dg: ModuleType, dg_cache: Path
) -> None:
    guard.install_guard("error", module=fake_dg)
    with pytest.raises(InlineJITError) as info:
        gemm(fake_dg, 5)
    assert info.value.exit_code == 3
    assert len(entries(dg_cache)) == 1  # the call itself completed
    gemm(fake_dg, 5)  # now warm: no error


def test_prometheus_counter(fake_dg: ModuleType) -> None:
    from prometheus_client import REGISTRY

    def value() -> float:
        v = REGISTRY.get_sample_value("jitwarm_inline_compiles_total", {"family": "fp8_gemm_nt"})
        return v or 0.0

    before = value()
    guard.install_guard("warn", module=fake_dg)
    gemm(fake_dg, 5)
    gemm(fake_dg, 4000)
    assert value() == before + 2


def test_summary_is_written_on_each_compile_and_at_close(
    fake_dg: ModuleType, tmp_path: Path
) -> None:
    path = tmp_path / "summary.json"
    g = guard.install_guard("warn", summary_path=path, module=fake_dg)
    gemm(fake_dg, 5)
    assert json.loads(path.read_text())["inline_compiles"] == 1  # written at the event
    gemm(fake_dg, 6)
    g.close()
    s = json.loads(path.read_text())
    assert s["kind"] == "jitwarm-guard-summary" and s["calls_total"] == 2
    assert s["events"][0]["new_entries"]


def test_import_hook_wraps_at_import(fake_dg: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    sys.modules.pop("deep_gemm")
    g = guard.install_guard("warn")
    from deep_gemm import fp8_gemm_nt  # what engines do

    assert hasattr(fp8_gemm_nt, "__wrapped__")
    assert g.modules == ["deep_gemm"]


def test_readiness_and_env_parsing() -> None:
    from jitwarm.guard._env import EnvValueError, read_settings

    assert Readiness.parse("after:2.5") == Readiness("after", seconds=2.5)
    assert Readiness.parse("file:/x").path == Path("/x")
    with pytest.raises(EnvValueError, match="JITWARM_GUARD_READY"):
        Readiness.parse("soon")
    with pytest.raises(EnvValueError, match="JITWARM_GUARD="):
        read_settings({"JITWARM_GUARD": "eror"})
    s = read_settings({"JITWARM_RECORD": "/r.json"})
    assert s.mode is GuardMode.OFF and s.active


def _run_python(code: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


SERVER = textwrap.dedent("""
    import fake_tensor as ft
    import deep_gemm
    def gemm(m):
        a = (ft.empty(m, 7168, dtype=ft.float8_e4m3fn), ft.mn_major(m, 56))
        b = (ft.empty(512, 7168, dtype=ft.float8_e4m3fn), ft.empty(4, 56, dtype=ft.float32))
        deep_gemm.fp8_gemm_nt(a, b, ft.empty(m, 512, dtype=ft.bfloat16))
    gemm(5)
    print("served")
""")


def test_env_var_at_interpreter_start_chains_existing_sitecustomize(
    tmp_path: Path, dg_cache: Path
) -> None:
    other = tmp_path / "other-site"
    other.mkdir()
    (other / "sitecustomize.py").write_text("import os\nos.environ['CHAINED'] = 'yes'\n")
    env = fake_env(dg_cache)
    summary = tmp_path / "summaries"
    summary.mkdir()
    env.update(
        JITWARM_GUARD="error",
        JITWARM_GUARD_SUMMARY=str(summary),
        PYTHONPATH=os.pathsep.join([str(guard.site_dir()), str(other), env["PYTHONPATH"]]),
    )
    done = _run_python(SERVER + "\nimport os; print(os.environ.get('CHAINED'))", env, tmp_path)
    assert done.returncode != 0 and "InlineJITError" in done.stderr
    (one,) = summary.glob("jitwarm-guard-*.json")
    assert json.loads(one.read_text())["inline_by_family"] == {"fp8_gemm_nt": 1}
    env["JITWARM_GUARD"] = "warn"
    done = _run_python(SERVER + "\nimport os; print(os.environ.get('CHAINED'))", env, tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["served", "yes"]  # cached now, and the chained hook ran


def test_bad_env_value_never_stops_the_server(tmp_path: Path, dg_cache: Path) -> None:
    env = fake_env(dg_cache)
    env.update(
        JITWARM_GUARD="eror",
        PYTHONPATH=os.pathsep.join([str(guard.site_dir()), env["PYTHONPATH"]]),
    )
    done = _run_python(SERVER, env, tmp_path)
    assert done.returncode == 0 and "served" in done.stdout
    assert done.stderr.count("\n") == 1 and "JITWARM_GUARD='eror'" in done.stderr


def test_guard_imports_neither_torch_nor_deep_gemm() -> None:
    code = (
        "import sys, jitwarm.guard, jitwarm.record, jitwarm.verify\n"
        "print('torch' in sys.modules, 'deep_gemm' in sys.modules)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": str(SRC)},
    )
    assert done.stdout.split() == ["False", "False"]
