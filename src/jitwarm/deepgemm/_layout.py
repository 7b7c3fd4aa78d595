"""Tensor layouts DeepGEMM's runtime requires, built directly (no transform kernel runs).

- FP32 scales of A (1 x 128 per row): MN-major and TMA-aligned, i.e. column stride
  ``align(rows, 16 / element size)``; passing them any other way makes DeepGEMM launch (and
  compile) a separate ``transpose_fp32`` kernel first.
- FP32 scales of B (128 x 128 blocks) on SM90: plain contiguous (K-major).
- SM100 scales: UE8M0 exponents packed four to an int32 along K, MN-major and TMA-aligned.
"""

from __future__ import annotations

import torch

FP8 = torch.float8_e4m3fn
TMA_ALIGNMENT_BYTES = 16
OUT_DTYPES = {"bf16": torch.bfloat16, "fp32": torch.float32}


def ceil_div(x: int, y: int) -> int:
    return -(-x // y)


def align(x: int, y: int) -> int:
    return ceil_div(x, y) * y


def tma_aligned_size(mn: int, element_size: int) -> int:
    """DeepGEMM's ``get_tma_aligned_size``: rows padded so each column starts 16-byte aligned."""
    return align(mn, TMA_ALIGNMENT_BYTES // element_size)


def fill(t: torch.Tensor, init: str) -> torch.Tensor:
    """``init``: "empty" leaves memory as allocated; "random" fills data (for numeric checks)."""
    if init == "empty":
        return t
    if t.dtype == FP8:
        t.view(torch.uint8).copy_(torch.randn(t.shape, device=t.device).to(FP8).view(torch.uint8))
    elif t.dtype in (torch.float32, torch.bfloat16):
        t.copy_(torch.randn(t.shape, device=t.device, dtype=torch.float32))
    elif t.dtype in (torch.int8, torch.uint8, torch.int32):
        t.copy_(torch.randint(0, 100, t.shape, device=t.device, dtype=t.dtype))
    return t


def scales(t: torch.Tensor, init: str) -> torch.Tensor:
    """Positive scale factors (random ones in [0.5, 1.5) for numeric checks)."""
    if init != "empty":
        t.copy_(torch.rand(t.shape, device=t.device) + 0.5)
    return t


def packed_ue8m0(t: torch.Tensor, init: str) -> torch.Tensor:
    """Packed UE8M0 exponents; 127 (2^0) in every byte for numeric checks."""
    if init != "empty":
        t.view(torch.uint8).fill_(127)
    return t


def mn_major_sf(
    rows: int,
    cols: int,
    *,
    groups: int | None = None,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str = "cuda",
) -> torch.Tensor:
    """A ``(groups?, rows, cols)`` scale tensor, MN-major and TMA-aligned, as DeepGEMM's
    ``get_mn_major_tma_aligned_tensor`` returns it."""
    elem = torch.empty((), dtype=dtype).element_size()
    col_stride = tma_aligned_size(rows, elem)
    storage = torch.empty((groups or 1) * cols * col_stride, dtype=dtype, device=device)
    if groups is None:
        return storage.as_strided((rows, cols), (1, col_stride))
    return storage.as_strided((groups, rows, cols), (col_stride * cols, 1, col_stride))


def is_mn_major_tma_aligned(sf: torch.Tensor) -> bool:
    rows, cols = sf.shape[-2], sf.shape[-1]
    col_stride = tma_aligned_size(rows, sf.element_size())
    ok = (sf.stride(-2) == 1 or rows == 1) and (sf.stride(-1) == col_stride or cols == 1)
    if sf.dim() == 3:
        ok = ok and sf.stride(-3) == col_stride * cols
    return ok
