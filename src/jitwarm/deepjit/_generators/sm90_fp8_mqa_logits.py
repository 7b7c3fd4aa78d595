"""Ports of ``sm90_fp8_mqa_logits``, ``sm90_fp8_paged_mqa_logits`` and
``sm90_paged_mqa_logits_metadata`` (``csrc/jit_kernels/impls/sm90_fp8_mqa_logits.hpp`` of
tokenspeed-deepgemm 2.8.0.post20260924 and 2.8.2.post20261020, from deepseek-ai/DeepGEMM, MIT),
with the constants their API layer passes (``csrc/apis/attention.hpp``: block_kv 256 and
block_q = 128 / heads for prefill, split_kv 256 and 2D context lengths for decode).

Builds differ in what the prefill kernel bakes: a (compressed, clean) pair, or neither (such a
build only computes compressed logits, ``max_seqlen_k > 0``, and always writes FP32 logits on
SM90); the build's style is its profile's ``sm90_indexer_args``."""

from __future__ import annotations

from jitwarm.deepjit._generators._base import RenderContext, Unrenderable, fill, param
from jitwarm.plan import PlanEntry, PlanKernel
from jitwarm.profiles import Sm90IndexerArgs

_INSTANTIATE = (
    "\nusing namespace deep_gemm;\n\n"
    "static void __instantiate_kernel() {{\n"
    "    auto ptr = reinterpret_cast<void*>(&{}<\n"
)
_TAIL = "    >);\n}};\n"


def _template(header: str, symbol: str, body: str) -> str:
    head = f"\n#include <deep_gemm/{header}>\n" + _INSTANTIATE.replace("&{}<", f"&{symbol}<")
    return head + body + _TAIL


_PAIRS_2 = "        {}, {},\n" * 2
MQA_LOGITS_TEMPLATES = {
    Sm90IndexerArgs.WITH_CLEAN_FLAGS: _template(
        "impls/sm90_fp8_mqa_logits.cuh",
        "sm90_fp8_mqa_logits",
        "        {}, {},\n" * 4 + "        {},\n        {}, {},\n        {}\n",
    ),
    Sm90IndexerArgs.COMPRESSED_ONLY: _template(
        "impls/sm90_fp8_mqa_logits.cuh",
        "sm90_fp8_mqa_logits",
        "        {}, {},\n" * 3 + "        {},\n        {}, {},\n        {}\n",
    ),
}
PAGED_MQA_LOGITS_TEMPLATE = _template(
    "impls/sm90_fp8_paged_mqa_logits.cuh",
    "sm90_fp8_paged_mqa_logits",
    "        {}, {},\n" * 4 + "        {},\n        {}, {},\n        {}\n",
)
# Builds whose profile says COMPRESSED_KV_MULTICAST: a KV-multicast count on its own line before the logits dtype (its extension's
# template string; the H200 capture of tests/data/deepgemm-2.8-h200).
PAGED_MQA_LOGITS_MULTICAST_TEMPLATE = _template(
    "impls/sm90_fp8_paged_mqa_logits.cuh",
    "sm90_fp8_paged_mqa_logits",
    "        {}, {},\n" * 4 + "        {},\n        {}, {},\n        {},\n        {}\n",
)
METADATA_TEMPLATE = _template(
    "scheduler/sm90_paged_mqa_logits.cuh",
    "sched::sm90_paged_mqa_logits_metadata",
    "        {}, {}, {}, {}\n",
)
_LOGITS_DTYPES = {"fp32": "float", "bf16": "cutlass::bfloat16_t"}
_NUM_SPECIALIZED_THREADS = 128
_NUM_STAGES = 3  # num_q_stages = num_kv_stages
_BLOCK_KV = 256  # prefill KV block (attention.hpp)
_SPLIT_KV = 256  # paged split and metadata split (attention.hpp, impls)
_MMA_M = 64


def _heads(entry: PlanEntry) -> tuple[int, int]:
    heads, head_dim = entry.dims.get("heads"), entry.dims.get("head_dim")
    if heads not in (32, 64) or head_dim not in (32, 64, 128):
        raise Unrenderable(f"SM90 indexer takes 32/64 heads of 32/64/128, got {heads}x{head_dim}")
    return heads, head_dim


