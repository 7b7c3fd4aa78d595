"""A sorted set of positive integers kept as inclusive ranges.

Reachable M values are mostly long runs (1..8192) with a few sparse points (CUDA-graph batch
sizes, multiples of an alignment), so ranges keep plans small and set algebra cheap. The JSON
form is a list of ``[lo, hi]`` pairs, inclusive, sorted and disjoint.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class MSet:
    """Immutable set of ints >= 1 stored as sorted, disjoint, non-adjacent inclusive ranges."""

    ranges: tuple[tuple[int, int], ...] = ()

    # -- construction -----------------------------------------------------------------------
    @classmethod
    def span(cls, lo: int, hi: int) -> MSet:
        """All integers in [lo, hi]; empty when hi < lo."""
        return cls(((lo, hi),)) if hi >= lo else cls()

    @classmethod
    def of(cls, values: Iterable[int]) -> MSet:
        return cls.from_ranges((v, v) for v in values)

    @classmethod
    def from_ranges(cls, ranges: Iterable[Sequence[int]]) -> MSet:
        items = sorted((int(lo), int(hi)) for lo, hi in ranges if int(hi) >= int(lo))
        merged: list[tuple[int, int]] = []
        for lo, hi in items:
            if merged and lo <= merged[-1][1] + 1:
                if hi > merged[-1][1]:
                    merged[-1] = (merged[-1][0], hi)
            else:
                merged.append((lo, hi))
        return cls(tuple(merged))

    @classmethod
    def multiples(cls, step: int, hi: int, lo: int | None = None) -> MSet:
        """Multiples of ``step`` in [lo or step, hi]."""
        start = step if lo is None else -(-lo // step) * step
        if step == 1:
            return cls.span(start, hi)
        # Already sorted and never adjacent: no merge pass needed.
        return cls(tuple((m, m) for m in range(start, hi + 1, step)))

    # -- queries ----------------------------------------------------------------------------
    def __iter__(self) -> Iterator[int]:
        for lo, hi in self.ranges:
            yield from range(lo, hi + 1)

    def __len__(self) -> int:
        return sum(hi - lo + 1 for lo, hi in self.ranges)

    def __bool__(self) -> bool:
        return bool(self.ranges)

    def __contains__(self, m: object) -> bool:
        if not isinstance(m, int):
            return False
        return any(lo <= m <= hi for lo, hi in self.ranges)

    @property
    def min(self) -> int:
        return self.ranges[0][0]

    @property
    def max(self) -> int:
        return self.ranges[-1][1]

    def union(self, other: MSet) -> MSet:
        return MSet.from_ranges(self.ranges + other.ranges)

    __or__ = union

    def intersect(self, other: MSet) -> MSet:
        out: list[tuple[int, int]] = []
        i = j = 0
        a, b = self.ranges, other.ranges
        while i < len(a) and j < len(b):
            lo, hi = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
            if lo <= hi:
                out.append((lo, hi))
            if a[i][1] < b[j][1]:
                i += 1
            else:
                j += 1
        return MSet(tuple(out))

    __and__ = intersect

    def clip(self, lo: int, hi: int) -> MSet:
        return MSet.from_ranges((max(a, lo), min(b, hi)) for a, b in self.ranges)

    def map(self, fn) -> MSet:  # type: ignore[no-untyped-def]
        """Image of the set under ``fn`` (evaluated per element; use on small sets)."""
        return MSet.of(fn(m) for m in self)

    # -- formatting -------------------------------------------------------------------------
    def to_json(self) -> list[list[int]]:
        return [[lo, hi] for lo, hi in self.ranges]

    def describe(self, limit: int = 4) -> str:
        """Short human form: ``1-8192`` or ``1, 2, 4, 8, ... 512 (10 values)``."""
        if not self.ranges:
            return "-"
        parts = [f"{lo}" if lo == hi else f"{lo}-{hi}" for lo, hi in self.ranges]
        if len(parts) <= limit:
            return ", ".join(parts)
        return f"{', '.join(parts[: limit - 1])}, ... {parts[-1]} ({len(self)} values)"
