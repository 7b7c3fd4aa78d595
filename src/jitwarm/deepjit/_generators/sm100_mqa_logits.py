"""Ports of ``sm100_mqa_logits``, ``sm100_paged_mqa_logits`` and
``sm100_paged_mqa_logits_metadata`` (``csrc/jit_kernels/impls/sm100_mqa_logits.hpp`` of
tokenspeed-deepgemm 2.8.0.post20260924 and 2.8.2.post20261020, from deepseek-ai/DeepGEMM, MIT),
with what their API layer passes (``csrc/apis/attention.hpp``: block_kv 256 and block_q =
128 / heads for prefill, 2D context lengths, the device's SM count, split_kv 256 and 16 splits
per chunk in 2.8.0). The builds differ (their profile's ``sm100_indexer_args``):

- 2.8.0 bakes the logits and weights dtypes; FP32 logits mean FP32 weights (the API asserts
  BF16 weights come with BF16 logits), so only FP32 logits render. Its prefill kernel also
  bakes the (compressed, clean) flags.
- 2.8.2 bakes neither (its SM100 API writes BF16 logits and takes BF16 weights, compressed
  prefill logits and indexed decode requests only), nor the varlen or prefill flags.

Both prefill kernels bake whether the engine passes a ``schedule_meta`` workspace, which the
plan's kernel records (``FP4_MQA_LOGITS_CALL``). With one, the engine also calls
``get_mqa_logits_metadata``, whose own kernel is not ported (no plan entry has it)."""

from __future__ import annotations

from jitwarm.deepjit._generators._base import RenderContext, Unrenderable, fill, param
from jitwarm.plan import FP4_MQA_LOGITS_CALL, PAGED_MQA_LOGITS_CALL, PlanEntry, PlanKernel
from jitwarm.profiles import Sm100IndexerArgs

_INSTANTIATE = (
    "static void __instantiate_kernel() {{\n    auto ptr = reinterpret_cast<void*>(&{}<\n"
)
_HEAD = "\n#include <deep_gemm/{}>\n\nusing namespace deep_gemm;\n\n"
_STORAGE = (
    "static_assert(sizeof(layout::MQALogitsSharedStorage<\n    {}\n>) == {}, "
    '"Incorrect MQA logits shared-memory size");\n\n'
)
_TAIL = "    >);\n}};\n"


def _template(header: str, symbol: str, body: str, *, storage: str = "") -> str:
    return (
        _HEAD.format(header) + storage + _INSTANTIATE.replace("&{}<", f"&{symbol}<") + body + _TAIL
    )


