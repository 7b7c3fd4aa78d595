"""Reachable M values of one rank, derived from the serving configuration.

Every function here over-approximates rather than under-approximates: planning a kernel that
never runs costs one compile; missing one stalls a server.
"""

from __future__ import annotations

from jitwarm.errors import ConfigError
from jitwarm.models import MoE
from jitwarm.mset import MSet
from jitwarm.plan._schema import MAX_M
from jitwarm.serving import Role, ServingConfig

# Rows of the m-grouped contiguous layout jitwarm plans at most (the largest M a plan holds).
# Every multiple of the alignment below it is a separate M (the choice moves with
# ceil(M / BLOCK_M)), so planning work grows with it; 2**24 rows is 256 ranks' worth of 8192
# tokens routed 8 ways each.
MAX_CONTIGUOUS_ROWS = MAX_M


def _align(x: int, a: int) -> int:
    return -(-x // a) * a


def decode_batches(s: ServingConfig) -> MSet:
    """Sequences in one decode step: CUDA-graph sizes (batches pad up to them), plus every
    batch above the largest graph, which runs eagerly."""
    if s.cuda_graph_batch_sizes is None:
        return MSet.span(1, s.max_running_seqs)
    graphs = MSet.of(s.cuda_graph_batch_sizes)
    return graphs | MSet.span(graphs.max + 1, s.max_running_seqs)


def decode_rows(s: ServingConfig) -> MSet:
    """Rows of a decode step: batch times (draft tokens + 1) under speculative verify."""
    batches = decode_batches(s)
    if s.verify_rows == 1:
        return batches
    return batches.map(lambda b: b * s.verify_rows)


def prefill_rows(s: ServingConfig) -> MSet:
    """A chunked-prefill step (possibly mixed with decodes) carries 1..budget tokens."""
    return MSet.span(1, s.max_batched_tokens)


def rank_rows(s: ServingConfig) -> MSet:
    """Token rows one attention rank feeds its linears in the steps this role runs."""
    if s.role is Role.PREFILL:
        return prefill_rows(s)
    if s.role is Role.DECODE:
        return decode_rows(s)
    return prefill_rows(s) | decode_rows(s)


def gathered_rows(s: ServingConfig) -> MSet:
    """Rows after attention data-parallel ranks gather their tokens for the dense MLP."""
    rows = rank_rows(s)
    if s.attn_dp == 1:
        return rows
    return MSet.span(1, rows.max * s.attn_dp)


def local_experts(moe: MoE, s: ServingConfig) -> int:
    return moe.num_experts // s.ep


def contiguous_total_rows(moe: MoE, s: ServingConfig) -> MSet:
    """Rows of the m-grouped contiguous layout in a prefill step (every expert padded to the
    alignment). Worst case: every sender's tokens route min(top_k, local experts) times here."""
    if s.role is Role.DECODE:
        return MSet()
    senders = s.ep if s.ep > 1 else 1
    per_token = min(moe.top_k, local_experts(moe, s))
    rows = senders * s.max_batched_tokens * per_token
    hi = _align(rows + local_experts(moe, s) * (s.mk_alignment - 1), s.mk_alignment)
    if hi > MAX_CONTIGUOUS_ROWS:
        raise ConfigError(
            f"the m-grouped contiguous layout would reach {hi:,} rows (ep {senders} x "
            f"max_batched_tokens {s.max_batched_tokens} x {per_token} experts per token), above "
            f"the {MAX_CONTIGUOUS_ROWS:,} jitwarm plans; lower max_batched_tokens or ep",
            field="max_batched_tokens",
        )
    return MSet.multiples(s.mk_alignment, hi)


def masked_expected_m(moe: MoE, s: ServingConfig) -> MSet:
    """``expected_m`` the masked grouped GEMM sees in decode, as DeepEP low-latency callers
    compute it: (tokens * ep * top_k + experts) // experts, tokens being the rank's rows."""
    if s.role is Role.PREFILL:
        return MSet()
    e = moe.num_experts
    return decode_rows(s).map(lambda t: (t * s.ep * moe.top_k + e) // e)


def mega_moe_tokens(s: ServingConfig) -> MSet:
    """Tokens per mega-MoE call on a rank (the kernel picks its tile from them)."""
    return rank_rows(s)
