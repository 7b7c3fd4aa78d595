"""Work items from a plan: one per distinct kernel, sweep entries split into consecutive chunks;
each self-contained (its entry, its planned kernel and that kernel's key)."""

import pickle

from hypothesis import given
from hypothesis import strategies as st
from tests._warm_plans import exact_plan, sweep_plan

from jitwarm.plan._schema import Family, Selection
from jitwarm.warmer._items import ItemMode, chunk, kernel_key, plan_work_items


def test_one_item_per_planned_kernel() -> None:
    plan = exact_plan()
    items = plan_work_items(plan, sweep_parts=8)
    assert len(items) == plan.num_kernels
    assert all(len(i.ms) == 1 and i.kernel_key is not None for i in items)
    assert len({i.kernel_key for i in items}) == len(items)
    # each item calls its planned kernel's representative M, and is named by the plan's key
    for item in items:
        assert item.entry in plan.entries and item.kernel in (item.entry.kernels or [])
        assert item.ms == (item.kernel.m,) and item.kernel_key == kernel_key(
            item.entry, item.kernel
        )
    assert [i.item_id for i in items] == list(range(len(items)))


def test_an_item_needs_no_plan_where_it_runs() -> None:
    plan = exact_plan()
    items = plan_work_items(plan) + plan_work_items(sweep_plan(), sweep_parts=2)
    for item in items:
        again = pickle.loads(pickle.dumps(item))  # what a worker receives
        assert again == item and again.entry == item.entry and again.kernel == item.kernel
        assert (again.family, again.entry_key) == (item.entry.family, item.entry.key)
    biggest = max(len(pickle.dumps(i)) for i in items)
    assert biggest < len(pickle.dumps(plan)) / 2


def test_items_carry_the_family_and_mode_enums_equal_to_their_strings() -> None:
    items = plan_work_items(sweep_plan(), sweep_parts=2) + plan_work_items(exact_plan())
    assert all(isinstance(i.family, Family) and i.mode is ItemMode.RUN for i in items)
    # pool.py compares the mode with "run" (it does not import items.py), reports key by family
    assert all(i.mode == "run" and f"{i.mode}" == "run" for i in items)
    item = items[0]
    assert f"{item.family}" == item.family.value and item.family == item.family.value


def test_sweep_entries_run_every_m_once_across_chunks() -> None:
    plan = sweep_plan()
    assert all(e.selection is Selection.SWEEP for e in plan.entries)
    items = plan_work_items(plan, sweep_parts=4)
    for entry in plan.entries:
        chunks = [i for i in items if i.entry == entry]
        assert [m for i in chunks for m in i.ms] == list(entry.mset)  # whole, in order, once
        assert 1 <= len(chunks) <= 4
        assert all(i.kernel_key is None and i.kernel is None for i in chunks)


def test_full_sweep_calls_every_reachable_m_of_exact_entries() -> None:
    plan = exact_plan()
    items = plan_work_items(plan, sweep_parts=3, full_sweep=True)
    assert sum(len(i.ms) for i in items) == sum(len(e.mset) for e in plan.entries)


def test_duplicate_entries_compile_once() -> None:
    plan = exact_plan()
    doubled = plan.model_copy(update={"entries": plan.entries + plan.entries})
    items = plan_work_items(doubled)
    assert len(items) == plan.num_kernels
    keys = {kernel_key(e, k) for e in plan.entries for k in e.kernels or []}
    assert {i.kernel_key for i in items} == keys


@given(
    values=st.lists(st.integers(1, 10_000), unique=True, max_size=400).map(sorted),
    parts=st.integers(1, 40),
    min_size=st.integers(1, 64),
)
def test_chunk_partitions_in_order(values: list[int], parts: int, min_size: int) -> None:
    pieces = chunk(values, parts, min_size=min_size)
    assert [v for p in pieces for v in p] == values
    assert len(pieces) <= max(1, parts)
    if values:
        sizes = [len(p) for p in pieces]
        assert max(sizes) - min(sizes) <= 1
        assert len(pieces) == 1 or min(sizes) >= min_size


def test_sweeps_planned_whole_are_cut_once_the_jobs_are_known() -> None:
    # warm plans items once (sweeps whole: it needs their kernels' keys before it knows the
    # jobs), then cuts each sweep into chunks for the workers.
    from jitwarm.warmer._items import MIN_SWEEP_CHUNK, split_sweeps

    plan = sweep_plan()
    whole = plan_work_items(plan)
    assert [i.entry for i in whole] == plan.entries  # one item per sweep entry
    cut = split_sweeps(whole, parts=4)
    assert [i.item_id for i in cut] == list(range(len(cut)))
    for item in whole:
        pieces = [i for i in cut if i.entry == item.entry]
        assert [m for p in pieces for m in p.ms] == list(item.ms)  # every M once, in order
        n = len(item.ms)
        expected = min(4, max(1, n // MIN_SWEEP_CHUNK))
        assert (
            len(pieces) == expected
            and max(len(p.ms) for p in pieces) - min(len(p.ms) for p in pieces) <= 1
        )
    assert cut == plan_work_items(plan, sweep_parts=4)  # what planning with the jobs gave