_STORAGE_280 = _STORAGE.replace("    {}\n", "    {}, {}, {}, {}, {}, {}, {}, 3, {}, {}\n")
MQA_TEMPLATES = {
    Sm100IndexerArgs.PER_CALL: _template(
        "impls/sm100_mqa_logits.cuh",
        "sm100_mqa_logits",
        "        {}, {},\n        {},\n        {}, {}, {},\n"
        + "        {}, {},\n" * 2
        + "        {},\n"
        + "        {}, {},\n" * 2
        + "        {}\n",
        storage=_STORAGE_280,
    ),
    Sm100IndexerArgs.SHARED_CONFIG: _template(
        "impls/sm100_mqa_logits.cuh",
        "sm100_mqa_logits",
        "        {}, {},\n        {},\n"
        + "        {}, {}, {},\n" * 2
        + "        {},\n        {}, {},\n        {}\n",
        storage=_STORAGE,
    ),
}
PAGED_TEMPLATES = {
    Sm100IndexerArgs.PER_CALL: _template(
        "impls/sm100_mqa_logits.cuh",
        "sm100_paged_mqa_logits",
        "        {}, {},\n" * 2
        + "        {}, {}, {},\n"
        + "        {}, {},\n" * 3
        + "        {}, {}, {}\n",
        storage=_STORAGE_280,
    ),
    Sm100IndexerArgs.SHARED_CONFIG: _template(
        "impls/sm100_mqa_logits.cuh",
        "sm100_paged_mqa_logits",
        "        {}, {}, {},\n        {}, {},\n        {}, {}, {},\n"
        + "        {}, {},\n" * 2
        + "        {}\n",
        storage=_STORAGE,
    ),
}
METADATA_TEMPLATES = {
    Sm100IndexerArgs.PER_CALL: _template(
        "scheduler/sm100_paged_mqa_logits.cuh",
        "sched::sm100_paged_mqa_logits_metadata",
        "        {}, {}, {}, {}, {}\n",
    ),
    Sm100IndexerArgs.SHARED_CONFIG: _template(
        "scheduler/sm100_paged_mqa_logits.cuh",
        "sched::sm100_paged_mqa_logits_metadata",
        "        {}, {}, {}, {}\n",
    ),
}
_FP4 = "cutlass::float_e2m1_t"
_SPECIALIZED_THREADS = 128
_TMEM_STAGES = 3
_SF_ALIGN = 128  # kNumUTCCPAlignedElems
_TMA_ALIGN = 128
_BARRIER_BYTES = 8  # an mbarrier (ClusterTransactionBarrier): size and alignment
SMEM_CAPACITY_BYTES = 232448  # SM100ArchSpec::smem_capacity
# PER_CALL (attention.hpp, the impl): split_kv, splits per chunk, stages of FP4
_SPLIT_KV_280, _SPLITS_PER_CHUNK_280, _Q_STAGES_280, _KV_STAGES_280 = 256, 16, 3, 10
# SHARED_CONFIG (kMQALogits*, MQALogitsConfig): the same, and the metadata's block_q
_SPLIT_KV_282, _SPLITS_PER_CHUNK_282, _Q_STAGES_282, _KV_STAGES_282 = 384, 8, 2, 8
_METADATA_BLOCK_Q_282 = 4
_PREFILL_BLOCK_KV_280 = 256  # fp8_fp4_mqa_logits' block_kv: the prefill kernel's split_kv


