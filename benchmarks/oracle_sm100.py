"""jitwarm's SM100 selection model against DeepGEMM's own SM100 heuristics, at scale.

For each pinned build (2.8.0, 2.8.2) the oracle (the wheel's heuristic headers compiled with
g++, tests/_oracle.py) answers every point; the model must agree on all of them:

- GEMM layout choice (`select_sm100`) at random (problem, M) points: shapes no preset has, SM
  counts other than 148, block-size multiples and contiguous alignments, every modelled GEMM
  type and dtype pair;
- `partition_m_sm100` at every M of 1..8192 for random problems (each bucket's one evaluation
  stands for all of its M values);
- mega-MoE block config (`select_mega_moe`) at random (ranks, experts, top-k, MMA, tokens).

python benchmarks/oracle_sm100.py [--points 1000000] [--out benchmarks/results/oracle-sm100.json]
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from _oracle import (
    PINNED,
    answer_fields,
    mega_fields,
    mega_query,
    oracle_for,
    random_m,
    random_mega_problem,
    random_sm100_problem,
    sm100_fields,
    sm100_query,
)
from jitwarm.errors import ConfigError
from jitwarm.mset import MSet
from jitwarm.selection._sm100 import (
    partition_m_sm100,
    select_mega_moe,
    select_sm100,
    sm100_rules,
)

MODELS = {"2.8.0": "sm100-2.8.0", "2.8.2": "sm100-2.8.2"}
_CHUNK = 200_000


def _check(oracle, queries: list[str], expected: list, what: str, failures: list) -> int:
    for start in range(0, len(queries), _CHUNK):
        answers = oracle.ask(queries[start : start + _CHUNK])
        for q, a, e in zip(queries[start:], answers, expected[start:], strict=False):
            theirs = answer_fields(a)
            both_reject = isinstance(e, str) and isinstance(theirs, str)
            if theirs != e and not both_reject and len(failures) < 20:
                failures.append({"what": what, "query": q, "oracle": a, "jitwarm": str(e)})
    return len(queries)


def _gemm_points(rng: random.Random, count: int) -> tuple[list[str], list, dict]:
    queries, expected = [], []
    problems, sms, rejected = set(), set(), 0
    while len(queries) < count:
        p = random_sm100_problem(rng)
        problems.add(p)
        sms.add(p.num_sms)
        for _ in range(25):
            m = random_m(rng)
            try:
                e: tuple | str = sm100_fields(select_sm100(p, m), p.num_sms)
            except ConfigError as exc:
                e, rejected = f"err {exc}", rejected + 1
            queries.append(sm100_query(p, m))
            expected.append(e)
    stats = {"problems": len(problems), "sm_counts": len(sms), "rejected_by_both": rejected}
    return queries, expected, stats


def _partition_points(rng: random.Random, problems: int) -> tuple[list[str], list]:
    queries, expected = [], []
    m_values = MSet.span(1, 8192)
    for _ in range(problems):
        p = random_sm100_problem(rng)
        try:
            parts = partition_m_sm100(p, m_values)
        except ConfigError:
            continue
        for config, ranges in parts:
            fields = sm100_fields(config, p.num_sms)
            for m in MSet.from_ranges(ranges) & m_values:
                queries.append(sm100_query(p, m))
                expected.append(fields)
    return queries, expected


def _mega_points(rng: random.Random, count: int, model: str) -> tuple[list[str], list]:
    rules = sm100_rules(model)
    queries, expected = [], []
    while len(queries) < count:
        p = random_mega_problem(rng)
        for _ in range(50):
            tokens = rng.choice([rng.randint(0, 512), rng.randint(0, 1 << 16)])
            queries.append(mega_query(p, tokens))
            expected.append(mega_fields(select_mega_moe(p, tokens, rules)))
    return queries, expected


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--points", type=int, default=1_000_000, help="GEMM points per build")
    parser.add_argument("--partition-problems", type=int, default=40)
    parser.add_argument("--mega-points", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--out", default="benchmarks/results/oracle-sm100.json")
    args = parser.parse_args()
    builds = []
    for build, model in MODELS.items():
        oracle = oracle_for(build)
        rng = random.Random(args.seed)
        start = time.perf_counter()
        failures: list = []
        queries, expected, stats = _gemm_points(rng, args.points)
        gemm = _check(oracle, queries, expected, "gemm", failures)
        queries, expected = _partition_points(rng, args.partition_problems)
        partition = _check(oracle, queries, expected, "partition", failures)
        queries, expected = _mega_points(rng, args.mega_points, model)
        mega = _check(oracle, queries, expected, "mega_moe", failures)
        builds.append(
            {
                "build": f"{PINNED[build][0]} {PINNED[build][1]}",
                "model": model,
                "gemm_points": gemm,
                **{f"gemm_{k}": v for k, v in stats.items()},
                "partition_points": partition,
                "mega_moe_points": mega,
                "total_points": gemm + partition + mega,
                "mismatches": len(failures),
                "first_mismatches": failures,
                "elapsed_s": round(time.perf_counter() - start, 1),
            }
        )
        print(json.dumps(builds[-1]), flush=True)
    result = {
        "what": "jitwarm.selection._sm100 vs DeepGEMM's own SM100 heuristic headers (g++)",
        "device": f"CPU ({platform.machine()}), no GPU",
        "python": platform.python_version(),
        "seed": args.seed,
        "builds": builds,
    }
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    if any(b["mismatches"] for b in builds):
        sys.exit("mismatches found")


if __name__ == "__main__":
    main()
