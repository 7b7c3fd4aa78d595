"""One call per family of a plan, on a cache built elsewhere, checked against torch: the
kernels a GPU-free build made compute the right result, and running them compiles nothing.

    DG_JIT_CACHE_DIR=ROOT python benchmarks/gpu_free_numerics.py --model deepseek-v3 --tp 8 \
        --out numerics.json

For each family of the plan, one planned entry is called at one M of its planned set (a kernel
the plan owns) with random data, and its output is compared with the same product computed in
float32 from the dequantized inputs, by DeepGEMM's own test metric (1 - 2<x,y>/(|x|^2+|y|^2));
pass below 1e-3. The MQA-logits families compare only the positions every build computes (the
causal window; for next_n > 1 the part of the context all draft rows see). The paged-metadata
family has no torch counterpart: it runs inside the paged-logits call, whose schedule it makes.
The cache's committed entries are listed before and after: a compile would add one.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path

import torch

from jitwarm.deepgemm._calls import build_call, deepgemm_module
from jitwarm.models._loader import load_model
from jitwarm.plan import plan_serving
from jitwarm.plan._schema import Family, PlanEntry
from jitwarm.serving import ServingConfig

FP8 = torch.float8_e4m3fn
LOGITS_ROWS = 1024  # MQA logits: rows (and keys) of the checked call; the kernel is M-invariant


def _diff(x: torch.Tensor, y: torch.Tensor) -> float:
    x, y = x.double(), y.double()
    return float(1 - 2 * (x * y).sum() / (x * x + y * y).sum())


def _expand(sf: torch.Tensor, rows: int, cols: int) -> torch.Tensor:
    """Block scales (..., r, c) spread over (..., rows, cols)."""
    f_r, f_c = -(-rows // sf.shape[-2]), -(-cols // sf.shape[-1])
    s = sf.float().repeat_interleave(f_r, dim=-2).repeat_interleave(f_c, dim=-1)
    return s[..., :rows, :cols]


def _deq_a(a: torch.Tensor, sfa: torch.Tensor) -> torch.Tensor:
    """Per-row, per-128-K scales."""
    return a.float() * sfa.float().repeat_interleave(128, dim=-1)[..., : a.shape[-1]]


def _deq_b(b: torch.Tensor, sfb: torch.Tensor) -> torch.Tensor:
    return b.float() * _expand(sfb, b.shape[-2], b.shape[-1])


def _gemm(args: tuple, _out: object) -> tuple[torch.Tensor, torch.Tensor]:
    (a, sfa), (b, sfb), d = args[:3]
    return d, _deq_a(a, sfa) @ _deq_b(b, sfb).T


def _contiguous(args: tuple, _out: object) -> tuple[torch.Tensor, torch.Tensor]:
    (a, sfa), (b, sfb), d, layout = args[:4]
    ref = torch.zeros_like(d, dtype=torch.float32)
    got = torch.zeros_like(d, dtype=torch.float32)
    for g in range(b.shape[0]):
        rows = layout == g
        ref[rows] = _deq_a(a[rows], sfa[rows]) @ _deq_b(b[g], sfb[g]).T
        got[rows] = d[rows].float()
    return got, ref


def _masked(args: tuple, _out: object) -> tuple[torch.Tensor, torch.Tensor]:
    (a, sfa), (b, sfb), d, _, m = args[:5]
    got = torch.cat([d[g, :m].float() for g in range(b.shape[0])])
    ref = torch.cat(
        [_deq_a(a[g, :m], sfa[g, :m]) @ _deq_b(b[g], sfb[g]).T for g in range(b.shape[0])]
    )
    return got, ref


def _einsum(args: tuple, _out: object) -> tuple[torch.Tensor, torch.Tensor]:
    """``bhr,hdr->bhd`` with A's scales per (row, head, 128 of r)."""
    _, (a, sfa), (b, sfb), d = args[:4]
    return d.float(), torch.einsum("bhr,hdr->bhd", _deq_a(a, sfa), _deq_b(b, sfb))


def _hc_prenorm(args: tuple, _out: object) -> tuple[torch.Tensor, torch.Tensor]:
    """D = A B^T and the row sums of A^2, each split over K (the splits add up)."""
    a, b, d, sqr = args[:4]
    af = a.float()
    got_d, got_s = (d.sum(0), sqr.sum(0)) if d.dim() == 3 else (d, sqr)
    got = torch.cat([got_d.flatten(), got_s.flatten()])
    return got, torch.cat([(af @ b.T).flatten(), (af * af).sum(-1).flatten()])


def _q(q: object) -> torch.Tensor:
    return (q[0] if isinstance(q, tuple) else q).float()  # (fp8 q, no scales) on 2.8.x


