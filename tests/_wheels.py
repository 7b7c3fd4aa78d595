"""Pinned DeepGEMM wheels for CPU tests that read a build's own files (headers, generators,
heuristics). Fetched once with ``pip download --no-deps`` into ``JITWARM_TEST_WHEELS`` (default
``~/.cache/jitwarm-test-wheels``) and unpacked beside; a test skips with the reason when the
wheel cannot be had (no network), and `.ci/run` fetches them first so CI never skips."""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest
from filelock import FileLock

# version -> (distribution, exact version)
PINNED = {
    "2.5.0": ("tokenspeed-deepgemm", "2.5.0.post20260604"),
    "2.8.0": ("tokenspeed-deepgemm", "2.8.0.post20260924"),
    "2.8.2": ("tokenspeed-deepgemm", "2.8.2.post20261020"),
    "sgl-0.2.3": ("sgl-deep-gemm", "0.2.3.post2"),  # SGLang 0.5.23's (py3-none, manylinux2014)
}
# vLLM 0.33.0's vendored DeepGEMM 2.8.1 (the vLLM wheel is too large to fetch in tests): its
# Python files and include/deep_gemm/ headers, as vllm/third_party/deep_gemm/ holds them (MIT).
VLLM_281_TARBALL = Path(__file__).resolve().parent / "data" / "vllm-0.33.0-deep_gemm-2.8.1.tar.gz"
_PLATFORM = [
    "--only-binary=:all:",
    "--python-version",
    "3.12",
    "--implementation",
    "cp",
    "--platform",
    "manylinux_2_28_x86_64",
    "--platform",
    "manylinux2014_x86_64",
]


def wheel_dir() -> Path:
    return Path(os.environ.get("JITWARM_TEST_WHEELS", Path.home() / ".cache/jitwarm-test-wheels"))


def fetch_wheel(version: str) -> Path | None:
    """The wheel file of a pinned build, downloading it if needed; None when it cannot be had."""
    dist, exact = PINNED[version]
    root = wheel_dir()
    root.mkdir(parents=True, exist_ok=True)
    pattern = f"{dist.replace('-', '_')}-{exact}-*.whl"
    with FileLock(str(root / ".lock")):
        found = sorted(root.glob(pattern))
        if not found:
            cmd = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", *_PLATFORM]
            cmd += ["-d", str(root), f"{dist}=={exact}"]
            try:
                subprocess.run(cmd, check=True, capture_output=True, timeout=600)
            except (subprocess.SubprocessError, OSError):
                return None
            found = sorted(root.glob(pattern))
    return found[0] if found else None


def unpacked_wheel(version: str) -> Path:
    """The unpacked wheel of a pinned build (its ``deep_gemm/`` folder inside), or skip."""
    wheel = fetch_wheel(version)
    if wheel is None:
        pytest.skip(f"DeepGEMM {PINNED[version][1]} wheel not available (pip download failed)")
    dest = wheel_dir() / wheel.stem
    with FileLock(str(wheel_dir() / ".lock")):
        if not (dest / ".unpacked").exists():
            with zipfile.ZipFile(wheel) as zf:
                zf.extractall(dest)
            (dest / ".unpacked").touch()
    return dest


def vllm_281_dir() -> Path:
    """The unpacked ``vllm/third_party/deep_gemm`` folder of vLLM 0.33.0 (from tests/data)."""
    dest = wheel_dir() / "vllm-0.33.0-deep_gemm-2.8.1"
    with FileLock(str(wheel_dir() / ".lock")):
        if not (dest / ".unpacked").exists():
            with tarfile.open(VLLM_281_TARBALL) as tar:
                tar.extractall(dest, filter="data")
            (dest / ".unpacked").touch()
    return dest / "vllm" / "third_party" / "deep_gemm"


if __name__ == "__main__":  # `.ci/run`: fetch every pinned wheel before the tests
    for v in PINNED:
        if fetch_wheel(v) is None:
            sys.exit(f"cannot fetch DeepGEMM {PINNED[v][1]}")
        print(unpacked_wheel(v))
