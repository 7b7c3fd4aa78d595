"""The compatibility matrix, run on a GPU host: per DeepGEMM build and preset plan, from a cold
cache, `warm`, `verify` over every planned M, `bundle export` + `import` into an empty root +
`verify`; or, for a bundle built elsewhere (`jitwarm build`, no GPU), `import` + `verify`.

    python benchmarks/compat/run_matrix.py --build 2.8.0=/tmp/dg2.8.0 ... \
        --plan "deepseek-v3 --tp 8" ... [--bundle 2.8.0:"deepseek-v3 --tp 8"=FILE ...] \
        --out compat.json

Each `--build NAME=DIR` puts DIR first on PYTHONPATH (where that build's `deep_gemm` lives) for
every command of its cells. Every command is the CLI a user runs; its JSON report is kept whole
in the result, next to the few numbers the README's matrix shows. A cell that fails says why.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
_CAPTURE_LOCK = threading.Lock()  # two cells of one build append to one capture file


def _cli(args: list[str], *, build_dir: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run `python -m jitwarm ARGS`; the parsed JSON stdout (if any), rc, wall, stderr tail."""
    full_env = {**os.environ, **(env or {})}
    full_env["PYTHONPATH"] = os.pathsep.join(
        [str(REPO / "src"), build_dir, full_env.get("PYTHONPATH", "")]
    )
    t0 = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "jitwarm", *args],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=900,
    )
    out: dict[str, Any] = {
        "argv": " ".join(shlex.quote(a) for a in ["jitwarm", *args]),
        "rc": done.returncode,
        "wall_s": round(time.perf_counter() - t0, 2),
        "stderr_tail": done.stderr.strip().splitlines()[-5:],
    }
    try:
        out["report"] = json.loads(done.stdout) if done.stdout.strip() else None
    except json.JSONDecodeError:
        out["stdout_tail"] = done.stdout.strip().splitlines()[-5:]
    print(f"  {out['argv'][:110]} -> rc {out['rc']} in {out['wall_s']} s", flush=True)
    return out


def _verify(plan: Path, root: Path, build_dir: str) -> dict[str, Any]:
    r = _cli(
        ["verify", "--plan", str(plan), "--cache-dir", str(root), "--json"], build_dir=build_dir
    )
    rep = r.get("report") or {}
    return {
        "ok": r["rc"] == 0,
        "calls": rep.get("calls"),
        "calls_missing": rep.get("calls_missing"),
        "cache_unchanged": rep.get("cache_unchanged"),
        "failed": len(rep.get("failed") or []),
        "wall_s": r["wall_s"],
        "run": r,
    }


def _capture(root: Path, build: str, build_dir: str, label: str, into: Path) -> None:
    """Append the entries a warm wrote to a ground-truth capture file (DeepJIT builds)."""
    lib = next(
        (
            str(d)
            for d in (Path(build_dir) / "deep_gemm", Path(build_dir) / "vllm/third_party/deep_gemm")
            if d.is_dir()
        ),
        build_dir,
    )
    tool = REPO / "benchmarks/tools/capture_deepjit_entries.py"
    cmd = [sys.executable, str(tool), str(root), "--label", label, "--deepgemm", build]
    cmd += ["--library-root", lib, "--gpu", "NVIDIA H200 (132 SMs)", "--into", str(into)]
    with _CAPTURE_LOCK:
        subprocess.run(cmd, check=False)


def warm_cell(
    build: str,
    build_dir: str,
    plan_args: list[str],
    work: Path,
    capture: Path | None = None,
    jobs: int | None = None,
) -> dict[str, Any]:
    plan = work / "plan.json"
    root, root2 = work / "root", work / "root2"
    cell: dict[str, Any] = {"build": build, "mode": "warm"}
    p = _cli(["plan", *plan_args, "-o", str(plan)], build_dir=build_dir)
    if p["rc"] != 0:
        return {**cell, "ok": False, "why": "plan failed", "run": p}
    cell["kernels"] = json.loads(plan.read_text()).get("entries") and sum(
        len(e["kernels"] or []) for e in json.loads(plan.read_text())["entries"]
    )
    w = _cli(
        ["warm", "--plan", str(plan), "--json", *(["--jobs", str(jobs)] if jobs else [])],
        build_dir=build_dir,
        env={"DG_JIT_CACHE_DIR": str(root)},
    )
    rep = w.get("report") or {}
    fams = rep.get("families") or {}
    cell["warm"] = {
        "ok": w["rc"] == 0,
        "wall_s": rep.get("wall_s", w["wall_s"]),
        "cli_wall_s": w["wall_s"],
        "compiled": sum(f.get("compiled", 0) for f in fams.values()),
        "failed": sum(f.get("failed", 0) for f in fams.values()),
        "ahead": rep.get("ahead"),
        "entries": len(list((root / "cache").iterdir())) if (root / "cache").is_dir() else 0,
        "run": w,
    }
    if capture is not None and (root / "cache").is_dir():
        label = " ".join(a for a in plan_args if a != "--model")
        _capture(root, build, build_dir, label, capture / f"cache-entries-{build}.json")
    cell["verify"] = _verify(plan, root, build_dir)
    bundle = work / "kernels.tar.gz"
    e = _cli(
        ["bundle", "export", "--plan", str(plan), "-o", str(bundle)],
        build_dir=build_dir,
        env={"DG_JIT_CACHE_DIR": str(root)},
    )
    i = _cli(
        ["bundle", "import", str(bundle)], build_dir=build_dir, env={"DG_JIT_CACHE_DIR": str(root2)}
    )
    v2 = _verify(plan, root2, build_dir)
    cell["bundle_roundtrip"] = {
        "ok": e["rc"] == 0 and i["rc"] == 0 and v2["ok"],
        "size_bytes": bundle.stat().st_size if bundle.exists() else None,
        "export": e,
        "import": i,
        "verify": v2,
    }
    cell["ok"] = cell["warm"]["ok"] and cell["verify"]["ok"] and cell["bundle_roundtrip"]["ok"]
    return cell


