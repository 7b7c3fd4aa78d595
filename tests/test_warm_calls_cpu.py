"""Argument builders checked on CPU against DeepGEMM's host-side contract (csrc/utils/layout.hpp,
csrc/apis/*.hpp): dtypes, shapes, strides and scale layouts. Needs torch, not a GPU."""

import subprocess
import sys

import pytest

torch = pytest.importorskip("torch")

from tests._warm_plans import exact_plan, sweep_plan  # noqa: E402

from jitwarm.deepgemm._calls import UnsupportedFamilyError, build_call  # noqa: E402
from jitwarm.deepgemm._layout import tma_aligned_size  # noqa: E402
from jitwarm.deepgemm._scan import plan_model, scan_fp8_linears  # noqa: E402
from jitwarm.plan._schema import Conventions, Family, PlanEntry, Selection  # noqa: E402
from jitwarm.serving import ServingConfig  # noqa: E402

FP8 = torch.float8_e4m3fn


def entry_of(plan, family: Family) -> PlanEntry:  # type: ignore[no-untyped-def]
    return next(e for e in plan.entries if e.family is family)


def assert_mn_major_tma(sf, rows: int, cols: int, groups: int | None = None) -> None:  # type: ignore[no-untyped-def]
    """DeepGEMM's check_sf_layout(..., tma_stride_check=True)."""
    assert sf.shape[-2:] == (rows, cols)
    assert sf.stride(-2) == 1 or rows == 1
    assert sf.stride(-1) == tma_aligned_size(rows, sf.element_size())
    if groups is not None:
        assert sf.shape[-3] == groups and sf.stride(-3) == sf.stride(-1) * sf.size(-1)


