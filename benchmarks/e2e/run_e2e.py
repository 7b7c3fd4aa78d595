"""End-to-end benchmark of the startup modes of ``jitwarm serve`` behind the smg gateway.

For each mode (none, dense, jitwarm, bundle), from a cold kernel cache:
- time to ready (process start -> GET /ready is 200);
- first-request latency (a 300-token prompt, through smg), then the wait until smg routes to
  the worker again if the first request got it evicted;
- p50 / p99 latency of N randomized requests (prompt lengths 1..max batched tokens, a closed
  loop of max-running-seqs clients), through smg;
- inline compiles while serving (the server's jitwarm_inline_compiles_total);
- evictions of the worker by smg (from its log) and deaths seen by a model-path prober;
- the generated tokens, compared across modes (same seed, same requests).

CPU mode simulates each compile (``--sim-compile-s``, default the measured H100 median 4.5 s)
and labels every result ``cpu-simulated``; on a GPU host run it with ``--device cuda``.

    .venv/bin/python benchmarks/e2e/run_e2e.py --device cpu   # -> benchmarks/results/e2e-cpu-sim.json
    .venv/bin/python benchmarks/e2e/run_e2e.py --device cuda  # -> benchmarks/results/e2e.json
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import statistics
import string
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

from jitwarm.profiles import detect_build
from jitwarm.server._gateway import HealthCheck, SmgGateway, find_smg
from jitwarm.server._prober import ModelPathProber
from jitwarm.server._process import ServerProcess

MODES = ("none", "dense", "jitwarm", "bundle")
MODEL_ID = "jitwarm-ref-deepseek-v3"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--modes", default=",".join(MODES))
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda", "auto"])
    p.add_argument("--model", default="deepseek-v3")
    p.add_argument("--tp", type=int, default=8)
    p.add_argument("--max-batched-tokens", type=int, default=2048)
    p.add_argument("--max-running-seqs", type=int, default=64)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--requests", type=int, default=300)
    p.add_argument("--max-tokens", type=int, default=32, help="largest max_tokens of a request")
    p.add_argument("--first-prompt-tokens", type=int, default=300)
    p.add_argument(
        "--alone-requests",
        type=int,
        default=16,
        help="after the load, this many of its requests again, one at a time: each is batched "
        "alone, so its tokens must be identical in every mode",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--sim-compile-s", type=float, default=4.5)
    p.add_argument("--warm-workers", type=int, default=16)
    p.add_argument(
        "--health-timeout", type=float, default=3.0, help="engine ping deadline of /health"
    )
    p.add_argument("--smg-interval", type=int, default=5)
    p.add_argument("--smg-timeout", type=int, default=5)
    p.add_argument("--smg-failures", type=int, default=3)
    p.add_argument("--no-smg", action="store_true", help="send requests to the server directly")
    p.add_argument("--prober-interval", type=float, default=5.0)
    p.add_argument("--prober-timeout", type=float, default=5.0)
    p.add_argument("--request-timeout", type=float, default=900.0)
    p.add_argument("--ready-timeout", type=float, default=3600.0)
    p.add_argument(
        "--out",
        type=Path,
        default=None,
        help="default: benchmarks/results/e2e.json on a GPU, e2e-cpu-sim.json in CPU mode",
    )
    p.add_argument("--plot", type=Path, default=None, help="PNG path (default: --out with .png)")
    p.add_argument("--workdir", type=Path, default=None, help="keep logs and caches here")
    p.add_argument(
        "--bundle-file",
        type=Path,
        default=None,
        help="the bundle mode imports this bundle (e.g. one `jitwarm build` made with no GPU) "
        "instead of exporting the jitwarm mode's cache",
    )
    p.add_argument(
        "--merge",
        type=Path,
        action="append",
        default=[],
        help="an earlier result of the same workload whose modes join this one (repeatable): "
        "modes too slow for one run can run apart and still have their outputs compared",
    )
    return p.parse_args(argv)


# What must be equal for two runs' results to be compared (everything that shapes the
# workload or the server); output paths, modes and timeouts may differ.
WORKLOAD_KEYS = (
    "device",
    "model",
    "tp",
    "max_batched_tokens",
    "max_running_seqs",
    "layers",
    "requests",
    "max_tokens",
    "first_prompt_tokens",
    "alone_requests",
    "seed",
    "health_timeout",
    "smg_interval",
    "smg_timeout",
    "smg_failures",
    "no_smg",
)


def workload(args: argparse.Namespace) -> tuple[str, list[tuple[str, int]]]:
    """The first prompt and the randomized requests (text: one byte = one token)."""
    rng = random.Random(args.seed)
    alphabet = string.ascii_lowercase + " "
    first = "".join(rng.choices(alphabet, k=args.first_prompt_tokens))
    reqs = [
        (
            "".join(rng.choices(alphabet, k=rng.randint(1, args.max_batched_tokens))),
            rng.randint(1, args.max_tokens),
        )
        for _ in range(args.requests)
    ]
    return first, reqs


def server_args(args: argparse.Namespace, mode: str, cache: Path, bundle: Path | None) -> list[str]:
    out = [
        "--model",
        args.model,
        "--tp",
        str(args.tp),
        "--max-batched-tokens",
        str(args.max_batched_tokens),
        "--max-running-seqs",
        str(args.max_running_seqs),
        "--layers",
        str(args.layers),
        "--device",
        args.device,
        "--seed",
        str(args.seed),
        "--health-timeout",
        str(args.health_timeout),
        "--cache-dir",
        str(cache),
        "--sim-compile-s",
        str(args.sim_compile_s),
        "--warm-workers",
        str(args.warm_workers),
    ]
    if mode == "bundle":
        assert bundle is not None
        return [*out, "--bundle", str(bundle)]
    return [*out, "--warmup", mode]


def complete(
    client: httpx.Client, url: str, prompt: str, max_tokens: int, timeout: float
) -> tuple[float, list[int] | None]:
    t0 = time.monotonic()
    try:
        r = client.post(
            url,
            json={"model": MODEL_ID, "prompt": prompt, "max_tokens": max_tokens},
            timeout=timeout,
        )
        tokens = r.json()["choices"][0]["token_ids"] if r.status_code == 200 else None
    except (httpx.HTTPError, ValueError, KeyError):
        tokens = None
    return time.monotonic() - t0, tokens


def complete_alone(
    client: httpx.Client,
    url: str,
    gateway: SmgGateway | None,
    prompt: str,
    max_tokens: int,
    timeout: float,
) -> list[int] | None:
    """One request with nothing else in flight, for the output comparison: sent once smg
    routes to the worker, and once more if smg refused it (a worker it had just evicted)."""
    for _ in range(2):
        if gateway is not None:
            gateway.wait_routable(timeout, reregister=True)
        tokens = complete(client, url, prompt, max_tokens, timeout)[1]
        if tokens is not None:
            return tokens
    return None


def inline_compiles(metrics: str) -> dict[str, int]:
    out: dict[str, int] = {}
    for line in metrics.splitlines():
        if line.startswith("jitwarm_inline_compiles_total{"):
            family = line.split('family="', 1)[1].split('"', 1)[0]
            out[family] = int(float(line.rsplit(" ", 1)[1]))
    return out


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def run_mode(
    args: argparse.Namespace, mode: str, work: Path, bundle: Path | None
) -> dict[str, Any]:
    first, reqs = workload(args)
    cache = work / f"cache-{mode}"
    result: dict[str, Any] = {"mode": mode}
    with ServerProcess(
        server_args(args, mode, cache, bundle), log_path=work / f"serve-{mode}.log"
    ) as srv:
        result["time_to_ready_s"] = srv.wait_for("/ready", args.ready_timeout)
        result["warmup"] = httpx.get(srv.url + "/ready").json()["warmup"]
        gateway = None
        if not args.no_smg:
            health = HealthCheck(
                timeout_s=args.smg_timeout,
                failure_threshold=args.smg_failures,
                interval_s=args.smg_interval,
            )
            gateway = SmgGateway(srv.url, log_path=work / f"smg-{mode}.log", health=health)
            gateway.start()
            gateway.wait_routable(120)
        url = (gateway.url if gateway else srv.url) + "/v1/completions"
        prober = ModelPathProber(
            srv.url,
            interval_s=args.prober_interval,
            timeout_s=args.prober_timeout,
            failure_threshold=3,
        ).start()
        try:
            with httpx.Client() as client:
                result["first_request_s"], first_tokens = complete(
                    client, url, first, 16, args.request_timeout
                )
            readded = 0
            if gateway is not None:  # an eviction by the first request must not fail the load
                t0 = time.monotonic()
                readded = gateway.wait_routable(args.request_timeout, reregister=True)
                result["gateway_wait_s"] = time.monotonic() - t0
            t0 = time.monotonic()
            with (
                KeepRegistered(gateway) as keeper,
                ThreadPoolExecutor(args.max_running_seqs) as pool,
                httpx.Client(limits=httpx.Limits(max_connections=args.max_running_seqs)) as client,
            ):
                done = list(
                    pool.map(
                        lambda r: complete(client, url, r[0], r[1], args.request_timeout), reqs
                    )
                )
            result["load_wall_s"] = time.monotonic() - t0
            result["smg_reregistrations"] = readded + keeper.added
            with httpx.Client() as client:
                alone = [
                    complete_alone(client, url, gateway, prompt, n, args.request_timeout)
                    for prompt, n in reqs[: args.alone_requests]
                ]
        finally:
            stats = prober.stop()
            if gateway is not None:
                gateway.stop()
        ok = [lat for lat, tokens in done if tokens is not None]
        result.update(
            requests=len(reqs),
            requests_failed=len(reqs) - len(ok),
            p50_s=percentile(ok, 50),
            p99_s=percentile(ok, 99),
            mean_s=statistics.fmean(ok) if ok else None,
            inline_compiles=inline_compiles(httpx.get(srv.url + "/metrics").text),
            prober_deaths=stats.deaths,
            prober_failures=stats.failures,
            prober_probes=stats.probes,
            first_request_ok=first_tokens is not None,
        )
        if gateway is not None:
            g = gateway.stats()
            result.update(
                smg_evictions=g.evictions, smg_removals=g.removals, smg_recoveries=g.recoveries
            )
        result["inline_compiles_total"] = sum(result["inline_compiles"].values())
        result["token_digests"] = [token_digest(first_tokens), *[token_digest(t) for _, t in done]]
        result["alone_digests"] = [token_digest(t) for t in alone]
        result["server_exit_code"] = srv.stop()
    return result


class KeepRegistered:
    """While the load runs, adds the worker back whenever smg removed it (as service discovery
    would for a pod still running), so the rest of the load still goes through smg."""

    def __init__(self, gateway: SmgGateway | None, interval_s: float = 2.0) -> None:
        self.gateway, self.interval_s, self.added = gateway, interval_s, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="keep-registered", daemon=True)

    def __enter__(self) -> KeepRegistered:
        if self.gateway is not None:
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(10)

    def _run(self) -> None:
        assert self.gateway is not None
        while not self._stop.wait(self.interval_s):
            try:
                if self.gateway.worker_status() is None:
                    self.gateway.register()
                    self.added += 1
            except (httpx.HTTPError, ValueError):
                pass


def export_bundle_from(cache: Path, out: Path, args: argparse.Namespace) -> Path:
    from jitwarm.bundle import export_bundle, host_provenance
    from jitwarm.cache import scan_cache
    from jitwarm.dgenv import resolve_cache_roots
    from jitwarm.models._loader import load_model
    from jitwarm.plan import plan_serving
    from jitwarm.serving import ServingConfig

    serving = ServingConfig(
        tp=args.tp,
        max_batched_tokens=args.max_batched_tokens,
        max_running_seqs=args.max_running_seqs,
    )
    plan = plan_serving(load_model(args.model), serving)
    host = host_provenance(arch=serving.arch.value, num_sms=serving.sms)
    export_bundle(scan_cache(resolve_cache_roots(cache)), out, provenance=host, plan=plan)
    return out


def token_digest(tokens: list[int] | None) -> str | None:
    """A request's generated tokens, short enough to keep every request's in the result."""
    if tokens is None:
        return None
    return hashlib.sha256(json.dumps(tokens).encode()).hexdigest()[:16]


def merge_earlier(args: argparse.Namespace, paths: list[Path]) -> dict[str, dict[str, Any]]:
    """Modes from earlier results of the same workload (raises SystemExit when one differs)."""
    merged: dict[str, dict[str, Any]] = {}
    mine = vars(args)
    for path in paths:
        earlier = json.loads(path.read_text())
        theirs = earlier["config"]
        differ = [k for k in WORKLOAD_KEYS if theirs.get(k) != mine.get(k)]
        if differ:
            raise SystemExit(f"run_e2e: {path} ran another workload ({', '.join(differ)} differ)")
        for mode, result in earlier["modes"].items():
            if "token_digests" not in result:
                raise SystemExit(f"run_e2e: {path} has no token digests for mode {mode}")
            merged[mode] = {"merged_from": str(path), **result}  # the run it first came from
    return merged


def compare_outputs(results: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Each mode's tokens against a reference mode (jitwarm where it ran), over the requests
    that succeeded in both. "alone": the requests sent one at a time, whose batches are the
    same in every mode, so the tokens must be identical whatever made the kernels.
    "concurrent": the load, where continuous batching groups requests by arrival time; the
    reference model is written to be batch-invariant, and this counts where it was not."""
    modes = list(results)
    if len(modes) < 2:
        return {"reference": None, "alone": {}, "concurrent": {}, "identical": None}
    ref = "jitwarm" if "jitwarm" in results else modes[0]

    def against_ref(key: str) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for mode in modes:
            if mode == ref or key not in results[mode] or key not in results[ref]:
                continue
            pairs = [
                (a, b)
                for a, b in zip(results[ref][key], results[mode][key], strict=True)
                if a is not None and b is not None
            ]
            out[mode] = {"compared": len(pairs), "mismatches": sum(a != b for a, b in pairs)}
        return out

    alone, concurrent = against_ref("alone_digests"), against_ref("token_digests")
    both = [*alone.values(), *concurrent.values()]
    identical = all(v["mismatches"] == 0 for v in both) and any(v["compared"] for v in both)
    return {"reference": ref, "alone": alone, "concurrent": concurrent, "identical": identical}


