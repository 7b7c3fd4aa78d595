"""GPU GEMMs for the reference model: every GEMM through DeepGEMM on SM90.

Dense linears call ``fp8_gemm_nt``; routed experts call ``m_grouped_fp8_gemm_nt_contiguous``
in prefill steps and ``m_grouped_fp8_gemm_nt_masked`` in decode steps. Weights are random FP8
with 128x128 block scales at the real per-rank shapes; activations are quantized per token in
1x128 groups with scales laid out as the kernels want them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import torch

from jitwarm.plan import Family
from jitwarm.server._refmodel.jit import ObservedJit, PassThroughJit
from jitwarm.server._refmodel.kernels import KernelKeyer
from jitwarm.server._refmodel.quant import BLOCK, quantize_activation, quantize_weight
from jitwarm.server._refmodel.shapes import GemmShape


def _align(x: int, a: int) -> int:
    return -(-x // a) * a


@dataclass
class GpuLinear:
    shape: GemmShape
    q: torch.Tensor  # (n, k) fp8
    scale: torch.Tensor  # (ceil(n/128), k/128) fp32


@dataclass
class GpuExperts:
    shape: GemmShape
    q: torch.Tensor  # (groups, n, k) fp8
    scale: torch.Tensor  # (groups, ceil(n/128), k/128) fp32


class DeepGemmOps:
    act_dtype = torch.bfloat16

    def __init__(
        self,
        dg: ModuleType,
        jit: ObservedJit | PassThroughJit,
        keyer: KernelKeyer,
        generator: torch.Generator,
        device: torch.device,
    ) -> None:
        self.dg = dg
        self.jit = jit
        self.keyer = keyer
        self.gen = generator
        self.device = device

    # -- weights --------------------------------------------------------------------------
    def _random(self, n: int, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        w = torch.randn(n, k, generator=self.gen, device=self.device, dtype=torch.float32) / k**0.5
        return quantize_weight(w)

    def make_linear(self, shape: GemmShape, n: int, k: int) -> GpuLinear:
        return GpuLinear(shape, *self._random(n, k))

    def make_experts(self, shape: GemmShape, n: int, k: int) -> GpuExperts:
        qs, scales = zip(*(self._random(n, k) for _ in range(shape.num_groups)), strict=True)
        return GpuExperts(shape, torch.stack(qs), torch.stack(scales))

    # -- calls ----------------------------------------------------------------------------
    def _call(self, family: Family, shape: GemmShape, m: int, run: Callable[[], Any]) -> None:
        ref = self.keyer.ref(family, shape.n, shape.k, shape.num_groups, m)
        self.jit.call(ref, run, self.synchronize)

    def linear(self, x: torch.Tensor, lin: GpuLinear) -> torch.Tensor:
        a = quantize_activation(x)
        d = torch.empty(x.shape[0], lin.shape.n, dtype=torch.bfloat16, device=self.device)
        self._call(
            Family.FP8_GEMM_NT,
            lin.shape,
            x.shape[0],
            lambda: self.dg.fp8_gemm_nt(a, (lin.q, lin.scale), d),
        )
        return d

    def grouped_contiguous(
        self,
        x: torch.Tensor,
        w: GpuExperts,
        m_indices: torch.Tensor,
        segments: list[tuple[int, int, int]],
    ) -> torch.Tensor:
        a = quantize_activation(x)
        d = torch.empty(x.shape[0], w.shape.n, dtype=torch.bfloat16, device=self.device)
        self._call(
            Family.M_GROUPED_CONTIGUOUS,
            w.shape,
            x.shape[0],
            lambda: self.dg.m_grouped_fp8_gemm_nt_contiguous(a, (w.q, w.scale), d, m_indices),
        )
        return d

    def grouped_masked(
        self,
        x: torch.Tensor,
        w: GpuExperts,
        masked_m: torch.Tensor,
        expected_m: int,
        segments: list[tuple[int, int, int]],
    ) -> torch.Tensor:
        a = quantize_activation(x)
        d = torch.empty(x.shape[0], x.shape[1], w.shape.n, dtype=torch.bfloat16, device=self.device)
        self._call(
            Family.M_GROUPED_MASKED,
            w.shape,
            expected_m,
            lambda: self.dg.m_grouped_fp8_gemm_nt_masked(
                a, (w.q, w.scale), d, masked_m, expected_m
            ),
        )
        return d

    def warm_call(self, family: Family, m: int, weights: GpuLinear | GpuExperts) -> None:
        """One real call at M = ``m`` (zeros in, output discarded): compiles its kernel."""
        shape = weights.shape
        if family is Family.FP8_GEMM_NT:
            assert isinstance(weights, GpuLinear)
            self.linear(torch.zeros(m, shape.k, dtype=torch.bfloat16, device=self.device), weights)
            return
        assert isinstance(weights, GpuExperts)
        groups = shape.num_groups
        if family is Family.M_GROUPED_CONTIGUOUS:
            x = torch.zeros(m, shape.k, dtype=torch.bfloat16, device=self.device)
            layout = (torch.arange(m, device=self.device) // BLOCK % groups).to(torch.int32)
            self.grouped_contiguous(x, weights, layout, [])
        elif family is Family.M_GROUPED_MASKED:
            x = torch.zeros(
                groups, _align(m, BLOCK), shape.k, dtype=torch.bfloat16, device=self.device
            )
            masked = torch.full((groups,), m, dtype=torch.int32, device=self.device)
            self.grouped_masked(x, weights, masked, m, [])
        else:
            raise ValueError(f"the reference model does not call {family.value}")

    def synchronize(self) -> None:
        torch.cuda.synchronize(self.device)


def import_deep_gemm() -> ModuleType:
    from jitwarm.deepgemm import deepgemm_module

    return deepgemm_module()
