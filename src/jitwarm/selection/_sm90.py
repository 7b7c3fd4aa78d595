"""Pure-Python model of DeepGEMM's SM90 GEMM kernel selection (`SM90ArchSpec`).

Mirrors `csrc/jit_kernels/heuristics/{common,sm90,utils}.hpp` and the template-argument lists
the SM90 launchers render (`impls/sm90_fp8_gemm_1d2d.hpp`, `sm90_fp8_gemm_1d1d.hpp`,
`sm90_bf16_gemm.hpp`) of upstream DeepGEMM 88965b0 (June 2026) to 54e2261, the code
tokenspeed-deepgemm 2.5.0 builds. Checked against kernels captured on an H100 (see
tests/test_selection_sm90.py); the 1D1D rendering has no captured ground truth yet. DeepGEMM is MIT-licensed: see
THIRD_PARTY_NOTICES.md.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache

from jitwarm.errors import ConfigError
from jitwarm.selection._buckets import check_m, max_kernels, walk_buckets
from jitwarm.selection._types import GemmProblem, GemmType, KernelType

__all__ = [
    "GemmProblem",
    "GemmType",
    "KernelType",
    "SM90KernelConfig",
    "max_kernels_sm90",
    "partition_m_sm90",
    "select_sm90",
]

SMEM_CAPACITY_BYTES = 232448
_MAX_STAGES = 16
_WGMMA_M = 64
_NUM_TMA_THREADS = 128
_INT64_MAX = (1 << 63) - 1
_EPILOGUE_IDENTITY = "epilogue::transform::EpilogueIdentity"
_CD_TYPE_NAMES = {"bf16": "cutlass::bfloat16_t", "fp32": "float"}
_CD_BYTES = {"bf16": 2, "fp32": 4}


@dataclass(frozen=True)
class SM90KernelConfig:
    """The configuration DeepGEMM's SM90 heuristic picks; equal configs of one problem share a
    kernel (one cubin)."""

    block_m: int
    block_n: int
    block_k: int
    num_stages: int
    multicast: int  # cluster size, 1 or 2
    multicast_on_a: bool  # cluster along N (A tiles shared by two CTAs)
    swizzle_a_bytes: int
    swizzle_b_bytes: int
    swizzle_d_bytes: int  # 0: no swizzle (FP32 output)
    num_tma_threads: int
    num_math_threads: int
    smem_bytes: int

    @property
    def cluster_m(self) -> int:
        return 1 if self.multicast_on_a else self.multicast

    @property
    def cluster_n(self) -> int:
        return self.multicast if self.multicast_on_a else 1

    @property
    def num_threads(self) -> int:
        return self.num_tma_threads + self.num_math_threads

    def template_args(self, problem: GemmProblem) -> str:
        """The generated kernel's template-argument list, as DeepGEMM renders it."""
        p = problem
        shape = f"0, {p.n if 'n' in p.compiled_dims else 0}, {p.k if 'k' in p.compiled_dims else 0}"
        tiles = f"{self.block_m}, {self.block_n}, {self.block_k}"
        threads = f"{self.num_tma_threads}, {self.num_math_threads}"
        cluster = f"{self.multicast}, {'true' if self.multicast_on_a else 'false'}"
        gemm_type = f"GemmType::{p.gemm_type.value}"
        cd_type = _CD_TYPE_NAMES[p.out_dtype]
        swizzles = f"{self.swizzle_a_bytes}, {self.swizzle_b_bytes}"
        if p.kernel_type is KernelType.K1D2D:
            head = f"cute::UMMA::Major::{p.sfb_major}"
            swizzles += f", {self.swizzle_d_bytes}"
            tail = f"{gemm_type}, {cd_type}, {_EPILOGUE_IDENTITY}"
        elif p.kernel_type is KernelType.NO_SF:
            head = "cute::UMMA::Major::K, cute::UMMA::Major::K"
            swizzles += f", {self.swizzle_d_bytes}"
            tail = f"{gemm_type}, {'true' if p.with_accumulation else 'false'}, {cd_type}"
        else:  # 1D1D renders no SFB major and no D swizzle
            head = ""
            tail = f"{gemm_type}, {cd_type}"
        parts = [shape, str(p.num_groups), tiles, swizzles, str(self.num_stages), threads, cluster]
        parts += [str(p.num_sms), tail]
        return ", ".join(([head] if head else []) + parts)


# -- float32 arithmetic of the C++ cost model ------------------------------------------------

_F32 = struct.Struct("<f")
_F32_EXACT = 1 << 24  # ints below this are float32 values already


