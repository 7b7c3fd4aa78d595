"""Guard overhead per call on a warm cache (GPU): raw vs guard-wrapped (warn) vs wrapped +
recorder, interleaved rounds, median of per-call host times; plus synchronized latency and a
no-op. Run on the device: ``PYTHONPATH=src python benchmarks/guard_overhead.py``; writes
``$OUT/guard-overhead.json`` when OUT is set.
"""

import json
import os
import statistics
import tempfile
import time
from pathlib import Path

root = Path(tempfile.mkdtemp(prefix="dg-ovh-"))
os.environ["DG_JIT_CACHE_DIR"] = str(root)
import deep_gemm  # noqa: E402
import torch  # noqa: E402

from jitwarm.deepgemm._calls import build_call  # noqa: E402
from jitwarm.guard import Guard, GuardMode  # noqa: E402
from jitwarm.guard._cachewatch import CacheWatcher  # noqa: E402
from jitwarm.guard._recorder import CallRecorder  # noqa: E402
from jitwarm.plan._schema import Family, PlanEntry, Selection  # noqa: E402

entry = PlanEntry(
    family=Family.FP8_GEMM_NT,
    n=2112,
    k=7168,
    phases=["prefill"],
    m_values=[[1, 4096]],
    selection=Selection.SWEEP,
    kernels=None,
    modules=[],
)
call = build_call(entry, 128)
args, kwargs = call.args, call.kwargs
raw = deep_gemm.fp8_gemm_nt
t0 = time.perf_counter()
raw(*args, **kwargs)
torch.cuda.synchronize()
first = time.perf_counter() - t0


def make(recorder):
    g = Guard(mode=GuardMode.WARN, cache_root=root, recorder=recorder)
    g.watcher = CacheWatcher(root)
    return g, g.wrap("fp8_gemm_nt", raw)


g_warn, warn = make(None)
g_rec, rec = make(CallRecorder(root / "rec.json"))
fns = {"raw": raw, "guard_warn": warn, "guard_warn_record": rec}
for f in fns.values():
    for _ in range(200):
        f(*args, **kwargs)
torch.cuda.synchronize()
host = {k: [] for k in fns}
synced = {k: [] for k in fns}
pc = time.perf_counter
for _ in range(30):
    for name, f in fns.items():
        s = host[name]
        for _ in range(200):
            t = pc()
            f(*args, **kwargs)
            s.append(pc() - t)
        torch.cuda.synchronize()
        s = synced[name]
        for _ in range(50):
            t = pc()
            f(*args, **kwargs)
            torch.cuda.synchronize()
            s.append(pc() - t)


def noop(*a, **k):
    return None


g_noop = Guard(mode=GuardMode.WARN, cache_root=root)
g_noop.watcher = CacheWatcher(root)
wn = g_noop.wrap("noop", noop)
noop_t = {"raw": [], "wrapped": []}
for _ in range(30):
    for name, f in (("raw", noop), ("wrapped", wn)):
        for _ in range(1000):
            t = pc()
            f(*args, **kwargs)
            noop_t[name].append(pc() - t)


def us(xs):
    return round(statistics.median(xs) * 1e6, 2)


out = {
    "gpu": torch.cuda.get_device_name(0),
    "deep_gemm": deep_gemm.__version__,
    "torch": torch.__version__,
    "call": "fp8_gemm_nt M=128 N=2112 K=7168 (cached kernel)",
    "first_call_compile_s": round(first, 2),
    "samples_per_variant": len(host["raw"]),
    "host_median_us": {k: us(v) for k, v in host.items()},
    "synced_median_us": {k: us(v) for k, v in synced.items()},
    "guard_overhead_host_us": round(us(host["guard_warn"]) - us(host["raw"]), 2),
    "guard_record_overhead_host_us": round(us(host["guard_warn_record"]) - us(host["raw"]), 2),
    "noop_median_us": {k: us(v) for k, v in noop_t.items()},
    "events": len(g_warn.events) + len(g_rec.events),
    "recorded_signatures": g_rec.recorder.num_signatures,
}
print(json.dumps(out, indent=1))
if os.environ.get("OUT"):
    Path(os.environ["OUT"], "guard-overhead.json").write_text(json.dumps(out, indent=1))