def bundle_cell(
    build: str, build_dir: str, plan_args: list[str], bundle: Path, work: Path
) -> dict[str, Any]:
    plan, root = work / "plan.json", work / "root"
    cell: dict[str, Any] = {"build": build, "mode": "gpu-free bundle", "bundle": bundle.name}
    p = _cli(["plan", *plan_args, "-o", str(plan)], build_dir=build_dir)
    i = _cli(
        ["bundle", "import", str(bundle)], build_dir=build_dir, env={"DG_JIT_CACHE_DIR": str(root)}
    )
    cell["import"] = i
    cell["verify"] = _verify(plan, root, build_dir)
    cell["ok"] = p["rc"] == 0 and i["rc"] == 0 and cell["verify"]["ok"]
    return cell


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", action="append", default=[], help="NAME=DIR")
    ap.add_argument("--plan", action="append", default=[], help='e.g. "deepseek-v3 --tp 8"')
    ap.add_argument("--cells", default="all", help="NAME:PLAN;... to run a subset (default all)")
    ap.add_argument("--bundle", action="append", default=[], help="NAME:PLAN=FILE")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--capture-dir", type=Path, help="append DeepJIT entries to capture files here")
    ap.add_argument("--skip-capture", action="append", default=[], help="builds not to capture")
    ap.add_argument("--parallel", type=int, default=1, help="cells run at once (default 1)")
    ap.add_argument("--jobs", type=int, help="compile workers per warm (default: warm's own)")
    ap.add_argument(
        "--deadline-s", type=float, help="start no cell after this many seconds (device limit)"
    )
    args = ap.parse_args()
    builds = dict(b.split("=", 1) for b in args.build)
    doc: dict[str, Any] = json.loads(args.out.read_text()) if args.out.exists() else {"cells": []}
    doc.setdefault("runs", []).append(
        {"parallel": args.parallel, "jobs": args.jobs, "plans": args.plan, "builds": builds}
    )
    wanted = (
        None if args.cells == "all" else {tuple(c.split(":", 1)) for c in args.cells.split(";")}
    )
    started = time.monotonic()
    lock = threading.Lock()
    if args.capture_dir:
        args.capture_dir.mkdir(parents=True, exist_ok=True)

    def record(cell: dict[str, Any]) -> None:
        with lock:
            doc["cells"].append(cell)
            args.out.write_text(json.dumps(doc, indent=1))

    def skipped_late(plan: str, build: str, mode: str) -> bool:
        """Past the deadline: record the cell as not run, so the JSON says why it is empty."""
        if args.deadline_s is None or time.monotonic() - started <= args.deadline_s:
            return False
        why = "not run: device time"
        record({"plan": plan, "build": build, "mode": mode, "ok": None, "why": why})
        return True

    def run_warm(n: int, name: str, plan: str, tmp: str) -> None:
        if skipped_late(plan, name, "warm"):
            return
        print(f"{name} | {plan}", flush=True)
        work = Path(tmp) / f"{name}-{n}"
        work.mkdir()
        capture = args.capture_dir if args.capture_dir and name not in args.skip_capture else None
        cell = warm_cell(name, builds[name], plan.split(), work, capture, args.jobs)
        record({"plan": plan, **cell})
        shutil.rmtree(work, ignore_errors=True)

    def run_bundle(n: int, spec: str, tmp: str) -> None:
        key, file = spec.split("=", 1)
        name, plan = key.split(":", 1)
        if skipped_late(plan, name, "gpu-free bundle"):
            return
        print(f"{name} | {plan} | bundle {file}", flush=True)
        work = Path(tmp) / f"b-{n}"
        work.mkdir()
        record({"plan": plan, **bundle_cell(name, builds[name], plan.split(), Path(file), work)})

    with tempfile.TemporaryDirectory(prefix="jitwarm-compat-") as tmp:
        tasks = [
            (run_warm, (n, name, plan, tmp))
            for n, (name, plan) in enumerate(
                (name, plan)
                for plan in args.plan
                for name in builds
                if wanted is None or (name, plan) in wanted
            )
        ]
        tasks += [(run_bundle, (1000 + n, spec, tmp)) for n, spec in enumerate(args.bundle)]
        with ThreadPoolExecutor(max_workers=args.parallel) as pool:
            for fut in [pool.submit(fn, *a) for fn, a in tasks]:
                fut.result()
    for c in doc["cells"]:
        print(f"{c['build']:8} {c['mode']:16} {c['plan']:45} ok={c['ok']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
