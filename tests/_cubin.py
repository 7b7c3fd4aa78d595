"""Test helpers: a real cubin (built once with nvcc, skipped without it) and fake DeepGEMM cache
entries laid out exactly as DeepGEMM writes them."""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path

import pytest

from _data import SM90_H100_GROUND_TRUTH

_KERNEL = 'extern "C" __global__ void add_one(float* x) { x[threadIdx.x] += 1.0f; }\n'

# DeepGEMM's 1D2D FP8 GEMM source as generate_impl renders it (csrc/jit_kernels/impls/
# sm90_fp8_gemm_1d2d.hpp), one line per group of template arguments.
_GEMM_1D2D_GROUPS = (1, 3, 1, 3, 3, 1, 2, 2, 2, 1, 1)

GROUND_TRUTH = SM90_H100_GROUND_TRUTH


@functools.lru_cache(maxsize=1)
def _built_cubin() -> bytes | None:
    nvcc = shutil.which("nvcc")
    if nvcc is None:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        src, out = Path(tmp) / "k.cu", Path(tmp) / "k.cubin"
        src.write_text(_KERNEL)
        done = subprocess.run(
            [nvcc, "-cubin", "-arch=sm_90a", "-o", str(out), str(src)],
            capture_output=True,
            check=False,
            timeout=300,
        )
        return out.read_bytes() if done.returncode == 0 else None


def real_cubin() -> bytes:
    """A cubin nvcc built for sm_90a; the test is skipped when nvcc is not installed."""
    data = _built_cubin()
    if data is None:
        pytest.skip("nvcc not available to build a real cubin")
    return data


def render_kernel_cu(
    impl: str, template_args: str, *, groups: tuple[int, ...] | None = None
) -> str:
    """A kernel.cu as DeepGEMM renders it, with ``template_args`` spread over lines."""
    args = template_args.split(", ")
    if groups is None or sum(groups) != len(args):
        groups = tuple(min(3, len(args) - i) for i in range(0, len(args), 3))
    lines, i = [], 0
    for g in groups:
        lines.append("        " + ", ".join(args[i : i + g]))
        i += g
    body = ",\n".join(lines)
    return (
        "// Includes' hash value: 1a2b3c4d\n\n"
        f"#include <deep_gemm/impls/{impl}.cuh>\n\n"
        "using namespace deep_gemm;\n\n"
        "static void __instantiate_kernel() {\n"
        f"    auto ptr = reinterpret_cast<void*>(&{impl}_impl<\n{body}\n    >);\n"
        "};\n"
    )


def gemm_source(template_args: str) -> str:
    return render_kernel_cu("sm90_fp8_gemm_1d2d", template_args, groups=_GEMM_1D2D_GROUPS)


def write_entry(
    root: Path,
    kernel_name: str,
    key: str,
    *,
    source: str,
    cubin: bytes | None,
    deepjit: bool = False,
    committed: bool = True,
    meta: bool = True,
) -> Path:
    """Write one entry the way DeepGEMM publishes it: into tmp/<uuid>, then one rename."""
    name = f"{kernel_name}.{key}" if deepjit else f"kernel.{kernel_name}.{key}"
    tmp = root / "tmp" / uuid.uuid4().hex
    tmp.mkdir(parents=True)
    (tmp / "kernel.cu").write_text(source)
    if cubin is not None:
        (tmp / "kernel.cubin").write_bytes(cubin)
    if deepjit and meta:
        (tmp / "meta.json").write_text(json.dumps({"compiler_info": {"version": "13.0"}}))
    if deepjit and committed:
        (tmp / ".committed").write_text("")
    (root / "cache").mkdir(parents=True, exist_ok=True)
    dest = root / "cache" / name
    os.rename(tmp, dest)
    return dest


def age(path: Path, seconds_ago: float, *, now: float | None = None) -> None:
    """Make ``path`` (and what is in it) look last touched ``seconds_ago``."""
    import time

    t = (time.time() if now is None else now) - seconds_ago
    targets = [path, *path.rglob("*")] if path.is_dir() else [path]
    for p in targets:
        os.utime(p, (t, t), follow_symlinks=False)


def minimal_cubin() -> bytes:
    """The smallest file ``cubin_problem`` accepts: a 64-bit little-endian CUDA ELF header and
    one empty section header (no nvcc needed; never loaded)."""
    import struct

    ident = b"\x7fELF" + bytes([2, 1, 1]) + bytes(9)
    header = struct.pack("<HHIQQQIHHHHHH", 2, 190, 1, 0, 0, 64, 0, 64, 0, 0, 64, 1, 0)
    return ident + header + bytes(64)
