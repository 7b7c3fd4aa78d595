"""DeepSeek-V4 call sites: mHC pre-norm GEMMs, low-rank MQA attention with the grouped
output projection (``fp8_einsum``), per TokenSpeed's deepseek_v4.py (see docs/presets.md)."""

from __future__ import annotations

from jitwarm.models import LowRankMQAAttention, ModelSpec
from jitwarm.plan import _domains as domains
from jitwarm.plan._schema import TF32_HC_CONVENTIONS, Conventions, Family
from jitwarm.plan._site import Site, linear_site, shard
from jitwarm.serving import Arch, ServingConfig


def deepseek_v4_sites(model: ModelSpec, s: ServingConfig) -> list[Site]:
    att = model.attention
    assert isinstance(att, LowRankMQAAttention)
    hc = model.hyper_connections
    grouped = model.grouped_output
    assert hc is not None and grouped is not None
    everywhere = tuple(range(model.num_layers))
    rows = domains.rank_rows(s)
    h = model.hidden_size
    tp = s.attn_tp
    out: list[Site] = [
        Site(
            family=Family.TF32_HC_PRENORM,
            module="hc_attn_fn, hc_ffn_fn",
            layers=everywhere,
            n=(2 + hc.hc_mult) * hc.hc_mult,
            k=hc.hc_mult * h,
            m_values=rows,
            phases=("prefill", "decode"),
            conventions=TF32_HC_CONVENTIONS,
        )
    ]
    if model.quant is None:
        return out
    what = "DeepSeek-V4 attention"
    out.append(
        linear_site(s, "attn.fused_wqa_wkv", everywhere, att.q_lora_rank + att.head_dim, h, rows)
    )
    q_out = shard(att.num_heads * att.head_dim, tp, what, field_name="num_attention_heads*head_dim")
    out.append(linear_site(s, "attn.wq_b", everywhere, q_out, att.q_lora_rank, rows))
    groups = shard(grouped.num_groups, tp, what, field_name="o_groups", block=None)
    r = att.num_heads * att.head_dim // grouped.num_groups
    sm100 = s.arch is Arch.SM100
    out.append(
        Site(
            family=Family.FP8_EINSUM,
            module="attn.wo_a (bhr,hdr->bhd)",
            layers=everywhere,
            n=grouped.lora_rank,
            k=r,
            num_groups=groups,
            m_values=rows,
            phases=("prefill", "decode"),
            dims={},
            conventions=Conventions(
                scale_recipe=(1, 1, 128) if sm100 else (1, 128, 128),
                scale_dtype="ue8m0" if sm100 else "fp32",
                gemm_type="Batched",
                kernel_type="1D1D" if sm100 else "1D2D",
            ),
        )
    )
    o_in = shard(
        grouped.num_groups * grouped.lora_rank, tp, what, field_name="o_groups*o_lora_rank"
    )
    out.append(linear_site(s, "attn.wo_b", everywhere, h, o_in, rows))
    return out
