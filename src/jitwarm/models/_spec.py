"""The normalized model description a plan is built from.

A Hugging Face ``config.json`` names the same thing many ways (``n_routed_experts`` or
``num_experts``); the loader maps each supported architecture onto these few typed parts, so
the planner never reads raw config keys.
"""

from __future__ import annotations

from enum import Enum

from pydantic import BaseModel, ConfigDict


class Architecture(str, Enum):
    DEEPSEEK_V3 = "deepseek_v3"  # DeepSeek-V3 / R1, Kimi-K2: MLA + MoE
    DEEPSEEK_V32 = "deepseek_v32"  # V3 + DSA lightning indexer
    DEEPSEEK_V4 = "deepseek_v4"  # mHC, sparse indexer, grouped output projection
    QWEN3_MOE = "qwen3_moe"  # GQA + MoE, FP8 block-quantized checkpoints


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class FP8BlockQuant(_Frozen):
    """FP8 block quantization of the checkpoint's linear weights."""

    fmt: str = "e4m3"
    weight_block_n: int = 128
    weight_block_k: int = 128


class MLAAttention(_Frozen):
    """Multi-head latent attention (DeepSeek)."""

    num_heads: int
    q_lora_rank: int | None
    kv_lora_rank: int
    qk_nope_head_dim: int
    qk_rope_head_dim: int
    v_head_dim: int


class GQAAttention(_Frozen):
    num_heads: int
    num_kv_heads: int
    head_dim: int


class LowRankMQAAttention(_Frozen):
    """DeepSeek-V4 attention: low-rank Q, one shared latent KV head of ``head_dim``, and a
    grouped low-rank output projection."""

    num_heads: int
    head_dim: int
    q_lora_rank: int
    qk_rope_head_dim: int


class MoE(_Frozen):
    num_experts: int
    top_k: int
    intermediate_size: int
    num_shared_experts: int = 0
    shared_intermediate_size: int | None = None  # defaults to intermediate_size per shared expert
    expert_dtype: str = "fp8"  # "fp8" or "fp4" (DeepSeek-V4 routed experts)


class Indexer(_Frozen):
    """DeepSeek sparse attention (DSA) lightning indexer: replicated, not TP-split."""

    num_heads: int
    head_dim: int
    topk: int


class HyperConnections(_Frozen):
    """Manifold hyper-connections (mHC) of DeepSeek-V4: a TF32 pre-norm GEMM per sublayer."""

    hc_mult: int
    sinkhorn_iters: int | None = None


class GroupedOutput(_Frozen):
    """DeepSeek-V4 grouped low-rank output projection (``fp8_einsum('bhr,hdr->bhd')``)."""

    num_groups: int
    lora_rank: int


class ModelSpec(_Frozen):
    name: str
    architecture: Architecture
    source: str  # preset name or path of the config it was read from
    hidden_size: int
    num_layers: int
    vocab_size: int
    quant: FP8BlockQuant | None
    attention: MLAAttention | GQAAttention | LowRankMQAAttention
    dense_intermediate_size: int | None  # MLP width of the dense (non-MoE) layers
    dense_layers: tuple[int, ...]  # indices of layers with a dense MLP
    moe_layers: tuple[int, ...]
    moe: MoE | None
    indexer: Indexer | None = None
    indexer_layers: tuple[int, ...] = ()  # layers that run the indexer (V4: compress ratio 4)
    hyper_connections: HyperConnections | None = None
    grouped_output: GroupedOutput | None = None
    notes: tuple[str, ...] = ()  # what the loader inferred or left out, shown in the plan
