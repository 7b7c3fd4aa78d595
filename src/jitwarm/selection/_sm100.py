"""Pure-Python model of DeepGEMM's SM100 kernel selection, per build.

Follows, of tokenspeed-deepgemm 2.8.0.post20260924 and 2.8.2.post20261020 (DeepGEMM, MIT):
``csrc/jit_kernels/heuristics/{sm100,common,config,utils,runtime}.hpp`` (``SM100ArchSpec``,
identical in both builds), ``get_block_config_for_mega_moe`` of ``heuristics/mega_moe.hpp``
(the store blocks differ: a later build splits them per layer), and what the generators of
``impls/sm100_*.hpp`` bake in (``sm100_mqa_logits.hpp``, ``sm100_tf32_hc_prenorm_gemm.hpp``).
Checked against those headers compiled on a CPU (tests/test_oracle_sm100.py,
benchmarks/oracle_sm100.py).

What the generated SM100 kernels take from M (or the batch), in these builds (where they
differ, an `SM100Rules` flag says which; the builds' profiles hold the rules, by model name):

- FP8/FP4 GEMM (``fp8_gemm_nt``), its batched form (``fp8_einsum``) and the BF16 GEMM: the
  layout heuristic below (`select_sm100`, `partition_m_sm100`).
- m-grouped contiguous and masked: nothing. ``get_layout_candidates`` returns one layout
  (swap A/B, BLOCK_M = the contiguous alignment, BLOCK_N = 128, a 2-CTA cluster when N has an
  even number of blocks), whatever M or expected_m is.
- mega-MoE: the block config from the tokens per call (`select_mega_moe`).
- paged MQA-logits metadata: next_n and flags only, or also a thread count from the flattened
  query rows (256 up to 512 rows, 512 up to 2048, then 1024; `metadata_threads_from_rows`).
- MQA logits, paged MQA logits: nothing (heads, head_dim, block sizes, SM count, flags).
- tf32 hc-prenorm: BLOCK_M 64 and BLOCK_N align(N, 16) fixed; only the split count the engine
  passes (see `jitwarm.plan._select.hc_num_splits`).
"""

from __future__ import annotations

import math
import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache

from jitwarm.errors import ConfigError
from jitwarm.profiles import SM100_RULES, SM100Rules
from jitwarm.selection._buckets import check_m, max_kernels, runs_of, walk_buckets
from jitwarm.selection._types import GemmType

__all__ = [
    "MEGA_MOE_MAX_BLOCK_CONFIGS",
    "MegaMoEBlockConfig",
    "MegaMoEProblem",
    "SM100GemmProblem",
    "SM100KernelConfig",
    "SM100Rules",
    "max_kernels_sm100",
    "paged_metadata_threads",
    "partition_m_sm100",
    "partition_tokens_mega_moe",
    "select_mega_moe",
    "select_sm100",
    "sm100_rules",
]

SMEM_CAPACITY_BYTES = 232448
_MAX_STAGES = 32
_LAYOUT_AD_M = 128  # UMMA M of layout A/D: swap A/B needs BLOCK_N = 128
_UMMA_STEP_N = 16
_TMEM_COLUMNS = 512
_INT_MAX = (1 << 31) - 1
_ELEM_BYTES = {"fp8": 1, "fp4": 1, "bf16": 2, "fp32": 4}  # fp4 is packed in int8 tensors
_AB_DTYPES = ("fp8", "fp4", "bf16")
_CD_DTYPES = ("bf16", "fp32")
_MODELLED_GEMMS = (
    GemmType.NORMAL,
    GemmType.BATCHED,
    GemmType.M_GROUPED_CONTIGUOUS,
    GemmType.M_GROUPED_MASKED,
)


# -- build rules ---------------------------------------------------------------------------


def sm100_rules(model: str) -> SM100Rules:
    """The rules of the SM100 selection model a build profile names (``sm100_rules`` of
    `jitwarm.profiles.SM100_RULES`: which builds differ how is the profiles' fact)."""
    try:
        return SM100_RULES[model]
    except KeyError:
        known = ", ".join(SM100_RULES)
        raise ConfigError(f"no SM100 selection model {model!r} (known: {known})") from None


