"""Call DeepGEMM's prefill indexer the way the engines do, each case into an empty cache, and
capture what DeepGEMM wrote (benchmarks/tools/capture_deepjit_entries.py's format): ground truth
for the indexer call convention each build's profile plans, independent of jitwarm's own call
builders (the arguments below are the engines' literal ones, not jitwarm's).

    PYTHONPATH=/tmp/dg2.8.0 python3 benchmarks/device/engine_indexer_calls.py \
        --deepgemm "tokenspeed-deepgemm 2.8.0.post20260924" --into OUT/engine-calls-2.8.0.json

Cases (heads 64, head_dim 128: the DSA indexer of DeepSeek-V3.2 and V4-Flash; engine files as
read in the pinned releases on PyPI):
- ``tokenspeed-0.1.1``: tokenspeed-kernel 0.1.4 ``ops/attention/dsa/deep_gemm.py``:
  ``fp8_mqa_logits(q, kv, weights, starts, ends, clean_logits=False,
  max_seqlen_k=max(tile_max_seqlen_k, 1))``;
- ``sglang-0.5.23``: ``srt/layers/attention/dsa/dsa_indexer.py``:
  ``fp8_mqa_logits(q, kv, weights, ks, ke, clean_logits=False)`` (max_seqlen_k left at 0);
- ``deepgemm-default``: the API's defaults (clean_logits=True, max_seqlen_k=0), what jitwarm
  planned before its profiles recorded the engines' convention.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HEADS, HEAD_DIM = 64, 128
TOKENS, SEQ_KV = 256, 1024

# case -> (clean_logits, compressed: max_seqlen_k = the longest row, else left at 0); None: the
# API's default.
CASES: dict[str, tuple[bool | None, bool]] = {
    "tokenspeed-0.1.1": (False, True),
    "sglang-0.5.23": (False, False),
    "deepgemm-default": (None, False),
}

_CALL = """
import torch, deep_gemm
clean, compressed = {clean!r}, {compressed!r}
t, s, h, d = {tokens}, {seq_kv}, {heads}, {head_dim}
q = torch.randn(t, h, d, device="cuda").to(torch.float8_e4m3fn)
kv = (torch.randn(s, d, device="cuda").to(torch.float8_e4m3fn),
      torch.ones(s, device="cuda", dtype=torch.float32))
w = torch.randn(t, h, device="cuda", dtype=torch.float32)
ks = torch.zeros(t, dtype=torch.int32, device="cuda")
ke = torch.arange(1, t + 1, dtype=torch.int32, device="cuda") * (s // t)
kwargs = {{}}
if clean is not None:
    kwargs["clean_logits"] = clean
if compressed:
    kwargs["max_seqlen_k"] = max(int((ke - ks).max()), 1)
out = deep_gemm.fp8_mqa_logits(q, kv, w, ks, ke, **kwargs)
torch.cuda.synchronize()
print({case!r}, kwargs, tuple(out.shape), out.dtype, flush=True)
"""


def _call(case: str, root: Path) -> None:
    """One case in a fresh process: DeepGEMM reads its cache root when it is imported."""
    clean, compressed = CASES[case]
    code = _CALL.format(
        clean=clean,
        compressed=compressed,
        tokens=TOKENS,
        seq_kv=SEQ_KV,
        heads=HEADS,
        head_dim=HEAD_DIM,
        case=case,
    )
    env = {**os.environ, "DG_JIT_CACHE_DIR": str(root)}
    subprocess.run([sys.executable, "-c", code], env=env, check=True, timeout=300)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--deepgemm", required=True, help="the build, as the capture names it")
    ap.add_argument("--into", type=Path, required=True)
    ap.add_argument("--cases", default=",".join(CASES))
    args = ap.parse_args()
    # Where the build lives (the capture's placeholder), found without importing it here.
    spec = importlib.util.find_spec("deep_gemm")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("no deep_gemm on the path")
    library_root = str(next(iter(spec.submodule_search_locations)))
    tool = Path(__file__).resolve().parents[1] / "tools/capture_deepjit_entries.py"
    for case in args.cases.split(","):
        with tempfile.TemporaryDirectory(prefix="jitwarm-engine-call-") as tmp:
            root = Path(tmp)
            _call(case, root)
            cmd = [sys.executable, str(tool), str(root), "--label", case]
            cmd += ["--deepgemm", args.deepgemm, "--library-root", library_root]
            cmd += ["--gpu", "NVIDIA H200 (132 SMs)", "--into", str(args.into)]
            subprocess.run(cmd, check=True)
    doc = json.loads(args.into.read_text())
    doc["how"] = (
        "benchmarks/device/engine_indexer_calls.py: DeepGEMM's fp8_mqa_logits called with each "
        "engine's own arguments (plans[case]), each case into an empty DG_JIT_CACHE_DIR"
    )
    args.into.write_text(json.dumps(doc, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
