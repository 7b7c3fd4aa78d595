"""Find DeepGEMM's kernel entry points in a module and replace them with wrapped versions."""

from __future__ import annotations

import functools
import re
import types
from collections.abc import Callable
from typing import Any

# Settings and pure helpers: never JIT a kernel, so they are left alone.
_NOT_KERNELS = re.compile(
    r"^(set_|init$|get_(num_sms|tc_util|pdl|mk_alignment|theoretical_mk_alignment|"
    r"tma_aligned_size|symm_buffer|token_alignment))"
)
# Python-level entry points (mega MoE, test doubles) that reach a JIT kernel.
_KERNEL_WORDS = re.compile(r"gemm|einsum|logits|mega_moe|metadata|prenorm|layout|tma_aligned")
_MARK = "__jitwarm_wrapped__"

WrapFactory = Callable[[str, Callable[..., Any]], Callable[..., Any]]


def is_entry_point(name: str, value: object) -> bool:
    """Public functions that can run (hence compile) a DeepGEMM kernel."""
    if name.startswith("_") or _NOT_KERNELS.match(name):
        return False
    if isinstance(value, types.BuiltinFunctionType):  # pybind11 functions of deep_gemm._C
        return True
    return isinstance(value, types.FunctionType) and bool(_KERNEL_WORDS.search(name))


def patch_module(module: types.ModuleType, wrap: WrapFactory) -> list[str]:
    """Replace each entry point of ``module`` by ``wrap(name, fn)``; idempotent. Returns the
    names patched now."""
    patched = []
    for name, value in sorted(vars(module).items()):
        if getattr(value, _MARK, False) or not is_entry_point(name, value):
            continue
        wrapped = wrap(name, value)
        functools.update_wrapper(wrapped, value)
        setattr(wrapped, _MARK, True)
        setattr(module, name, wrapped)
        patched.append(name)
    return patched


def unpatch_module(module: types.ModuleType) -> list[str]:
    """Put the original functions back (tests, and a guard being replaced)."""
    restored = []
    for name, value in list(vars(module).items()):
        if getattr(value, _MARK, False):
            setattr(module, name, value.__wrapped__)
            restored.append(name)
    return restored
