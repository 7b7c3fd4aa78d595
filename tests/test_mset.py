import itertools

from hypothesis import given
from hypothesis import strategies as st

from jitwarm.mset import MSet

values = st.sets(st.integers(min_value=1, max_value=400), max_size=60)


@given(values)
def test_roundtrip_keeps_exact_membership(vals: set[int]) -> None:
    m = MSet.of(vals)
    assert list(m) == sorted(vals)
    assert len(m) == len(vals)
    assert MSet.from_ranges(m.to_json()) == m


@given(values, values)
def test_union_is_set_union(a: set[int], b: set[int]) -> None:
    assert list(MSet.of(a) | MSet.of(b)) == sorted(a | b)


@given(values, values)
def test_intersection_is_set_intersection(a: set[int], b: set[int]) -> None:
    assert list(MSet.of(a) & MSet.of(b)) == sorted(a & b)


@given(values)
def test_ranges_are_disjoint_and_not_adjacent(vals: set[int]) -> None:
    ranges = MSet.of(vals).ranges
    for (_, hi), (lo, _) in itertools.pairwise(ranges):
        assert lo > hi + 1


def test_multiples_and_clip() -> None:
    assert list(MSet.multiples(128, 600)) == [128, 256, 384, 512]
    assert list(MSet.span(1, 10).clip(4, 6)) == [4, 5, 6]
    assert MSet.span(5, 4) == MSet()
    assert MSet.span(1, 8192).describe() == "1-8192"
