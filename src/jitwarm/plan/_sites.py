"""Call sites: every DeepGEMM call a model makes on one rank, with its sharded dimensions.

A site is one module's call (``self_attn.q_b_proj`` in layers 0-60). The builder merges sites
that would compile the same kernels into plan entries.
"""

from __future__ import annotations

from jitwarm.errors import ConfigError
from jitwarm.models import Architecture, GQAAttention, MLAAttention, ModelSpec
from jitwarm.plan import _domains as domains
from jitwarm.plan._families import spec
from jitwarm.plan._schema import METADATA_CONVENTIONS, Conventions, Family
from jitwarm.plan._site import Site, gemm_conventions, linear_site, serving_phases, shard
from jitwarm.plan._v4 import deepseek_v4_sites
from jitwarm.serving import Arch, MoEPath, Role, ServingConfig


def collect_sites(model: ModelSpec, s: ServingConfig) -> list[Site]:
    """Every DeepGEMM call site of ``model`` on one rank under ``s``."""
    _check_parallelism(model, s)
    sites: list[Site] = []
    if model.quant is not None:
        sites += _attention_linears(model, s)
        sites += _mlp_linears(model, s)
    sites += _moe_sites(model, s)
    sites += _indexer_sites(model, s)
    sites += _v4_sites(model, s)
    return sites


def planning_notes(model: ModelSpec, s: ServingConfig) -> list[str]:
    """What the plan deliberately leaves out, so a reader knows it was considered."""
    notes = []
    if model.quant is None:
        notes.append("checkpoint is not FP8 block-quantized: its linears do not use DeepGEMM")
    if model.moe and model.moe.expert_dtype == "fp4" and s.moe_path is not MoEPath.MEGA:
        notes.append("routed experts are MXFP4: outside mega-MoE they run on non-DeepGEMM kernels")
    if model.architecture is Architecture.DEEPSEEK_V4:
        notes.append("tf32_hc_prenorm_gemm num_splits follows TokenSpeed's rule (plan/_select.py)")
    return notes


def _check_parallelism(model: ModelSpec, s: ServingConfig) -> None:
    heads = model.attention.num_heads
    if heads % s.attn_tp:
        raise ConfigError(
            f"attention TP size {s.attn_tp} (tp {s.tp} / attn_dp {s.attn_dp}) does not divide "
            f"num_attention_heads ({heads})",
            field="tp",
        )
    if isinstance(model.attention, GQAAttention):
        kv = model.attention.num_kv_heads
        if kv % s.attn_tp and s.attn_tp % kv:
            raise ConfigError(
                f"attention TP size {s.attn_tp} and num_key_value_heads ({kv}) must divide one another",
                field="tp",
            )
    if model.moe is not None and model.moe.num_experts % s.ep:
        raise ConfigError(
            f"ep ({s.ep}) does not divide the number of routed experts ({model.moe.num_experts})",
            field="ep",
        )
    if s.moe_path is MoEPath.MEGA:
        if s.arch is not Arch.SM100:
            raise ConfigError(
                "moe_path 'mega' needs arch sm100 (DeepGEMM's fp8_fp4_mega_moe is an SM100 kernel)",
                field="moe_path",
            )
        if s.ep == 1 or s.moe_tp != 1:
            raise ConfigError(
                f"moe_path 'mega' needs expert parallelism with whole experts per rank "
                f"(ep = tp > 1), got tp {s.tp}, ep {s.ep}",
                field="ep",
            )


