"""Per-layer shapes of the reference model: one rank of a DeepSeek-V3-architecture model after
TP sharding, taken from jitwarm's own plan sites so the server runs exactly the GEMMs the plan
describes. Pure Python (no torch).
"""

from __future__ import annotations

from dataclasses import dataclass

from jitwarm.errors import ConfigError
from jitwarm.models import Architecture, MLAAttention, ModelSpec
from jitwarm.plan import Family, Site, collect_sites
from jitwarm.serving import Arch, MoEPath, Role, ServingConfig

BYTE_VOCAB = 256  # the reference server speaks bytes: token id = byte value

# Module names of the plan sites the reference model runs, in the order a layer calls them.
ATTENTION_LINEARS = (
    "self_attn.fused_qkv_a_proj_with_mqa",
    "self_attn.q_b_proj",
    "self_attn.kv_b_proj",
    "self_attn.o_proj",
)
DENSE_LINEARS = ("mlp.gate_up_proj", "mlp.down_proj")
SHARED_LINEARS = ("mlp.shared_experts.gate_up_proj", "mlp.shared_experts.down_proj")
EXPERT_GEMMS = ("mlp.experts.w13", "mlp.experts.w2")


@dataclass(frozen=True)
class GemmShape:
    """One DeepGEMM call site: the plan's (N, K, groups) of the real, sharded model."""

    module: str
    family: Family
    n: int
    k: int
    num_groups: int = 1


