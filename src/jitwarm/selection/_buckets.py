"""Walking M values bucket by bucket, shared by the SM90 and SM100 models.

Both heuristics pick a kernel from a few ceil-divisions of M, so the choice is constant on
buckets of M (each model's regime says where its buckets end). Walking the given values bucket
by bucket keeps the work proportional to the number of buckets and input ranges, never to the
number of M values.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Iterable, Iterator
from typing import Protocol, TypeVar


class Regime(Protocol):
    """A span of M on which a model's candidate set is fixed, cut into constant-choice buckets."""

    @property
    def hi(self) -> int: ...

    def bucket_hi(self, m: int) -> int: ...


R = TypeVar("R", bound=Regime)


def check_m(m: int) -> None:
    if m < 1:
        raise ValueError(f"M must be >= 1 (DeepGEMM launches nothing for M = 0), got {m}")


def runs_of(m_values: object) -> list[tuple[int, int]] | None:
    """Sorted inclusive runs of consecutive values when the input is range-shaped, else None."""
    if isinstance(m_values, range) and m_values.step == 1:
        return [(m_values.start, m_values.stop - 1)] if len(m_values) else []
    ranges = getattr(m_values, "ranges", None)  # e.g. jitwarm.mset.MSet
    if ranges is None:
        return None
    merged: list[tuple[int, int]] = []
    for lo, hi in sorted((int(lo), int(hi)) for lo, hi in ranges if hi >= lo):
        if merged and lo <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(hi, merged[-1][1]))
        else:
            merged.append((lo, hi))
    return merged


def walk_buckets(
    m_values: Iterable[int], regime_of: Callable[[int], R]
) -> Iterator[tuple[R, int, int]]:
    """(regime, first given M, last given M) per constant-choice bucket holding given values,
    in increasing M; `regime_of(m)` is the model's regime at M."""
    runs = runs_of(m_values)
    if runs is not None:
        for lo, hi in runs:
            check_m(lo)
            m = lo
            while m <= hi:
                regime = regime_of(m)
                while m <= min(hi, regime.hi):
                    end = min(regime.bucket_hi(m), hi)
                    yield regime, m, end
                    m = end + 1
        return
    values = sorted(m_values)  # near-linear on already-sorted input
    if not values:
        return
    check_m(values[0])
    i, n = 0, len(values)
    while i < n:
        regime = regime_of(values[i])
        while i < n and values[i] <= regime.hi:
            j = bisect_right(values, regime.bucket_hi(values[i]), i, n)
            yield regime, values[i], values[j - 1]
            i = j


class _CandidateRegime(Regime, Protocol):
    @property
    def cands(self) -> tuple: ...


def max_kernels(m_max: int, regime_of: Callable[[int], _CandidateRegime]) -> int:
    """An upper bound on the distinct kernels any M in 1..m_max can select: the size of the
    candidate lists of the regimes those M values fall in (the choice is always a candidate)."""
    check_m(m_max)
    total, m = 0, 1
    while m <= m_max:
        regime = regime_of(m)
        total += len(regime.cands)
        m = regime.hi + 1
    return total
