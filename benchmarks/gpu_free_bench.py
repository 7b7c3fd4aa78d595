"""GPU-free build benchmark: ``jitwarm build`` of a plan from cold (CLI start included), a rerun
on the full cache, and, on a GPU host, ``jitwarm warm`` of the same plan from cold side by side
(issue 15: within 1.1x of warm's wall, and compile-bound: summed nvcc seconds / cores within
1.2x of the wall). ``--configs`` builds several serving configurations into one root and reports
total planned kernels, distinct entries after dedupe and the wall. ``--import-bundle`` imports
a bundle built elsewhere into an empty root and verifies the plan against it (GPU).

    python benchmarks/gpu_free_bench.py --target tokenspeed-deepgemm==2.8.0.post20260924 \\
        --model deepseek-v3 --tp 8 --out $OUT/gpu-free.json [--warm] [--jobs 16] \\
        [--import-bundle v3-tp8-2.8.0.tar.gz] [--configs deepseek-v3:8,deepseek-v3.2:8,...]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any


def jitwarm(*args: str, env: dict[str, str] | None = None) -> tuple[float, int, Any]:
    """(wall seconds including the CLI start, exit code, parsed --json stdout or the text)."""
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "jitwarm", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        check=False,
    )
    wall = time.perf_counter() - start
    try:
        out: Any = json.loads(done.stdout)
    except json.JSONDecodeError:
        out = (done.stdout + done.stderr)[-2000:]
    return wall, done.returncode, out


def build_summary(wall: float, code: int, report: Any) -> dict[str, Any]:
    if not isinstance(report, dict):
        return {"wall_s": round(wall, 2), "exit": code, "output": report}
    keep = ("compiled", "present", "failed", "planned", "compile_s", "wall_s", "jobs", "render_s")
    out = {k: report[k] for k in keep}
    out.update(cli_wall_s=round(wall, 2), exit=code, nvcc_path=report["nvcc_path"])
    out["compile_bound"] = (
        round(report["compile_s"] / max(1, report["jobs"]) / report["wall_s"], 3)
        if report["wall_s"]
        else None
    )
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--target", required=True)
    ap.add_argument("--model", default="deepseek-v3")
    ap.add_argument("--tp", default="8")
    ap.add_argument("--jobs", default=None)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--warm", action="store_true", help="also warm the plan from cold (GPU host)")
    ap.add_argument("--import-bundle", type=Path, default=None)
    ap.add_argument("--configs", default="", help="model:tp,... built into one root")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="jitwarm-gpu-free-"))
    jobs = ["--jobs", args.jobs] if args.jobs else []
    serving = ["--model", args.model, "--tp", args.tp]
    result: dict[str, Any] = {
        "host": {"cores": len(os.sched_getaffinity(0)), "load_before": os.getloadavg()},
        "target": args.target,
        "plan": " ".join(serving),
    }
    root = work / "build"

    def save() -> None:  # after every stage: a run cut by its time limit keeps what it measured
        args.out.write_text(json.dumps(result, indent=1) + "\n")

    build = [*serving, "--target", args.target, "--cache-dir", str(root), "--json", *jobs]
    result["build_cold"] = build_summary(*jitwarm("build", *build))
    save()
    result["build_rerun"] = build_summary(*jitwarm("build", *build))
    result["host"]["load_after"] = os.getloadavg()
    save()
    if args.warm:
        wall, code, report = jitwarm(
            "warm", *serving, "--cache-dir", str(work / "warm"), "--json", *jobs
        )
        result["warm_cold"] = {"cli_wall_s": round(wall, 2), "exit": code}
        if isinstance(report, dict):
            result["warm_cold"].update(
                {k: report.get(k) for k in ("wall_s", "compiled", "cached", "failed", "compile_s")}
            )
            result["build_over_warm"] = round(
                result["build_cold"]["cli_wall_s"] / result["warm_cold"]["cli_wall_s"], 3
            )
        save()
    if args.import_bundle:
        imp = work / "imported"
        result["import"] = jitwarm(
            "bundle", "import", str(args.import_bundle), "--cache-dir", str(imp), "--json"
        )[1:]
        wall, code, report = jitwarm("verify", *serving, "--cache-dir", str(imp), "--json")
        result["verify_imported"] = {"cli_wall_s": round(wall, 2), "exit": code, "report": report}
    if args.configs:
        many = work / "many"
        planned, walls = 0, 0.0
        for spec in args.configs.split(","):
            model, tp = spec.split(":")
            wall, code, report = jitwarm(
                "build",
                "--model",
                model,
                "--tp",
                tp,
                "--target",
                args.target,
                "--cache-dir",
                str(many),
                "--json",
                *jobs,
            )
            planned += report["planned"] if isinstance(report, dict) else 0
            walls += wall
        result["many_configs"] = {
            "configs": args.configs,
            "total_kernels": planned,
            "distinct_entries": len(list((many / "cache").iterdir())),
            "wall_s": round(walls, 2),
        }
    save()
    print(json.dumps(result, indent=1))
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
