"""The reference model: a DeepSeek-V3-architecture decoder at one rank's real per-layer shapes
and reduced depth, with random FP8 weights. It exists to run the GEMMs a real server runs, at
the M values a real scheduler produces; it does not model language (no rotary embedding, no
trained weights, bytes in and bytes out).

Layer: RMSNorm -> MLA attention (fused q_a/kv_a projection, q_b, kv_b, attention over a
per-sequence KV cache, o_proj) -> RMSNorm -> dense MLP (layer 0) or MoE (routed experts through
grouped GEMMs plus a shared expert). Every GEMM goes through an ``ops`` backend: DeepGEMM on the
GPU, torch on the CPU.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F

from jitwarm.plan import Family
from jitwarm.server._refmodel.shapes import (
    ATTENTION_LINEARS,
    DENSE_LINEARS,
    SHARED_LINEARS,
    GemmShape,
    RefDims,
    RefShapes,
    linear_widths,
)

EPS = 1e-6


def _align(x: int, a: int) -> int:
    return -(-x // a) * a


def rms_norm(x: torch.Tensor) -> torch.Tensor:
    xf = x.float()
    return (xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + EPS)).to(x.dtype)


def silu_mul(y: torch.Tensor) -> torch.Tensor:
    half = y.shape[-1] // 2
    yf = y.float()
    return (F.silu(yf[..., :half]) * yf[..., half:]).to(y.dtype)


class Layer:
    def __init__(
        self,
        kind: str,
        linears: dict[str, Any],
        router: torch.Tensor | None,
        experts: dict[str, Any],
    ) -> None:
        self.kind = kind
        self.linears = linears
        self.router = router  # (experts, hidden) float32, BF16-style gate outside DeepGEMM
        self.experts = experts  # "w13", "w2"


class RefModel:
    """Runs one scheduler step: a prefill step (chunks of prompts) or a decode step."""

    def __init__(
        self,
        shapes: RefShapes,
        dims: RefDims,
        ops: Any,
        generator: torch.Generator,
        *,
        masked_align: int,
        attention_window: int | None = None,
    ) -> None:
        self.shapes = shapes
        self.dims = dims
        self.ops = ops
        self.masked_align = masked_align
        # The CPU mode attends over a sliding window: attention cost grows with the square of
        # the context on two cores, and the GEMM shapes (what this model is for) do not change.
        self.attention_window = attention_window
        dev, dt = ops.device, ops.act_dtype
        d = dims

        def randn(*size: int) -> torch.Tensor:
            return torch.randn(*size, generator=generator, device=dev, dtype=torch.float32)

        self.embed = randn(d.vocab, d.hidden).to(dt)
        self.lm_head = randn(d.vocab, d.hidden) / d.hidden**0.5
        widths = linear_widths(d)
        self.layers: list[Layer] = []
        for kind in shapes.layer_kinds:
            names = ATTENTION_LINEARS + (DENSE_LINEARS if kind == "dense" else SHARED_LINEARS)
            linears = {name: ops.make_linear(shapes.gemm(name), *widths[name]) for name in names}
            router, experts = None, {}
            if kind == "moe":
                router = randn(d.num_experts, d.hidden)
                contiguous = Family.M_GROUPED_CONTIGUOUS
                experts = {
                    "w13": ops.make_experts(
                        shapes.gemm("mlp.experts.w13", contiguous),
                        2 * d.expert_intermediate,
                        d.hidden,
                    ),
                    "w2": ops.make_experts(
                        shapes.gemm("mlp.experts.w2", contiguous), d.hidden, d.expert_intermediate
                    ),
                }
            self.layers.append(Layer(kind, linears, router, experts))
        self._kv: dict[tuple[int, int], tuple[torch.Tensor, torch.Tensor]] = {}

    # -- the weights of each GEMM site, for warmup calls ------------------------------------
    def gemm_weights(self) -> list[tuple[GemmShape, Any]]:
        """(plan shape, weights) of every distinct GEMM site the model runs."""
        seen: dict[GemmShape, Any] = {}
        for layer in self.layers:
            for w in (*layer.linears.values(), *layer.experts.values()):
                seen.setdefault(w.shape, w)
        return list(seen.items())

    def warm_call(self, family: Family, m: int, weights: Any) -> None:
        self.ops.warm_call(family, m, weights)

    # -- serving ----------------------------------------------------------------------------
    def free(self, seq_id: int) -> None:
        for li in range(len(self.layers)):
            self._kv.pop((li, seq_id), None)

    @torch.inference_mode()
    def step(
        self, phase: str, items: Sequence[tuple[int, Sequence[int], bool]]
    ) -> list[int | None]:
        """Run one step. ``items``: (sequence id, new tokens, whether a next token is wanted).
        Returns the greedy next token of each item that wants one, else None."""
        ops = self.ops
        ids = torch.tensor(
            [t for _, toks, _ in items for t in toks], dtype=torch.long, device=ops.device
        )
        x = self.embed[ids]
        for li, layer in enumerate(self.layers):
            x = x + self._attention(li, layer, rms_norm(x), items)
            h = rms_norm(x)
            x = x + (
                self._dense_mlp(layer, h) if layer.kind == "dense" else self._moe(layer, h, phase)
            )
        ends, offset = [], 0
        for _, toks, want in items:
            offset += len(toks)
            ends.append(offset - 1 if want else -1)
        wanted = [e for e in ends if e >= 0]
        out: list[int | None] = [None] * len(items)
        if wanted:
            last = rms_norm(x[torch.tensor(wanted, device=ops.device)]).float()
            tokens = batch_invariant_matmul(last, self.lm_head).argmax(-1).tolist()
            it = iter(tokens)
            out = [next(it) if e >= 0 else None for e in ends]
        return out

    def _attention(
        self,
        li: int,
        layer: Layer,
        x: torch.Tensor,
        items: Sequence[tuple[int, Sequence[int], bool]],
    ) -> torch.Tensor:
        d, ops, lin = self.dims, self.ops, layer.linears
        t_all = x.shape[0]
        h = d.local_heads
        qkv = ops.linear(x, lin["self_attn.fused_qkv_a_proj_with_mqa"])
        q_a, kv_a, k_rope = qkv.split([d.q_lora_rank, d.kv_lora_rank, d.qk_rope_head_dim], dim=-1)
        q = ops.linear(rms_norm(q_a.contiguous()), lin["self_attn.q_b_proj"]).view(t_all, h, -1)
        kv = ops.linear(rms_norm(kv_a.contiguous()), lin["self_attn.kv_b_proj"]).view(t_all, h, -1)
        k_nope, v = kv.split([d.qk_nope_head_dim, d.v_head_dim], dim=-1)
        k = torch.cat([k_nope, k_rope[:, None, :].expand(t_all, h, d.qk_rope_head_dim)], dim=-1)
        outs, offset = [], 0
        for seq_id, toks, _ in items:
            t = len(toks)
            k_seq, v_seq = k[offset : offset + t], v[offset : offset + t]
            cached = self._kv.get((li, seq_id))
            if cached is not None:
                k_seq, v_seq = torch.cat([cached[0], k_seq]), torch.cat([cached[1], v_seq])
            self._kv[(li, seq_id)] = (k_seq, v_seq)
            q_seq = q[offset : offset + t]
            if self.attention_window is None:
                o = _causal_attention(q_seq, k_seq, v_seq)
            else:
                o = _window_attention(q_seq, k_seq, v_seq, self.attention_window)
            outs.append(o.reshape(t, -1))
            offset += t
        attn = torch.cat(outs).to(ops.act_dtype)
        return ops.linear(attn, lin["self_attn.o_proj"])

    def _dense_mlp(self, layer: Layer, x: torch.Tensor) -> torch.Tensor:
        lin = layer.linears
        return self.ops.linear(
            silu_mul(self.ops.linear(x, lin["mlp.gate_up_proj"])), lin["mlp.down_proj"]
        )

    def _moe(self, layer: Layer, x: torch.Tensor, phase: str) -> torch.Tensor:
        d, ops = self.dims, self.ops
        lin = layer.linears
        shared = ops.linear(
            silu_mul(ops.linear(x, lin["mlp.shared_experts.gate_up_proj"])),
            lin["mlp.shared_experts.down_proj"],
        )
        assert layer.router is not None
        scores = torch.sigmoid(batch_invariant_matmul(x, layer.router))
        top_w, top_i = scores.topk(d.top_k, dim=-1)
        top_w = top_w / top_w.sum(-1, keepdim=True)
        flat = top_i.reshape(-1)
        order = torch.argsort(flat, stable=True)
        sorted_e = flat[order]
        token_of = order // d.top_k
        counts_t = torch.bincount(flat, minlength=d.num_experts)
        counts = counts_t.tolist()
        first = torch.cumsum(counts_t, 0) - counts_t
        rank = torch.arange(flat.numel(), device=ops.device) - first[sorted_e]
        w13, w2 = layer.experts["w13"], layer.experts["w2"]
        if phase == "prefill":
            align = self.shapes.mk_alignment
            aligned = [_align(c, align) for c in counts]
            starts, acc = [], 0
            for a in aligned:
                starts.append(acc)
                acc += a
            segments = [(e, starts[e], c) for e, c in enumerate(counts) if c]
            pos = torch.tensor(starts, device=ops.device)[sorted_e] + rank
            xs = torch.zeros(acc, d.hidden, dtype=ops.act_dtype, device=ops.device)
            xs[pos] = x[token_of]
            m_idx = torch.full((acc,), -1, dtype=torch.int32, device=ops.device)
            m_idx[pos] = sorted_e.to(torch.int32)
            y = ops.grouped_contiguous(
                silu_mul(ops.grouped_contiguous(xs, w13, m_idx, segments)), w2, m_idx, segments
            )
            rows = y[pos]
        else:
            max_m = _align(max(counts), self.masked_align)
            segments = [(e, 0, c) for e, c in enumerate(counts) if c]
            pos = sorted_e * max_m + rank
            x3 = torch.zeros(
                d.num_experts * max_m, d.hidden, dtype=ops.act_dtype, device=ops.device
            )
            x3[pos] = x[token_of]
            x3 = x3.view(d.num_experts, max_m, d.hidden)
            masked_m = counts_t.to(torch.int32)
            expected_m = self.shapes.expected_m(x.shape[0])
            h13 = ops.grouped_masked(x3, w13, masked_m, expected_m, segments)
            y = ops.grouped_masked(silu_mul(h13), w2, masked_m, expected_m, segments)
            rows = y.view(d.num_experts * max_m, d.hidden)[pos]
        # Back to (token, k) order, then summed over k in a fixed order: index_add_ on CUDA adds
        # with atomics, in an order that changes from run to run.
        weighted = torch.empty(flat.numel(), d.hidden, dtype=torch.float32, device=ops.device)
        weighted[order] = rows.float() * top_w.reshape(-1)[order][:, None]
        per_k = weighted.view(x.shape[0], d.top_k, d.hidden)
        routed = per_k[:, 0].clone()
        for k in range(1, d.top_k):
            routed += per_k[:, k]
        return shared + routed.to(ops.act_dtype)


def batch_invariant_matmul(x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """``x @ w.T`` for the small non-DeepGEMM heads (router, logits), in float64: the BLAS picks
    its algorithm (and so its summation order) by the number of rows, so a float32 result could
    change with what else is in the batch and flip a top-k or an argmax between runs. In float64
    those differences stay far below any gap between two scores."""
    return (x.double() @ w.double().T).float()


def _causal_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Attention of ``t`` new queries (t, heads, d) over ``s`` keys whose last ``t`` are theirs.

    One formulation for a whole prompt, a later chunk of it and a decode step, in float64: a
    query's result must not depend on how the scheduler chunked its prompt (which depends on the
    other requests of the step), or the same request could decode differently from run to run.
    """
    t, s = q.shape[0], k.shape[0]
    qh, kh, vh = (x.transpose(0, 1).double() for x in (q, k, v))
    scores = (qh @ kh.transpose(1, 2)) * q.shape[-1] ** -0.5  # (heads, t, s)
    q_pos = torch.arange(s - t, s, device=q.device)[:, None]  # query i sits at s - t + i
    hidden = torch.arange(s, device=q.device)[None, :] > q_pos
    o = scores.masked_fill(hidden, float("-inf")).softmax(-1) @ vh
    return o.transpose(0, 1).float()


def _window_attention(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, window: int
) -> torch.Tensor:
    """Causal attention where each query sees itself and the ``window - 1`` keys before it."""
    t, s = q.shape[0], k.shape[0]
    pad = window - 1
    k_pad = torch.cat([k.new_zeros(pad, *k.shape[1:]), k]).double()  # float64: see above
    v_pad = torch.cat([v.new_zeros(pad, *v.shape[1:]), v]).double()
    # Query i sits at position p = s - t + i and sees padded rows p .. p + window - 1.
    k_win = k_pad[s - t : s + pad].unfold(0, window, 1)  # (t, heads, d, window)
    v_win = v_pad[s - t : s + pad].unfold(0, window, 1)
    scores = torch.einsum("thd,thdw->thw", q.double(), k_win) * q.shape[-1] ** -0.5
    first_real = torch.arange(s - t, s, device=q.device)[:, None] - pad  # position of slot 0
    slot_pos = first_real + torch.arange(window, device=q.device)[None, :]
    scores = scores.masked_fill((slot_pos < 0)[:, None, :], float("-inf"))
    return torch.einsum("thw,thdw->thd", scores.softmax(-1), v_win).float()
