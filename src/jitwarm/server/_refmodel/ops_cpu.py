"""CPU GEMMs for the reference model: torch matmuls on shrunk widths, behind a simulated JIT
that stalls on the first use of each kernel the GPU would compile (keyed on the real shapes)."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from jitwarm.plan import Family
from jitwarm.server._refmodel.jit import SimulatedJit
from jitwarm.server._refmodel.kernels import KernelKeyer
from jitwarm.server._refmodel.quant import fake_quantize_weight
from jitwarm.server._refmodel.shapes import GemmShape


@dataclass
class CpuLinear:
    shape: GemmShape
    weight: torch.Tensor  # (n, k) float32, FP8-rounded


@dataclass
class CpuExperts:
    shape: GemmShape  # of the contiguous family; the masked call uses the same N, K, groups
    weight: torch.Tensor  # (groups, n, k)


class CpuOps:
    """Runs every GEMM with torch on the CPU; ``jit.ensure`` first, as DeepGEMM would."""

    act_dtype = torch.float32
    device = torch.device("cpu")

    def __init__(self, jit: SimulatedJit, keyer: KernelKeyer, generator: torch.Generator) -> None:
        self.jit = jit
        self.keyer = keyer
        self.gen = generator

    def _random(self, n: int, k: int) -> torch.Tensor:
        return fake_quantize_weight(torch.randn(n, k, generator=self.gen) / k**0.5)

    def make_linear(self, shape: GemmShape, n: int, k: int) -> CpuLinear:
        return CpuLinear(shape, self._random(n, k))

    def make_experts(self, shape: GemmShape, n: int, k: int) -> CpuExperts:
        return CpuExperts(shape, torch.stack([self._random(n, k) for _ in range(shape.num_groups)]))

    def _ensure(self, family: Family, shape: GemmShape, m: int) -> None:
        self.jit.ensure(self.keyer.ref(family, shape.n, shape.k, shape.num_groups, m))

    def linear(self, x: torch.Tensor, lin: CpuLinear) -> torch.Tensor:
        self._ensure(Family.FP8_GEMM_NT, lin.shape, x.shape[0])
        return x @ lin.weight.T

    def grouped_contiguous(
        self,
        x: torch.Tensor,
        w: CpuExperts,
        m_indices: torch.Tensor,
        segments: list[tuple[int, int, int]],
    ) -> torch.Tensor:
        self._ensure(Family.M_GROUPED_CONTIGUOUS, w.shape, x.shape[0])
        out = torch.zeros(x.shape[0], w.weight.shape[1], dtype=x.dtype)
        for expert, start, count in segments:
            out[start : start + count] = x[start : start + count] @ w.weight[expert].T
        return out

    def grouped_masked(
        self,
        x: torch.Tensor,
        w: CpuExperts,
        masked_m: torch.Tensor,
        expected_m: int,
        segments: list[tuple[int, int, int]],
    ) -> torch.Tensor:
        self._ensure(Family.M_GROUPED_MASKED, w.shape, expected_m)
        out = torch.zeros(x.shape[0], x.shape[1], w.weight.shape[1], dtype=x.dtype)
        for expert, _, count in segments:
            out[expert, :count] = x[expert, :count] @ w.weight[expert].T
        return out

    def warm_call(self, family: Family, m: int, weights: CpuLinear | CpuExperts) -> None:
        """A warmup call at M = ``m``: on the CPU only the (simulated) JIT matters."""
        self._ensure(family, weights.shape, m)

    def synchronize(self) -> None:
        pass
