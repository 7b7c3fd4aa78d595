"""Planning speed on CPU: model + serving -> plan, for every preset.

python benchmarks/plan_bench.py [--out benchmarks/results/plan.json]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

from jitwarm.models._loader import load_model
from jitwarm.plan import plan_serving
from jitwarm.serving import ServingConfig

CASES = [
    ("deepseek-v3", {"tp": 8}),
    ("deepseek-v3", {"tp": 8, "ep": 8, "attn_dp": 8, "max_batched_tokens": 16384}),
    ("deepseek-v3.2", {"tp": 8, "spec_draft_tokens": 3}),
    ("kimi-k2", {"tp": 16, "ep": 16}),
    ("deepseek-v4-flash", {"tp": 4, "spec_draft_tokens": 1}),
    ("qwen3-30b-a3b-fp8", {"tp": 4, "ep": 4}),
]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default="benchmarks/results/plan.json")
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    rows = []
    for model_name, serving in CASES:
        model = load_model(model_name)
        cfg = ServingConfig(**serving)
        times = []
        for _ in range(args.repeat):
            start = time.perf_counter()
            plan = plan_serving(model, cfg)
            times.append(time.perf_counter() - start)
        rows.append(
            {
                "model": model_name,
                "serving": serving,
                "entries": len(plan.entries),
                "kernels": plan.num_kernels,
                "warm_calls": plan.num_calls,
                "median_s": round(statistics.median(times), 4),
            }
        )
        print(
            f"{model_name:20} {json.dumps(serving):70} {rows[-1]['kernels']:5} kernels  {rows[-1]['median_s']:.3f} s"
        )
    result = {
        "device": f"CPU ({platform.processor() or platform.machine()}), no GPU",
        "python": platform.python_version(),
        "cases": rows,
    }
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
