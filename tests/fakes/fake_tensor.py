"""Tensors for the fake deep_gemm: shape, dtype and strides, no data (torch is never needed)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FakeDtype:
    name: str  # torch's spelling without the prefix: float8_e4m3fn, bfloat16, float32, int32

    def __str__(self) -> str:
        return f"torch.{self.name}"


float8_e4m3fn = FakeDtype("float8_e4m3fn")
bfloat16 = FakeDtype("bfloat16")
float32 = FakeDtype("float32")
int32 = FakeDtype("int32")
uint8 = FakeDtype("uint8")


def _contiguous(shape: tuple[int, ...]) -> tuple[int, ...]:
    strides, acc = [], 1
    for d in reversed(shape):
        strides.append(acc)
        acc *= max(d, 1)
    return tuple(reversed(strides))


class FakeTensor:
    """What DeepGEMM reads from a tensor: ``.shape``, ``.dtype``, ``.stride()``, ``.device``."""

    def __init__(
        self, shape: tuple[int, ...], dtype: FakeDtype, strides: tuple[int, ...] | None = None
    ) -> None:
        self.shape = tuple(int(d) for d in shape)
        self.dtype = dtype
        self._strides = strides if strides is not None else _contiguous(self.shape)
        self.device = "cuda:0"

    def stride(self, dim: int | None = None) -> tuple[int, ...] | int:
        return self._strides if dim is None else self._strides[dim]

    def dim(self) -> int:
        return len(self.shape)

    def size(self, dim: int) -> int:
        return self.shape[dim]

    def __repr__(self) -> str:
        return f"FakeTensor({list(self.shape)}, {self.dtype.name})"


def empty(*shape: int, dtype: FakeDtype) -> FakeTensor:
    return FakeTensor(tuple(shape), dtype)


def mn_major(rows: int, cols: int, dtype: FakeDtype = float32) -> FakeTensor:
    """A [rows, cols] tensor stored column-major (DeepGEMM's MN-major scale layout), rows
    padded to a multiple of 4 like the TMA-aligned layout."""
    padded = -(-rows // 4) * 4
    return FakeTensor((rows, cols), dtype, (1, padded))
