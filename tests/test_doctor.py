"""``jitwarm doctor``: the server's environment against the one a cache was built with."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from jitwarm import dgenv
from jitwarm.bundle import Provenance
from jitwarm.cli import main
from jitwarm.doctor import FAIL, OK, WARN, diagnose

BUILT = Provenance(
    arch="sm90",
    num_sms=132,
    deepgemm_distribution="tokenspeed-deepgemm",
    deepgemm_version="2.5.0.post20260604",
    deepgemm_path="/venv/site-packages/deep_gemm",
    nvcc_path="/usr/local/cuda-13.0/bin/nvcc",
    nvcc_version="Cuda compilation tools, release 13.0, V13.0.88",
    cuda_version="13.0",
    key_env={},
    layout=dgenv.Layout.UPSTREAM,
)


def roots(tmp_path: Path) -> dgenv.CacheRoots:
    return dgenv.CacheRoots(tmp_path / "root")


def by_check(findings: list, check: str) -> list:
    return [f for f in findings if f.check == check]


def test_same_environment_is_clean(tmp_path: Path) -> None:
    findings = diagnose(BUILT, BUILT, roots(tmp_path), source="x")
    assert {f.status for f in findings} == {OK}, findings


@pytest.mark.parametrize(
    ("change", "check", "fix_has"),
    [
        ({"num_sms": 120}, "num_sms", "set_num_sms(132)"),
        ({"arch": "sm100"}, "gpu_arch", "built on sm100"),
        (
            {"cuda_version": "12.9", "nvcc_version": "release 12.9"},
            "nvcc",
            "DG_JIT_NVCC_COMPILER=/usr/local/cuda-13.0/bin/nvcc",
        ),
        (
            {"deepgemm_version": "2.3.0"},
            "deepgemm",
            "pip install tokenspeed-deepgemm==2.5.0.post20260604",
        ),
        ({"deepgemm_path": "/other/deep_gemm"}, "deepgemm", "/venv/site-packages/deep_gemm"),
        ({"key_env": {"DG_JIT_DEBUG": "1"}}, "key_env", "unset DG_JIT_DEBUG"),
    ],
)
def test_each_key_changing_mismatch_fails_with_its_fix(
    tmp_path: Path, change: dict, check: str, fix_has: str
) -> None:
    host = BUILT.model_copy(update=change)
    findings = diagnose(BUILT, host, roots(tmp_path), source="x")
    (bad,) = [f for f in findings if f.status == FAIL]
    assert bad.check == check and bad.recompiles and fix_has in (bad.fix or "")


def test_key_env_set_when_building_and_missing_now(tmp_path: Path) -> None:
    built = BUILT.model_copy(update={"key_env": {"DG_JIT_CPP_STANDARD": "17"}})
    (bad,) = [f for f in diagnose(built, BUILT, roots(tmp_path), source="x") if f.status == FAIL]
    assert bad.fix.startswith("export DG_JIT_CPP_STANDARD=17")


def test_unknown_host_facts_are_warnings_and_host_problems_fail(tmp_path: Path) -> None:
    host = BUILT.model_copy(update={"num_sms": None, "nvcc_version": None, "cuda_version": None})
    findings = diagnose(BUILT, host, roots(tmp_path), source="x")
    assert by_check(findings, "num_sms")[0].status == WARN
    nvcc = by_check(findings, "nvcc")
    assert nvcc[0].status == FAIL and not nvcc[0].recompiles and "nvcc --version" in nvcc[0].message


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes anywhere")
def test_read_only_cache_root_fails(tmp_path: Path) -> None:
    root = tmp_path / "ro"
    root.mkdir(mode=0o500)
    findings = diagnose(BUILT, BUILT, dgenv.CacheRoots(root), source="x")
    assert by_check(findings, "cache_root")[0].status == FAIL


def test_missing_read_only_root(tmp_path: Path) -> None:
    host = BUILT.model_copy(update={"layout": dgenv.Layout.DEEPJIT})
    built = BUILT.model_copy(update={"layout": dgenv.Layout.DEEPJIT})
    r = dgenv.CacheRoots(tmp_path / "w", (tmp_path / "gone",))
    (bad,) = [f for f in diagnose(built, host, r, source="x") if f.status == FAIL]
    assert bad.check == "read_only_roots"


def test_no_provenance_is_a_warning(tmp_path: Path) -> None:
    (w,) = [
        f for f in diagnose(None, BUILT, roots(tmp_path), source="p") if f.check == "provenance"
    ]
    assert w.status == WARN and "jitwarm warm" in w.fix


def test_cli_reads_the_provenance_file_at_the_cache_root(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "root"
    root.mkdir()
    built = BUILT.model_copy(update={"key_env": {"DG_JIT_WITH_LINEINFO": "1"}})
    (root / "jitwarm-provenance.json").write_text(built.model_dump_json())
    monkeypatch.delenv("DG_JIT_WITH_LINEINFO", raising=False)
    with pytest.raises(SystemExit) as done:
        main(["doctor", "--cache-dir", str(root), "--arch", "sm90", "--num-sms", "132", "--json"])
    assert done.value.code == 1
    out = json.loads(capsys.readouterr().out)
    assert out["recompiles"] and out["built_with"].endswith("jitwarm-provenance.json")
    (env,) = [f for f in out["findings"] if f["check"] == "key_env"]
    assert env["fix"].startswith("export DG_JIT_WITH_LINEINFO=1")


def test_cli_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "p.json"
    bad.write_text('{"num_sms": "many"}')
    for argv in (["--provenance", str(bad)], ["--provenance", str(bad), "--bundle", str(bad)]):
        with pytest.raises(SystemExit) as done:
            main(["doctor", "--arch", "sm90", "--num-sms", "132", *argv])
        assert done.value.code == 2
    err = capsys.readouterr().err.splitlines()
    assert "invalid provenance at 'num_sms'" in err[0] and "not both" in err[1]


def test_warm_leaves_provenance_doctor_reads(tmp_path: Path) -> None:
    from jitwarm.bundle import PROVENANCE_FILE, Provenance, write_cache_provenance

    prov = Provenance(arch="sm90", num_sms=132, deepgemm_version="2.5.0", key_env={})
    path = write_cache_provenance(tmp_path, prov)
    assert path == tmp_path / PROVENANCE_FILE
    assert Provenance.model_validate_json(path.read_text()) == prov
    assert not [p for p in tmp_path.iterdir() if p.name != PROVENANCE_FILE]  # no temp left


def _doctor_json(capsys: pytest.CaptureFixture[str], tmp_path: Path, *extra: str) -> dict:
    with pytest.raises(SystemExit):
        main(["doctor", "--cache-dir", str(tmp_path / "root"), "--arch", "sm90", "--num-sms", "132", "--json", *extra])  # fmt: skip
    return json.loads(capsys.readouterr().out)


def test_doctor_finds_vllms_vendored_copy(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from _sites import vllm_site

    vllm_site(tmp_path / "site")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    monkeypatch.setenv("JITWARM_DEEPGEMM", "")  # restored after the test, as --deepgemm sets it
    out = _doctor_json(capsys, tmp_path)
    assert out["deepgemm"]["module"] == "vllm.third_party.deep_gemm"
    assert out["deepgemm"]["profile"] == "vllm-deepgemm-2.8.1"
    (dg,) = [f for f in out["findings"] if f["check"] == "deepgemm"]
    assert (
        dg["status"] == OK
        and "vllm 2.8.1" in dg["message"]
        and "not installed" not in dg["message"]
    )
    # 2.8.1's selection is validated by its own captured entries: no selection warning
    assert not [f for f in out["findings"] if f["check"] == "selection"]


def test_doctor_names_an_unknown_build_and_a_missing_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from _sites import deepgemm_site

    monkeypatch.setenv("JITWARM_DEEPGEMM", "")  # restored after the test, as --deepgemm sets it
    deepgemm_site(tmp_path / "site", "tokenspeed-deepgemm", "2.9.1.post20270101")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    out = _doctor_json(capsys, tmp_path)
    (dg,) = [f for f in out["findings"] if f["check"] == "deepgemm"]
    assert dg["status"] == WARN and "unknown build: tokenspeed-deepgemm 2.9.1" in dg["message"]
    assert any(f["check"] == "selection" for f in out["findings"])
    out = _doctor_json(capsys, tmp_path, "--deepgemm", "no_such.deep_gemm")
    (dg,) = [f for f in out["findings"] if f["check"] == "deepgemm"]
    assert dg["status"] == FAIL and "no_such.deep_gemm" in dg["message"]


def test_a_cache_of_another_build_fails_doctor(tmp_path: Path) -> None:
    built = BUILT.model_copy(update={"deepgemm_build": "tokenspeed-deepgemm-2.8.0"})
    host = BUILT.model_copy(update={"deepgemm_build": "tokenspeed-deepgemm-2.8.2"})
    (bad,) = [f for f in diagnose(built, host, roots(tmp_path), source="x") if f.status == FAIL]
    assert bad.check == "build" and bad.recompiles and "2.8.0" in bad.message
