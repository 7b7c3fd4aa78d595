"""A GPU-free build imports neither torch nor deep_gemm (nor Ray unless asked), and needs no
CUDA driver: rendering and keying the whole DeepSeek-V3 TP8 plan for 2.8.0 in a fresh
interpreter leaves them unloaded."""

from __future__ import annotations

import subprocess
import sys

from _wheels import unpacked_wheel

_SCRIPT = """
import sys
from pathlib import Path
from jitwarm.build import Nvcc, prepare_build, resolve_target
from jitwarm.cli import _build_cmd as build_cmd
from jitwarm.models._loader import load_model
from jitwarm.plan import plan_serving
from jitwarm.serving import ServingConfig
target = resolve_target(sys.argv[1])
nvcc = Nvcc(Path("/nonexistent/nvcc"), "Cuda compilation tools, release 13.0, V13.0.88\\n", (13, 0))
plan = plan_serving(load_model("deepseek-v3"), ServingConfig(tp=8))
prepared = prepare_build(plan, target, nvcc, cache_dir=sys.argv[2])
assert len(prepared.jobs) == 167, len(prepared.jobs)
loaded = [m for m in ("torch", "deep_gemm", "ray") if m in sys.modules]
print(",".join(loaded) or "none")
"""


def test_render_and_key_a_whole_plan_without_torch_deep_gemm_or_ray(tmp_path):
    folder = unpacked_wheel("2.8.0")
    done = subprocess.run(
        [sys.executable, "-c", _SCRIPT, str(folder), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "none"
