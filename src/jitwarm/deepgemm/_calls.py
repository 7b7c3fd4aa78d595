"""One DeepGEMM call per (plan entry, M), with the runtime's exact argument contract.

``build_call(entry, m, device)`` returns the function name, positional and keyword arguments a
serving engine passes for that entry at that M: dtypes, shapes, strides, scale layouts,
``compiled_dims`` and recipe as the plan says. The kernel DeepGEMM generates depends on all of
them, so a warm call with another layout would compile a kernel the server never uses.

Conventions (SM90 unless noted; see DeepGEMM's csrc/apis and tests):
- FP8 GEMMs: A and B K-major FP8 e4m3; A scales FP32 ``(M, ceil(K/128))`` MN-major and
  TMA-aligned (what engines' fused quantizers emit); B scales FP32 ``(ceil(N/128),
  ceil(K/128))`` contiguous; D BF16 row-major.
- SM100 (``scale_dtype == "ue8m0"``): both scales as packed UE8M0 int32 ``(MN, ceil(K/512))``,
  MN-major, TMA-aligned, recipe ``(1, 1, gran_k)``: DeepGEMM itself converts 128x128 FP32 block
  scales into this per-row form before dispatching, and engines pre-convert weights once.
- m-grouped contiguous: rows grouped per expert in blocks of the contiguous-layout alignment;
  masked: ``masked_m`` = expected_m for every group.
- fp8_einsum ``bhr,hdr->bhd``: b = M, h = groups, r = K, d = N; A scales MN-major over b.
- MQA logits (prefill): the flags each planned kernel records, which the shipping engine
  passes (the build profile's ``prefill_logits``): ``clean_logits``, and ``max_seqlen_k`` the
  longest row when compressed, else 0. A plan kernel recording neither means DeepGEMM's
  defaults (cleaned, not compressed), what warm passed before the engines' calls were read.
- Paged MQA logits: 2D ``context_lens``, schedule metadata from
  ``get_paged_mqa_logits_metadata`` (which may compile its own kernel, as in serving).

Per build (its profile, :mod:`jitwarm.profiles`): the public entry point of each family and
the indexer's contract (builds with only ``fp8_fp4_*`` take q as ``(q, None)``, a required
``max_seqlen_k`` and neither ``clean_logits`` nor ``logits_dtype``). The module called is the
one the server imports (``deep_gemm``, else vLLM's vendored copy, or ``JITWARM_DEEPGEMM``).
"""

from __future__ import annotations

import functools
import importlib
import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import torch

from jitwarm.deepgemm._layout import (
    FP8,
    OUT_DTYPES,
    align,
    ceil_div,
    fill,
    mn_major_sf,
    packed_ue8m0,
    scales,
)
from jitwarm.dgenv import DEEPGEMM_MODULE_VAR
from jitwarm.errors import UnsupportedFamilyError
from jitwarm.plan import Family, PlanEntry, PlanKernel, hc_num_splits, spec
from jitwarm.profiles import BuildProfile, DetectedBuild, IndexerApi, detect_build, profile_for_api

DEFAULT_RECIPE = (1, 128, 128)
PACK = 4  # UE8M0 exponents per int32
MASKED_ROWS_ALIGN = 128  # per-group rows of the masked layout (a runtime value; not baked)
PAGED_BLOCKS_PER_SEQ = 4  # context of each decode sequence in the paged indexer call
METADATA_CONTEXT = 256


@dataclass
class Call:
    """A DeepGEMM call: ``deep_gemm.<fn_name>(*args, **kwargs)``. Unpacks as a 3-tuple."""

    fn_name: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any] = field(default_factory=dict)
    # Calls made right after this one: the other planned flag variants of the same kernel
    # family and shape, when the caller names no planned kernel (see `build_call`).
    then: tuple[Call, ...] = ()

    def __iter__(self) -> Iterator[Any]:
        return iter((self.fn_name, self.args, self.kwargs))

    def __call__(self) -> Any:
        out = getattr(deepgemm_module(), self.fn_name)(*self.args, **self.kwargs)
        for call in self.then:
            call()
        return out


def deepgemm_module() -> ModuleType:
    """The DeepGEMM module the server imports (found as ``jitwarm.profiles.detect_build``
    finds it; ``deep_gemm`` when nothing is found, so the ImportError names it)."""
    build = _build(os.environ.get(DEEPGEMM_MODULE_VAR), tuple(sys.path))
    return importlib.import_module(build.module if build.found else "deep_gemm")


