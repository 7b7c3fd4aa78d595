"""Cold-cache warm benchmark on one GPU host: jitwarm against the seed's dense serial sweep and
against the compile floor, on DeepSeek-V3 at TP 8 (sm90).

- jitwarm: ``jitwarm.warm(plan)``: one call per distinct kernel, worker processes on all cores.
- dense serial (the seed's approach, as TokenSpeed does it): one process, every M in 1..2048
  then every 16th M up to the entry's largest M, over the same fp8_gemm_nt shapes, with the
  same argument contract (so cache entry names compare one to one).
- compile floor: per-kernel compile times of one process working alone (measured in the dense
  run), summed over the kernels jitwarm compiled, divided by the number of cores.

The dense baseline over the whole plan does not fit one 10-minute device command, so both
approaches run on the same subset of fp8_gemm_nt shapes (``--shapes``); jitwarm alone also
warms the whole plan from cold, and then every planned call over its whole M set runs against
that cache (the proof that nothing is left to compile).

    python benchmarks/warm_bench.py --out $OUT/warm.json [--jobs 16] [--shapes 512x7168,...]

If time is left, it also kills a cold ``jitwarm warm`` of the subset with SIGKILL mid-run,
checks that every published cache entry is whole, and reruns it: the rerun must compile exactly
the kernels that were missing.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from jitwarm.deepgemm import warm
from jitwarm.models._loader import load_model
from jitwarm.plan import Plan, plan_serving
from jitwarm.plan._schema import Family
from jitwarm.serving import ServingConfig
from jitwarm.warmer._cache_entries import list_entries
from jitwarm.warmer._items import WorkItem
from jitwarm.warmer._pool import PoolSpec, run_pool
from jitwarm.warmer._report import ItemRow
from jitwarm.warmer._resources import usable_cpus
from jitwarm.warmer._settings import PlanSettings, worker_env

DENSE_TO = 2048
DENSE_STEP = 16


def dense_ms(m_max: int) -> list[int]:
    """The seed's sweep: 1..2048, then every 16th M up to ``m_max``."""
    return list(range(1, min(DENSE_TO, m_max) + 1)) + list(
        range(DENSE_TO + DENSE_STEP, m_max + 1, DENSE_STEP)
    )


def device_info() -> dict[str, Any]:
    def run(*cmd: str) -> str:
        try:
            return subprocess.run(cmd, capture_output=True, text=True, timeout=30).stdout.strip()
        except OSError:
            return ""

    from importlib.metadata import version

    return {
        "gpu": run("nvidia-smi", "--query-gpu=name,memory.total", "--format=csv,noheader"),
        "cores": usable_cpus(),
        "nvcc": (run("nvcc", "--version").splitlines() or [""])[-1],
        "deepgemm": version("tokenspeed-deepgemm") if _has("tokenspeed-deepgemm") else None,
        "python": sys.version.split()[0],
        "cpu": " | ".join(
            ln.strip()
            for ln in run("lscpu").splitlines()
            if ln.split(":")[0].strip()
            in ("Model name", "Thread(s) per core", "Core(s) per socket", "Socket(s)")
        ),
    }


def _has(dist: str) -> bool:
    from importlib.metadata import PackageNotFoundError, version

    try:
        version(dist)
        return True
    except PackageNotFoundError:
        return False


def subset_plan(plan: Plan, shapes: list[tuple[int, int]]) -> Plan:
    entries = [e for e in plan.entries if e.family is Family.FP8_GEMM_NT and (e.n, e.k) in shapes]
    return plan.model_copy(update={"entries": entries})