def _logits_dtype(entry: PlanEntry, ctx: RenderContext) -> str:
    out = entry.conventions.out_dtype
    if ctx.profile.sm90_indexer_args.compressed_only and out != "fp32":
        raise Unrenderable("this build writes FP32 logits only on SM90")
    if out not in _LOGITS_DTYPES:
        raise Unrenderable(f"logits dtype {out!r}")
    return _LOGITS_DTYPES[out]


def render_mqa_logits(entry: PlanEntry, kernel: PlanKernel, ctx: RenderContext) -> tuple[str, str]:
    heads, head_dim = _heads(entry)
    style = ctx.profile.sm90_indexer_args
    flags: tuple[object, ...] = ()
    if style is Sm90IndexerArgs.WITH_CLEAN_FLAGS:
        compressed, clean = param(kernel, "compressed_logits"), param(kernel, "clean_logits")
        if compressed and clean:
            raise Unrenderable("compressed logits cannot be cleaned (DeepGEMM asserts)")
        flags = (bool(compressed), bool(clean))
    # Else the kernel bakes neither flag: the build only takes compressed calls (max_seqlen_k
    # > 0, which a caller must pass there) and the source is the same whatever the plan says.
    num_math_threads = 512
    source = fill(
        MQA_LOGITS_TEMPLATES[Sm90IndexerArgs.COMPRESSED_ONLY if style.compressed_only else style],
        heads,
        head_dim,
        *flags,
        128 // heads,  # block_q
        _BLOCK_KV,
        _NUM_STAGES,
        _NUM_STAGES,
        ctx.num_sms,
        _NUM_SPECIALIZED_THREADS,
        num_math_threads,
        _logits_dtype(entry, ctx),
    )
    return "sm90_fp8_mqa_logits", source


def render_paged_mqa_logits(
    entry: PlanEntry, kernel: PlanKernel, ctx: RenderContext
) -> tuple[str, str]:
    heads, head_dim = _heads(entry)
    next_n, block_kv = entry.dims.get("next_n", 1), entry.dims.get("block_kv", 64)
    if next_n not in (1, 2) or block_kv != 64:
        raise Unrenderable(f"SM90 paged logits take next_n 1/2 and block_kv 64 ({next_n=})")
    if param(kernel, "clean_logits") or param(kernel, "varlen"):
        raise Unrenderable("SM90 paged logits are neither cleaned nor varlen")
    multicast = ctx.profile.sm90_indexer_args is Sm90IndexerArgs.COMPRESSED_KV_MULTICAST
    # next_n 4 (multicast 2) is in that build's sources but not in any capture: left unrendered.
    source = fill(
        PAGED_MQA_LOGITS_MULTICAST_TEMPLATE if multicast else PAGED_MQA_LOGITS_TEMPLATE,
        next_n,
        heads,
        head_dim,
        block_kv,
        True,  # is_context_lens_2d: the API takes 2D context lengths only
        False,  # is_varlen
        _NUM_STAGES,
        _NUM_STAGES,
        _SPLIT_KV,
        _NUM_SPECIALIZED_THREADS,
        _SPLIT_KV // _MMA_M * 128,  # num_math_threads
        *((1,) if multicast else ()),  # num_kv_multicast: 1 for next_n 1 and 2
        _logits_dtype(entry, ctx),
    )
    return "sm90_fp8_paged_mqa_logits", source


def render_paged_mqa_logits_metadata(
    entry: PlanEntry, kernel: PlanKernel, ctx: RenderContext
) -> tuple[str, str]:
    if entry.dims.get("block_kv", 64) != 64:
        raise Unrenderable("SM90 paged metadata takes block_kv 64")
    aligned_batch = param(kernel, "aligned_batch")
    # num_sms is the caller's argument: engines pass the SM count the plan bakes in.
    source = fill(METADATA_TEMPLATE, aligned_batch, _SPLIT_KV, ctx.num_sms, False)
    return "sm90_paged_mqa_logits_metadata", source