def _f32(x: float) -> float:
    """Round a double to the nearest float32 (C's `(float)x`)."""
    return _F32.unpack(_F32.pack(x))[0]


def _int_to_f32(n: int) -> float:
    """`static_cast<float>(n)` for n >= 0, rounded once (a detour through double could round
    twice above 2**53)."""
    if n < _F32_EXACT:
        return float(n)
    if n < 1 << 53:
        return _f32(float(n))
    shift = n.bit_length() - 24
    q, r = divmod(n, 1 << shift)
    half = 1 << (shift - 1)
    if r > half or (r == half and q & 1):
        q += 1
    return float(q << shift)


# -- candidate enumeration (M-independent once the block-M set is fixed) ----------------------


@dataclass(frozen=True)
class _Cand:
    """One legal layout with everything its score needs except M."""

    index: int  # position in the C++ candidate list: ties go to the lowest
    config: SM90KernelConfig
    block_m: int
    n_blocks: int  # ceil(N / block_n) * expected groups
    l1_bytes: int  # bytes through L1 per block
    l2_bytes: int  # bytes through L2 per block
    is_cluster: bool
    num_sms: int
    l1_bw: int
    l2_bw: int
    rate: float  # lower bound of cycles per row of M (sorting key for pruning)


def _regime_bounds(problem: GemmProblem, m: int) -> tuple[int, int]:
    """The M range [lo, hi] over which the candidate list itself does not change."""
    if problem.gemm_type in (GemmType.NORMAL, GemmType.BATCHED):
        if m <= 16:
            return 1, 16
        if m <= 32:
            return 17, 32
        return 33, _INT64_MAX
    return 1, _INT64_MAX


def _block_m_candidates(problem: GemmProblem, m: int) -> list[int]:
    if problem.gemm_type in (GemmType.NORMAL, GemmType.BATCHED):
        out = [64, 128]
        # Small BLOCK_M avoids the TMA L2 out-of-bounds cost at tiny M.
        if m <= 16:
            out.append(16)
        if m <= 32:
            out.append(32)
        if problem.out_dtype != "fp32":
            out.append(256)
        return out
    if problem.gemm_type is GemmType.M_GROUPED_CONTIGUOUS:
        return [problem.mk_alignment]
    return [64, 128]  # masked


def _swizzle_bytes(inner_bytes: int) -> int:
    for mode in (128, 64, 32, 16):
        if inner_bytes % mode == 0:
            return mode
    raise ConfigError(f"no TMA swizzle fits an inner dimension of {inner_bytes} bytes")


