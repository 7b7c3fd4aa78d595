"""Describe a DeepGEMM call's arguments as plain JSON, by duck typing (torch is never imported).

A tensor is anything with ``.shape``, ``.dtype`` and a callable ``.stride()``; it becomes
``{"shape": [...], "dtype": "float8_e4m3fn", "stride": [...]}``. A dtype object becomes
``{"dtype": "float32"}``. Tuples and lists become lists, numbers / strings / bools / None
stay as they are, anything else becomes ``{"type": "<class name>"}``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

_SCALARS = (bool, int, float, str, type(None))


def dtype_name(dtype: object) -> str:
    """``torch.float8_e4m3fn`` -> ``float8_e4m3fn``; other spellings pass through."""
    return str(dtype).removeprefix("torch.")


def is_tensor(value: object) -> bool:
    return (
        hasattr(value, "shape")
        and hasattr(value, "dtype")
        and callable(getattr(value, "stride", None))
    )


def describe_value(value: Any) -> Any:
    if isinstance(value, _SCALARS):
        return value
    if is_tensor(value):
        return {
            "shape": [int(d) for d in value.shape],
            "dtype": dtype_name(value.dtype),
            "stride": [int(s) for s in value.stride()],
        }
    if isinstance(value, (tuple, list)):
        return [describe_value(v) for v in value]
    if type(value).__name__ == "dtype":
        return {"dtype": dtype_name(value)}
    return {"type": type(value).__name__}


def value_key(value: Any) -> Any:
    """A hashable identity of a value, cheap to build on every call: tensors by shape, dtype
    and strides (as the library objects give them), sequences as tuples, scalars as they are.
    Equal keys describe equally (the JSON description is built once per new key)."""
    if isinstance(value, _SCALARS):
        return value
    if is_tensor(value):
        return (tuple(value.shape), str(value.dtype), tuple(value.stride()))
    if isinstance(value, (tuple, list)):
        return tuple(value_key(v) for v in value)
    if type(value).__name__ == "dtype":
        return ("dtype", str(value))
    return ("type", type(value).__name__)


def call_key(family: str, args: Sequence[Any], kwargs: Mapping[str, Any]) -> tuple:
    return (
        family,
        tuple(value_key(a) for a in args),
        tuple(sorted((k, value_key(v)) for k, v in kwargs.items())),
    )


def describe_call(args: Sequence[Any], kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """``{"args": [...], "kwargs": {...}}`` for one call."""
    return {
        "args": [describe_value(a) for a in args],
        "kwargs": {k: describe_value(v) for k, v in sorted(kwargs.items())},
    }
