"""Concurrent warms on one cold cache root: does each kernel compile once in total?

For each count in ``--counts`` (default 1, 2, 4, 8), a fresh cache root, then that many
``jitwarm warm --model deepseek-v3 --tp 8 --jobs 8 --json`` started together on it (one GPU:
they share it, as the ranks of one host share their cache root). Measured per count: the wall
time of the slowest (from its start to its exit), the nvcc runs of all of them together
(DeepGEMM's and compiling ahead's, counted by a wrapper that ``DG_JIT_NVCC_COMPILER`` names: it
logs one line per compile and runs the real nvcc, so no cache key changes), the cache entries,
and what each report says it compiled, compiled elsewhere, and found cached.

Targets (issue 18): nvcc runs == the plan's distinct kernels for every count, and the slowest of
8 warms within 1.3x of one warm.

    python benchmarks/warm_concurrent.py                      # GPU host, ~4 minutes
    python benchmarks/warm_concurrent.py --fake --jobs 2      # any CPU: the fake compile step

``--fake`` runs the same processes with ``jitwarm.warmer.FakeBackend`` (a compile is a sleep
of ``--fake-compile-s`` and a rename into the cache), its compile log standing in for nvcc's.
Writes ``--out`` (default benchmarks/results/warm-concurrent.json).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from jitwarm import dgenv
from jitwarm.models._loader import load_model
from jitwarm.plan import plan_serving
from jitwarm.serving import ServingConfig
from jitwarm.warmer._cache_entries import list_entries

HERE = Path(__file__).resolve().parent
DEFAULT_OUT = HERE / "results" / "warm-concurrent.json"
CHILD_TIMEOUT_S = 540


def counting_nvcc(folder: Path, real: Path) -> tuple[Path, Path]:
    """A wrapper that logs each compile (``--version`` runs are not compiles), then the real."""
    log, wrapper = folder / "nvcc-runs.log", folder / "nvcc"
    wrapper.write_text(
        "#!/bin/sh\n"
        'case " $* " in *" --version "*|*" -V "*) ;; *) echo "$$" >> ' + f"'{log}'" + " ;; esac\n"
        f"exec '{real}' \"$@\"\n"
    )
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return wrapper, log


def _lines(path: Path, prefix: str = "") -> int:
    if not path.exists():
        return 0
    return sum(1 for ln in path.read_text().splitlines() if ln.startswith(prefix))


def run_count(count: int, args: argparse.Namespace, work: Path) -> dict[str, Any]:
    root, folder = work / f"root-{count}", work / f"run-{count}"
    folder.mkdir(parents=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("JITWARM_")}
    env[dgenv.CACHE_DIR_VAR] = str(root)
    if args.fake:
        log = folder / "compiles.log"
        cmd = [sys.executable, __file__, "--child-fake", str(root), str(log)]
        cmd += ["--jobs", str(args.jobs), "--tp", str(args.tp), "--model", args.model]
        cmd += ["--fake-compile-s", str(args.fake_compile_s)]
    else:
        real = dgenv.find_nvcc()
        if real is None:
            sys.exit("no nvcc found (CUDA_HOME, PATH or /usr/local/cuda)")
        wrapper, log = counting_nvcc(folder, real)
        env[dgenv.NVCC_VAR] = str(wrapper)
        cmd = [sys.executable, "-m", "jitwarm", "warm", "--model", args.model]
        cmd += ["--tp", str(args.tp), "--jobs", str(args.jobs), "--json"]
    procs, started = [], time.perf_counter()
    for i in range(count):
        out = (folder / f"warm-{i}.json").open("w")
        err = (folder / f"warm-{i}.err").open("w")
        procs.append((subprocess.Popen(cmd, stdout=out, stderr=err, env=env), out, err))
    walls, reports = [], []
    for proc, out, err in procs:
        try:
            proc.wait(CHILD_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        walls.append(time.perf_counter() - started)
        out.close()
        err.close()
        try:
            reports.append(json.loads(Path(out.name).read_text()))
        except ValueError:
            tail = Path(err.name).read_text()[-600:]
            reports.append({"ok": False, "error": f"exit {proc.returncode}: {tail}"})
    nvcc_runs = _lines(log, "start ") if args.fake else _lines(log)
    row = {
        "warms": count,
        "slowest_wall_s": round(max(walls), 2),
        "walls_s": [round(w, 2) for w in walls],
        "nvcc_runs": nvcc_runs,
        "entries": len(list_entries(root)),
        "ok": all(r.get("ok") for r in reports),
        "compiled": [r.get("compiled") for r in reports],
        "compiled_elsewhere": [r.get("compiled_elsewhere") for r in reports],
        "cached": [r.get("cached") for r in reports],
        "failed": [r.get("failed") for r in reports],
        "ahead_compiled": [(r.get("ahead") or {}).get("compiled") for r in reports],
        "ahead_compiled_elsewhere": [
            (r.get("ahead") or {}).get("compiled_elsewhere") for r in reports
        ],
        "errors": [r["error"] for r in reports if "error" in r],
    }
    shutil.rmtree(root, ignore_errors=True)
    return row


def child_fake(argv: list[str]) -> None:
    """One fake warm (``--fake``'s child process); prints its report."""
    parser = argparse.ArgumentParser()
    parser.add_argument("root", type=Path)
    parser.add_argument("log", type=Path)
    parser.add_argument("--jobs", type=int)
    parser.add_argument("--tp", type=int)
    parser.add_argument("--model")
    parser.add_argument("--fake-compile-s", type=float)
    args = parser.parse_args(argv)
    from jitwarm.warmer import FakeBackend, warm

    plan = plan_serving(load_model(args.model), ServingConfig(tp=args.tp))
    backend = FakeBackend(compile_s=args.fake_compile_s, compile_log=args.log)
    report = warm(plan, jobs=args.jobs, cache_dir=args.root, backend=backend, devices=["0"])
    print(json.dumps(report.to_json()))


def main() -> None:
    if sys.argv[1:2] == ["--child-fake"]:
        child_fake(sys.argv[2:])
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--counts", default="1,2,4,8")
    parser.add_argument("--jobs", type=int, default=8)
    parser.add_argument("--model", default="deepseek-v3")
    parser.add_argument("--tp", type=int, default=8)
    parser.add_argument("--fake", action="store_true", help="the fake compile step (any CPU)")
    parser.add_argument("--fake-compile-s", type=float, default=0.2)
    parser.add_argument("--work", type=Path, help="scratch folder (default: a temp folder)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    plan = plan_serving(load_model(args.model), ServingConfig(tp=args.tp))
    work = Path(tempfile.mkdtemp(prefix="jitwarm-concurrent-", dir=args.work))
    rows = []
    for count in (int(c) for c in args.counts.split(",")):
        rows.append(run_count(count, args, work))
        print(json.dumps(rows[-1]), file=sys.stderr)
    one = next((r for r in rows if r["warms"] == 1), None)
    result = {
        "what": f"{args.model} TP{args.tp} plan, concurrent `jitwarm warm --jobs {args.jobs}` "
        "on one cold cache root",
        "backend": "fake" if args.fake else "deepgemm",
        "distinct_kernels": plan.num_kernels,
        "jobs_per_warm": args.jobs,
        "rows": rows,
        "every_kernel_compiled_once": all(r["nvcc_runs"] == plan.num_kernels for r in rows),
        "slowest_over_one_warm": {
            r["warms"]: round(r["slowest_wall_s"] / one["slowest_wall_s"], 2) for r in rows
        }
        if one
        else None,
        "host": {"cores": os.cpu_count(), "python": sys.version.split()[0]},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "rows"}, indent=2))
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
