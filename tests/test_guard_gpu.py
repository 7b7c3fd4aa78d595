"""The guard with the real DeepGEMM on a GPU (run on the device machine): a real compile is
caught with its kernel and call site, a cached call is not, in a process started by
``jitwarm run`` whose code knows nothing of jitwarm."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from _gpu import require_gpu

pytestmark = pytest.mark.gpu


require_gpu()

SRC = Path(__file__).resolve().parents[1] / "src"

SERVER = textwrap.dedent("""
    import sys, time
    import torch, deep_gemm
    def gemm(m, n=4096, k=512):
        a = torch.empty((m, k), dtype=torch.float8_e4m3fn, device="cuda")
        sfa = torch.ones((k // 128, m + (-m % 4)), device="cuda").t()[:m]  # MN-major, aligned
        b = torch.empty((n, k), dtype=torch.float8_e4m3fn, device="cuda")
        sfb = torch.ones((n // 128, k // 128), device="cuda")
        d = torch.empty((m, n), dtype=torch.bfloat16, device="cuda")
        deep_gemm.fp8_gemm_nt((a, sfa), (b, sfb), d)
        torch.cuda.synchronize()
    gemm(int(sys.argv[1]))          # warmup: compiles
    open(sys.argv[3], "w").close()  # the server is ready
    gemm(int(sys.argv[1]) + 1)      # same kernel: cached
    gemm(int(sys.argv[2]))          # a new tile: compiled inline
""")


def test_jitwarm_run_catches_a_real_inline_compile(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "DG_JIT_CACHE_DIR": str(tmp_path / "cache"),
        "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")]),
    }
    summary, ready = tmp_path / "summary.json", tmp_path / "ready"
    cli = [sys.executable, "-c", "from jitwarm.cli import main; main()"]
    done = subprocess.run(
        [
            *cli,
            "run",
            "--guard",
            "error",
            "--ready",
            f"file:{ready}",
            "--summary",
            str(summary),
            "--",
            sys.executable,
            "-c",
            SERVER,
            "8",
            "4000",
            str(ready),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    s = json.loads(summary.read_text())
    folder = os.environ.get("JITWARM_GPU_REPORTS")
    if folder:
        Path(folder, "guard_real_compile.json").write_text(json.dumps(s, indent=1))
    assert done.returncode != 0 and "InlineJITError" in done.stderr  # error mode, uncaught
    assert (s["warmup_compiles"], s["inline_compiles"]) == (1, 1), s
    (inline,) = [e for e in s["events"] if e["phase"] == "inline"]
    assert inline["family"] == "fp8_gemm_nt" and inline["attributed"]
    assert inline["signature"]["args"][0][0]["shape"] == [4000, 512]
    assert inline["new_entries"][0].startswith("kernel.sm90_fp8_gemm_1d2d.")
    assert inline["wall_s"] > 0.5  # nvcc ran inside the call
    assert any("<string>" in frame for frame in inline["stack"])
