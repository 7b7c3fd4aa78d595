"""Warm rerun benchmark (issue 15 item 4): ``jitwarm warm`` of a plan on a complete DeepJIT
cache, wall time including the CLI start. Target: under 1 s for DeepSeek-V3 TP8 (5.4 s before,
when every rerun started workers that imported torch and DeepGEMM).

The cache is filled once, then ``--runs`` reruns are timed (wall, and the CPU seconds the CLI
process used, which a loaded machine does not inflate), and one more rerun under
``python -X importtime`` lists what it imported (neither torch nor deep_gemm may appear).

How the cache is filled (``--fill``):

- ``warm``: a real ``jitwarm warm`` (the GPU host; compiles every kernel).
- ``stand-in``: ``jitwarm warm`` with ``DG_JIT_NVCC_COMPILER`` pointing at a wrapper that answers
  ``--version`` and ``--list-gpu-code`` with the real nvcc's output and writes a placeholder
  cubin for every compile. The entries then have DeepGEMM's real names (the key covers the real
  nvcc's version text, not the cubin), so the reruns, run with the real nvcc, find all of them:
  the check path reads only names and ``.committed``. Such a cache must never be served from;
  the benchmark removes it.

On a CPU machine, ``--site DIR`` makes an unpacked DeepGEMM wheel the "installed" build::

    python benchmarks/warm_rerun_bench.py --fill stand-in \\
        --site ~/.cache/jitwarm-test-wheels/tokenspeed_deepgemm-2.8.0.post20260924-cp312-cp312-manylinux_2_28_x86_64 \\
        --out benchmarks/results/warm-rerun-cpu.json

On the GPU host (DeepGEMM 2.8.0 installed): ``--fill warm --compare-no-ahead`` also times the old
path (``--no-ahead``: workers import torch and DeepGEMM and call every kernel).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

SRC = Path(__file__).resolve().parents[1] / "src"
TARGET_S = 1.0


def jitwarm(args: list[str], env: dict[str, str], *, python_flags: tuple[str, ...] = ()) -> dict:
    """Run ``python -m jitwarm ARGS``: wall seconds (CLI start included), the CPU seconds the
    child used, exit code, parsed ``--json`` stdout, stderr."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, *python_flags, "-m", "jitwarm", *args],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    try:
        report: Any = json.loads(done.stdout)
    except json.JSONDecodeError:
        report = None
    return {
        "wall_s": wall,
        "cpu_s": (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime),
        "exit": done.returncode,
        "report": report,
        "stderr": done.stderr,
    }


def stand_in_nvcc(folder: Path, real: Path) -> Path:
    script = folder / "nvcc"
    script.write_text(
        "#!/bin/sh\n"
        f'case "$1" in --version|--list-gpu-code) exec "{real}" "$1";; esac\n'
        'while [ $# -gt 0 ]; do [ "$1" = "--output-file" ] && printf placeholder > "$2"; '
        "shift; done\n"
    )
    script.chmod(0o755)
    return script


def summary(run: dict) -> dict[str, Any]:
    r = run["report"] or {}
    a = r.get("ahead") or {}
    return {
        "wall_s": round(run["wall_s"], 3),
        "cpu_s": round(run["cpu_s"], 3),
        "exit": run["exit"],
        "report_wall_s": r.get("wall_s"),
        "compiled": r.get("compiled"),
        "cached": r.get("cached"),
        "workers": r.get("jobs"),
        "ahead_kind": a.get("kind"),
        "ahead_present": a.get("already_present"),
        "ahead_render_s": a.get("render_s"),
        "items_to_workers": a.get("items_to_workers"),
    }


def imported_modules(stderr: str) -> list[tuple[str, int]]:
    """(module, cumulative microseconds) of top-level imports from ``-X importtime``."""
    out = []
    for line in stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        _, cumulative, name = line.split("|")
        if cumulative.strip().isdigit():
            out.append((name.rstrip(), int(cumulative)))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="deepseek-v3")
    ap.add_argument("--tp", default="8")
    ap.add_argument("--fill", choices=("warm", "stand-in"), default="warm")
    ap.add_argument("--site", type=Path, help="an unpacked DeepGEMM wheel to treat as installed")
    ap.add_argument("--nvcc", type=Path, help="the real nvcc (default: the one on PATH)")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--compare-no-ahead", action="store_true")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()

    nvcc = args.nvcc or Path(shutil.which("nvcc") or "/usr/local/cuda/bin/nvcc")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DG_JIT_", "DJ_JIT_"))}
    env["PYTHONPATH"] = os.pathsep.join(
        [str(SRC), *([str(args.site)] if args.site else []), env.get("PYTHONPATH", "")]
    ).rstrip(os.pathsep)
    env["DG_JIT_NVCC_COMPILER"] = str(nvcc)
    work = Path(tempfile.mkdtemp(prefix="jitwarm-rerun-bench-"))
    root = work / "root"
    plan_args = ["warm", "--model", args.model, "--tp", args.tp, "--cache-dir", str(root)]
    try:
        fill_env = dict(env)
        if args.fill == "stand-in":
            fill_env["DG_JIT_NVCC_COMPILER"] = str(stand_in_nvcc(work, nvcc))
        fill = jitwarm([*plan_args, "--json"], fill_env)
        if fill["exit"] != 0:
            sys.exit(f"filling the cache failed:\n{fill['stderr'][-2000:]}")
        reruns = [jitwarm([*plan_args, "--json"], env) for _ in range(args.runs)]
        traced = jitwarm([*plan_args, "--json"], env, python_flags=("-X", "importtime"))
        modules = imported_modules(traced["stderr"])
        names = {m.strip() for m, _ in modules}
        no_ahead = (
            [summary(jitwarm([*plan_args, "--json", "--no-ahead"], env)) for _ in range(2)]
            if args.compare_no_ahead
            else None
        )
        walls = [r["wall_s"] for r in reruns]
        cpus = [r["cpu_s"] for r in reruns]
        first = reruns[0]["report"] or {}
        result = {
            "what": "jitwarm warm rerun on a complete DeepJIT cache, wall incl. CLI start",
            "plan": f"{args.model} --tp {args.tp}",
            "fill": args.fill,
            "host": {
                "cpus": os.cpu_count(),
                "load_avg_1m": round(os.getloadavg()[0], 2),
                "python": platform.python_version(),
                "nvcc": str(nvcc),
            },
            "deepgemm": first.get("deepgemm"),
            "kernels": first.get("cached"),
            "fill_run": summary(fill),
            "reruns": [summary(r) for r in reruns],
            "median_wall_s": round(statistics.median(walls), 3),
            "median_cpu_s": round(statistics.median(cpus), 3),
            "target_s": TARGET_S,
            "meets_target_wall": statistics.median(walls) < TARGET_S,
            "imports": {
                "torch": "torch" in names,
                "deep_gemm": "deep_gemm" in names,
                "rich.progress": "rich.progress" in names,
                "modules": len(modules),
                "slowest_top_level_us": sorted(
                    ((m.strip(), us) for m, us in modules if not m.startswith("  ")),
                    key=lambda x: -x[1],
                )[:8],
            },
            "no_ahead_reruns": no_ahead,
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