def write_report(args: argparse.Namespace, results: dict[str, dict[str, Any]]) -> dict[str, Any]:
    label = "cpu-simulated" if args.device == "cpu" else f"device-{args.device}"
    report = {
        "label": label,
        "note": (
            "CPU mode: torch matmuls on shrunk widths; each kernel's first use costs a simulated "
            f"{args.sim_compile_s} s compile, keyed by jitwarm's SM90 selection. Not GPU numbers."
            if label == "cpu-simulated"
            else "real device run"
        ),
        "created_unix": int(time.time()),
        "config": {k: _jsonable(v) for k, v in vars(args).items()},
        "deepgemm": detect_build().to_json() if label != "cpu-simulated" else None,
        "outputs": compare_outputs(results),
        "modes": {m: results[m] for m in sorted(results, key=MODES.index)},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n")
    return report


def _jsonable(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.out is None:
        name = "e2e-cpu-sim.json" if args.device == "cpu" else "e2e.json"
        args.out = Path("benchmarks/results") / name
    modes = [m for m in args.modes.split(",") if m]
    unknown = [m for m in modes if m not in MODES]
    if unknown:
        print(f"run_e2e: unknown modes {unknown}", file=sys.stderr)
        return 2
    if "bundle" in modes and "jitwarm" not in modes and args.bundle_file is None:
        # its cache must be on this machine
        print(
            "run_e2e: the bundle mode ships the jitwarm mode's cache: add jitwarm to --modes",
            file=sys.stderr,
        )
        return 2
    if not args.no_smg and find_smg() is None:
        print(
            "run_e2e: smg not found (pip install tokenspeed-smg), falling back to --no-smg",
            file=sys.stderr,
        )
        args.no_smg = True
    work = args.workdir or Path(tempfile.mkdtemp(prefix="jitwarm-e2e-"))
    work.mkdir(parents=True, exist_ok=True)
    results = {m: r for m, r in merge_earlier(args, args.merge).items() if m not in modes}
    bundle = None
    report: dict[str, Any] = {}
    for mode in sorted(modes, key=MODES.index):
        if mode == "bundle" and args.bundle_file is not None:
            bundle = args.bundle_file
        elif mode == "bundle":
            bundle = export_bundle_from(work / "cache-jitwarm", work / "kernels.tar.gz", args)
        print(f"run_e2e: mode {mode} ...", file=sys.stderr, flush=True)
        results[mode] = run_mode(args, mode, work, bundle)
        r = results[mode]
        print(
            f"run_e2e: {mode}: ready {r['time_to_ready_s']:.1f} s, first {r['first_request_s']:.2f} s, "
            f"p50 {r['p50_s']}, p99 {r['p99_s']}, failed {r['requests_failed']}, inline {r['inline_compiles_total']}, "
            f"evictions {r.get('smg_evictions')}, removals {r.get('smg_removals')}, deaths {r['prober_deaths']}",
            file=sys.stderr,
            flush=True,
        )
        report = write_report(args, results)  # after each mode: a run cut short keeps what it has
    print(f"run_e2e: wrote {args.out} (logs in {work})", file=sys.stderr)
    plot_path = args.plot or args.out.with_suffix(".png")
    try:
        from plot_e2e import plot  # beside this script

        plot(report, plot_path)
        print(f"run_e2e: wrote {plot_path}", file=sys.stderr)
    except ImportError as exc:
        print(f"run_e2e: no plot ({exc}); pip install matplotlib", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
