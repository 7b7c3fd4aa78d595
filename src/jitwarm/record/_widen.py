"""The M values a recorded kernel site can meet under a serving configuration.

A recording shows the M values one run happened to use; the serving configuration says which
it can use. Each family's set is the one the planner derives for that kind of call site
(``jitwarm.plan._domains``), always joined with the M values actually recorded. Where a site's
position in the model is unknown, the widest set of its kind is taken (a plain linear layer
gets the rows after an attention-DP gather), and without a model spec the MoE sets assume the
worst routing: over-planning costs a compile, under-planning stalls a server.
"""

from __future__ import annotations

from jitwarm.models import ModelSpec
from jitwarm.mset import MSet
from jitwarm.plan import Family, spec
from jitwarm.plan import _domains as domains
from jitwarm.record._interpret import KernelSite
from jitwarm.serving import Role, ServingConfig


def _align(x: int, a: int) -> int:
    return -(-x // a) * a


def reachable_m(site: KernelSite, s: ServingConfig, model: ModelSpec | None) -> MSet:
    f = site.family
    moe = model.moe if model is not None else None
    if f is Family.FP8_GEMM_NT:
        return domains.gathered_rows(s)
    if f is Family.M_GROUPED_CONTIGUOUS:
        if moe is not None:
            return domains.contiguous_total_rows(moe, s)
        if s.role is Role.DECODE:
            return MSet()
        # Unknown top_k: every token may route to every local expert.
        senders = s.ep if s.ep > 1 else 1
        g, align = site.num_groups, s.mk_alignment
        hi = _align(senders * s.max_batched_tokens * g + g * (align - 1), align)
        return MSet.multiples(align, hi)
    if f is Family.M_GROUPED_MASKED:
        if moe is not None:
            return domains.masked_expected_m(moe, s)
        if s.role is Role.PREFILL:
            return MSet()
        # expected_m = (tokens * ep * top_k + E) // E <= tokens * ep + 1 for any top_k <= E.
        return MSet.span(1, domains.decode_rows(s).max * s.ep + 1)
    if f in (Family.FP8_EINSUM, Family.TF32_HC_PRENORM):
        return domains.rank_rows(s)
    if f in (Family.MQA_LOGITS, Family.FP4_MQA_LOGITS):
        return MSet() if s.role is Role.DECODE else domains.prefill_rows(s)
    if f in (Family.PAGED_MQA_LOGITS, Family.FP4_PAGED_MQA_LOGITS):
        if s.role is Role.PREFILL:
            return MSet()
        return (
            domains.decode_rows(s) if site.dims.get("next_n", 1) == 1 else domains.decode_batches(s)
        )
    if f is Family.PAGED_MQA_METADATA:
        return MSet() if s.role is Role.PREFILL else domains.decode_rows(s)
    return MSet()


def phases(site: KernelSite, s: ServingConfig) -> list[str]:
    """The phases that call the site: its family's own where only one phase does, else every
    phase the server's role serves."""
    phase = spec(site.family).phase
    if phase is not None:
        return [phase]
    return {Role.MIXED: ["prefill", "decode"], Role.PREFILL: ["prefill"], Role.DECODE: ["decode"]}[
        s.role
    ]
