"""FP8 (e4m3) block quantization in the layouts DeepGEMM's SM90 kernels take.

Weights: 128x128 blocks, FP32 scales of shape (ceil(N/128), K/128). Activations: 1x128 groups
per token, FP32 scales already MN-major and TMA-aligned (the M stride padded to 4 floats) so
DeepGEMM does not run its extra ``transpose_fp32`` kernel.
"""

from __future__ import annotations

import torch

FP8 = torch.float8_e4m3fn
FP8_MAX = 448.0
BLOCK = 128


def _align(x: int, a: int) -> int:
    return -(-x // a) * a


def quantize_weight(w: torch.Tensor, block: int = BLOCK) -> tuple[torch.Tensor, torch.Tensor]:
    """(N, K) -> FP8 (N, K) and FP32 scales (ceil(N/block), ceil(K/block))."""
    n, k = w.shape
    np_, kp = _align(n, block), _align(k, block)
    padded = torch.zeros(np_, kp, dtype=torch.float32, device=w.device)
    padded[:n, :k] = w.float()
    view = padded.view(np_ // block, block, kp // block, block)
    scale = view.abs().amax(dim=(1, 3)).clamp(min=1e-4) / FP8_MAX
    q = (view / scale[:, None, :, None]).to(FP8).view(np_, kp)[:n, :k].contiguous()
    return q, scale.contiguous()


def dequantize_weight(q: torch.Tensor, scale: torch.Tensor, block: int = BLOCK) -> torch.Tensor:
    n, k = q.shape
    expanded = scale.repeat_interleave(block, 0)[:n].repeat_interleave(block, 1)[:, :k]
    return q.float() * expanded


def fake_quantize_weight(w: torch.Tensor) -> torch.Tensor:
    """Round a weight through FP8 blocks (block = min(128, dims)): the CPU mode's weights carry
    the FP8 rounding error the GPU's do."""
    block = max(1, min(BLOCK, *w.shape))
    return dequantize_weight(*quantize_weight(w, block), block)


def quantize_activation(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(..., M, K) BF16 -> FP8 (..., M, K) and FP32 scales (..., M, K/128), MN-major with the M
    stride aligned to 4 (what DeepGEMM's ``get_mn_major_tma_aligned_tensor`` would produce)."""
    *lead, m, k = x.shape
    groups = k // BLOCK
    view = x.float().reshape(*lead, m, groups, BLOCK)
    scale = view.abs().amax(dim=-1).clamp(min=1e-4) / FP8_MAX
    q = (view / scale[..., None]).to(FP8).reshape(*lead, m, k)
    aligned_m = _align(m, 4)
    buf = torch.empty(*lead, groups, aligned_m, dtype=torch.float32, device=x.device)
    buf[..., :m] = scale.transpose(-1, -2)
    return q, buf.transpose(-1, -2)[..., :m, :]
