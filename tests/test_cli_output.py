"""The human output tells the truth: a plan's notes are shown, a stray file is not a family."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import pytest
from tests._cli import run


def test_a_bf16_model_says_why_nothing_is_planned(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    preset = resources.files("jitwarm.models") / "presets" / "deepseek-v3.json"
    cfg = json.loads(preset.read_text())
    del cfg["quantization_config"]  # a BF16 checkpoint
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    code, out, _ = run(capsys, "plan", "--model", str(tmp_path))
    assert code == 0
    assert "nothing to plan" in out and "not FP8 block-quantized" in out
    assert "estimated cold compile" not in out


def test_the_plan_table_shows_what_is_left_out(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "plan", "--model", "deepseek-v4-flash", "--tp", "8")
    assert code == 0
    notes = [line for line in out.splitlines() if line.startswith("note: ")]
    assert any("MXFP4" in n for n in notes)


def test_a_stray_file_in_the_cache_is_not_a_kernel_family(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / "notes.txt").write_text("mine")
    (tmp_path / "cache" / "sm90_fp8_gemm_1d2d.ffee").mkdir()
    code, out, _ = run(capsys, "cache", "stats", "--cache-dir", str(tmp_path), "--json")
    assert code == 0
    families = [f["family"] for f in json.loads(out)["families"]]
    assert families == ["(sm90_fp8_gemm_1d2d)"]
    code, out, _ = run(capsys, "cache", "ls", "--cache-dir", str(tmp_path))
    (row,) = [line for line in out.splitlines() if "notes.txt" in line]
    assert "stray" in row and "(notes" not in row
