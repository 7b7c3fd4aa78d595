"""Build jobs made from DeepGEMM's own cache entries (tests/data/deepgemm-2.8-h200): the source,
flags and entry name DeepGEMM 2.8.x produced on the H200, so the builder's output can be
compared with what DeepGEMM wrote, independently of jitwarm's renderer."""

from __future__ import annotations

import json
import re
import shutil
from functools import lru_cache
from pathlib import Path

import pytest

from _data import DEEPJIT_ENTRIES
from jitwarm.build import BuildJob


@lru_cache(maxsize=2)
def ground_truth(version: str = "2.8.0") -> dict:
    return json.loads(DEEPJIT_ENTRIES[version].read_text())


def gt_entry(prefix: str, version: str = "2.8.0") -> dict:
    return next(e for e in ground_truth(version)["entries"] if e["entry"].startswith(prefix))


def gt_flags(meta: dict) -> tuple[str, ...]:
    """The flags of DeepGEMM's command: between ``--output-file X`` and ``--include-path``."""
    argv = meta["command"].split(" ")
    start = argv.index("--output-file") + 2
    return tuple(argv[start : argv.index("--include-path")])


def meta_like_deepgemm(meta: dict, package_dir: Path, nvcc: Path):
    """meta.json for a work folder: DeepGEMM's own, with its folders replaced by ours."""

    def render(work: Path) -> str:
        text = json.dumps(meta)
        text = re.sub(r"<cache_root>/tmp/[0-9a-f-]+", str(work), text)
        text = text.replace("<deep_gemm>", str(package_dir))
        text = text.replace(meta["compiler_info"]["path"], str(nvcc))
        return text

    return render


def gt_job(
    prefix: str, package_dir: Path, nvcc: Path, *, version: str = "2.8.0", est_s: float = 1.0
) -> BuildJob:
    e = gt_entry(prefix, version)
    return BuildJob(
        entry_name=e["entry"],
        source=e["kernel_cu"],
        flags=gt_flags(e["meta"]),
        est_s=est_s,
        label=e["entry"],
        family=e["entry"].partition(".")[0],
        meta_json=meta_like_deepgemm(e["meta"], package_dir, nvcc),
    )


def real_nvcc() -> Path:
    nvcc = shutil.which("nvcc")
    if nvcc is None:
        pytest.skip("nvcc not installed")
    return Path(nvcc)