def _align(x: int, a: int) -> int:
    return -(-x // a) * a


def _style(ctx: RenderContext) -> Sm100IndexerArgs:
    style = ctx.profile.sm100_indexer_args
    if style is None:
        raise Unrenderable(f"no SM100 indexer port for {ctx.profile.name}")
    return style


def _mxfp4_heads(entry: PlanEntry) -> tuple[int, int]:
    """Heads and head dim of an MXFP4 indexer entry (FP4 Q and KV, UE8M0 scales in int32)."""
    conv = entry.conventions
    if conv.ab_dtype != "fp8xfp4" or conv.scale_dtype != "ue8m0":
        raise Unrenderable(f"SM100 indexer port takes MXFP4 only, not {conv.ab_dtype}")
    heads, head_dim = entry.dims.get("heads"), entry.dims.get("head_dim")
    if not (isinstance(heads, int) and 0 < heads <= 128 and heads % 4 == 0):
        raise Unrenderable(f"SM100 indexer takes 4..128 heads (multiple of 4), got {heads}")
    if head_dim not in (64, 128):
        raise Unrenderable(f"SM100 FP4 indexer takes head_dim 64 or 128, got {head_dim}")
    return heads, head_dim


def _smem_bytes(
    heads: int,
    head_dim: int,
    split_kv: int,
    q_stages: int,
    kv_stages: int,
    weight_bytes: int,
    barriers: int,
) -> tuple[int, int]:
    """(umma_n, shared-memory bytes) of ``layout::MQALogitsSharedStorage`` at FP4 and MX
    scales: ``get_mqa_logits_smem_size`` (PER_CALL) or ``MQALogitsConfig::smem_size``."""
    block_q = 128 // heads
    qk_bytes = head_dim // 2
    swizzle = 8 * qk_bytes
    umma_n = _align(block_q * heads, 8)
    total = 0
    regions = (
        (q_stages * umma_n * qk_bytes, swizzle),
        (kv_stages * split_kv * qk_bytes, swizzle),
        (q_stages * _align(umma_n, _SF_ALIGN) * 4, _TMA_ALIGN),
        (kv_stages * _align(split_kv, _SF_ALIGN) * 4, _TMA_ALIGN),
        (q_stages * _align(block_q * _align(heads * weight_bytes, 16), _TMA_ALIGN), _TMA_ALIGN),
        (barriers * _BARRIER_BYTES, _BARRIER_BYTES),
        (4, 4),
    )
    for size, alignment in regions:
        total = _align(total, alignment) + size
    total = _align(total, swizzle)
    if total > SMEM_CAPACITY_BYTES:
        raise Unrenderable(f"{total} bytes of shared memory do not fit an SM100")
    return umma_n, total


def _config_282(heads: int, head_dim: int) -> tuple[str, int, int]:
    """SHARED_CONFIG's ``MQALogitsConfig`` at FP4 (prefill and paged kernels share it): its
    shared-storage arguments, shared-memory bytes and umma_n."""
    q_stages, kv_stages = _Q_STAGES_282, _KV_STAGES_282
    barriers = 3 * (q_stages + kv_stages) + 2 * _TMEM_STAGES
    umma_n, smem = _smem_bytes(heads, head_dim, _SPLIT_KV_282, q_stages, kv_stages, 2, barriers)
    storage = (heads, head_dim, 128 // heads, _SPLIT_KV_282, umma_n, q_stages, kv_stages)
    return ", ".join(str(v) for v in (*storage, _TMEM_STAGES, _FP4)), smem, umma_n


def _smem_280(heads: int, head_dim: int, split_kv: int) -> int:
    """PER_CALL's ``get_mqa_logits_smem_size`` at FP4 with FP32 weights."""
    barriers = 2 * (_Q_STAGES_280 + _KV_STAGES_280 + _TMEM_STAGES)
    _, smem = _smem_bytes(heads, head_dim, split_kv, _Q_STAGES_280, _KV_STAGES_280, 4, barriers)
    return smem


def _fp32_logits(entry: PlanEntry) -> None:
    if entry.conventions.out_dtype != "fp32":
        # BF16 logits allow FP32 or BF16 weights, which the kernel bakes and no plan records.
        raise Unrenderable(f"{entry.conventions.out_dtype} logits: the weights dtype is baked")


def render_sm100_mqa_logits(
    entry: PlanEntry, kernel: PlanKernel, ctx: RenderContext
) -> tuple[str, str]:
    heads, head_dim = _mxfp4_heads(entry)
    block_q = 128 // heads
    # num_sms: runtime->get_num_sms(), the SM count the plan bakes in.
    schedule_meta = bool(kernel.params.get("schedule_meta", FP4_MQA_LOGITS_CALL["schedule_meta"]))
    if _style(ctx) is Sm100IndexerArgs.SHARED_CONFIG:
        # Compressed logits only, BF16 weights and logits: nothing else of the call is baked.
        storage, smem, umma_n = _config_282(heads, head_dim)
        source = fill(
            MQA_TEMPLATES[Sm100IndexerArgs.SHARED_CONFIG],
            storage,
            smem,
            heads,
            head_dim,
            schedule_meta,
            block_q,
            _SPLIT_KV_282,
            umma_n,
            _Q_STAGES_282,
            _KV_STAGES_282,
            _TMEM_STAGES,
            ctx.num_sms,
            _SPECIALIZED_THREADS,
            (_SPLIT_KV_282 // 128) * 128,  # num_math_threads
            _FP4,
        )
        return "sm100_mqa_logits", source
    compressed, clean = param(kernel, "compressed_logits"), param(kernel, "clean_logits")
    if compressed and clean:
        raise Unrenderable("compressed logits cannot be cleaned (DeepGEMM asserts)")
    _fp32_logits(entry)
    split_kv = _PREFILL_BLOCK_KV_280
    storage_280 = (heads, head_dim, True, block_q, split_kv, _Q_STAGES_280, _KV_STAGES_280)
    source = fill(
        MQA_TEMPLATES[Sm100IndexerArgs.PER_CALL],
        *storage_280,
        _FP4,
        "float",
        _smem_280(heads, head_dim, split_kv),
        heads,
        head_dim,
        True,  # is_mx_sf: MXFP4 Q comes with its scales
        bool(compressed),
        bool(clean),
        schedule_meta,
        block_q,
        split_kv,
        _Q_STAGES_280,
        _KV_STAGES_280,
        ctx.num_sms,
        _SPECIALIZED_THREADS,
        2 * 128,  # num_math_threads
        _FP4,
        "float",  # to_string(kFloat32): the logits
        "float",  # FP32 weights
    )
    return "sm100_mqa_logits", source


def render_sm100_paged_mqa_logits(
    entry: PlanEntry, kernel: PlanKernel, ctx: RenderContext
) -> tuple[str, str]:
    heads, head_dim = _mxfp4_heads(entry)
    next_n, block_kv = entry.dims.get("next_n", 1), entry.dims.get("block_kv", 64)
    if block_kv not in (32, 64, 128) or not (isinstance(next_n, int) and next_n >= 1):
        raise Unrenderable(f"SM100 paged logits take block_kv 32/64/128 ({block_kv=})")
    if param(kernel, "clean_logits"):
        raise Unrenderable("paged logits cannot be cleaned (DeepGEMM asserts)")
    block_q = 128 // heads
    if _style(ctx) is Sm100IndexerArgs.SHARED_CONFIG:
        # BF16 weights; the plan's logits dtype and varlen flag are not baked in this build.
        storage, smem, umma_n = _config_282(heads, head_dim)
        source = fill(
            PAGED_TEMPLATES[Sm100IndexerArgs.SHARED_CONFIG],
            storage,
            smem,
            heads,
            head_dim,
            block_kv,
            block_q,
            umma_n,
            _Q_STAGES_282,
            _KV_STAGES_282,
            _TMEM_STAGES,
            _SPLIT_KV_282,
            _SPLITS_PER_CHUNK_282,
            _SPECIALIZED_THREADS,
            (_SPLIT_KV_282 // 128) * 128,  # num_math_threads
            _FP4,
        )
        return "sm100_paged_mqa_logits", source
    _fp32_logits(entry)
    q_stages, kv_stages = _Q_STAGES_280, _KV_STAGES_280
    smem = _smem_280(heads, head_dim, _SPLIT_KV_280)
    source = fill(
        PAGED_TEMPLATES[Sm100IndexerArgs.PER_CALL],
        *(heads, head_dim, True, block_q, _SPLIT_KV_280, q_stages, kv_stages, _FP4, "float"),
        smem,
        next_n,
        heads,
        head_dim,
        block_kv,
        True,  # is_mx_sf: MXFP4 Q comes with its scales
        True,  # is_context_lens_2d: the API takes 2D context lengths only
        bool(param(kernel, "varlen")),
        q_stages,
        kv_stages,
        _SPLIT_KV_280,
        _SPLITS_PER_CHUNK_280,
        _SPECIALIZED_THREADS,
        2 * 128,  # num_math_threads
        _FP4,
        "float",  # to_string(kFloat32): the logits
        "float",  # FP32 weights
    )
    return "sm100_paged_mqa_logits", source


def render_sm100_paged_mqa_logits_metadata(
    entry: PlanEntry, kernel: PlanKernel, ctx: RenderContext
) -> tuple[str, str]:
    if entry.dims.get("block_kv", 64) not in (32, 64, 128):
        raise Unrenderable("SM100 paged metadata takes block_kv 32/64/128")
    # num_sms is the caller's argument, but the paged kernel asserts a schedule of the device's
    # SM count + 1 rows: the SM count the plan bakes in.
    if _style(ctx) is Sm100IndexerArgs.SHARED_CONFIG:
        threads = param(kernel, "num_threads")  # from the query rows (next_n 1 in this build)
        source = fill(
            METADATA_TEMPLATES[Sm100IndexerArgs.SHARED_CONFIG],
            _SPLIT_KV_282,
            ctx.num_sms,
            _METADATA_BLOCK_Q_282,
            threads,
        )
        return "sm100_paged_mqa_logits_metadata", source
    # The metadata call takes the paged call's context lengths (its next_n) and indices
    # (varlen), as the plan's paged entries record them.
    source = fill(
        METADATA_TEMPLATES[Sm100IndexerArgs.PER_CALL],
        entry.dims.get("next_n", 1),
        "true",  # is_context_lens_2d
        "true" if PAGED_MQA_LOGITS_CALL["varlen"] else "false",
        _SPLIT_KV_280,
        ctx.num_sms,
    )
    return "sm100_paged_mqa_logits_metadata", source