def deepgemm_profile() -> BuildProfile:
    """The profile of the build the server imports. An unknown build gets the conventions of
    the profile its public names fit (it is imported to look); nothing installed: the first's."""
    build = _build(os.environ.get(DEEPGEMM_MODULE_VAR), tuple(sys.path))
    if build.profile is not None:
        return build.profile
    return profile_for_api(set(dir(deepgemm_module())) if build.found else None)


@functools.lru_cache(maxsize=8)
def _build(choice: str | None, path: tuple[str, ...]) -> DetectedBuild:
    # Detection reads files; once per (choice, sys.path) keeps it off every call's path.
    return detect_build()


@dataclass(frozen=True)
class _Ctx:
    device: torch.device
    init: str
    num_sms: int | None
    for_capture: bool
    mk_alignment: int
    profile: BuildProfile
    kernel: PlanKernel | None  # the planned kernel the call is for, where the caller names one

    def empty(self, shape: tuple[int, ...], dtype: torch.dtype) -> torch.Tensor:
        return fill(torch.empty(shape, dtype=dtype, device=self.device), self.init)


def build_call(
    entry: PlanEntry,
    m: int,
    device: torch.device | str = "cuda",
    *,
    num_sms: int | None = None,
    mk_alignment: int = 128,
    init: str = "empty",
    for_capture: bool = False,
    profile: BuildProfile | None = None,
    kernel: PlanKernel | None = None,
) -> Call:
    """The call ``entry`` makes at ``m`` (rows, total rows, expected_m or batch, per the entry's
    ``m_kind``). ``num_sms``: what engines pass to the paged-metadata call (default: DeepGEMM's
    current SM count). ``init="random"`` fills data for numeric checks. ``for_capture``: no
    DeepGEMM call while building (placeholder paged-attention schedule), for the stand-in
    compiler. ``profile``: the build whose entry points and contracts to use (default: the
    installed one, :func:`deepgemm_profile`). ``kernel``: the planned kernel of ``entry`` to
    compile, where its flags decide (the prefill indexer's); None: every planned variant, one
    call each, chained (`Call.then`).
    """
    if m < 1:
        raise ValueError(f"m must be >= 1, got {m}")
    if not spec(entry.family).standalone_call:
        raise UnsupportedFamilyError(
            f"{entry.family.value}: the standalone warm backend cannot build this call (it needs "
            "an engine's distributed state); warm it from the engine",
            family=entry.family.value,
        )
    profile = profile or deepgemm_profile()
    if not profile.has_family(entry.family.value):
        raise UnsupportedFamilyError(
            f"{entry.family.value}: {profile.label} has no entry point",
            family=entry.family.value,
            build=profile.name,
        )
    ctx = _Ctx(torch.device(device), init, num_sms, for_capture, mk_alignment, profile, kernel)
    return _BUILDERS[entry.family](entry, m, ctx)


def _fn(ctx: _Ctx, family: Family) -> str:
    """The build's public name for ``family``."""
    name = ctx.profile.entry_point(family.value)
    assert name is not None, family  # build_call checked the entry's own family
    return name


def run_call(entry: PlanEntry, m: int, device: torch.device | str = "cuda", **options: Any) -> Any:
    """Build and make the call; returns what DeepGEMM returns."""
    return build_call(entry, m, device, **options)()


# -- FP8 GEMMs ---------------------------------------------------------------------------------
def _recipe(entry: PlanEntry) -> tuple[int, int, int]:
    recipe = entry.conventions.scale_recipe
    return tuple(recipe) if recipe is not None else DEFAULT_RECIPE  # type: ignore[return-value]


def _ue8m0(entry: PlanEntry) -> bool:
    return entry.conventions.scale_dtype == "ue8m0"


def _sfa(ctx: _Ctx, entry: PlanEntry, rows: int, k: int, groups: int | None = None) -> torch.Tensor:
    gran_k = _recipe(entry)[2]
    if _ue8m0(entry):
        t = mn_major_sf(
            rows, ceil_div(k, gran_k * PACK), groups=groups, dtype=torch.int32, device=ctx.device
        )
        return packed_ue8m0(t, ctx.init)
    return scales(
        mn_major_sf(rows, ceil_div(k, gran_k), groups=groups, device=ctx.device), ctx.init
    )


