"""Shards: every entry in exactly one shard, the same split whatever the input order, loads
balanced by predicted compile time."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jitwarm.build import BuildJob, Shard, shard_jobs, split_jobs
from jitwarm.errors import UsageError
from jitwarm.models._loader import load_model
from jitwarm.plan import plan_serving
from jitwarm.plan._estimate import estimate_kernel_s
from jitwarm.serving import ServingConfig


def _plan_jobs() -> list[BuildJob]:
    """One job per kernel of the DeepSeek-V3 TP8 plan, with the plan's own estimates."""
    plan = plan_serving(load_model("deepseek-v3"), ServingConfig(tp=8))
    jobs = []
    for entry in plan.entries:
        for kernel in entry.kernels or ():
            i = len(jobs)
            jobs.append(
                BuildJob(f"k{i}.{i:032x}", "", (), estimate_kernel_s(entry, kernel), "", "f", str)
            )
    return jobs


def test_shards_cover_the_plan_once_and_balance():
    jobs = _plan_jobs()
    assert len(jobs) == 167
    shards = split_jobs(jobs, 4)
    names = [j.entry_name for s in shards for j in s]
    assert sorted(names) == sorted(j.entry_name for j in jobs)
    loads = [sum(j.est_s for j in s) for s in shards]
    assert max(loads) - min(loads) <= max(j.est_s for j in jobs)
    shuffled = jobs[:]
    random.Random(7).shuffle(shuffled)
    assert [[j.entry_name for j in s] for s in split_jobs(shuffled, 4)] == [
        [j.entry_name for j in s] for s in shards
    ]
    assert [j.entry_name for j in shard_jobs(jobs, Shard(2, 4))] == [
        j.entry_name for j in shards[2]
    ]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.floats(0.1, 20.0), min_size=0, max_size=60),
    st.integers(1, 9),
)
def test_any_split_is_a_partition(ests, n):
    jobs = [BuildJob(f"k{i}.{i:x}", "", (), e, "", "f", str) for i, e in enumerate(ests)]
    shards = split_jobs(jobs + jobs[:3], n)  # duplicates count once
    names = [j.entry_name for s in shards for j in s]
    assert len(names) == len(set(names)) == len(jobs)


@pytest.mark.parametrize("text", ["4/4", "1", "-1/3", "a/b", "0/0", "2/1"])
def test_bad_shard_is_one_line(text):
    with pytest.raises(UsageError, match="--shard"):
        Shard.parse(text)


def test_shard_parse():
    assert Shard.parse("0/1") == Shard(0, 1)
    assert str(Shard.parse(" 3 / 8 ")) == "3/8"
