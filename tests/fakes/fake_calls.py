"""Verify's calls provider for the fake deep_gemm (``jitwarm.verify.CallsProvider``): the call
of a plan entry at one M, built from fake tensors the way a real provider builds torch tensors.
Pass ``calls=FakeCalls()`` to verify (tests/fakes on PYTHONPATH, imported as ``fake_calls``, so
its workers import it by that name too)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import fake_tensor as ft

from jitwarm.plan._schema import Family, PlanEntry
from jitwarm.warmer import PlanSettings, WorkerContext


@dataclass(frozen=True)
class FakeCalls:
    preload: tuple[str, ...] = ()

    def prepare(self, ctx: WorkerContext) -> None:
        import deep_gemm

        deep_gemm.set_num_sms(ctx.settings.num_sms)
        deep_gemm.set_mk_alignment_for_contiguous_layout(ctx.settings.mk_alignment)

    def build_call(self, entry: PlanEntry, m: int, settings: PlanSettings) -> Callable[[], object]:
        return build_call(entry, m, num_sms=settings.num_sms)

    def release(self) -> None:
        pass


def _cdiv(a: int, b: int) -> int:
    return -(-a // b)


def _out(entry: PlanEntry) -> ft.FakeDtype:
    return ft.float32 if entry.conventions.out_dtype == "fp32" else ft.bfloat16


def build_call(e: PlanEntry, m: int, *, num_sms: int) -> Callable[[], object]:
    """The call of ``e`` at ``m`` (``num_sms``: the plan's, as the metadata call takes it)."""
    import deep_gemm

    n, k, g, f8 = e.n, e.k, e.num_groups, ft.float8_e4m3fn
    if e.family is Family.FP8_GEMM_NT:
        a = (ft.empty(m, k, dtype=f8), ft.mn_major(m, _cdiv(k, 128)))
        b = (ft.empty(n, k, dtype=f8), ft.empty(_cdiv(n, 128), _cdiv(k, 128), dtype=ft.float32))
        d = ft.empty(m, n, dtype=_out(e))
        return lambda: deep_gemm.fp8_gemm_nt(a, b, d, compiled_dims=e.conventions.compiled_dims)
    if e.family is Family.M_GROUPED_CONTIGUOUS:
        a = (ft.empty(m, k, dtype=f8), ft.mn_major(m, _cdiv(k, 128)))
        b = (
            ft.empty(g, n, k, dtype=f8),
            ft.empty(g, _cdiv(n, 128), _cdiv(k, 128), dtype=ft.float32),
        )
        d = ft.empty(m, n, dtype=_out(e))
        layout = ft.empty(m, dtype=ft.int32)
        return lambda: deep_gemm.m_grouped_fp8_gemm_nt_contiguous(a, b, d, layout)
    if e.family is Family.M_GROUPED_MASKED:
        rows = _cdiv(max(m, 1), 64) * 64
        a = (ft.empty(g, rows, k, dtype=f8), ft.empty(g, rows, _cdiv(k, 128), dtype=ft.float32))
        b = (
            ft.empty(g, n, k, dtype=f8),
            ft.empty(g, _cdiv(n, 128), _cdiv(k, 128), dtype=ft.float32),
        )
        d = ft.empty(g, rows, n, dtype=_out(e))
        masked = ft.empty(g, dtype=ft.int32)
        return lambda: deep_gemm.m_grouped_fp8_gemm_nt_masked(a, b, d, masked, m)
    if e.family is Family.FP8_EINSUM:
        a = (ft.empty(m, g, k, dtype=f8), ft.empty(m, g, _cdiv(k, 128), dtype=ft.float32))
        b = (
            ft.empty(g, n, k, dtype=f8),
            ft.empty(g, _cdiv(n, 128), _cdiv(k, 128), dtype=ft.float32),
        )
        d = ft.empty(m, g, n, dtype=_out(e))
        return lambda: deep_gemm.fp8_einsum("bhr,hdr->bhd", a, b, d)
    if e.family is Family.TF32_HC_PRENORM:
        a, b = ft.empty(m, k, dtype=ft.float32), ft.empty(n, k, dtype=ft.float32)
        d, sq = ft.empty(m, n, dtype=ft.float32), ft.empty(m, dtype=ft.float32)
        return lambda: deep_gemm.tf32_hc_prenorm_gemm(a, b, d, sq)
    heads, head_dim = e.dims.get("heads", 0), e.dims.get("head_dim", 0)
    if e.family is Family.MQA_LOGITS:
        q = ft.empty(m, heads, head_dim, dtype=f8)
        kv = (ft.empty(m, head_dim, dtype=f8), ft.empty(m, dtype=ft.float32))
        w = ft.empty(m, heads, dtype=ft.float32)
        ks, ke = ft.empty(m, dtype=ft.int32), ft.empty(m, dtype=ft.int32)
        return lambda: deep_gemm.fp8_mqa_logits(q, kv, w, ks, ke)
    if e.family is Family.PAGED_MQA_METADATA:
        lens = ft.empty(m, dtype=ft.int32)
        return lambda: deep_gemm.get_paged_mqa_logits_metadata(lens, e.dims["block_kv"], num_sms)
    if e.family is Family.PAGED_MQA_LOGITS:
        block_kv, next_n = e.dims["block_kv"], e.dims["next_n"]
        q = ft.empty(m, next_n, heads, head_dim, dtype=f8)
        cache = ft.empty(4, block_kv, 1, head_dim + 4, dtype=ft.uint8)
        w = ft.empty(m * next_n, heads, dtype=ft.float32)
        lens, table = ft.empty(m, dtype=ft.int32), ft.empty(m, 4, dtype=ft.int32)
        meta = ft.empty(num_sms + 1, 2, dtype=ft.int32)
        return lambda: deep_gemm.fp8_paged_mqa_logits(q, cache, w, lens, table, meta, 4 * block_kv)
    raise NotImplementedError(f"fake_calls: no builder for {e.family.value}")