# -- GEMM ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SM100GemmProblem:
    """Everything but M that ``SM100ArchSpec`` reads for one GEMM call site.

    `n`, `k`, `num_groups` per group (for `BATCHED`, `num_groups` is the batch count h).
    A and B are K-major (the ``*_nt`` calls). `mk_alignment` is
    ``set_mk_alignment_for_contiguous_layout``; the two multiples are
    ``set_block_size_multiple_of``. FP8 and FP4 operands use the MXF8F6F4 MMA (both FP4: MXF4),
    BF16 operands the BF16 kernel (no scale factors).
    """

    gemm_type: GemmType
    n: int
    k: int
    num_groups: int = 1
    a_dtype: str = "fp8"
    b_dtype: str = "fp8"
    out_dtype: str = "bf16"
    num_sms: int = 148
    mk_alignment: int = 128
    block_m_multiple_of: int = 1
    block_n_multiple_of: int = 1
    with_accumulation: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "gemm_type", GemmType(self.gemm_type))
        if self.gemm_type not in _MODELLED_GEMMS:
            raise ConfigError(f"SM100 {self.gemm_type.value} GEMMs are not modelled")
        for name in ("n", "k", "num_groups", "mk_alignment"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)}", field=name)
        for name in ("block_m_multiple_of", "block_n_multiple_of"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)}", field=name)
        if self.a_dtype not in _AB_DTYPES or self.b_dtype not in _AB_DTYPES:
            raise ConfigError(f"A/B dtypes must be among {_AB_DTYPES}", field="a_dtype")
        if (self.a_dtype == "bf16") != (self.b_dtype == "bf16"):
            raise ConfigError("BF16 GEMMs take BF16 A and B", field="b_dtype")
        if self.out_dtype not in _CD_DTYPES:
            raise ConfigError(f"out_dtype must be one of {_CD_DTYPES}", field="out_dtype")
        if self.num_sms < 2 or self.num_sms % 2:
            raise ConfigError(f"num_sms must be even and >= 2, got {self.num_sms}", field="num_sms")

    @property
    def mma_kind(self) -> str:
        if self.a_dtype == "bf16":
            return "bf16"
        return "mxf4" if self.a_dtype == self.b_dtype == "fp4" else "mxf8f6f4"

    @property
    def block_k(self) -> int:
        # 128 bytes of K per block: 8-bit elements for MXF8F6F4, 4-bit for MXF4, 16-bit BF16.
        return {"bf16": 64, "mxf8f6f4": 128, "mxf4": 256}[self.mma_kind]


@dataclass(frozen=True)
class SM100KernelConfig:
    """The configuration ``SM100ArchSpec`` picks; equal configs of one problem share a kernel."""

    swap_ab: bool
    block_m: int
    block_n: int
    block_k: int
    cluster_m: int
    cluster_n: int
    load_block_m: int
    load_block_n: int
    store_block_m: int
    store_block_n: int
    swizzle_a_bytes: int
    swizzle_b_bytes: int
    swizzle_cd_bytes: int
    num_stages: int
    num_tma_store_stages: int
    smem_bytes: int
    num_threads: int = 256
    num_non_epilogue_threads: int = 128
    num_epilogue_threads: int = 128

    @property
    def cluster_size(self) -> int:
        return self.cluster_m * self.cluster_n


def _swizzle_bytes(inner_bytes: int) -> int:
    for mode in (128, 64, 32, 16):
        if inner_bytes % mode == 0:
            return mode
    raise ConfigError(f"no TMA swizzle fits an inner dimension of {inner_bytes} bytes")