def run_dense_serial(plan: Plan, cache_root: Path) -> dict[str, Any]:
    """One worker process, one item per shape holding the whole dense M list, in order."""
    from jitwarm.deepgemm._backend import DeepGEMMBackend

    items = [
        WorkItem(
            item_id=i,
            entry=e,
            ms=tuple(dense_ms(e.mset.max)),
            kernel=None,
            kernel_key=None,
            est_s=0.0,
            label=f"dense {e.shape()}",
        )
        for i, e in enumerate(plan.entries)
    ]
    log_dir = Path(tempfile.mkdtemp(prefix="dense-logs-"))
    spec = PoolSpec(
        settings=PlanSettings.of(plan),
        env=worker_env(plan, cache_root=cache_root),
        cache_root=cache_root,
        log_dir=log_dir,
        backend=DeepGEMMBackend(),
    )
    start = time.perf_counter()
    outcomes = run_pool(items, spec, [None])
    wall = time.perf_counter() - start
    shutil.rmtree(log_dir, ignore_errors=True)
    events = [c.wall_s for i in items for c in outcomes[i.item_id].calls for _ in range(c.compiled)]
    failed = [c.error for i in items for c in outcomes[i.item_id].calls if c.error]
    # Serial: the k-th compile published the k-th entry (by the time its cubin was written).
    names = sorted(
        list_entries(cache_root),
        key=lambda n: (cache_root / "cache" / n / "kernel.cubin").stat().st_mtime,
    )
    times = dict(zip(names, events, strict=False)) if len(names) == len(events) else {}
    return {
        "wall_s": wall,
        "calls": sum(len(i.ms) for i in items),
        "compile_events": len(events),
        "compile_times_s": times,
        "event_times_s": events,
        "failed": failed[:5],
        "names": names,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--jobs", type=int, default=None)
    ap.add_argument(
        "--shapes", default="2112x7168,3072x1536,4096x512", help="fp8_gemm_nt N x K of the subset"
    )
    ap.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "warm-bench")
    ap.add_argument(
        "--deadline-s", type=float, default=570.0, help="skip stages that cannot end by then"
    )
    args = ap.parse_args()
    t_start = time.monotonic()
    shapes = [tuple(int(x) for x in s.split("x")) for s in args.shapes.split(",")]
    shutil.rmtree(args.work, ignore_errors=True)
    args.work.mkdir(parents=True)
    cores = usable_cpus()
    result: dict[str, Any] = {
        "device": device_info(),
        "model": "deepseek-v3",
        "serving": {"tp": 8, "arch": "sm90"},
    }

    def save() -> None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=1) + "\n")

    def log(msg: str) -> None:
        print(f"[{time.monotonic() - t_start:6.1f}s] {msg}", flush=True)

    plan = plan_serving(load_model("deepseek-v3"), ServingConfig(tp=8))
    sub = subset_plan(plan, shapes)  # type: ignore[arg-type]
    # Bring the GPU and the page cache out of their cold state once, so neither approach pays
    # the first driver init or the first read of torch's and deep_gemm's files; the second run
    # is what any warm on this machine pays in imports and CUDA init before its first compile.
    result["startup_costs_s"] = {"first_on_this_machine": import_costs(), "after": import_costs()}
    log(f"imports and CUDA init: {result['startup_costs_s']}")

    def dump(name: str, data: Any) -> None:
        (args.out.parent / f"{name}.json").write_text(json.dumps(data, indent=1) + "\n")

    def left() -> float:
        return args.deadline_s - (time.monotonic() - t_start)

    # 1. jitwarm on the subset, cold.
    jw = warm(sub, cache_dir=args.work / "jitwarm", jobs=args.jobs)
    jw_names = list_entries(args.work / "jitwarm")
    dump("jitwarm_subset_report", jw.to_json(with_items=True))
    result.update(
        subset={
            "fp8_gemm_nt_shapes": [f"N={n} K={k}" for n, k in shapes],
            "why": "the dense serial sweep over the whole plan does not fit one 10-minute device command",
        },
        jobs=jw.jobs,
        jitwarm_wall_s=round(jw.wall_s, 2),
        kernels_jitwarm=len(jw_names),
        jitwarm_summed_compile_s=round(jw.compile_s, 1),
        jitwarm_timeline={
            **timeline(jw.items, jw.jobs, jw.wall_s),
            "imports_done_s": jw.imports_done_s,
            "workers_started_s": spread(jw.workers_started_s),
            "workers_ready_s": spread(jw.workers_ready_s),
        },
        jitwarm_ahead=jw.to_json()["ahead"],
    )
    log(
        f"jitwarm subset: {len(jw_names)} kernels in {jw.wall_s:.1f} s (summed compile {jw.compile_s:.0f} s); "
        f"{result['jitwarm_timeline']}"
    )
    save()

    # 2. The seed's dense serial sweep on the same shapes, cold.
    per_kernel_alone = 0.85 * jw.compile_s / max(1, jw.compiled)
    eta = (
        len(jw_names) * per_kernel_alone
        + 0.002 * sum(len(dense_ms(e.mset.max)) for e in sub.entries)
        + 15
    )
    if eta > left():
        result["dense_skipped"] = f"estimated {eta:.0f} s, {left():.0f} s left"
        save()
        log(result["dense_skipped"])
        return
    dense = run_dense_serial(sub, args.work / "dense")
    dump(
        "dense_compile_times",
        {"per_kernel_s": dense["compile_times_s"], "events_s": dense["event_times_s"]},
    )
    d_names = set(dense["names"])
    times: dict[str, float] = dense["compile_times_s"]
    median = statistics.median(dense["event_times_s"]) if dense["event_times_s"] else float("nan")
    floor_sum = sum(times.get(n, median) for n in jw_names)
    result.update(
        dense_serial_wall_s=round(dense["wall_s"], 2),
        dense_calls=dense["calls"],
        kernels_dense=len(d_names),
        missed_by_jitwarm=sorted(d_names - jw_names),
        extra_in_jitwarm=len(jw_names - d_names),
        compile_floor_s=round(floor_sum / cores, 2),
        floor_basis=f"sum of {len(jw_names)} single-process compile times (dense run) / {cores} cores",
        single_process_compile_s={
            "median": round(median, 2),
            "min": round(min(dense["event_times_s"], default=0), 2),
            "max": round(max(dense["event_times_s"], default=0), 2),
            "sum": round(sum(dense["event_times_s"]), 1),
        },
        dense_failed=dense["failed"],
        dense_note="the dense process forks from the fork server jitwarm started (torch and deep_gemm "
        "already imported), so its wall time leaves out those imports; jitwarm's includes them",
    )
    result["speedup_vs_dense"] = round(result["dense_serial_wall_s"] / result["jitwarm_wall_s"], 2)
    result["ratio_to_floor"] = round(result["jitwarm_wall_s"] / result["compile_floor_s"], 2)
    log(
        f"dense: {len(d_names)} kernels in {dense['wall_s']:.1f} s; speedup {result['speedup_vs_dense']}x, "
        f"{result['ratio_to_floor']}x the floor ({result['compile_floor_s']} s)"
    )
    save()

    # 3. jitwarm, whole plan, cold; the proof over every planned M; a rerun on the warm cache.
    if left() < 150:
        log(f"whole plan skipped: {left():.0f} s left")
        return
    full = warm(plan, cache_dir=args.work / "full", jobs=args.jobs)
    dump("full_plan_report", full.to_json(with_items=True))
    result.update(
        jitwarm_full_plan_wall_s=round(full.wall_s, 2),
        full_plan={
            "kernels_planned": plan.num_kernels,
            "compiled": full.compiled,
            "failed": full.failed,
            "summed_compile_s": round(full.compile_s, 1),
            "timeline": timeline(full.items, full.jobs, full.wall_s),
            "failures": [f.reason[:300] for f in full.failures[:5]],
            "ahead": full.to_json()["ahead"],
        },
    )
    log(
        f"full plan: {full.compiled}/{plan.num_kernels} kernels in {full.wall_s:.1f} s; {result['full_plan']['timeline']}"
    )
    save()
    proof = warm(plan, cache_dir=args.work / "full", jobs=args.jobs, full_sweep=True)
    result["proof"] = {
        "calls": sum(f.calls for f in proof.families.values()),
        "compiled": proof.compiled,
        "new_cache_entries": proof.new_cache_entries,
        "failed": proof.failed,
        "wall_s": round(proof.wall_s, 2),
        "nothing_compiled": proof.ok and proof.compiled == 0 and proof.new_cache_entries == 0,
    }
    log(f"proof: {result['proof']}")
    rerun = warm(plan, cache_dir=args.work / "full", jobs=args.jobs)
    result["jitwarm_warm_cache_rerun"] = {
        "wall_s": round(rerun.wall_s, 2),
        "compiled": rerun.compiled,
        "cached": rerun.cached,
    }
    log(f"rerun on the warm cache: {rerun.wall_s:.1f} s, {rerun.compiled} compiled")
    save()

    # 4. Resumption after SIGKILL, if there is time for it.
    if left() > 2 * result["jitwarm_wall_s"] + 20:
        result["sigkill_resume"] = kill_and_resume(
            sub, args.work / "resume", args.jobs, result["jitwarm_wall_s"] / 2
        )
        log(f"sigkill resume: {result['sigkill_resume']}")
        save()


