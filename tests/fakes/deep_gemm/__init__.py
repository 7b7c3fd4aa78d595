"""Test double of DeepGEMM 2.5.0's JIT behaviour, for CPU tests (no torch, no CUDA).

Each kernel function takes :mod:`fake_tensor` tensors, picks its kernel as the real heuristic
would (``jitwarm.selection._sm90`` for the GEMM families, baked dimensions for the others),
renders a small source, and looks it up like 2.5.0: an in-process cache, then
``<DG_JIT_CACHE_DIR>/cache/kernel.<name>.<hash>/``. A miss "compiles": the source goes to
``tmp/<uuid>/kernel.cu``, the nvcc of ``DG_JIT_NVCC_COMPILER`` (else ``$CUDA_HOME/bin/nvcc``)
runs as a child process, and the folder is published by an atomic rename. A compiler that
exits non-zero (the stand-in) makes the call raise and leaves ``tmp/<uuid>/`` behind, as the
real library does. The compiler (cache root, nvcc, version, flags) is set up once per process
at the first kernel call, like the real one. Nothing is computed: outputs stay as they are.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import uuid
from pathlib import Path

from fake_tensor import FakeTensor, float32, int32

from jitwarm.selection._sm90 import GemmProblem, GemmType, KernelType, select_sm90

__version__ = "2.5.0.fake"

_num_sms = 132
_mk_alignment = 128


def set_num_sms(n: int) -> None:
    global _num_sms
    _num_sms = int(n)


def get_num_sms() -> int:
    return _num_sms


def set_mk_alignment_for_contiguous_layout(n: int) -> None:
    global _mk_alignment
    _mk_alignment = int(n)


def get_mk_alignment_for_contiguous_layout() -> int:
    return _mk_alignment


# -- the JIT ------------------------------------------------------------------------------------
class _Compiler:
    def __init__(self) -> None:
        self.root = Path(os.environ.get("DG_JIT_CACHE_DIR") or Path.home() / ".deep_gemm")
        cuda_home = os.environ.get("CUDA_HOME") or os.environ.get("CUDA_PATH") or "/usr/local/cuda"
        self.nvcc = os.environ.get("DG_JIT_NVCC_COMPILER") or str(Path(cuda_home) / "bin" / "nvcc")
        out = subprocess.run([self.nvcc, "--version"], capture_output=True, text=True, check=True)
        release = re.search(r"release (\d+\.\d+)", out.stdout)
        assert release, "nvcc --version: no release"
        self.signature = f"NVCC{release.group(1)}"
        include = Path(__file__).resolve().parent / "include"
        flags = f"-std=c++{os.environ.get('DG_JIT_CPP_STANDARD', '20')} -I{include}"
        if any(
            os.environ.get(v, "0") not in ("", "0")
            for v in ("DG_JIT_DEBUG", "DG_JIT_PTXAS_VERBOSE", "DG_JIT_PTXAS_CHECK")
        ):
            flags += " --ptxas-options=--verbose"
        if os.environ.get("DG_JIT_WITH_LINEINFO", "0") not in ("", "0"):
            flags += " -lineinfo"
        self.flags = flags
        self.loaded: set[Path] = set()

    def build(self, name: str, code: str) -> Path:
        digest = hashlib.sha256(
            f"{name}$${self.signature}$${self.flags}$${code}".encode()
        ).hexdigest()
        entry = self.root / "cache" / f"kernel.{name}.{digest[:32]}"
        if entry in self.loaded:
            return entry
        if not (entry / "kernel.cubin").is_file():
            self._compile(code, entry)
        self.loaded.add(entry)
        return entry

    def _compile(self, code: str, entry: Path) -> None:
        tmp = self.root / "tmp" / uuid.uuid4().hex
        tmp.mkdir(parents=True)
        (tmp / "kernel.cu").write_text(code)
        cu, cubin = tmp / "kernel.cu", tmp / "kernel.cubin"
        command = f"cd {tmp.parent} && {self.nvcc} {cu} -cubin -o {cubin} {self.flags}"
        if os.environ.get("DG_JIT_PRINT_COMPILER_COMMAND", "0") not in ("", "0"):
            print(f"Running NVCC command: {command}", flush=True)
        done = subprocess.run(command, shell=True, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"NVCC compilation failed: {done.stdout}{done.stderr}")
        entry.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.rename(tmp, entry)
        except OSError:  # another process published it first
            for f in tmp.iterdir():
                f.unlink()
            tmp.rmdir()


_COMPILER: _Compiler | None = None


def _compiler() -> _Compiler:
    global _COMPILER
    if _COMPILER is None:
        _COMPILER = _Compiler()
    return _COMPILER


def _reset_for_tests() -> None:
    """Forget the process's compiler (as a fresh process would)."""
    global _COMPILER
    _COMPILER = None


def _render(impl: str, template_args: str) -> str:
    return (
        f"#include <deep_gemm/impls/{impl}.cuh>\n\nusing namespace deep_gemm;\n\n"
        "static void __instantiate_kernel() {\n"
        f"    auto ptr = reinterpret_cast<void*>(&{impl}_impl<\n        {template_args}\n    >);\n"
        "};\n"
    )


def _launch(impl: str, template_args: str) -> None:
    _compiler().build(impl, _render(impl, template_args))


def _check(cond: bool, what: str) -> None:
    if not cond:
        raise RuntimeError(f"Assertion error (fake deep_gemm): {what}")


def _out_dtype(d: FakeTensor) -> str:
    return {"bfloat16": "bf16", "float32": "fp32"}[d.dtype.name]


def _gemm(problem: GemmProblem, m: int) -> None:
    cfg = select_sm90(problem, m)
    _launch("sm90_fp8_gemm_1d2d", cfg.template_args(problem))


