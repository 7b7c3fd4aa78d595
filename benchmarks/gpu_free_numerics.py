"""One call per GEMM family of a plan, on a cache built elsewhere, checked against torch: the
kernels a GPU-free build made compute the right product, and running them compiles nothing.

    DG_JIT_CACHE_DIR=ROOT python benchmarks/gpu_free_numerics.py --model deepseek-v3 --tp 8 \
        --out numerics.json

For each family of the plan, the entry with the largest N*K is called at the largest M of its
planned set (a kernel the plan owns), with random FP8 data; the result is compared with the
dequantized product in float32 (DeepGEMM's own test metric, 1 - cosine-like similarity). The
cache's committed entries are listed before and after: a compile would add one.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import torch

from jitwarm.deepgemm.calls import build_call, deepgemm_module
from jitwarm.models.loader import load_model
from jitwarm.plan import plan_serving
from jitwarm.plan.schema import Family, PlanEntry
from jitwarm.serving import ServingConfig

CHECKED = (Family.FP8_GEMM_NT, Family.M_GROUPED_CONTIGUOUS, Family.M_GROUPED_MASKED)


def _diff(x: torch.Tensor, y: torch.Tensor) -> float:
    x, y = x.double(), y.double()
    return float(1 - 2 * (x * y).sum() / (x * x + y * y).sum())


def _deq_a(a: torch.Tensor, sfa: torch.Tensor) -> torch.Tensor:
    return a.float() * sfa.float().repeat_interleave(128, dim=-1)[..., : a.shape[-1]]


def _deq_b(b: torch.Tensor, sfb: torch.Tensor) -> torch.Tensor:
    s = sfb.float().repeat_interleave(128, dim=-2).repeat_interleave(128, dim=-1)
    return b.float() * s[..., : b.shape[-2], : b.shape[-1]]


def _reference(entry: PlanEntry, args: tuple) -> tuple[torch.Tensor, torch.Tensor]:
    """(DeepGEMM's output, the float reference), compared over the rows it wrote."""
    if entry.family is Family.FP8_GEMM_NT:
        (a, sfa), (b, sfb), d = args[:3]
        return d, _deq_a(a, sfa) @ _deq_b(b, sfb).T
    if entry.family is Family.M_GROUPED_CONTIGUOUS:
        (a, sfa), (b, sfb), d, layout = args[:4]
        ref = torch.zeros_like(d, dtype=torch.float32)
        got = torch.zeros_like(d, dtype=torch.float32)
        for g in range(b.shape[0]):
            rows = layout == g
            ref[rows] = _deq_a(a[rows], sfa[rows]) @ _deq_b(b[g], sfb[g]).T
            got[rows] = d[rows].float()
        return got, ref
    (a, sfa), (b, sfb), d, _, m = args[:5]
    got = torch.cat([d[g, :m].float() for g in range(b.shape[0])])
    ref = torch.cat(
        [_deq_a(a[g, :m], sfa[g, :m]) @ _deq_b(b[g], sfb[g]).T for g in range(b.shape[0])]
    )
    return got, ref


def _committed(root: Path) -> list[str]:
    cache = root / "cache"
    return sorted(p.name for p in cache.iterdir() if (p / ".committed").exists())


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="deepseek-v3")
    ap.add_argument("--tp", type=int, default=8)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    root = Path(os.environ["DG_JIT_CACHE_DIR"])
    plan = plan_serving(load_model(args.model), ServingConfig(tp=args.tp))
    before = _committed(root)
    rows = []
    for family in CHECKED:
        entries = [e for e in plan.entries if e.family is family]
        if not entries:
            continue
        entry = max(entries, key=lambda e: e.n * e.k)
        m = entry.mset.max
        call = build_call(entry, m, init="random")
        call()
        torch.cuda.synchronize()
        got, ref = _reference(entry, call.args)
        diff = _diff(got, ref)
        rows.append(
            {
                "family": family.value,
                "n": entry.n,
                "k": entry.k,
                "groups": entry.num_groups,
                "m": m,
                "diff": diff,
                "ok": diff < 1e-3,
            }
        )
        print(f"{family.value:36} n={entry.n} k={entry.k} m={m}: diff {diff:.2e}", flush=True)
    after = _committed(root)
    doc = {
        "module": deepgemm_module().__name__,
        "gpu": torch.cuda.get_device_name(),
        "calls": rows,
        "entries_before": len(before),
        "entries_after": len(after),
        "compiled": sorted(set(after) - set(before)),
        "ok": bool(rows) and all(r["ok"] for r in rows) and before == after,
    }
    args.out.write_text(json.dumps(doc, indent=1))
    print(f"ok={doc['ok']} entries {len(before)} -> {len(after)}")
    return 0 if doc["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
