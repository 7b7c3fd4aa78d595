"""Split a build over N machines: every entry in exactly one shard, shards balanced by
predicted compile time, the same split on every machine for the same jobs."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from jitwarm.build._job import BuildJob
from jitwarm.errors import UsageError


@dataclass(frozen=True)
class Shard:
    """Shard ``index`` of ``count``, 0-based (a Kubernetes Indexed Job's completion index)."""

    index: int
    count: int

    @classmethod
    def parse(cls, text: str) -> Shard:
        match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text)
        if match is None:
            raise UsageError(f"--shard {text!r}: expected I/N, e.g. 0/4 (I from 0 to N-1)")
        index, count = int(match.group(1)), int(match.group(2))
        if count < 1 or index >= count:
            raise UsageError(f"--shard {text!r}: I must be between 0 and N-1 (N >= 1)")
        return cls(index, count)

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def split_jobs(jobs: Sequence[BuildJob], count: int) -> list[list[BuildJob]]:
    """``count`` lists of jobs: longest first, each to the shard with the least predicted time
    so far (lowest index on ties). Ordered by entry name first, so input order does not matter."""
    unique = {j.entry_name: j for j in jobs}
    ordered = sorted(unique.values(), key=lambda j: (-j.est_s, j.entry_name))
    shards: list[list[BuildJob]] = [[] for _ in range(count)]
    loads = [0.0] * count
    for job in ordered:
        i = min(range(count), key=lambda s: (loads[s], s))
        shards[i].append(job)
        loads[i] += job.est_s
    return shards


def shard_jobs(jobs: Sequence[BuildJob], shard: Shard | None) -> list[BuildJob]:
    if shard is None:
        return list({j.entry_name: j for j in jobs}.values())
    return split_jobs(jobs, shard.count)[shard.index]
