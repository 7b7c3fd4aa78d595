"""warm and verify name what the host lacks (torch, DeepGEMM, a GPU) before creating anything."""

from __future__ import annotations

import importlib.util
import sys
import tempfile
from pathlib import Path

import pytest
from tests._cli import run
from tests._wheels import vllm_281_dir

from jitwarm import gpu_host
from jitwarm.gpu_host import missing_gpu_piece

FAKES = str(Path(__file__).parent / "fakes")


@pytest.fixture
def gpu_root(tmp_path: Path) -> Path:
    """A filesystem root whose /dev holds one NVIDIA GPU node."""
    (tmp_path / "dev").mkdir()
    (tmp_path / "dev" / "nvidia0").touch()
    return tmp_path


def test_torch_missing_is_named_with_its_fix(
    monkeypatch: pytest.MonkeyPatch, gpu_root: Path
) -> None:
    monkeypatch.setattr(gpu_host, "_importable", lambda name: name != "torch")
    problem = missing_gpu_piece("warm", root=gpu_root)
    assert problem is not None and "torch" in problem and "pip install 'jitwarm[gpu]'" in problem


def test_deepgemm_missing_is_named(monkeypatch: pytest.MonkeyPatch, gpu_root: Path) -> None:
    if importlib.util.find_spec("torch") is None:
        pytest.skip("torch is not installed")
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p != FAKES])
    monkeypatch.delitem(sys.modules, "deep_gemm", raising=False)
    problem = missing_gpu_piece("verify", root=gpu_root)
    assert problem is not None and "DeepGEMM" in problem and "pip install" in problem


def test_no_gpu_is_named(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, gpu_root: Path) -> None:
    if importlib.util.find_spec("torch") is None:
        pytest.skip("torch is not installed")
    monkeypatch.syspath_prepend(FAKES)  # a deep_gemm module
    assert missing_gpu_piece("warm", env={}, root=gpu_root) is None
    assert "shows none" in (missing_gpu_piece("warm", env={}, root=tmp_path / "empty") or "")
    hidden = missing_gpu_piece("warm", env={"CUDA_VISIBLE_DEVICES": ""}, root=gpu_root)
    assert hidden is not None and "hides every one" in hidden
    # GPUs the caller names itself are not looked for.
    assert missing_gpu_piece("warm", env={}, devices=["0"], root=tmp_path / "empty") is None


@pytest.mark.parametrize("verb", ["warm", "verify"])
def test_warm_and_verify_fail_in_one_line_and_create_nothing(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    verb: str,
) -> None:
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p != FAKES])
    monkeypatch.delitem(sys.modules, "deep_gemm", raising=False)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    cache = tmp_path / "cache"
    code, _, err = run(
        capsys, verb, "--model", "deepseek-v3", "--tp", "8", "--cache-dir", str(cache)
    )
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and f"{verb} needs" in lines[0]
    assert not cache.exists() and not any((tmp_path / "tmp").iterdir())


def test_vllms_vendored_copy_counts_as_deepgemm(
    monkeypatch: pytest.MonkeyPatch, gpu_root: Path
) -> None:
    """vLLM 0.33 ships DeepGEMM as vllm.third_party.deep_gemm and no top-level deep_gemm;
    warm and verify must accept it, as vLLM itself imports it (seen failing on an H200)."""
    if importlib.util.find_spec("torch") is None:
        pytest.skip("torch is not installed")
    site = vllm_281_dir().parents[2]  # the folder holding vllm/
    monkeypatch.setattr(sys, "path", [str(site), *(p for p in sys.path if p != FAKES)])
    monkeypatch.delitem(sys.modules, "deep_gemm", raising=False)
    assert importlib.util.find_spec("deep_gemm") is None
    assert missing_gpu_piece("verify", env={}, root=gpu_root) is None
