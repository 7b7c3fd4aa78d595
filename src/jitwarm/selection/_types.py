"""Inputs of DeepGEMM's kernel-selection heuristics, shared by the per-architecture models."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from jitwarm.errors import ConfigError

__all__ = ["GemmProblem", "GemmType", "KernelType"]


class GemmType(str, Enum):
    """DeepGEMM's `GemmType`; the value is the C++ enumerator's name."""

    NORMAL = "Normal"
    M_GROUPED_CONTIGUOUS = "MGroupedContiguous"
    M_GROUPED_MASKED = "MGroupedMasked"
    BATCHED = "Batched"


class KernelType(str, Enum):
    """Which GEMM kernel family: FP8 with 1x128/128x128 scales, FP8 (1,1,128), or BF16."""

    K1D2D = "1D2D"
    K1D1D = "1D1D"
    NO_SF = "NoSF"


_OUT_DTYPES = ("bf16", "fp32")


@dataclass(frozen=True)
class GemmProblem:
    """Everything but M that DeepGEMM's heuristic and code generator read for one GEMM call site.

    `n`, `k` and `num_groups` are per group (for `BATCHED`, `num_groups` is the batch count).
    `compiled_dims` says which of N and K are baked into the kernel source ("nk" is the pybind
    default); M is always a runtime argument here. `mk_alignment` is the contiguous-layout
    alignment (`set_mk_alignment_for_contiguous_layout`), `block_n_multiple_of` the N part of
    `set_block_size_multiple_of`. Only K-major A and B are modelled (what `*_nt` calls use).
    """

    gemm_type: GemmType
    kernel_type: KernelType
    n: int
    k: int
    num_groups: int = 1
    out_dtype: str = "bf16"
    num_sms: int = 132
    mk_alignment: int = 128
    with_accumulation: bool = False
    compiled_dims: str = "nk"
    sfb_major: str = "K"
    block_n_multiple_of: int = 1

    def __post_init__(self) -> None:
        # Coerce plain strings so that GemmProblem("Normal", "1D2D", ...) works and hashes alike.
        object.__setattr__(self, "gemm_type", GemmType(self.gemm_type))
        object.__setattr__(self, "kernel_type", KernelType(self.kernel_type))
        for name in ("n", "k", "num_groups", "mk_alignment", "block_n_multiple_of"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)}", field=name)
        if self.out_dtype not in _OUT_DTYPES:
            raise ConfigError(
                f"out_dtype must be one of {_OUT_DTYPES}, got {self.out_dtype!r}", field="out_dtype"
            )
        # DeepGEMM asserts an even SM count (clusters of two must tile the grid).
        if self.num_sms < 2 or self.num_sms % 2:
            raise ConfigError(f"num_sms must be even and >= 2, got {self.num_sms}", field="num_sms")
        if not set(self.compiled_dims) <= {"n", "k"}:
            raise ConfigError(
                f"compiled_dims may name only 'n' and 'k' (M baked in is not modelled), "
                f"got {self.compiled_dims!r}",
                field="compiled_dims",
            )
        if self.sfb_major not in ("K", "MN"):
            raise ConfigError(
                f"sfb_major must be 'K' or 'MN', got {self.sfb_major!r}", field="sfb_major"
            )
        # Every SM90 1D2D launcher asserts a BF16 output.
        if self.kernel_type is KernelType.K1D2D and self.out_dtype != "bf16":
            raise ConfigError("the SM90 1D2D FP8 kernel only writes BF16", field="out_dtype")
        if self.gemm_type is GemmType.M_GROUPED_MASKED and self.kernel_type is KernelType.K1D1D:
            raise ConfigError("no SM90 masked 1D1D kernel exists", field="kernel_type")