def _sf_blocks(p: SM100GemmProblem, block_m: int, block_n: int) -> tuple[int, int]:
    """UTCCP-aligned scale-factor block sizes (none for BF16)."""
    if p.mma_kind == "bf16":
        return 0, 0
    return -(-block_m // 128) * 128, -(-block_n // 128) * 128


def _config(
    p: SM100GemmProblem, swap_ab: bool, block_m: int, block_n: int, cluster_m: int, cluster_n: int
) -> SM100KernelConfig:
    """`get_storage_config` and `get_pipeline_config` for one layout."""
    block_k = p.block_k
    load_m, load_n = block_m // cluster_n, block_n // cluster_m
    store_m = _UMMA_STEP_N if swap_ab else min(_LAYOUT_AD_M, block_m)
    store_n = block_n
    pack = 2 if p.mma_kind == "mxf4" else 1
    ea, eb, ecd = _ELEM_BYTES[p.a_dtype], _ELEM_BYTES[p.b_dtype], _ELEM_BYTES[p.out_dtype]
    swizzle_a = _swizzle_bytes(block_k // pack * ea)  # K-major: the inner dim is BLOCK_K
    swizzle_b = _swizzle_bytes(block_k // pack * eb)
    swizzle_cd = _swizzle_bytes(store_n * ecd)
    # Single-stage TMA stores are only for K-grouped GEMMs (not modelled).
    store_stages = 2
    smem_cd = (store_m * store_n * ecd if swap_ab else store_m * swizzle_cd) * store_stages
    # A/B/SF full, SF-TMA full, empty, tensor-memory barriers sized for the max stages, plus
    # the tensor-core utilisation barrier and the tensor-memory pointer.
    smem_extra = smem_cd + (_MAX_STAGES * 8 * 3 + 2 * 8 * 3 + 8) + 4
    per_stage = load_m * block_k * ea // pack + load_n * block_k * eb // pack
    if p.mma_kind != "bf16":  # Kernel1D1D: per-stage SFA/SFB
        sf_m, sf_n = _sf_blocks(p, block_m, block_n)
        per_stage += sf_m * block_k // 32 + sf_n * block_k // 32
    stages = min((SMEM_CAPACITY_BYTES - smem_extra) // per_stage, _MAX_STAGES)
    return SM100KernelConfig(
        swap_ab=swap_ab,
        block_m=block_m,
        block_n=block_n,
        block_k=block_k,
        cluster_m=cluster_m,
        cluster_n=cluster_n,
        load_block_m=load_m,
        load_block_n=load_n,
        store_block_m=store_m,
        store_block_n=store_n,
        swizzle_a_bytes=swizzle_a,
        swizzle_b_bytes=swizzle_b,
        swizzle_cd_bytes=swizzle_cd,
        num_stages=stages,
        num_tma_store_stages=store_stages,
        smem_bytes=smem_extra + stages * per_stage,
    )


@dataclass(frozen=True)
class _Cand:
    index: int  # position in the C++ candidate list (the scan order)
    config: SM100KernelConfig
    block_m: int
    n_blocks: int  # ceil(N / BLOCK_N) * expected groups
    even_m_blocks: bool  # a 2-CTA cluster along M needs an even ceil(M / BLOCK_M)
    size_sum: int  # BLOCK_M + BLOCK_N (a tie-break)
    size_prod: int  # BLOCK_M * BLOCK_N (the last tie-break)


@dataclass(frozen=True)
class _Regime:
    """The candidates for one M regime (layout A/D's BLOCK_M is 32 to M = 32, 64 to 64, then
    128) and the width of the buckets on which the choice is constant."""

    lo: int
    hi: int
    step: int
    cands: tuple[_Cand, ...]

    def bucket_hi(self, m: int) -> int:
        return min(self.hi, -(-m // self.step) * self.step)


def _regime_bounds(p: SM100GemmProblem, m: int) -> tuple[int, int]:
    if p.gemm_type in (GemmType.M_GROUPED_CONTIGUOUS, GemmType.M_GROUPED_MASKED):
        return 1, _INT_MAX
    if m <= 32:
        return 1, 32
    if m <= 64:
        return 33, 64
    return 65, _INT_MAX


def _regime(p: SM100GemmProblem, m: int) -> _Regime:
    return _build_regime(p, _regime_bounds(p, m)[0])


@lru_cache(maxsize=1024)
def _build_regime(p: SM100GemmProblem, lo: int) -> _Regime:
    hi = _regime_bounds(p, lo)[1]
    if p.gemm_type in (GemmType.M_GROUPED_CONTIGUOUS, GemmType.M_GROUPED_MASKED):
        # One layout whatever M is: swap A/B, BLOCK_M = the contiguous alignment.
        cluster_n = 2 if -(-p.n // 128) % 2 == 0 and p.num_sms % 2 == 0 else 1
        config = _config(p, True, p.mk_alignment, 128, 1, cluster_n)
        cand = _Cand(0, config, p.mk_alignment, 1, False, 0, 0)
        return _Regime(lo, hi, _INT_MAX, (cand,))
    groups = p.num_groups if p.gemm_type is GemmType.BATCHED else 1
    cands: list[_Cand] = []
    block_ms_seen: list[int] = []
    for swap_ab in (False, True):
        if swap_ab:
            step = math.lcm(16, p.block_m_multiple_of)
            block_ms = list(range(step, 257, step))
            block_ns = [128]
        else:
            # Smaller BLOCK_M avoids the TMA L2 out-of-bounds cost at small M.
            block_ms = [32 if hi <= 32 else 64 if hi <= 64 else 128]
            block_ns = [16] if 16 % p.block_n_multiple_of == 0 else []
            step = math.lcm(32, p.block_n_multiple_of)
            # Small K: fewer store blocks overlap stores with compute better.
            block_ns += range(step, (128 if p.k <= 256 else 256) + 1, step)
        for cluster_m, cluster_n in ((1, 1), (1, 2), (2, 1)):
            if swap_ab and cluster_m > 1:  # after swapping, A/D multicast only along N
                continue
            if not swap_ab and cluster_n > 1:
                continue
            if p.num_sms % (cluster_m * cluster_n):
                continue
            for block_m in block_ms:
                if (block_m // cluster_n) % 8:  # K-major: the base MMA shape
                    continue
                for block_n in block_ns:
                    if (block_n // cluster_m) % 8:
                        continue
                    if -(-p.n // block_n) % cluster_n:
                        continue
                    if swap_ab and block_n != _LAYOUT_AD_M:
                        continue
                    sf_m, sf_n = _sf_blocks(p, block_m, block_n)
                    sf_k = p.block_k // 128
                    tmem_sf = 0 if p.mma_kind == "bf16" else sf_m * sf_k // 32 + sf_n * sf_k // 32
                    if (block_m if swap_ab else block_n) + tmem_sf > _TMEM_COLUMNS:
                        continue
                    config = _config(p, swap_ab, block_m, block_n, cluster_m, cluster_n)
                    if config.swizzle_a_bytes != 128 or config.swizzle_b_bytes != 128:
                        continue
                    cands.append(
                        _Cand(
                            index=len(cands),
                            config=config,
                            block_m=block_m,
                            n_blocks=-(-p.n // block_n) * groups,
                            even_m_blocks=cluster_m > 1,
                            size_sum=block_m + block_n,
                            size_prod=block_m * block_n,
                        )
                    )
                    block_ms_seen.append(block_m)
    if not cands:
        raise ConfigError(f"DeepGEMM has no SM100 kernel candidate for {p}")
    return _Regime(lo, hi, math.gcd(*block_ms_seen), tuple(cands))


def _choose(regime: _Regime, m: int, num_sms: int) -> SM100KernelConfig:
    """`get_best_config`: scan the candidates in order, replacing the best whenever `compare`
    says the next one is better (the rules are not a total order, so the scan order matters)."""
    best: tuple[int, int, int, _Cand] | None = None  # (waves, cluster size, last-wave util, cand)
    for cand in regime.cands:
        m_blocks = -(-m // cand.block_m)
        if cand.even_m_blocks and m_blocks % 2:  # multicast needs divisible M blocks
            continue
        blocks = m_blocks * cand.n_blocks
        waves = -(-blocks // num_sms)
        util = blocks % num_sms or num_sms
        size = cand.config.cluster_size
        if best is None:
            best = (waves, size, util, cand)
            continue
        bw, bs, bu, bc = best
        if (waves == 1 or bw == 1) and waves != bw:  # a single wave always wins
            better = waves < bw
        elif size != bs:  # then multicast
            better = size > bs
        elif waves != bw:
            better = waves < bw
        elif util != bu:
            better = util > bu
        elif cand.size_sum != bc.size_sum:
            better = cand.size_sum < bc.size_sum
        else:
            better = cand.size_prod < bc.size_prod
        if better:
            best = (waves, size, util, cand)
    if best is None:
        raise ConfigError(f"DeepGEMM has no SM100 kernel candidate at M = {m}")
    return best[3].config


def select_sm100(problem: SM100GemmProblem, m: int) -> SM100KernelConfig:
    """The kernel configuration DeepGEMM picks on SM100 for this problem at M = m (M for plain
    GEMMs, the batch's rows b for batched ones; grouped layouts ignore it)."""
    check_m(m)
    return _choose(_regime(problem, m), m, problem.num_sms)


def _buckets(
    problem: SM100GemmProblem, m_values: Iterable[int]
) -> Iterator[tuple[_Regime, int, int]]:
    """(regime, first given M, last given M) per constant-choice bucket holding given values."""
    return walk_buckets(m_values, lambda m: _regime(problem, m))


def partition_m_sm100(
    problem: SM100GemmProblem, m_values: Iterable[int]
) -> list[tuple[SM100KernelConfig, list[tuple[int, int]]]]:
    """Group M values by the kernel DeepGEMM would pick on SM100.

    Returns one (config, inclusive ranges) per distinct kernel, in order of its first M.
    Accepts any iterable of ints, a `range` or an object with inclusive `ranges` (`MSet`).

    Why one evaluation per bucket is exact, and what it costs: within a regime (M <= 32,
    33..64, > 64; the only place where M itself enters the candidate list) the heuristic reads
    M only through ceil(M / BLOCK_M) of each candidate: the multicast divisibility test, the
    block count, hence waves and last-wave utilisation. Every candidate's BLOCK_M is a multiple
    of g, the gcd of the regime's BLOCK_M values (16 by default: the swapped 16..256 and the
    layout-A/D 32/64/128), and ceil(M / (t g)) = ceil(ceil(M / g) / t), so each candidate's
    every input is a function of ceil(M / g): the choice is constant on each g-wide bucket
    ((j - 1) g, j g] cut at the regime bounds (multiples of 16 and of g). So the heuristic runs
    once per bucket that holds a given M, each run a scan of the fixed candidate list: the
    cost is O(R + B * C) for R input ranges, B <= R + (M_max / g) buckets and C candidates,
    independent of how many M values each range holds (as `partition_m_sm90`, whose buckets
    are 64 wide). Grouped layouts have a single bucket: their layout does not read M.
    """
    groups: dict[SM100KernelConfig, list[tuple[int, int]]] = {}
    current: SM100KernelConfig | None = None
    ranges: list[tuple[int, int]] = []
    for regime, first, last in _buckets(problem, m_values):
        config = _choose(regime, first, problem.num_sms)
        if config is current or config == current:
            ranges[-1] = (ranges[-1][0], last)
        else:
            ranges = groups.setdefault(config, [])
            ranges.append((first, last))
            current = config
    return list(groups.items())


# -- mega-MoE ------------------------------------------------------------------------------

_F32 = struct.Struct("<f")
_MEGA_BLOCK_MS = (8, 16, 32, 64, 96, 128, 192, 240)  # layout::kCandidateBlockM
# The block config is a function of BLOCK_M (per MMA kind): at most one kernel per candidate.
MEGA_MOE_MAX_BLOCK_CONFIGS = len(_MEGA_BLOCK_MS)


def _f32(x: float) -> float:
    """Round to the nearest float32. A float32 +, *, / or sqrt of float32 values done in double
    and rounded once is the correctly rounded float32 result (53 >= 2 * 24 + 2 bits)."""
    return _F32.unpack(_F32.pack(x))[0]


@dataclass(frozen=True)
class MegaMoEProblem:
    """What ``get_block_config_for_mega_moe`` reads besides the tokens of a call."""

    num_ranks: int
    num_experts: int  # all experts (num_experts / num_ranks live on each rank)
    num_topk: int
    mma: str = "fp8xfp4"  # or "bf16xbf16" (the BF16 mega-MoE)

    def __post_init__(self) -> None:
        for name in ("num_ranks", "num_experts", "num_topk"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)}", field=name)
        if self.mma not in ("fp8xfp4", "fp8xfp8", "bf16xbf16"):
            raise ConfigError(f"unknown mega-MoE MMA type {self.mma!r}", field="mma")


@dataclass(frozen=True)
class MegaMoEBlockConfig:
    """The block config the mega-MoE kernel is generated with (the rest follows from it and
    from fixed dimensions). ``store_block_m_l2`` is None where the build has one store block."""

    cluster_size: int
    block_m: int
    store_block_m_l1: int
    store_block_m_l2: int | None
    block_k: int
    num_epilogue_threads: int


def _mega_piece(p: MegaMoEProblem, num_tokens: int) -> tuple[int, int]:
    """(blocks per expert, block_m): ordered, and non-decreasing in num_tokens (the expected
    tokens per expert grow with it; then blocks grow, and within a block count the tile)."""
    expected = _f32(_f32(_f32(float(num_tokens)) * p.num_ranks) * p.num_topk)
    expected = _f32(expected / p.num_experts)
    covered = _f32(expected + _f32(math.sqrt(expected)))
    if expected <= 24:
        return 0, 16 if expected <= 10 else 32
    blocks = math.ceil(_f32(covered / 240))
    if blocks == 1 and covered > 192 and p.num_experts // p.num_ranks < 14:
        blocks = 2
    block_m = 240
    for candidate in (64, 128, 192, 240):
        block_m = candidate
        if blocks * candidate >= covered:
            break
    return blocks, block_m


def select_mega_moe(p: MegaMoEProblem, num_tokens: int, rules: SM100Rules) -> MegaMoEBlockConfig:
    """``get_block_config_for_mega_moe`` for a call with `num_tokens` tokens on this rank."""
    if num_tokens < 0:
        raise ValueError(f"num_tokens must be >= 0, got {num_tokens}")
    block_m = _mega_piece(p, num_tokens)[1]
    fp8 = p.mma != "bf16xbf16"
    if block_m <= 16:
        l1 = 8
    elif block_m <= 64:
        l1 = 16
    elif block_m <= 192:
        l1 = 32
    else:
        l1 = 24 if fp8 and rules.mega_split_store_blocks else 40
    l2: int | None = None
    if rules.mega_split_store_blocks:
        l2 = 8 if block_m == 240 and fp8 else l1
    assert block_m in _MEGA_BLOCK_MS
    return MegaMoEBlockConfig(2, block_m, l1, l2, 128 if fp8 else 64, 256)


def partition_tokens_mega_moe(
    p: MegaMoEProblem, m_values: object, rules: SM100Rules
) -> list[tuple[MegaMoEBlockConfig, list[tuple[int, int]]]]:
    """Group token counts by the mega-MoE block config DeepGEMM would pick.

    `m_values` is an object with inclusive `ranges` (`MSet`) or any iterable of ints. The
    block config is a function of the (blocks, block_m) piece, which never decreases with the
    tokens (see `_mega_piece`), so each run is cut where the piece changes by bisection:
    O(pieces * log(width)) evaluations per run, not one per token count. There are at most
    2 + 4 * B pieces, B the blocks per expert at the largest count (ceil(covered tokens / 240):
    4 for 8192 tokens of DeepSeek-V4-Flash at EP 4).
    """
    runs = runs_of(m_values)
    if runs is None:
        runs = [(m, m) for m in sorted(set(m_values))]  # type: ignore[call-overload]
    groups: dict[MegaMoEBlockConfig, list[tuple[int, int]]] = {}
    for lo, hi in runs:
        start = lo
        while start <= hi:
            piece = _mega_piece(p, start)
            end_lo, end_hi = start, hi  # last token count of this piece, by bisection
            while end_lo < end_hi:
                mid = (end_lo + end_hi + 1) // 2
                if _mega_piece(p, mid) == piece:
                    end_lo = mid
                else:
                    end_hi = mid - 1
            config = select_mega_moe(p, start, rules)
            ranges = groups.setdefault(config, [])
            if ranges and ranges[-1][1] + 1 == start:
                ranges[-1] = (ranges[-1][0], end_lo)
            else:
                ranges.append((start, end_lo))
            start = end_lo + 1
    return list(groups.items())


# -- paged MQA-logits metadata -------------------------------------------------------------


def paged_metadata_threads(rows: int, rules: SM100Rules) -> int | None:
    """The thread count the SM100 paged-metadata kernel bakes for `rows` flattened query rows
    (256 up to 512, 512 up to 2048, then 1024), or None where the build bakes no row-dependent
    value (`SM100Rules.metadata_threads_from_rows`)."""
    if not rules.metadata_threads_from_rows:
        return None
    return 256 if rows <= 512 else 512 if rows <= 2048 else 1024


def max_kernels_sm100(problem: SM100GemmProblem, m_max: int) -> int:
    """An upper bound on the distinct kernels any M in 1..m_max can select (see `max_kernels`)."""
    return max_kernels(m_max, lambda m: _regime(problem, m))
