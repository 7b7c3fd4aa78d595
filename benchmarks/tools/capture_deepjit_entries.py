"""Capture a DeepJIT cache's committed entries as ground truth (the format of
tests/data/deepgemm-2.8-h200/): each entry's folder name, kernel.cu and meta.json, with the
install folder and cache root replaced by placeholders (neither is part of the key).

    python benchmarks/tools/capture_deepjit_entries.py ROOT --label "deepseek-v3 --tp 8" \
        --deepgemm "tokenspeed-deepgemm 2.8.0.post20260924" --library-root DIR [--into FILE]

With ``--into`` an existing capture file is extended (entries already there are kept, new ones
appended with ``first_planned_by`` set to the label, and ``plans[label]`` lists every entry the plan
made).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from datetime import date
from pathlib import Path


def _entries(root: Path, library_root: str, label: str) -> list[dict]:
    out = []
    cache = root / "cache"
    for folder in sorted(cache.iterdir()) if cache.is_dir() else []:
        if not (folder / ".committed").exists():
            continue
        meta_text = (folder / "meta.json").read_text()
        meta_text = meta_text.replace(library_root.rstrip("/"), "<deep_gemm>")
        meta_text = meta_text.replace(str(root).rstrip("/"), "<cache_root>")
        out.append(
            {
                "entry": folder.name,
                "kernel_cu": (folder / "kernel.cu").read_text(),
                "meta": json.loads(meta_text),
                "first_planned_by": label,
            }
        )
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("root", type=Path)
    ap.add_argument("--label", required=True)
    ap.add_argument("--deepgemm", required=True)
    ap.add_argument("--library-root", required=True)
    ap.add_argument("--gpu", default="")
    ap.add_argument("--into", type=Path)
    args = ap.parse_args()
    if args.into and args.into.exists():
        doc = json.loads(args.into.read_text())
    else:
        nvcc = subprocess.run(["nvcc", "--version"], capture_output=True, text=True).stdout
        doc = {
            "deepgemm": args.deepgemm,
            "gpu": args.gpu,
            "nvcc_version_text": nvcc,
            "captured": date.today().isoformat(),
            "how": "jitwarm warm of each plan into an empty DG_JIT_CACHE_DIR; every committed "
            "entry's kernel.cu and meta.json as DeepGEMM wrote them",
            "entries": [],
        }
    seen = {e["entry"] for e in doc["entries"]}
    found = _entries(args.root, args.library_root, args.label)
    new = [e for e in found if e["entry"] not in seen]
    doc["entries"].extend(new)
    # The whole set each plan made (entries shared with an earlier plan keep its label).
    doc.setdefault("plans", {})[args.label] = sorted(e["entry"] for e in found)
    text = json.dumps(doc, indent=1)
    if args.into:
        args.into.write_text(text)
    else:
        sys.stdout.write(text)
    print(f"{args.label}: {len(new)} new entries", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
