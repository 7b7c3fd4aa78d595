"""Fake site folders holding a DeepGEMM build as each engine ships it, for detection tests.

Each package's ``__init__.py`` raises when executed: detection must read files only.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

_EXPLODE = "raise RuntimeError('{name} was imported')\n"
SRC = Path(__file__).resolve().parents[1] / "src"


def _package(folder: Path, name: str, body: str = "") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "__init__.py").write_text(body + _EXPLODE.format(name=name))
    return folder


def dist_info(site: Path, name: str, version: str, top_level: str) -> None:
    info = site / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True, exist_ok=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    (info / "top_level.txt").write_text(top_level + "\n")


def vllm_site(site: Path, *, deepgemm_version: str = "2.8.1", vllm: str = "0.33.0") -> Path:
    """vLLM with its vendored DeepGEMM, as /tmp/whl/281 holds it (``__version__`` literal)."""
    _package(site / "vllm", "vllm")
    _package(site / "vllm" / "third_party", "vllm.third_party")
    pkg = _package(
        site / "vllm" / "third_party" / "deep_gemm",
        "vllm.third_party.deep_gemm",
        f"__version__ = '{deepgemm_version}'\n",
    )
    dist_info(site, "vllm", vllm, "vllm")
    return pkg


def deepgemm_site(
    site: Path, distribution: str, version: str, *, version_file: bool = False
) -> Path:
    """An installed ``deep_gemm`` of ``distribution``: tokenspeed-deepgemm carries a
    ``__version__`` literal, sgl-deep-gemm a ``VERSION`` file read at import."""
    if version_file:
        pkg = _package(site / "deep_gemm", "deep_gemm", "__version__ = _read_version()\n")
        (pkg / "VERSION").write_text(version)
    else:
        pkg = _package(site / "deep_gemm", "deep_gemm", f"__version__ = '{version}'\n")
    dist_info(site, distribution, version, "deep_gemm")
    return pkg


def run_detect(sites: list[Path], *args: str, env_extra: dict[str, str] | None = None) -> str:
    """``detect_build(*args)`` in a fresh interpreter whose path holds only ``sites`` (and
    jitwarm): prints its JSON plus whether deep_gemm, vllm or torch got imported."""
    code = (
        "import sys, json; from jitwarm.profiles import detect_build; "
        f"b = detect_build(*{list(args)!r}); "
        "print(json.dumps({**b.to_json(), 'describe': b.describe(), 'imported': "
        "[m for m in ('deep_gemm', 'vllm', 'torch') if m in sys.modules]}))"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JITWARM_", "DG_"))}
    env["PYTHONPATH"] = os.pathsep.join([*map(str, sites), str(SRC)])
    env.update(env_extra or {})
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    return done.stdout