def _prepare_sfa(sfa: FakeTensor, k: int) -> None:
    """2.5.0 makes the A scales MN-major and TMA-aligned first: a JIT transpose kernel runs
    when they are not (K/128 baked in)."""
    if sfa.stride()[-2 if sfa.dim() >= 2 else 0] != 1:
        _launch("transpose_fp32", f"{-(-k // 128)}")


# -- kernels --------------------------------------------------------------------------------------
def fp8_gemm_nt(a, b, d, c=None, recipe=None, compiled_dims="nk", disable_ue8m0_cast=False) -> None:
    (x, sfa), (w, _sfb) = a, b
    m, k = x.shape
    n, k2 = w.shape
    _check(k == k2 and tuple(d.shape) == (m, n), "fp8_gemm_nt shapes")
    _check(recipe in (None, (1, 128, 128)), "recipe (1, 128, 128) only")
    _prepare_sfa(sfa, k)
    problem = GemmProblem(
        GemmType.NORMAL,
        KernelType.K1D2D,
        n=n,
        k=k,
        out_dtype=_out_dtype(d),
        num_sms=_num_sms,
        compiled_dims=compiled_dims,
    )
    _gemm(problem, m)


def m_grouped_fp8_gemm_nt_contiguous(
    a,
    b,
    d,
    grouped_layout,
    recipe=None,
    compiled_dims="nk",
    disable_ue8m0_cast=False,
    use_psum_layout=False,
    expected_m_for_psum_layout=None,
) -> None:
    (x, sfa), (w, _sfb) = a, b
    m, k = x.shape
    g, n, k2 = w.shape
    _check(k == k2 and tuple(d.shape) == (m, n) and m % _mk_alignment == 0, "contiguous shapes")
    _check(grouped_layout.shape[0] == m, "grouped_layout has one entry per row")
    _prepare_sfa(sfa, k)
    problem = GemmProblem(
        GemmType.M_GROUPED_CONTIGUOUS,
        KernelType.K1D2D,
        n=n,
        k=k,
        num_groups=g,
        out_dtype=_out_dtype(d),
        num_sms=_num_sms,
        mk_alignment=_mk_alignment,
        compiled_dims=compiled_dims,
    )
    _gemm(problem, m)


def m_grouped_fp8_gemm_nt_masked(
    a, b, d, masked_m, expected_m, recipe=None, compiled_dims="nk", disable_ue8m0_cast=False
) -> None:
    (x, _sfa), (w, _sfb) = a, b
    g, max_m, k = x.shape
    g2, n, k2 = w.shape
    _check(g == g2 and k == k2 and tuple(d.shape) == (g, max_m, n), "masked shapes")
    _check(tuple(masked_m.shape) == (g,) and expected_m >= 1, "masked_m / expected_m")
    problem = GemmProblem(
        GemmType.M_GROUPED_MASKED,
        KernelType.K1D2D,
        n=n,
        k=k,
        num_groups=g,
        out_dtype=_out_dtype(d),
        num_sms=_num_sms,
        compiled_dims=compiled_dims,
    )
    _gemm(problem, int(expected_m))


def fp8_einsum(expr, a, b, d, c=None, recipe=(1, 128, 128)) -> None:
    _check(expr == "bhr,hdr->bhd", f"einsum {expr!r} not modelled")
    (x, _sfa), (w, _sfb) = a, b
    bsz, h, r = x.shape
    h2, dd, r2 = w.shape
    _check(h == h2 and r == r2 and tuple(d.shape) == (bsz, h, dd), "einsum shapes")
    problem = GemmProblem(
        GemmType.BATCHED,
        KernelType.K1D2D,
        n=dd,
        k=r,
        num_groups=h,
        out_dtype=_out_dtype(d),
        num_sms=_num_sms,
    )
    _gemm(problem, bsz)


def tf32_hc_prenorm_gemm(a, b, d, sqr_sum, num_splits=None) -> None:
    _m, k = a.shape
    n, k2 = b.shape
    _check(k == k2, "hc prenorm shapes")
    _launch("sm90_tf32_hc_prenorm_gemm", f"0, {n}, {k}, {num_splits or 1}, {_num_sms}")


def fp8_mqa_logits(
    q, kv, weights, cu_seq_len_k_start, cu_seq_len_k_end, clean_logits=True, max_seqlen_k=0
):
    seq, heads, head_dim = q.shape
    _check(kv[0].shape[1] == head_dim, "mqa kv head_dim")
    _launch("sm90_fp8_mqa_logits", f"{heads}, {head_dim}, {int(bool(clean_logits))}, {_num_sms}")
    return FakeTensor((seq, kv[0].shape[0]), float32)


def get_paged_mqa_logits_metadata(context_lens, block_kv, num_sms):
    batch = context_lens.shape[0]
    aligned = -(-batch // 32) * 32
    _launch("smxx_paged_mqa_logits_metadata", f"{aligned}, {block_kv}, {num_sms}")
    return FakeTensor((num_sms + 1, 2), int32)


def fp8_paged_mqa_logits(
    q,
    fused_kv_cache,
    weights,
    context_lens,
    block_table,
    schedule_meta,
    max_context_len,
    clean_logits=False,
):
    batch, next_n, heads, head_dim = q.shape
    _check(fused_kv_cache.shape[-1] == head_dim + 4, "fused kv cache layout")
    block_kv = fused_kv_cache.shape[1]
    _launch(
        "sm90_fp8_paged_mqa_logits",
        f"{next_n}, {heads}, {head_dim}, {block_kv}, {int(bool(clean_logits))}, {_num_sms}",
    )
    return FakeTensor((batch * next_n, max_context_len), float32)


def ceil_div(x: int, y: int) -> int:  # a pure helper the guard must leave alone
    return -(-x // y)