def import_costs() -> dict[str, float]:
    code = (
        "import time, json; t0 = time.perf_counter(); import torch; t1 = time.perf_counter(); "
        "import deep_gemm; t2 = time.perf_counter(); torch.zeros(1, device='cuda'); "
        "torch.cuda.synchronize(); t3 = time.perf_counter(); "
        "print(json.dumps({'torch': t1 - t0, 'deep_gemm': t2 - t1, 'cuda_init': t3 - t2}))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    try:
        return {k: round(v, 2) for k, v in json.loads(done.stdout.strip().splitlines()[-1]).items()}
    except (ValueError, IndexError):
        return {"error": done.stderr.strip()[-300:]}  # type: ignore[dict-item]


def spread(ready: Sequence[float]) -> dict[str, float]:
    """First, median and last of the workers' start-up times, from the start of the warm."""
    if not ready:
        return {}
    return {"first": ready[0], "median": round(statistics.median(ready), 3), "last": ready[-1]}


def timeline(items: Sequence[ItemRow], jobs: int, wall_s: float) -> dict[str, float]:
    """Where the wall time went: until the first item started (startup), how busy the workers
    were while items ran, and the tail after the last item started."""
    starts = [r.start_s for r in items if r.start_s is not None]
    ends = [r.end_s for r in items if r.end_s is not None]
    if not starts:
        return {}
    busy = sum(e - s for s, e in zip(starts, ends, strict=True))
    span = max(ends) - min(starts)
    return {
        "startup_s": round(min(starts), 2),
        "items_span_s": round(span, 2),
        "busy_fraction": round(busy / (jobs * span), 3) if span else 0.0,
        "tail_after_last_start_s": round(max(ends) - max(starts), 2),
        "after_last_item_s": round(wall_s - max(ends), 2),
    }


def kill_and_resume(plan: Plan, root: Path, jobs: int | None, after_s: float) -> dict[str, Any]:
    plan_file = root.parent / "resume-plan.json"
    plan_file.write_text(plan.to_json())
    code = (
        "import sys\nfrom jitwarm.plan import Plan\nfrom jitwarm.deepgemm import warm\n"
        f"warm(Plan.load({str(plan_file)!r}), cache_dir={str(root)!r}, jobs={jobs!r})\n"
    )
    cmd = [sys.executable, "-c", code]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(after_s)
    proc.kill()
    proc.wait()
    # Workers die with the fork server, which exits after the killed parent; a compile that
    # ends meanwhile still publishes a whole entry (an atomic rename), never a part of one.
    time.sleep(5.0)
    survived = list_entries(root)
    whole = all(
        {p.name for p in (root / "cache" / n).iterdir()} >= {"kernel.cu", "kernel.cubin"}
        for n in survived
    )
    rerun = warm(plan, cache_dir=root, jobs=jobs)
    return {
        "killed_after_s": round(after_s, 1),
        "entries_after_kill": len(survived),
        "all_whole": whole,
        "rerun_compiled": rerun.compiled,
        "rerun_cached": rerun.cached,
        "planned": plan.num_kernels,
        "rerun_ahead": rerun.to_json()["ahead"],
        "rerun_new_entries": rerun.new_cache_entries,
        # nothing compiled twice and every kernel is now there; a worker of the killed warm
        # may still publish (a whole entry) while the rerun runs, and the rerun finds it cached
        "published_by_the_killed_run_during_rerun": rerun.new_cache_entries - rerun.compiled,
        "rerun_compiled_only_the_rest": rerun.ok
        and rerun.compiled <= rerun.new_cache_entries
        and rerun.compiled + rerun.cached == plan.num_kernels,
        "rerun_failures": [f.reason[:200] for f in rerun.failures[:3]],
    }


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
