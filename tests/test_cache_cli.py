"""`jitwarm cache ...` in-process: exit codes, stdout and stderr apart, no hang without a TTY."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from _cli import run
from _cubin import age, gemm_source, real_cubin, write_entry

ARGS = (
    "cute::UMMA::Major::K, 0, 4096, 7168, 1, 16, 32, 128, 128, 128, 64, 16, 128, 128, 1, "
    "false, 132, GemmType::Normal, cutlass::bfloat16_t, epilogue::transform::EpilogueIdentity"
)


@pytest.fixture()
def root(tmp_path: Path) -> Path:
    ok = write_entry(
        tmp_path, "sm90_fp8_gemm_1d2d", "a" * 32, source=gemm_source(ARGS), cubin=real_cubin()
    )
    age(ok, 20 * 86400)
    write_entry(tmp_path, "sm90_fp8_gemm_1d2d", "b" * 32, source=gemm_source(ARGS), cubin=b"")
    return tmp_path


def test_ls_and_stats_json(capsys: pytest.CaptureFixture[str], root: Path) -> None:
    code, out, err = run(capsys, "cache", "ls", "--cache-dir", str(root), "--json")
    assert code == 0 and err == ""
    data = json.loads(out)
    assert {e["status"] for e in data["entries"]} == {"ok", "poisoned"}
    assert all(e["family"] == "fp8_gemm_nt" for e in data["entries"])
    code, out, _ = run(capsys, "cache", "stats", "--cache-dir", str(root), "--json")
    stats = json.loads(out)
    assert code == 0 and stats["by_status"]["ok"] == 1 and stats["families"][0]["entries"] == 2


def test_ls_table_and_missing_root(capsys: pytest.CaptureFixture[str], root: Path) -> None:
    code, out, _ = run(capsys, "cache", "ls", "--cache-dir", str(root), "--args")
    assert code == 0 and "fp8_gemm_nt" in out and "GemmType::Normal" in out
    code, out, err = run(capsys, "cache", "ls", "--cache-dir", str(root / "nope"))
    assert code == 2 and out == "" and err.count("\n") == 1 and "no DeepGEMM cache" in err


def test_check_exit_codes_and_fix(capsys: pytest.CaptureFixture[str], root: Path) -> None:
    code, out, _ = run(capsys, "cache", "check", "--cache-dir", str(root))
    assert code == 1 and "poisoned" in out
    code, _, err = run(capsys, "cache", "check", "--cache-dir", str(root), "--fix")
    assert code == 2 and "--yes" in err  # no TTY under pytest: refuse, do not hang
    assert len(list((root / "cache").iterdir())) == 2
    code, out, _ = run(capsys, "cache", "check", "--cache-dir", str(root), "--fix", "--dry-run")
    assert code == 1 and "would quarantine" in out and len(list((root / "cache").iterdir())) == 2
    code, out, _ = run(
        capsys, "cache", "check", "--cache-dir", str(root), "--fix", "--yes", "--json"
    )
    assert code == 0 and json.loads(out)["quarantined"][0]["moved_to"]
    code, _, _ = run(capsys, "cache", "check", "--cache-dir", str(root))
    assert code == 0


def test_prune_previews_refuses_then_deletes(
    capsys: pytest.CaptureFixture[str], root: Path
) -> None:
    base = ("cache", "prune", "--cache-dir", str(root), "--older-than", "7d")
    code, out, _ = run(capsys, *base, "--dry-run")
    assert code == 0 and "would free" in out
    code, _, err = run(capsys, *base)
    assert code == 2 and "stdin is not a terminal" in err
    assert len(list((root / "cache").iterdir())) == 2
    code, out, _ = run(capsys, *base, "--yes", "--json")
    data = json.loads(out)
    assert code == 0 and data["removed"] == 1 and data["planned"][0]["reason"] == "unused"
    assert len(list((root / "cache").iterdir())) == 1
    code, _, err = run(capsys, "cache", "prune", "--cache-dir", str(root), "--older-than", "soon")
    assert code == 2 and "--older-than" in err