@dataclass(frozen=True)
class RefDims:
    """The semantic dimensions one rank computes with. The CPU mode divides them by a shrink
    factor (``scaled``); kernel keys always come from the real :class:`GemmShape`s."""

    hidden: int
    local_heads: int
    q_lora_rank: int
    kv_lora_rank: int
    qk_nope_head_dim: int
    qk_rope_head_dim: int
    v_head_dim: int
    dense_intermediate: int  # per rank
    shared_intermediate: int  # per rank, all shared experts together
    expert_intermediate: int  # per rank, one routed expert
    num_experts: int  # local experts (= plan num_groups)
    top_k: int
    vocab: int = BYTE_VOCAB

    def scaled(self, shrink: int) -> RefDims:
        """Every width divided by ``shrink`` (at least 1); counts (heads, experts) kept."""

        def s(x: int) -> int:
            return max(1, x // shrink)

        return RefDims(
            hidden=s(self.hidden),
            local_heads=self.local_heads,
            q_lora_rank=s(self.q_lora_rank),
            kv_lora_rank=s(self.kv_lora_rank),
            qk_nope_head_dim=s(self.qk_nope_head_dim),
            qk_rope_head_dim=s(self.qk_rope_head_dim),
            v_head_dim=s(self.v_head_dim),
            dense_intermediate=s(self.dense_intermediate),
            shared_intermediate=s(self.shared_intermediate),
            expert_intermediate=s(self.expert_intermediate),
            num_experts=self.num_experts,
            top_k=self.top_k,
            vocab=self.vocab,
        )


@dataclass(frozen=True)
class RefShapes:
    """What the reference model needs to know about one rank: dims, GEMM sites, layer kinds."""

    model_name: str
    dims: RefDims
    gemms: dict[str, GemmShape]  # module name (experts: w13/w2 under two families) -> shape
    layer_kinds: tuple[str, ...]  # "dense" or "moe", one per layer
    ep: int
    num_sms: int
    mk_alignment: int

    def gemm(self, module: str, family: Family = Family.FP8_GEMM_NT) -> GemmShape:
        return self.gemms[f"{family.value}:{module}"]

    def expected_m(self, tokens: int) -> int:
        """``expected_m`` of the masked MoE GEMM for a decode step of ``tokens`` rows, as the
        plan (and DeepEP low-latency callers) compute it."""
        e = self.dims.num_experts * self.ep
        return (tokens * self.ep * self.dims.top_k + e) // e


def derive_shapes(model: ModelSpec, serving: ServingConfig, *, layers: int = 2) -> RefShapes:
    """Shapes of a ``layers``-deep reference model (layer 0 dense, the rest MoE) of ``model``
    under ``serving``, checked against the plan's call sites."""
    _check_supported(model, serving, layers)
    att = model.attention
    assert isinstance(att, MLAAttention) and att.q_lora_rank is not None and model.moe is not None
    moe = model.moe
    sites = collect_sites(model, serving)
    gemms: dict[str, GemmShape] = {}
    for site in sites:
        gemms[f"{site.family.value}:{site.module}"] = _gemm(site)
    heads = att.num_heads // serving.attn_tp
    shared_width = (moe.shared_intermediate_size or moe.intermediate_size) * moe.num_shared_experts
    dims = RefDims(
        hidden=model.hidden_size,
        local_heads=heads,
        q_lora_rank=att.q_lora_rank,
        kv_lora_rank=att.kv_lora_rank,
        qk_nope_head_dim=att.qk_nope_head_dim,
        qk_rope_head_dim=att.qk_rope_head_dim,
        v_head_dim=att.v_head_dim,
        dense_intermediate=(model.dense_intermediate_size or 0) // serving.tp,
        shared_intermediate=shared_width // serving.tp,
        expert_intermediate=moe.intermediate_size // serving.moe_tp,
        num_experts=moe.num_experts // serving.ep,
        top_k=moe.top_k,
    )
    kinds = ("dense",) + ("moe",) * (layers - 1) if layers > 1 else ("moe",)
    shapes = RefShapes(
        model_name=model.name,
        dims=dims,
        gemms=gemms,
        layer_kinds=kinds,
        ep=serving.ep,
        num_sms=serving.sms,
        mk_alignment=serving.mk_alignment,
    )
    _check_against_sites(shapes)
    return shapes


def _gemm(site: Site) -> GemmShape:
    return GemmShape(site.module, site.family, site.n, site.k, site.num_groups)


def _check_supported(model: ModelSpec, serving: ServingConfig, layers: int) -> None:
    if model.architecture is not Architecture.DEEPSEEK_V3:
        raise ConfigError(
            f"the reference server runs DeepSeek-V3-architecture models (deepseek-v3, kimi-k2); "
            f"{model.name} is {model.architecture.value}",
            field="model",
        )
    att = model.attention
    if not isinstance(att, MLAAttention) or att.q_lora_rank is None:
        raise ConfigError(
            f"{model.name}: the reference model needs MLA with q_lora_rank", field="model"
        )
    if model.quant is None or model.moe is None or not model.dense_intermediate_size:
        raise ConfigError(
            f"{model.name}: the reference model needs FP8 block quantization, MoE layers and "
            "dense layers",
            field="model",
        )
    if serving.arch is not Arch.SM90:
        raise ConfigError(
            "the reference server models sm90 (DeepGEMM's SM90 kernels)", field="arch"
        )
    if serving.moe_path is not MoEPath.GROUPED:
        raise ConfigError("the reference server runs the grouped MoE path", field="moe_path")
    if serving.attn_dp != 1 or serving.spec_draft_tokens:
        raise ConfigError(
            "the reference server runs one attention group without speculative decoding "
            "(attn_dp 1, spec_draft_tokens 0)",
            field="attn_dp" if serving.attn_dp != 1 else "spec_draft_tokens",
        )
    if serving.ep != 1:
        raise ConfigError(
            "the reference server is one rank without expert parallelism (ep 1)", field="ep"
        )
    if serving.cuda_graph_batch_sizes is not None:
        raise ConfigError(
            "the reference server runs decode steps eagerly (no CUDA graphs): drop --cuda-graph-bs",
            field="cuda_graph_batch_sizes",
        )
    if serving.role is not Role.MIXED:
        raise ConfigError("the reference server runs prefill and decode (role mixed)", field="role")
    if layers < 1:
        raise ConfigError(f"layers must be >= 1, got {layers}", field="layers")


def linear_widths(d: RefDims) -> dict[str, tuple[int, int]]:
    """(N, K) of every FP8 linear the reference model computes, from its own dimensions."""
    qk_head = d.qk_nope_head_dim + d.qk_rope_head_dim
    return {
        "self_attn.fused_qkv_a_proj_with_mqa": (
            d.q_lora_rank + d.kv_lora_rank + d.qk_rope_head_dim,
            d.hidden,
        ),
        "self_attn.q_b_proj": (d.local_heads * qk_head, d.q_lora_rank),
        "self_attn.kv_b_proj": (
            d.local_heads * (d.qk_nope_head_dim + d.v_head_dim),
            d.kv_lora_rank,
        ),
        "self_attn.o_proj": (d.hidden, d.local_heads * d.v_head_dim),
        "mlp.gate_up_proj": (2 * d.dense_intermediate, d.hidden),
        "mlp.down_proj": (d.hidden, d.dense_intermediate),
        "mlp.shared_experts.gate_up_proj": (2 * d.shared_intermediate, d.hidden),
        "mlp.shared_experts.down_proj": (d.hidden, d.shared_intermediate),
    }


def _check_against_sites(shapes: RefShapes) -> None:
    """The widths the model computes with must be the plan's (N, K): one source of truth."""
    d = shapes.dims
    want = linear_widths(d)
    for module, (n, k) in want.items():
        g = shapes.gemms.get(f"{Family.FP8_GEMM_NT.value}:{module}")
        if g is None or (g.n, g.k) != (n, k):
            raise ConfigError(
                f"{shapes.model_name}: plan site {module} is {g}, model computes N={n} K={k}"
            )
    for family in (Family.M_GROUPED_CONTIGUOUS, Family.M_GROUPED_MASKED):
        for module, (n, k) in (
            ("mlp.experts.w13", (2 * d.expert_intermediate, d.hidden)),
            ("mlp.experts.w2", (d.hidden, d.expert_intermediate)),
        ):
            g = shapes.gemms.get(f"{family.value}:{module}")
            if g is None or (g.n, g.k, g.num_groups) != (n, k, d.num_experts):
                raise ConfigError(f"{shapes.model_name}: plan site {family.value} {module} is {g}")