def _sfb(ctx: _Ctx, entry: PlanEntry, n: int, k: int, groups: int | None = None) -> torch.Tensor:
    _, gran_n, gran_k = _recipe(entry)
    if _ue8m0(entry):
        t = mn_major_sf(
            n, ceil_div(k, gran_k * PACK), groups=groups, dtype=torch.int32, device=ctx.device
        )
        return packed_ue8m0(t, ctx.init)
    if gran_n == 1:  # per-row B scales (1D1D): MN-major like A's
        return scales(
            mn_major_sf(n, ceil_div(k, gran_k), groups=groups, device=ctx.device), ctx.init
        )
    shape = (ceil_div(n, gran_n), ceil_div(k, gran_k))
    return scales(
        torch.empty((groups, *shape) if groups else shape, dtype=torch.float32, device=ctx.device),
        ctx.init,
    )


def _gemm_kwargs(entry: PlanEntry) -> dict[str, Any]:
    conv = entry.conventions
    recipe = (1, 1, _recipe(entry)[2]) if _ue8m0(entry) else _recipe(entry)
    return {"recipe": recipe, "compiled_dims": conv.compiled_dims}


def _out(entry: PlanEntry) -> torch.dtype:
    return OUT_DTYPES[entry.conventions.out_dtype]


def _fp8_gemm_nt(entry: PlanEntry, m: int, ctx: _Ctx) -> Call:
    n, k = entry.n, entry.k
    a = (ctx.empty((m, k), FP8), _sfa(ctx, entry, m, k))
    b = (ctx.empty((n, k), FP8), _sfb(ctx, entry, n, k))
    d = torch.empty((m, n), dtype=_out(entry), device=ctx.device)
    return Call(_fn(ctx, Family.FP8_GEMM_NT), (a, b, d), _gemm_kwargs(entry))


