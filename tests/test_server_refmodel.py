"""The reference model runs the plan's GEMMs, and its CPU mode stalls exactly where the GPU
would compile: on the first use of each kernel the SM90 selection names."""

from __future__ import annotations

import random
import subprocess
import sys
from pathlib import Path

import pytest

from jitwarm.errors import ConfigError
from jitwarm.models._loader import load_model
from jitwarm.plan import Family, plan_serving
from jitwarm.selection._sm90 import select_sm90
from jitwarm.server._refmodel import KernelKeyer, derive_shapes, plan_kernel_refs
from jitwarm.serving import ServingConfig

SERVING = ServingConfig(tp=8, max_batched_tokens=256, max_running_seqs=16)


@pytest.mark.parametrize("preset", ["deepseek-v3", "kimi-k2"])
def test_shapes_are_the_plan_sites_after_tp_sharding(preset):
    model = load_model(preset)
    shapes = derive_shapes(model, ServingConfig(tp=8))
    assert shapes.layer_kinds == ("dense", "moe")
    q_b = shapes.gemm("self_attn.q_b_proj")
    assert (q_b.n, q_b.k) == (model.attention.num_heads // 8 * 192, 1536)
    w13 = shapes.gemm("mlp.experts.w13", Family.M_GROUPED_CONTIGUOUS)
    assert (w13.n, w13.k, w13.num_groups) == (
        2 * model.moe.intermediate_size // 8,
        7168,
        model.moe.num_experts,
    )
    assert derive_shapes(model, ServingConfig(tp=8), layers=4).layer_kinds == (
        "dense",
        "moe",
        "moe",
        "moe",
    )


@pytest.mark.parametrize(
    ("preset", "serving"),
    [
        ("qwen3-30b-a3b-fp8", ServingConfig(tp=1)),
        ("deepseek-v4-flash", ServingConfig(tp=1)),
        ("deepseek-v3", ServingConfig(tp=8, arch="sm100")),
        ("deepseek-v3", ServingConfig(tp=8, attn_dp=8)),
        ("deepseek-v3", ServingConfig(tp=8, role="decode")),
        ("deepseek-v3", ServingConfig(tp=8, ep=8)),
        ("deepseek-v3", ServingConfig(tp=8, cuda_graph_batch_sizes=(1, 2, 4))),
    ],
)
def test_what_the_reference_model_cannot_run_is_a_config_error(preset, serving):
    with pytest.raises(ConfigError):
        derive_shapes(load_model(preset), serving)


def test_primed_keyer_agrees_with_direct_selection():
    model = load_model("deepseek-v3")
    plan = plan_serving(model, SERVING)
    primed = KernelKeyer(num_sms=132, mk_alignment=128, plan=plan)
    direct = KernelKeyer(num_sms=132, mk_alignment=128)
    rng = random.Random(0)
    for entry in plan.entries:
        ms = list(entry.mset)
        for m in rng.sample(ms, min(20, len(ms))):
            a = primed.ref(entry.family, entry.n, entry.k, entry.num_groups, m)
            b = direct.ref(entry.family, entry.n, entry.k, entry.num_groups, m)
            assert a == b
            problem = direct.problem(entry.family, entry.n, entry.k, entry.num_groups)
            assert a.template_args == select_sm90(problem, m).template_args(problem)
    assert primed.misses == 0
    primed.ref(
        Family.FP8_GEMM_NT, 2112, 7168, 1, 5000
    )  # beyond max_batched_tokens: scored directly
    assert primed.misses == 1
    assert len(plan_kernel_refs(plan)) == plan.num_kernels


def test_planning_and_the_server_package_import_no_torch():
    code = (
        "import sys, jitwarm.server, jitwarm.server._app, jitwarm.server._engine, jitwarm.cli._serve_cmd;"
        "from jitwarm.server._refmodel import derive_shapes, KernelKeyer;"
        "assert 'torch' not in sys.modules and 'deep_gemm' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# -- the CPU runtime (needs torch) ---------------------------------------------------------


@pytest.fixture
def build(tmp_path):
    pytest.importorskip("torch")
    from jitwarm.server._refmodel import build_runtime

    model = load_model("deepseek-v3")
    plan = plan_serving(model, SERVING)

    def make(seed=0, cache="cache"):
        return build_runtime(
            derive_shapes(model, SERVING),
            device="cpu",
            seed=seed,
            cache_root=tmp_path / cache,
            cpu_shrink=32,
            sim_compile_s=0.0,
            sim_load_s=0.0,
            plan=plan,
        )

    make.plan = plan
    return make


def _compiles(rt) -> list:
    return [e for e in rt.tracker.drain() if e.kind == "compile"]


def test_cpu_mode_compiles_each_kernel_once_into_a_deepgemm_style_cache(build, tmp_path):
    from jitwarm.cache import family_of, parse_entry_name, parse_template_args

    rt = build()
    prompt = [i % 256 for i in range(100)]
    first = rt.step("prefill", [(1, prompt, True)])
    compiled = _compiles(rt)
    assert compiled and first[0] is not None
    rt.step("prefill", [(2, prompt, True)])  # same M everywhere: every kernel is in process now
    assert _compiles(rt) == []
    for event in compiled:
        entry = tmp_path / "cache" / "cache" / event.entry
        _, kernel, _ = parse_entry_name(entry.name)
        args = parse_template_args((entry / "kernel.cu").read_text())
        assert family_of(kernel, args).value == event.family
        assert (entry / "kernel.cubin").stat().st_size > 0


def test_same_seed_same_tokens_and_batching_does_not_change_them(build):
    a, b, c = build(), build(cache="b"), build(seed=1, cache="c")
    p1, p2 = list(b"the reference model"), [7] * 40
    alone = [a.step("prefill", [(1, p1, True)])[0], a.step("prefill", [(2, p2, True)])[0]]
    together = b.step("prefill", [(1, p1, True), (2, p2, True)])
    assert alone == together
    assert c.step("prefill", [(1, p1, True), (2, p2, True)]) != together


def test_after_jitwarm_warm_no_step_compiles(build):
    from jitwarm.server._refmodel.sim_backend import SimulatedCompileBackend
    from jitwarm.warmer import warm

    rt = build()
    report = warm(
        build.plan, jobs=2, cache_dir=rt.cache_root, backend=SimulatedCompileBackend(compile_s=0.0)
    )
    assert report.failed == 0 and report.compiled == build.plan.num_kernels
    rng = random.Random(1)
    seq = 100
    for _ in range(12):  # prefill steps up to the full budget, decode steps up to max_running_seqs
        sizes = [rng.randint(1, 64) for _ in range(rng.randint(1, 4))]
        sizes[-1] = max(1, min(sizes[-1], 256 - sum(sizes[:-1])))
        rt.step("prefill", [(seq + i, [1] * n, True) for i, n in enumerate(sizes)])
        batch = rng.choice([1, 2, 15, 16, rng.randint(1, 16)])
        rt.step("decode", [(seq + i, [2], True) for i in range(batch)])
        seq += 10
    rt.step("prefill", [(999, [3] * 256, True)])
    events = rt.tracker.drain()
    assert events and all(e.kind == "load" for e in events)


def test_the_seeds_dense_sweep_leaves_the_moe_kernels_to_compile_while_serving(build):
    from jitwarm.server._warmup import dense_sweep_m_values

    rt = build()
    rt.sweep_linears(dense_sweep_m_values(256))
    rt.tracker.drain()
    rt.step("prefill", [(1, [5] * 200, True)])
    rt.step("decode", [(1, [6], True)])
    families = {e.family for e in _compiles(rt)}
    assert families == {"m_grouped_fp8_gemm_nt_contiguous", "m_grouped_fp8_gemm_nt_masked"}


def test_window_attention_equals_causal_attention_when_the_window_covers_the_context():
    torch = pytest.importorskip("torch")
    from jitwarm.server._refmodel.model import _causal_attention, _window_attention

    g = torch.Generator().manual_seed(0)
    k, v = torch.randn(9, 3, 4, generator=g), torch.randn(9, 3, 2, generator=g)
    for t in (1, 5, 9):
        q = torch.randn(t, 3, 4, generator=g)
        assert torch.allclose(_window_attention(q, k, v, 16), _causal_attention(q, k, v), atol=1e-5)
    q = torch.randn(4, 3, 4, generator=g)
    assert not torch.allclose(_window_attention(q, k, v, 2), _causal_attention(q, k, v), atol=1e-3)


def test_quantized_activation_scales_are_mn_major_and_tma_aligned():
    torch = pytest.importorskip("torch")
    from jitwarm.server._refmodel.quant import quantize_activation, quantize_weight

    x = torch.randn(5, 256)
    q, s = quantize_activation(x)
    assert q.dtype == torch.float8_e4m3fn and s.shape == (5, 2) and s.stride() == (1, 8)
    assert torch.allclose(
        q.float().view(5, 2, 128) * s[..., None], x.view(5, 2, 128), rtol=0.07, atol=1e-2
    )
    _, s3 = quantize_activation(torch.randn(3, 6, 128))
    assert s3.shape == (3, 6, 1) and s3.stride() == (8, 1, 8)
    wq, ws = quantize_weight(torch.randn(200, 256))
    assert wq.shape == (200, 256) and ws.shape == (2, 2)


def test_no_plan_misses_while_serving(build):
    rt = build()
    rt.step("prefill", [(1, [1] * 256, True)])
    rt.step("decode", [(1, [1], True)])
    assert rt.model.ops.keyer.misses == 0
    # ... and not vacuously: the steps did meet kernels (each compiled once into the cache).
    compiled = _compiles(rt)
    assert compiled and len(list((Path(rt.cache_root) / "cache").iterdir())) == len(compiled)


# -- the DeepGEMM path, against a stand-in that enforces DeepGEMM's argument checks ---------

SMALL_V3 = {
    "architectures": ["DeepseekV3ForCausalLM"],
    "hidden_size": 256,
    "num_hidden_layers": 2,
    "vocab_size": 256,
    "first_k_dense_replace": 1,
    "intermediate_size": 256,
    "moe_intermediate_size": 128,
    "n_routed_experts": 8,
    "num_experts_per_tok": 2,
    "n_shared_experts": 1,
    "num_attention_heads": 2,
    "num_key_value_heads": 2,
    "q_lora_rank": 128,
    "kv_lora_rank": 128,
    "qk_nope_head_dim": 128,
    "qk_rope_head_dim": 64,
    "v_head_dim": 128,
    "quantization_config": {"quant_method": "fp8", "fmt": "e4m3", "weight_block_size": [128, 128]},
}


class StandInDeepGemm:
    """The three DeepGEMM entry points the model calls, with their host-side checks (shapes,
    dtypes, K-major operands, scale-factor layouts) and a reference result."""

    def __init__(self, torch):
        self.t = torch
        self.calls: list[tuple[str, tuple]] = []

    def _sfa(self, sf, lead, m, k):
        t = self.t
        aligned = -(-m // 4) * 4
        assert sf.dtype == t.float32 and tuple(sf.shape) == (*lead, m, k // 128)
        assert sf.stride()[-2] == 1 and sf.stride()[-1] == aligned  # MN-major, TMA-aligned
        if lead:
            assert sf.stride()[0] == aligned * (k // 128)

    def _sfb(self, sf, lead, n, k):
        assert sf.dtype == self.t.float32 and sf.is_contiguous()
        assert tuple(sf.shape) == (*lead, -(-n // 128), k // 128)

    def _deq_a(self, q, sf):
        return q.float() * sf.repeat_interleave(128, -1)

    def _deq_b(self, q, sf):
        n = q.shape[-2]
        return q.float() * sf.repeat_interleave(128, -2)[..., :n, :].repeat_interleave(128, -1)

    def fp8_gemm_nt(self, a, b, d):
        t = self.t
        (aq, asf), (bq, bsf) = a, b
        m, k = aq.shape
        n = bq.shape[0]
        assert aq.dtype == bq.dtype == t.float8_e4m3fn and aq.is_contiguous() and bq.is_contiguous()
        assert d.dtype == t.bfloat16 and tuple(d.shape) == (m, n) and k % 128 == 0
        self._sfa(asf, (), m, k)
        self._sfb(bsf, (), n, k)
        self.calls.append(("fp8_gemm_nt", (m, n, k)))
        d.copy_(self._deq_a(aq, asf) @ self._deq_b(bq, bsf).T)

    def m_grouped_fp8_gemm_nt_contiguous(self, a, b, d, m_indices):
        t = self.t
        (aq, asf), (bq, bsf) = a, b
        m, k = aq.shape
        g, n, _ = bq.shape
        assert m % 128 == 0 and m_indices.dtype == t.int32 and tuple(m_indices.shape) == (m,)
        assert d.dtype == t.bfloat16 and tuple(d.shape) == (m, n)
        blocks = m_indices.view(-1, 128)
        assert bool(((blocks == blocks[:, :1]) | (blocks == -1)).all())  # one group per block
        assert int(m_indices.max()) < g
        self._sfa(asf, (), m, k)
        self._sfb(bsf, (g,), n, k)
        self.calls.append(("m_grouped_fp8_gemm_nt_contiguous", (m, n, k, g)))
        x, w = self._deq_a(aq, asf), self._deq_b(bq, bsf)
        out = t.zeros(m, n)
        for row in (m_indices >= 0).nonzero().flatten().tolist():
            out[row] = x[row] @ w[int(m_indices[row])].T
        d.copy_(out)

    def m_grouped_fp8_gemm_nt_masked(self, a, b, d, masked_m, expected_m):
        t = self.t
        (aq, asf), (bq, bsf) = a, b
        g, m, k = aq.shape
        _, n, _ = bq.shape
        assert masked_m.dtype == t.int32 and tuple(masked_m.shape) == (g,) and expected_m > 0
        assert int(masked_m.max()) <= m and tuple(d.shape) == (g, m, n) and d.dtype == t.bfloat16
        self._sfa(asf, (g,), m, k)
        self._sfb(bsf, (g,), n, k)
        self.calls.append(("m_grouped_fp8_gemm_nt_masked", (g, m, n, k, expected_m)))
        x, w = self._deq_a(aq, asf), self._deq_b(bq, bsf)
        d.copy_(t.einsum("gmk,gnk->gmn", x, w))


def test_the_deepgemm_path_passes_deepgemms_argument_checks(tmp_path):
    torch = pytest.importorskip("torch")
    import json

    from jitwarm.server._refmodel.jit import PassThroughJit
    from jitwarm.server._refmodel.model import RefModel
    from jitwarm.server._refmodel.ops_deepgemm import DeepGemmOps

    (tmp_path / "config.json").write_text(json.dumps(SMALL_V3))
    model = load_model(tmp_path / "config.json")
    serving = ServingConfig(tp=1, max_batched_tokens=64, max_running_seqs=4)
    shapes = derive_shapes(model, serving)
    dg = StandInDeepGemm(torch)
    keyer = KernelKeyer(num_sms=132, mk_alignment=128, plan=plan_serving(model, serving))
    ops = DeepGemmOps(
        dg, PassThroughJit(), keyer, torch.Generator().manual_seed(0), torch.device("cpu")
    )
    ref = RefModel(shapes, shapes.dims, ops, torch.Generator().manual_seed(0), masked_align=128)
    first = ref.step("prefill", [(1, list(b"hello"), True), (2, [3] * 20, True)])
    nxt = ref.step("decode", [(1, [first[0]], True), (2, [first[1]], True)])
    assert all(0 <= t < 256 for t in first + nxt)
    families = {name for name, _ in dg.calls}
    assert families == {
        "fp8_gemm_nt",
        "m_grouped_fp8_gemm_nt_contiguous",
        "m_grouped_fp8_gemm_nt_masked",
    }
    masked = [args for name, args in dg.calls if name.endswith("masked")]
    assert {args[-1] for args in masked} == {shapes.expected_m(2)}
    for shape, weights in ref.gemm_weights():  # every warm call the plan can ask for
        family = shape.family
        ref.warm_call(family, 128 if family is Family.M_GROUPED_CONTIGUOUS else 3, weights)
        if family is Family.M_GROUPED_CONTIGUOUS:
            ref.warm_call(Family.M_GROUPED_MASKED, 2, weights)


def test_attention_of_a_query_does_not_depend_on_how_its_prompt_was_chunked():
    torch = pytest.importorskip("torch")
    from jitwarm.server._refmodel.model import _causal_attention

    g = torch.Generator().manual_seed(0)
    s = 300
    q = torch.randn(s, 4, 24, generator=g).bfloat16()
    k, v = (
        torch.randn(s, 4, 24, generator=g).bfloat16(),
        torch.randn(s, 4, 16, generator=g).bfloat16(),
    )
    whole = _causal_attention(q, k, v)
    for cut in (1, 37, 256, s - 1):  # a later chunk, down to a single decode-like query
        chunk = _causal_attention(q[cut:], k, v)
        assert torch.equal(chunk, whole[cut:]), cut
        first = _causal_attention(q[:cut], k[:cut], v[:cut])
        assert torch.equal(first, whole[:cut]), cut


def test_a_requests_tokens_do_not_depend_on_its_batch_or_chunking(build):
    a, b = build(), build(cache="b")
    prompt, other = [(i * 7) % 256 for i in range(120)], [3] * 90
    alone = a.step("prefill", [(1, prompt, True)])[0]
    # the same prompt in two chunks, the first beside another request's prompt
    b.step("prefill", [(2, other, True), (1, prompt[:50], False)])
    chunked = b.step("prefill", [(1, prompt[50:], True)])[0]
    assert alone is not None and chunked == alone
    assert (
        a.step("decode", [(1, [alone], True)])
        == b.step("decode", [(1, [alone], True), (2, [5], True)])[:1]
    )