def _pipeline(
    problem: GemmProblem, block_m: int, block_n: int, block_k: int, ab_bytes: int
) -> tuple[int, int]:
    """(num_stages, smem_bytes) filling the shared-memory budget."""
    kt = problem.kernel_type
    cd_bytes = _CD_BYTES[problem.out_dtype]
    # 1024: TMA swizzle alignment of the output tile; barriers are sized for the max stages.
    smem_cd = -(-(block_m * block_n * cd_bytes) // 1024) * 1024
    smem_barriers = _MAX_STAGES * 8 * 2
    smem_a = block_m * block_k * ab_bytes
    smem_b = block_n * block_k * ab_bytes
    smem_sfa = 0 if kt is KernelType.NO_SF else -(-(block_m * 4) // 128) * 128
    smem_sfb = -(-(block_n * 4) // 128) * 128 if kt is KernelType.K1D1D else 0
    smem_extra_sfb = 0
    if kt is KernelType.K1D2D:
        # SFB for the whole K lives in shared memory, twice when a block straddles scale groups.
        uniform = 1 if block_k % block_n == 0 else 2
        smem_extra_sfb = -(-(-(-problem.k // block_k) * 4 * uniform) // 8) * 8
    extra = smem_cd + smem_barriers + smem_extra_sfb
    per_stage = smem_a + smem_b + smem_sfa + smem_sfb
    stages = min((SMEM_CAPACITY_BYTES - extra) // per_stage, _MAX_STAGES)
    return stages, extra + stages * per_stage


@dataclass(frozen=True)
class _Regime:
    """The candidate list for one M regime and the bucket width within it."""

    lo: int
    hi: int
    # The score reads M only as ceil(M / block_m), so it is constant between consecutive
    # multiples of the gcd of the block_m candidates (64 above M = 32 for plain GEMMs).
    step: int
    cands: tuple[_Cand, ...]  # C++ order
    by_rate: tuple[_Cand, ...]  # cheapest lower bound first, for pruning

    def bucket_hi(self, m: int) -> int:
        """The last M of the constant-choice bucket holding m."""
        return min(self.hi, -(-m // self.step) * self.step)


def _regime(problem: GemmProblem, m: int) -> _Regime:
    return _build_regime(problem, _regime_bounds(problem, m)[0])


@lru_cache(maxsize=1024)
def _build_regime(problem: GemmProblem, regime_lo: int) -> _Regime:
    p = problem
    kt = p.kernel_type
    ab_bytes = 2 if kt is KernelType.NO_SF else 1
    cd_bytes = _CD_BYTES[p.out_dtype]
    block_k = 128 // ab_bytes
    block_ms = _block_m_candidates(p, regime_lo)

    step = math.lcm(16, p.block_n_multiple_of)
    block_ns: list[int] = []
    start = step
    if kt is KernelType.K1D1D and p.out_dtype == "fp32":
        # Avoids shared-memory bank conflicts of the 1D1D FP32 epilogue.
        block_ns.append(16)
        start = 24
    # Register spills cap BLOCK_N per kernel family.
    end = {KernelType.K1D2D: 192, KernelType.K1D1D: 160}.get(kt, 256)
    block_ns += range(start, end + 1, step)

    single = p.gemm_type is GemmType.BATCHED  # no multicast for batched GEMMs
    clusters = [(1, 1)] if single else [(1, 1), (1, 2), (2, 1)]

    # Cost-model constants (get_layout_info); expected shapes: contiguous counts one group.
    n_groups = 1 if p.gemm_type is GemmType.M_GROUPED_CONTIGUOUS else p.num_groups
    l2_bw = int(min(64.0 * p.num_sms, 8e6 / 1.3e3))
    l1_bw = 128 * p.num_sms
    acc = 2 if p.with_accumulation else 1

    cands: list[_Cand] = []
    pipelines: dict[tuple[int, int], tuple[int, int]] = {}
    for cluster_m, cluster_n in clusters:
        size = cluster_m * cluster_n
        if p.num_sms % size:
            continue
        for block_m in block_ms:
            for block_n in block_ns:
                diff = block_n - block_k
                # 1D2D unrolling needs BLOCK_N - BLOCK_K to divide BLOCK_N or BLOCK_K.
                if kt is KernelType.K1D2D and diff > 0 and block_n % diff and block_k % diff:
                    continue
                if p.gemm_type is GemmType.M_GROUPED_MASKED and -(-p.n // block_n) % size:
                    continue
                if block_m > 128 and block_n > 128:  # registers
                    continue
                swizzle_a = _swizzle_bytes(block_k * ab_bytes)  # K-major A and B
                swizzle_b = _swizzle_bytes(block_k * ab_bytes)
                if swizzle_a % 64 or swizzle_b % 64:  # 32-byte swizzles are slow
                    continue
                if (block_m, block_n) not in pipelines:  # cluster-independent
                    pipelines[block_m, block_n] = _pipeline(p, block_m, block_n, block_k, ab_bytes)
                stages, smem = pipelines[block_m, block_n]
                # Hiding TMA latency needs 3 stages, 4 for small tiles.
                if stages < 3 or (block_m * block_n < 128 * 192 and stages < 4):
                    continue
                swizzle_d = _swizzle_bytes(block_n * cd_bytes) if p.out_dtype != "fp32" else 0
                config = SM90KernelConfig(
                    block_m=block_m,
                    block_n=block_n,
                    block_k=block_k,
                    num_stages=stages,
                    multicast=size,
                    multicast_on_a=cluster_n > 1,
                    swizzle_a_bytes=swizzle_a,
                    swizzle_b_bytes=swizzle_b,
                    swizzle_d_bytes=swizzle_d,
                    num_tma_threads=_NUM_TMA_THREADS,
                    num_math_threads=128 if block_m <= 64 else 256,
                    smem_bytes=smem,
                )
                k = p.k
                cd = block_m * block_n * cd_bytes * acc
                l2_bytes = k * (block_m // cluster_n + block_n // cluster_m) * ab_bytes + cd
                l1_ab = k * (block_m + block_n) * ab_bytes
                l1_tc = k * (max(_WGMMA_M, block_m) + block_n) * ab_bytes
                l1_tc += block_m * block_n * cd_bytes
                n_blocks = -(-p.n // block_n) * n_groups
                per_block = max((l1_ab + l1_tc + cd) / l1_bw, l2_bytes / l2_bw)
                cands.append(
                    _Cand(
                        index=len(cands),
                        config=config,
                        block_m=block_m,
                        n_blocks=n_blocks,
                        l1_bytes=l1_ab + l1_tc + cd,
                        l2_bytes=l2_bytes,
                        is_cluster=size > 1,
                        num_sms=p.num_sms,
                        l1_bw=l1_bw,
                        l2_bw=l2_bw,
                        rate=per_block * n_blocks / block_m,
                    )
                )
    if not cands:
        raise ConfigError(f"DeepGEMM has no SM90 kernel candidate for {problem}")
    lo, hi = _regime_bounds(p, regime_lo)
    by_rate = tuple(sorted(cands, key=lambda c: (c.rate, c.index)))
    return _Regime(lo, hi, math.gcd(*block_ms), tuple(cands), by_rate)


def _score(cand: _Cand, m: int) -> int:
    """`num_cycles` of `get_layout_info`: int64 cycles over a float32 wave efficiency."""
    num_blocks = -(-m // cand.block_m) * cand.n_blocks
    num_sms = cand.num_sms
    num_waves = -(-num_blocks // num_sms)
    # One wave gains nothing from a cluster: DeepGEMM rules multicast out.
    if cand.is_cluster and num_waves <= 1:
        return _INT64_MAX
    cycles = max(cand.l1_bytes * num_blocks // cand.l1_bw, cand.l2_bytes * num_blocks // cand.l2_bw)
    # float / int converts the int; a float32 quotient of float32 values computed in double
    # and rounded once is exact (double carries over 2 * 24 + 2 bits).
    eff = _f32(_int_to_f32(num_blocks) / _int_to_f32(num_waves * num_sms))
    return int(_f32(_int_to_f32(cycles) / eff))  # int(): C++ truncation toward zero


def select_sm90(problem: GemmProblem, m: int) -> SM90KernelConfig:
    """The kernel configuration DeepGEMM picks on SM90 for this problem at M = m.

    m is M for plain GEMMs, the total rows for m-grouped contiguous, expected_m for masked and
    the batch's row count for batched. Scores every candidate, like the C++ code.
    """
    check_m(m)
    cands = _regime(problem, m).cands
    best = cands[0]
    best_score = _score(best, m)
    for cand in cands[1:]:
        score = _score(cand, m)
        if score < best_score:  # strict: the first candidate wins ties
            best, best_score = cand, score
    return best.config


def _select_pruned(regime: _Regime, m: int) -> SM90KernelConfig:
    """`select_sm90` scoring candidates lowest-bound first, stopping once none left can win.

    With eff <= 1, num_cycles >= floor(x) and x >= per-block cycles * blocks - 1, so a
    candidate scores more than rate * m - 2 (float32 rounding adds a relative 2**-24): once
    that bound exceeds the best score found, every later candidate (higher rate) loses.
    """
    best: _Cand | None = None
    best_score = _INT64_MAX
    for cand in regime.by_rate:
        if best is not None and cand.rate * m * (1 - 1e-6) - 3 > best_score:
            break
        score = _score(cand, m)
        if best is None or score < best_score or (score == best_score and cand.index < best.index):
            best, best_score = cand, score
    assert best is not None
    return best.config


# -- partitioning M sets ----------------------------------------------------------------------


def _buckets(problem: GemmProblem, m_values: Iterable[int]) -> Iterator[tuple[_Regime, int, int]]:
    """(regime, first given M, last given M) per constant-choice bucket holding given values."""
    return walk_buckets(m_values, lambda m: _regime(problem, m))


def partition_m_sm90(
    problem: GemmProblem, m_values: Iterable[int]
) -> list[tuple[SM90KernelConfig, list[tuple[int, int]]]]:
    """Group M values by the kernel DeepGEMM would pick.

    Returns one (config, ranges) per distinct kernel, in order of its first M; each range
    [lo, hi] is inclusive and spans a run of given values, consecutive in sorted order, that
    all map to that kernel. Accepts any iterable of ints, a `range`, or an object with
    inclusive `ranges` (such as `MSet`); the heuristic runs once per constant-choice bucket.
    """
    groups: dict[SM90KernelConfig, list[tuple[int, int]]] = {}
    current: SM90KernelConfig | None = None
    ranges: list[tuple[int, int]] = []
    for regime, first, last in _buckets(problem, m_values):
        config = _select_pruned(regime, first)
        # Identity first: neighbouring buckets mostly return the very same cached object.
        if config is current or config == current:
            ranges[-1] = (ranges[-1][0], last)
        else:
            ranges = groups.setdefault(config, [])
            ranges.append((first, last))
            current = config
    return list(groups.items())


def max_kernels_sm90(problem: GemmProblem, m_max: int) -> int:
    """An upper bound on the distinct kernels any M in 1..m_max can select (see `max_kernels`)."""
    return max_kernels(m_max, lambda m: _regime(problem, m))