def _m_grouped_contiguous(entry: PlanEntry, m: int, ctx: _Ctx) -> Call:
    n, k, g = entry.n, entry.k, entry.num_groups
    a = (ctx.empty((m, k), FP8), _sfa(ctx, entry, m, k))
    b = (ctx.empty((g, n, k), FP8), _sfb(ctx, entry, n, k, groups=g))
    d = torch.empty((m, n), dtype=_out(entry), device=ctx.device)
    # Rows sorted by expert in alignment-sized blocks, as a dispatcher lays them out.
    blocks = ceil_div(m, ctx.mk_alignment)
    block_of_row = torch.arange(m, device=ctx.device, dtype=torch.int64) // ctx.mk_alignment
    layout = (block_of_row * g // blocks).to(torch.int32)
    return Call(_fn(ctx, Family.M_GROUPED_CONTIGUOUS), (a, b, d, layout), _gemm_kwargs(entry))


def _m_grouped_masked(entry: PlanEntry, m: int, ctx: _Ctx) -> Call:
    n, k, g = entry.n, entry.k, entry.num_groups
    rows = align(m, MASKED_ROWS_ALIGN)
    a = (ctx.empty((g, rows, k), FP8), _sfa(ctx, entry, rows, k, groups=g))
    b = (ctx.empty((g, n, k), FP8), _sfb(ctx, entry, n, k, groups=g))
    d = torch.empty((g, rows, n), dtype=_out(entry), device=ctx.device)
    masked_m = torch.full((g,), m, dtype=torch.int32, device=ctx.device)
    return Call(_fn(ctx, Family.M_GROUPED_MASKED), (a, b, d, masked_m, m), _gemm_kwargs(entry))


def _fp8_einsum(entry: PlanEntry, m: int, ctx: _Ctx) -> Call:
    """``bhr,hdr->bhd``: DeepGEMM permutes A to (h, b, r), so A's scales are MN-major over b."""
    h, d_, r = entry.num_groups, entry.n, entry.k
    sfa = _sfa(ctx, entry, m, r, groups=h).permute(1, 0, 2)  # (b, h, r/128) view of (h, b, r/128)
    a = (ctx.empty((m, h, r), FP8), sfa)
    b = (ctx.empty((h, d_, r), FP8), _sfb(ctx, entry, d_, r, groups=h))
    d = torch.empty((m, h, d_), dtype=_out(entry), device=ctx.device)
    recipe = (1, 1, _recipe(entry)[2]) if _ue8m0(entry) else _recipe(entry)
    return Call(_fn(ctx, Family.FP8_EINSUM), ("bhr,hdr->bhd", a, b, d), {"recipe": recipe})


# -- other families ----------------------------------------------------------------------------
def _tf32_hc_prenorm(entry: PlanEntry, m: int, ctx: _Ctx) -> Call:
    """The split count is baked into the kernel: a recorded call's own, else the one engines
    pass at this M (TokenSpeed's rule, as planned)."""
    n, k = entry.n, entry.k
    splits = entry.dims.get("num_splits") or hc_num_splits(m, k, _num_sms(ctx))
    a = ctx.empty((m, k), torch.bfloat16)
    b = ctx.empty((n, k), torch.float32)
    d = torch.empty((splits, m, n) if splits else (m, n), dtype=torch.float32, device=ctx.device)
    sqr_sum = torch.empty((splits, m) if splits else (m,), dtype=torch.float32, device=ctx.device)
    return Call(_fn(ctx, Family.TF32_HC_PRENORM), (a, b, d, sqr_sum), {"num_splits": splits})


def _mqa_logits(entry: PlanEntry, m: int, ctx: _Ctx) -> Call:
    heads, dim = entry.dims["heads"], entry.dims["head_dim"]
    seq_kv = m  # causal prefill over its own tokens; the kernel takes both lengths at run time
    fp4 = entry.family is Family.FP4_MQA_LOGITS
    if fp4:
        q: tuple[Any, Any] | torch.Tensor = (
            ctx.empty((m, heads, dim // 2), torch.int8),
            packed_ue8m0(torch.empty((m, heads), dtype=torch.int32, device=ctx.device), ctx.init),
        )
        kv = (
            ctx.empty((seq_kv, dim // 2), torch.int8),
            packed_ue8m0(torch.empty((seq_kv,), dtype=torch.int32, device=ctx.device), ctx.init),
        )
    else:
        q = ctx.empty((m, heads, dim), FP8)
        kv = (
            ctx.empty((seq_kv, dim), FP8),
            scales(torch.empty((seq_kv,), device=ctx.device), ctx.init),
        )
    weights = ctx.empty((m, heads), torch.float32)
    ks = torch.zeros((m,), dtype=torch.int32, device=ctx.device)
    ke = torch.arange(1, m + 1, dtype=torch.int32, device=ctx.device)
    logits_dtype = OUT_DTYPES[entry.conventions.out_dtype]
    if ctx.profile.indexer_api is IndexerApi.FP8_FP4_ONLY:
        _fp32_logits_only(ctx, entry, logits_dtype)
        q = q if fp4 else (q, None)
        # max_seqlen_k is required here (> 0, the logits' width); the longest row is seq_kv.
        return Call(_fn(ctx, entry.family), (q, kv, weights, ks, ke, seq_kv))
    family = Family.MQA_LOGITS
    extra: dict[str, Any] = {}
    if fp4 or logits_dtype != torch.float32:
        q = q if fp4 else (q, None)
        family, extra = Family.FP4_MQA_LOGITS, {"logits_dtype": logits_dtype}
    first, *rest = [
        Call(_fn(ctx, family), (q, kv, weights, ks, ke), {**flags, **extra})
        for flags in _prefill_flags(entry, ctx.kernel, width=seq_kv)
    ]
    first.then = tuple(rest)
    return first


def _prefill_flags(
    entry: PlanEntry, kernel: PlanKernel | None, *, width: int
) -> list[dict[str, Any]]:
    """``clean_logits`` / ``max_seqlen_k`` of each planned prefill kernel (``kernel``'s alone
    where given), in plan order. A compressed call's logits are ``width`` wide (the longest
    row); a flag a kernel does not record is the family's registry default (DeepGEMM's)."""
    defaults = spec(entry.family).call_params
    out: list[dict[str, Any]] = []
    for k in [kernel] if kernel is not None else entry.kernels or [None]:
        params = {**defaults, **(k.params if k is not None else {})}
        flags = {
            "clean_logits": bool(params["clean_logits"]),
            "max_seqlen_k": width if params["compressed_logits"] else 0,
        }
        if flags not in out:
            out.append(flags)
    return out


def _fp32_logits_only(ctx: _Ctx, entry: PlanEntry, logits_dtype: torch.dtype) -> None:
    if logits_dtype != torch.float32:
        raise UnsupportedFamilyError(
            f"{entry.family.value}: {ctx.profile.label} computes FP32 logits only, the plan "
            f"asks for {entry.conventions.out_dtype}",
            family=entry.family.value,
            build=ctx.profile.name,
        )


def _paged_context(
    m: int, next_n: int, block_kv: int, ctx: _Ctx
) -> tuple[torch.Tensor, torch.Tensor, int]:
    context = PAGED_BLOCKS_PER_SEQ * block_kv
    context_lens = torch.full((m, next_n), context, dtype=torch.int32, device=ctx.device)
    block_table = torch.arange(m * PAGED_BLOCKS_PER_SEQ, dtype=torch.int32, device=ctx.device)
    return context_lens, block_table.view(m, PAGED_BLOCKS_PER_SEQ), context


def _num_sms(ctx: _Ctx) -> int:
    if ctx.num_sms is not None:
        return ctx.num_sms
    return int(deepgemm_module().get_num_sms())


def _schedule(context_lens: torch.Tensor, block_kv: int, ctx: _Ctx) -> torch.Tensor:
    num_sms = _num_sms(ctx)
    if ctx.for_capture:  # never launched under the stand-in compiler: shape is what matters
        return torch.zeros((num_sms + 1, 2), dtype=torch.int32, device=ctx.device)
    metadata = getattr(deepgemm_module(), _fn(ctx, Family.PAGED_MQA_METADATA))
    return metadata(context_lens, block_kv, num_sms)


def _paged_mqa_logits(entry: PlanEntry, m: int, ctx: _Ctx) -> Call:
    heads, dim = entry.dims["heads"], entry.dims["head_dim"]
    block_kv, next_n = entry.dims.get("block_kv", 64), entry.dims.get("next_n", 1)
    fp4 = entry.family is Family.FP4_PAGED_MQA_LOGITS
    context_lens, block_table, context = _paged_context(m, next_n, block_kv, ctx)
    blocks = m * PAGED_BLOCKS_PER_SEQ
    if fp4:
        q: Any = (
            ctx.empty((m, next_n, heads, dim // 2), torch.int8),
            packed_ue8m0(
                torch.empty((m, next_n, heads), dtype=torch.int32, device=ctx.device), ctx.init
            ),
        )
        kv_cache = ctx.empty((blocks, block_kv, 1, dim // 2 + 4), torch.uint8)
    else:
        q = ctx.empty((m, next_n, heads, dim), FP8)
        kv_cache = ctx.empty((blocks, block_kv, 1, dim + 4), torch.uint8)
    weights = ctx.empty((m * next_n, heads), torch.float32)
    schedule = _schedule(context_lens, block_kv, ctx)
    args = (q, kv_cache, weights, context_lens, block_table, schedule, context)
    logits_dtype = OUT_DTYPES[entry.conventions.out_dtype]
    if ctx.profile.indexer_api is IndexerApi.FP8_FP4_ONLY:
        _fp32_logits_only(ctx, entry, logits_dtype)
        return Call(_fn(ctx, entry.family), (q if fp4 else (q, None), *args[1:]))
    if fp4 or logits_dtype != torch.float32:
        args = (q if fp4 else (q, None), *args[1:])
        return Call(
            _fn(ctx, Family.FP4_PAGED_MQA_LOGITS),
            args,
            {"clean_logits": False, "logits_dtype": logits_dtype},
        )
    return Call(_fn(ctx, Family.PAGED_MQA_LOGITS), args, {"clean_logits": False})


def _paged_metadata(entry: PlanEntry, m: int, ctx: _Ctx) -> Call:
    block_kv = entry.dims.get("block_kv", 64)
    num_sms = _num_sms(ctx)
    context_lens = torch.full((m, 1), METADATA_CONTEXT, dtype=torch.int32, device=ctx.device)
    return Call(_fn(ctx, Family.PAGED_MQA_METADATA), (context_lens, block_kv, num_sms))


# One builder per family whose registry entry has a standalone call.
_BUILDERS: dict[Family, Callable[[PlanEntry, int, _Ctx], Call]] = {
    Family.FP8_GEMM_NT: _fp8_gemm_nt,
    Family.M_GROUPED_CONTIGUOUS: _m_grouped_contiguous,
    Family.M_GROUPED_MASKED: _m_grouped_masked,
    Family.FP8_EINSUM: _fp8_einsum,
    Family.TF32_HC_PRENORM: _tf32_hc_prenorm,
    Family.MQA_LOGITS: _mqa_logits,
    Family.FP4_MQA_LOGITS: _mqa_logits,
    Family.PAGED_MQA_LOGITS: _paged_mqa_logits,
    Family.FP4_PAGED_MQA_LOGITS: _paged_mqa_logits,
    Family.PAGED_MQA_METADATA: _paged_metadata,
}