def _attention_linears(model: ModelSpec, s: ServingConfig) -> list[Site]:
    att = model.attention
    everywhere = tuple(range(model.num_layers))
    rows = domains.rank_rows(s)
    tp = s.attn_tp
    h = model.hidden_size
    if isinstance(att, GQAAttention):
        heads = att.num_heads // tp
        kv_heads = max(1, att.num_kv_heads // tp)  # KV heads are replicated when TP exceeds them
        return [
            linear_site(
                s, "self_attn.qkv_proj", everywhere, (heads + 2 * kv_heads) * att.head_dim, h, rows
            ),
            linear_site(s, "self_attn.o_proj", everywhere, h, heads * att.head_dim, rows),
        ]
    if not isinstance(att, MLAAttention):
        return []  # DeepSeek-V4 attention has its own projections (see plan/_v4.py)
    what = "MLA attention"
    qk_head = att.qk_nope_head_dim + att.qk_rope_head_dim
    out: list[Site] = []
    kv_a = att.kv_lora_rank + att.qk_rope_head_dim
    if att.q_lora_rank is not None:
        # Engines fuse q_a_proj and kv_a_proj_with_mqa into one replicated GEMM.
        out.append(
            linear_site(
                s,
                "self_attn.fused_qkv_a_proj_with_mqa",
                everywhere,
                att.q_lora_rank + kv_a,
                h,
                rows,
            )
        )
        q_in = att.q_lora_rank
        q_name = "self_attn.q_b_proj"
    else:
        out.append(linear_site(s, "self_attn.kv_a_proj_with_mqa", everywhere, kv_a, h, rows))
        q_in = h
        q_name = "self_attn.q_proj"
    q_out = shard(att.num_heads * qk_head, tp, what, field_name="num_attention_heads*qk_head_dim")
    out.append(linear_site(s, q_name, everywhere, q_out, q_in, rows))
    kv_out = shard(
        att.num_heads * (att.qk_nope_head_dim + att.v_head_dim),
        tp,
        what,
        field_name="num_attention_heads*(qk_nope_head_dim+v_head_dim)",
    )
    out.append(linear_site(s, "self_attn.kv_b_proj", everywhere, kv_out, att.kv_lora_rank, rows))
    o_in = shard(
        att.num_heads * att.v_head_dim, tp, what, field_name="num_attention_heads*v_head_dim"
    )
    out.append(linear_site(s, "self_attn.o_proj", everywhere, h, o_in, rows))
    return out


def _mlp_linears(model: ModelSpec, s: ServingConfig) -> list[Site]:
    out: list[Site] = []
    h = model.hidden_size
    if model.dense_layers and model.dense_intermediate_size:
        rows = domains.gathered_rows(s)
        inter = shard(
            model.dense_intermediate_size, s.tp, "dense MLP", field_name="intermediate_size"
        )
        out.append(linear_site(s, "mlp.gate_up_proj", model.dense_layers, 2 * inter, h, rows))
        out.append(linear_site(s, "mlp.down_proj", model.dense_layers, h, inter, rows))
    moe = model.moe
    if moe is not None and moe.num_shared_experts and model.moe_layers:
        # Under DeepEP the shared expert runs on the rank's own tokens; otherwise on gathered ones.
        rows = domains.rank_rows(s) if s.ep > 1 else domains.gathered_rows(s)
        width = (moe.shared_intermediate_size or moe.intermediate_size) * moe.num_shared_experts
        inter = shard(
            width, s.tp, "shared experts", field_name="moe_intermediate_size*n_shared_experts"
        )
        out.append(
            linear_site(s, "mlp.shared_experts.gate_up_proj", model.moe_layers, 2 * inter, h, rows)
        )
        out.append(linear_site(s, "mlp.shared_experts.down_proj", model.moe_layers, h, inter, rows))
    return out


def _moe_sites(model: ModelSpec, s: ServingConfig) -> list[Site]:
    moe = model.moe
    if moe is None or not model.moe_layers:
        return []
    if model.quant is None and moe.expert_dtype == "fp8":
        return []  # BF16 experts do not run through DeepGEMM's FP8 grouped GEMMs
    if moe.expert_dtype == "fp4" and s.moe_path is not MoEPath.MEGA:
        return []  # MXFP4 experts outside mega-MoE run on non-DeepGEMM kernels
    h = model.hidden_size
    groups = domains.local_experts(moe, s)
    inter = shard(
        moe.intermediate_size, s.moe_tp, "routed experts", field_name="moe_intermediate_size"
    )
    layers = model.moe_layers
    if s.moe_path is MoEPath.MEGA:
        return [
            Site(
                family=Family.MEGA_MOE,
                module="mlp.experts",
                layers=layers,
                n=2 * inter,
                k=h,
                num_groups=groups,
                m_values=domains.mega_moe_tokens(s),
                m_kind=spec(Family.MEGA_MOE).m_kind,
                phases=serving_phases(s),
                dims={"top_k": moe.top_k, "intermediate": inter},
                conventions=Conventions(
                    ab_dtype="fp8xfp4",
                    scale_dtype="ue8m0",
                    gemm_type=spec(Family.MEGA_MOE).gemm_type,
                ),
            )
        ]
    out: list[Site] = []
    for family, m_values in (
        (Family.M_GROUPED_CONTIGUOUS, domains.contiguous_total_rows(moe, s)),
        (Family.M_GROUPED_MASKED, domains.masked_expected_m(moe, s)),
    ):
        if not m_values:
            continue
        fam = spec(family)
        conv = gemm_conventions(s, gemm_type=fam.gemm_type)
        phases = (fam.phase,) if fam.phase is not None else serving_phases(s)
        for module, n, k in (("mlp.experts.w13", 2 * inter, h), ("mlp.experts.w2", h, inter)):
            out.append(
                Site(
                    family=family,
                    module=module,
                    layers=layers,
                    n=n,
                    k=k,
                    num_groups=groups,
                    m_values=m_values,
                    m_kind=fam.m_kind,
                    phases=phases,
                    conventions=conv,
                )
            )
    return out


def _indexer_sites(model: ModelSpec, s: ServingConfig) -> list[Site]:
    """DSA lightning indexer: its own (replicated) projections and the logits kernels. Its dims
    are index_n_heads / index_head_dim, never the MLA attention's (a seed-PR finding)."""
    idx = model.indexer
    if idx is None:
        return []
    everywhere = model.indexer_layers
    rows = domains.rank_rows(s)
    prefix = "attn" if model.architecture is Architecture.DEEPSEEK_V4 else "self_attn"
    out: list[Site] = []
    att = model.attention
    if model.quant is not None and not isinstance(att, GQAAttention):
        # The indexer's projections are replicated and sized by index_n_heads/index_head_dim.
        q_in = att.q_lora_rank or model.hidden_size
        out.append(
            linear_site(
                s, f"{prefix}.indexer.wq_b", everywhere, idx.num_heads * idx.head_dim, q_in, rows
            )
        )
        if model.architecture is Architecture.DEEPSEEK_V32:
            out.append(
                linear_site(
                    s, f"{prefix}.indexer.wk", everywhere, idx.head_dim, model.hidden_size, rows
                )
            )
    fp4 = s.arch is Arch.SM100
    dims = {"heads": idx.num_heads, "head_dim": idx.head_dim}
    conv = Conventions(
        ab_dtype="fp8xfp4" if fp4 else "fp8_e4m3",
        scale_recipe=None,
        scale_dtype="ue8m0" if fp4 else "fp32",
        out_dtype="fp32",
        compiled_dims="",
        gemm_type="MQALogits",
        kernel_type="",
    )
    if s.role is not Role.DECODE:
        out.append(
            Site(
                family=Family.FP4_MQA_LOGITS if fp4 else Family.MQA_LOGITS,
                module=f"{prefix}.indexer",
                layers=everywhere,
                n=0,
                k=0,
                m_values=domains.prefill_rows(s),
                phases=("prefill",),
                dims=dims,
                conventions=conv,
            )
        )
    if s.role is not Role.PREFILL:
        batches = domains.decode_batches(s)
        paged = Family.FP4_PAGED_MQA_LOGITS if fp4 else Family.PAGED_MQA_LOGITS
        # Verify steps flatten batch x (draft + 1) rows into next_n = 1 calls; engines that
        # pass next_n = 2 for one draft token are covered by the second variant.
        variants = [(domains.decode_rows(s), 1)]
        if s.verify_rows == 2:
            variants.append((batches, 2))
        for m_values, next_n in variants:
            out.append(
                Site(
                    family=paged,
                    module=f"{prefix}.indexer",
                    layers=everywhere,
                    n=0,
                    k=0,
                    m_values=m_values,
                    m_kind=spec(paged).m_kind,
                    phases=("decode",),
                    dims={**dims, "block_kv": s.indexer_block_size, "next_n": next_n},
                    conventions=conv,
                )
            )
        out.append(
            Site(
                family=Family.PAGED_MQA_METADATA,
                module=f"{prefix}.indexer",
                layers=everywhere,
                n=0,
                k=0,
                m_values=domains.decode_rows(s),
                m_kind=spec(Family.PAGED_MQA_METADATA).m_kind,
                phases=("decode",),
                dims={"block_kv": s.indexer_block_size},
                conventions=METADATA_CONVENTIONS,
            )
        )
    return out


def _v4_sites(model: ModelSpec, s: ServingConfig) -> list[Site]:
    if model.architecture is not Architecture.DEEPSEEK_V4:
        return []
    return deepseek_v4_sites(model, s)
