"""Skip a GPU test module cleanly where CUDA or DeepGEMM is missing (CI, laptops)."""

from __future__ import annotations

import pytest


def gpu_unavailable_reason() -> str | None:
    try:
        import torch

        if not torch.cuda.is_available():
            return "no CUDA device"
        import deep_gemm  # noqa: F401
    except Exception as exc:  # a DeepGEMM build without CUDA fails in many ways
        return f"deep_gemm not importable: {exc}"
    return None


def require_gpu() -> None:
    """Call at module level, before importing anything that needs torch or deep_gemm."""
    reason = gpu_unavailable_reason()
    if reason:
        pytest.skip(reason, allow_module_level=True)