def _mqa_logits(args: tuple, out: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """logits[i, j] = sum_h w[i, h] relu(q[i, h] . k[j] s[j]) for ks[i] <= j < ke[i]."""
    q, (kv, sk), w, ks, ke = args[:5]
    k = kv.float() * sk.float()[:, None]
    ref = (torch.einsum("mhd,nd->mhn", _q(q), k).relu() * w[:, :, None]).sum(1)
    j = torch.arange(k.shape[0], device=k.device)
    mask = (j[None, :] >= ks[:, None]) & (j[None, :] < ke[:, None])
    return out[:, : k.shape[0]][mask], ref[mask]


def _paged_logits(args: tuple, out: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per sequence, the keys of its blocks (FP8 values then one float scale per token, as
    DeepGEMM's tests lay a block out), over the context every draft row sees."""
    q, kv, w, _ctx_lens, table, _schedule, context = args[:7]
    qf = _q(q)
    m, next_n, heads, dim = qf.shape
    blocks, block_kv = kv.shape[0], kv.shape[1]
    flat = kv.view(blocks, -1)
    vals = flat[:, : block_kv * dim].contiguous().view(FP8).float().view(blocks, block_kv, dim)
    sf = flat[:, block_kv * dim :].contiguous().view(torch.float32).view(blocks, block_kv)
    keys = (vals * sf[..., None])[table.long()].reshape(m, -1, dim)[:, :context]
    score = torch.einsum("mthd,mjd->mthj", qf, keys).relu()
    ref = (score * w.view(m, next_n, heads)[..., None]).sum(2)
    seen = context - next_n + 1
    return out.view(m, next_n, -1)[:, :, :seen], ref[:, :, :seen]


def _sane_paged_cache(args: tuple) -> None:
    """Random bytes make garbage scales: give every token a scale in [0.5, 1.5)."""
    q, kv = args[0], args[1]
    dim = (q[0] if isinstance(q, tuple) else q).shape[-1]
    blocks, block_kv = kv.shape[0], kv.shape[1]
    sf = torch.rand((blocks, block_kv), device=kv.device) + 0.5
    kv.view(blocks, -1)[:, block_kv * dim :] = sf.view(torch.uint8).view(blocks, -1)


REFERENCES: dict[Family, Callable[[tuple, object], tuple[torch.Tensor, torch.Tensor]]] = {
    Family.FP8_GEMM_NT: _gemm,
    Family.M_GROUPED_CONTIGUOUS: _contiguous,
    Family.M_GROUPED_MASKED: _masked,
    Family.FP8_EINSUM: _einsum,
    Family.TF32_HC_PRENORM: _hc_prenorm,
    Family.MQA_LOGITS: _mqa_logits,
    Family.PAGED_MQA_LOGITS: _paged_logits,
}


def _m_for(entry: PlanEntry) -> int:
    if entry.family is Family.MQA_LOGITS and LOGITS_ROWS in entry.mset:
        return LOGITS_ROWS
    return entry.mset.max


def _committed(root: Path) -> list[str]:
    cache = root / "cache"
    return sorted(p.name for p in cache.iterdir() if (p / ".committed").exists())


def _check(entry: PlanEntry) -> dict[str, object]:
    m = _m_for(entry)
    row: dict[str, object] = {"family": entry.family.value, "dims": dict(entry.dims), "m": m}
    try:
        call = build_call(entry, m, init="random")
        if entry.family is Family.PAGED_MQA_LOGITS:
            _sane_paged_cache(call.args)
        out = call()
        torch.cuda.synchronize()
        got, ref = REFERENCES[entry.family](call.args, out)
        row["diff"] = _diff(got.float(), ref.float())
        row["ok"] = bool(row["diff"] < 1e-3)
    except Exception as exc:  # recorded per family: one failure must not hide the others
        row.update(ok=False, error=f"{type(exc).__name__}: {exc}"[:400])
    print(f"{entry.family.value:36} m={m}: {row.get('diff', row.get('error'))}", flush=True)
    return row


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="deepseek-v3")
    ap.add_argument("--tp", type=int, default=8)
    ap.add_argument("--spec-draft-tokens", type=int, default=0)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    root = Path(os.environ["DG_JIT_CACHE_DIR"])
    serving = ServingConfig(tp=args.tp, spec_draft_tokens=args.spec_draft_tokens)
    plan = plan_serving(load_model(args.model), serving)
    before = _committed(root)
    rows, unchecked = [], []
    for family in sorted({e.family for e in plan.entries}, key=lambda f: f.value):
        entries = [e for e in plan.entries if e.family is family]
        if family not in REFERENCES:
            unchecked.append(family.value)
            continue
        rows.append(_check(max(entries, key=lambda e: (e.n or 0) * (e.k or 0))))
    after = _committed(root)
    doc = {
        "module": deepgemm_module().__name__,
        "gpu": torch.cuda.get_device_name(),
        "calls": rows,
        "not_compared": unchecked,
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
