"""One warm of the small DeepSeek-V3 plan with the fake compile step, as a separate process, for
the concurrency tests: ``python tests/_concurrent_warm.py ROOT LOG JOBS COMPILE_S [leader]``.
Prints the report as JSON."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# A small plan (54 kernels) so that several warms run in seconds on a shared CPU.
SERVING = {"max_batched_tokens": 128, "max_running_seqs": 8}


def runner_env() -> dict[str, str]:
    """The environment to run this script with (its workers import jitwarm from this tree)."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DG_", "JITWARM_"))}
    return {**clean, "PYTHONPATH": os.pathsep.join(str(p) for p in (REPO / "src", REPO))}


def main(argv: list[str]) -> None:
    from tests._warm_plans import exact_plan

    from jitwarm.warmer import FakeBackend, warm

    root, log, jobs, compile_s = Path(argv[0]), Path(argv[1]), int(argv[2]), float(argv[3])
    backend = FakeBackend(compile_s=compile_s, compile_log=log)
    report = warm(
        exact_plan(**SERVING),
        jobs=jobs,
        cache_dir=root,
        backend=backend,
        devices=["0"],
        leader_only="leader" in argv[4:],
    )
    print(json.dumps(report.to_json(with_items=True)))


if __name__ == "__main__":
    main(sys.argv[1:])