@pytest.mark.parametrize("m", [1, 5, 129, 4096])
def test_fp8_gemm_nt_sm90(m: int) -> None:
    e = entry_of(exact_plan(), Family.FP8_GEMM_NT)
    fn, args, kwargs = build_call(e, m, "cpu")
    (a, sfa), (b, sfb), d = args
    assert fn == "fp8_gemm_nt" and kwargs == {"recipe": (1, 128, 128), "compiled_dims": "nk"}
    assert a.dtype == FP8 and a.shape == (m, e.k) and a.stride(-1) == 1
    assert b.dtype == FP8 and b.shape == (e.n, e.k) and b.is_contiguous()
    assert sfa.dtype == torch.float32
    assert_mn_major_tma(sfa, m, -(-e.k // 128))
    assert (
        sfb.dtype == torch.float32
        and sfb.shape == (-(-e.n // 128), -(-e.k // 128))
        and sfb.is_contiguous()
    )
    assert d.dtype == torch.bfloat16 and d.shape == (m, e.n) and d.is_contiguous()


def test_fp8_gemm_nt_sm100_packed_ue8m0() -> None:
    e = entry_of(sweep_plan(), Family.FP8_GEMM_NT)
    _, ((_, sfa), (_, sfb), _), kwargs = build_call(e, 100, "cpu")
    assert kwargs["recipe"] == (1, 1, 128)
    assert sfa.dtype == sfb.dtype == torch.int32
    assert_mn_major_tma(sfa, 100, -(-e.k // 512))
    assert_mn_major_tma(sfb, e.n, -(-e.k // 512))


def test_m_grouped_contiguous_layout() -> None:
    e = entry_of(exact_plan(), Family.M_GROUPED_CONTIGUOUS)
    m = 128 * 40
    fn, ((a, sfa), (b, sfb), d, layout), kwargs = build_call(e, m, "cpu", mk_alignment=128)
    g = e.num_groups
    assert fn == "m_grouped_fp8_gemm_nt_contiguous" and kwargs["compiled_dims"] == "nk"
    assert a.shape == (m, e.k) and b.shape == (g, e.n, e.k) and d.shape == (m, e.n)
    assert_mn_major_tma(sfa, m, e.k // 128)
    assert sfb.shape == (g, -(-e.n // 128), e.k // 128) and sfb.is_contiguous()
    assert layout.dtype == torch.int32 and layout.shape == (m,) and layout.is_contiguous()
    blocks = layout.view(-1, 128)
    assert bool((blocks == blocks[:, :1]).all())  # one expert per aligned block
    assert int(layout.min()) >= 0 and int(layout.max()) < g
    assert bool((layout[1:] >= layout[:-1]).all())  # sorted by expert


def test_m_grouped_masked() -> None:
    e = entry_of(exact_plan(), Family.M_GROUPED_MASKED)
    fn, ((a, sfa), (_, _), d, masked_m, expected_m), _ = build_call(e, 7, "cpu")
    g = e.num_groups
    assert fn == "m_grouped_fp8_gemm_nt_masked" and expected_m == 7
    rows = a.shape[1]
    assert a.shape == (g, rows, e.k) and rows >= 7 and d.shape == (g, rows, e.n)
    assert_mn_major_tma(sfa, rows, e.k // 128, groups=g)
    assert masked_m.dtype == torch.int32 and masked_m.tolist() == [7] * g


def _v4_plan(arch: str = "sm90"):  # type: ignore[no-untyped-def]
    from jitwarm.models._loader import load_model
    from jitwarm.plan import plan_serving

    return plan_serving(
        load_model("deepseek-v4-flash"),
        ServingConfig(tp=8, max_batched_tokens=256, max_running_seqs=16, arch=arch),
    )


def test_fp8_einsum_scales_are_mn_major_after_deepgemm_permutes() -> None:
    e = entry_of(_v4_plan(), Family.FP8_EINSUM)
    fn, (expr, (a, sfa), (b, sfb), d), kwargs = build_call(e, 33, "cpu")
    h = e.num_groups
    assert fn == "fp8_einsum" and expr == "bhr,hdr->bhd" and kwargs == {"recipe": (1, 128, 128)}
    assert a.shape == (33, h, e.k) and b.shape == (h, e.n, e.k) and d.shape == (33, h, e.n)
    assert_mn_major_tma(sfa.permute(1, 0, 2), 33, e.k // 128, groups=h)  # what DeepGEMM checks
    assert sfb.shape == (h, e.n // 128, e.k // 128) and sfb.is_contiguous()


def test_hc_prenorm_and_indexer_families() -> None:
    plan = _v4_plan()
    hc = entry_of(plan, Family.TF32_HC_PRENORM)
    fn, (a, b, d, sqr), kw = build_call(hc, 9, "cpu", num_sms=132)
    assert fn == "tf32_hc_prenorm_gemm" and a.dtype == torch.bfloat16 and b.dtype == torch.float32
    # TokenSpeed's split count (docs/presets.md): min(132 // ceil(9/64), 16384 // 64 // 4) = 64,
    # baked into the kernel, so the call must pass it.
    assert d.shape == (64, 9, b.shape[0]) and sqr.shape == (64, 9) and kw == {"num_splits": 64}
    assert hc.k == 16384

    mqa = entry_of(plan, Family.MQA_LOGITS)
    fn, (q, (kv, kv_sf), w, ks, ke), kw = build_call(mqa, 17, "cpu")
    heads, dim = mqa.dims["heads"], mqa.dims["head_dim"]
    assert fn == "fp8_mqa_logits" and q.shape == (17, heads, dim) and q.dtype == FP8
    assert kv.shape == (17, dim) and kv_sf.shape == (17,) and w.shape == (17, heads)
    assert ks.dtype == ke.dtype == torch.int32 and int(ke.max()) <= kv.shape[0]
    # The plan's kernel records TokenSpeed 0.1.1's flags (tokenspeed-kernel 0.1.4,
    # ops/attention/dsv4/deep_gemm.py:353: clean_logits=False, max_seqlen_k > 0): not cleaned,
    # compressed logits as wide as the longest row.
    assert [k.params for k in mqa.kernels or []] == [
        {"clean_logits": False, "compressed_logits": True}
    ]
    assert kw == {"clean_logits": False, "max_seqlen_k": 17}

    paged = entry_of(plan, Family.PAGED_MQA_LOGITS)
    fn, (q, cache, w, lens, table, sched, ctx_len), kw = build_call(
        paged, 3, "cpu", num_sms=132, for_capture=True
    )
    nn = paged.dims["next_n"]
    assert fn == "fp8_paged_mqa_logits" and q.shape == (3, nn, heads, dim)
    assert cache.dtype == torch.uint8 and cache.shape[1:] == (paged.dims["block_kv"], 1, dim + 4)
    assert cache.is_contiguous() and lens.shape == (3, nn) and lens.dtype == torch.int32
    assert int(table.max()) < cache.shape[0] and sched.shape == (133, 2)
    assert int(lens.max()) <= table.shape[1] * paged.dims["block_kv"] and ctx_len == int(lens.max())
    assert kw == {"clean_logits": False}

    meta = entry_of(plan, Family.PAGED_MQA_METADATA)
    fn, (lens, block_kv, sms), _ = build_call(meta, 40, "cpu", num_sms=132)
    assert (
        fn == "get_paged_mqa_logits_metadata"
        and lens.shape == (40, 1)
        and (block_kv, sms) == (64, 132)
    )


def test_mega_moe_is_refused_with_a_reason() -> None:
    e = PlanEntry(
        family=Family.MEGA_MOE,
        n=512,
        k=7168,
        num_groups=32,
        phases=["decode"],
        m_values=[[1, 8]],
        selection=Selection.SWEEP,
        kernels=None,
        modules=[],
        conventions=Conventions(ab_dtype="fp8xfp4", scale_dtype="ue8m0"),
    )
    with pytest.raises(UnsupportedFamilyError, match="fp8_fp4_mega_moe"):
        build_call(e, 4, "cpu")


def test_random_init_fills_data_and_positive_scales() -> None:
    e = entry_of(exact_plan(), Family.FP8_GEMM_NT)
    _, ((a, sfa), _, _), _ = build_call(e, 8, "cpu", init="random")
    assert float(a.float().abs().sum()) > 0
    assert float(sfa.min()) >= 0.5


class _Linear(torch.nn.Module):
    def __init__(
        self, n: int, k: int, scale_name: str = "weight_scale_inv", block: bool = True
    ) -> None:
        super().__init__()
        self.weight = torch.nn.Parameter(torch.empty(n, k, dtype=FP8), requires_grad=False)
        shape = (-(-n // 128), -(-k // 128)) if block else (n, 1)
        self.register_parameter(
            scale_name, torch.nn.Parameter(torch.ones(shape), requires_grad=False)
        )


def test_scan_finds_fp8_block_quantized_linears_only() -> None:
    model = torch.nn.Module()
    model.layers = torch.nn.ModuleList()
    for _ in range(3):
        layer = torch.nn.Module()
        layer.q = _Linear(1536, 7168)
        layer.o = _Linear(7168, 2048, scale_name="weight_scale")
        layer.per_channel = _Linear(256, 512, block=False)  # not 128x128 blocks: skipped
        layer.dense = torch.nn.Linear(64, 64)  # not FP8: skipped
        model.layers.append(layer)
    shapes = scan_fp8_linears(model)
    assert [(s.n, s.k) for s in shapes] == [(1536, 7168), (7168, 2048)]
    assert shapes[0].modules == ("layers.0.q", "layers.1.q", "layers.2.q")
    plan = plan_model(model, ServingConfig(max_batched_tokens=512))
    assert [(e.n, e.k) for e in plan.entries] == [(1536, 7168), (7168, 2048)]
    assert plan.entries[0].modules[0].name == "layers.*.q" and plan.entries[0].modules[
        0
    ].layers == [[0, 2]]
    assert all(e.mset.max == 512 and e.kernels for e in plan.entries)


def test_importing_jitwarm_and_its_warm_imports_no_torch() -> None:
    code = (
        "import sys, jitwarm, jitwarm.warmer, jitwarm.deepgemm, jitwarm.cli._warm_cmd\n"
        "from jitwarm.deepgemm._backend import DeepGEMMBackend\n"
        "jitwarm.warm; DeepGEMMBackend()\n"
        "assert 'torch' not in sys.modules and 'deep_gemm' not in sys.modules, 'imported torch'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def _with_kernels(entry, params: list[dict]):  # type: ignore[no-untyped-def]
    kernels = [
        k.model_copy(update={"params": p}) for k in (entry.kernels or [])[:1] for p in params
    ]
    return entry.model_copy(update={"kernels": kernels})


def test_prefill_logits_calls_pass_each_planned_kernels_flags() -> None:
    mqa = entry_of(_v4_plan(), Family.MQA_LOGITS)
    # A plan stored before the engines' flags were read records DeepGEMM's defaults explicitly;
    # one older still records none: both mean what warm passed then.
    for params in ({"clean_logits": True, "compressed_logits": False}, {}):
        call = build_call(_with_kernels(mqa, [params]), 5, "cpu")
        assert call.kwargs == {"clean_logits": True, "max_seqlen_k": 0} and call.then == ()
    # Two planned variants (sgl-deep-gemm's profile): one call each, chained, or the one named.
    variants = [
        {"clean_logits": False, "compressed_logits": False},
        {"clean_logits": False, "compressed_logits": True},
    ]
    both = _with_kernels(mqa, variants)
    call = build_call(both, 5, "cpu")
    assert call.kwargs == {"clean_logits": False, "max_seqlen_k": 0}
    assert [c.kwargs for c in call.then] == [{"clean_logits": False, "max_seqlen_k": 5}]
    assert call.then[0].fn_name == call.fn_name
    assert all(a is b for a, b in zip(call.then[0].args, call.args, strict=True))
    named = build_call(both, 5, "cpu", kernel=(both.kernels or [])[1])
    assert named.kwargs == {"clean_logits": False, "max_seqlen_k": 5} and named.then == ()
