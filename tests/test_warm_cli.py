"""`jitwarm warm` in-process, with the fake compile step: exit codes, stdout and stderr apart."""

import json
from pathlib import Path

import pytest
from tests._warm_plans import exact_plan

from _cli import run
from jitwarm.warmer import FakeBackend
from jitwarm.warmer import _api as warm_api


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> dict[str, FakeBackend]:
    chosen = {"backend": FakeBackend()}
    monkeypatch.setattr(warm_api, "default_backend", lambda capture=False: chosen["backend"])
    for var in ("DG_JIT_DEBUG", "DG_JIT_WITH_LINEINFO", "CUDA_VISIBLE_DEVICES"):
        monkeypatch.delenv(var, raising=False)
    return chosen


def _plan_file(tmp_path: Path) -> Path:
    path = tmp_path / "plan.json"
    path.write_text(exact_plan().to_json())
    return path


def test_warm_plan_file_json_report(capsys, tmp_path: Path, fake) -> None:  # type: ignore[no-untyped-def]
    code, out, err = run(
        capsys,
        "warm",
        "--plan",
        str(_plan_file(tmp_path)),
        "--jobs",
        "2",
        "--cache-dir",
        str(tmp_path / "c"),
        "--json",
    )
    assert code == 0 and err == ""
    body = json.loads(out)
    assert body["ok"] and body["compiled"] == exact_plan().num_kernels and body["jobs"] == 2
    code, out, _ = run(
        capsys,
        "warm",
        "--manifest",
        str(_plan_file(tmp_path)),
        "-j",
        "2",
        "--cache-dir",
        str(tmp_path / "c"),
        "--json",
    )
    assert code == 0 and json.loads(out)["compiled"] == 0
    # what the cache was built with, for `jitwarm doctor`
    built = json.loads((tmp_path / "c" / "jitwarm-provenance.json").read_text())
    assert built["arch"] == exact_plan().arch and built["num_sms"] == exact_plan().num_sms


def test_warm_model_flags_human_report(capsys, tmp_path: Path, fake) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = run(
        capsys,
        "warm",
        "--model",
        "deepseek-v3",
        "--tp",
        "8",
        "--max-batched-tokens",
        "512",
        "--max-running-seqs",
        "16",
        "-j",
        "2",
        "--cache-dir",
        str(tmp_path),
    )
    assert code == 0
    assert "fp8_gemm_nt" in out and f"{exact_plan().num_kernels} kernels compiled" in out


def test_a_failed_kernel_exits_1_and_names_it(capsys, tmp_path: Path, fake) -> None:  # type: ignore[no-untyped-def]
    first = exact_plan().entries[0]
    m = first.kernels[0].m  # type: ignore[index]
    fake["backend"] = FakeBackend(fail_on=frozenset({(first.key, m)}))
    code, out, err = run(
        capsys,
        "warm",
        "--plan",
        str(_plan_file(tmp_path)),
        "-j",
        "2",
        "--cache-dir",
        str(tmp_path / "c"),
    )
    assert code == 1
    assert "1 failed" in out and "planted failure" in err


@pytest.mark.parametrize(
    ("argv", "env", "needle"),
    [
        (["warm"], {}, "--model or --plan is required"),
        (["warm", "--model", "deepseek-v3", "--plan", "x.json"], {}, "not both"),
        (["warm", "--plan", "missing.json"], {}, "cannot read plan"),
        (["warm", "--model", "deepseek-v3", "--tp", "8"], {"DG_JIT_DEBUG": "1"}, "DG_JIT_DEBUG=1"),
    ],
)
def test_usage_errors_exit_2_on_one_line(
    capsys, monkeypatch, tmp_path, fake, argv, env, needle
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    code, out, err = run(capsys, *argv, "--cache-dir", str(tmp_path))
    assert code == 2 and out == ""
    assert needle in err and len(err.strip().splitlines()) == 1


def test_key_changing_variable_allowed_when_asked(capsys, monkeypatch, tmp_path, fake) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("DG_JIT_DEBUG", "1")
    code, out, _ = run(
        capsys,
        "warm",
        "--plan",
        str(_plan_file(tmp_path)),
        "-j",
        "2",
        "--json",
        "--cache-dir",
        str(tmp_path / "c"),
        "--allow-key-changing-env",
    )
    assert code == 0 and json.loads(out)["ok"]


def test_warm_leader_only_alone_leads_and_the_report_says_what_was_compiled_elsewhere(
    capsys, tmp_path: Path, fake
) -> None:  # type: ignore[no-untyped-def]
    args = ["warm", "--plan", str(_plan_file(tmp_path)), "-j", "2", "--cache-dir"]
    code, out, _ = run(capsys, *args, str(tmp_path / "c"), "--leader-only", "--json")
    body = json.loads(out)
    assert code == 0 and body["peer_role"] == "leader" and body["compiled_elsewhere"] == 0
    code, out, _ = run(capsys, *args, str(tmp_path / "c"))
    assert code == 0 and "0 compiled elsewhere (by another process, waited for)" in out
