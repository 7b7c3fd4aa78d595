"""The nvcc a build compiles with: its exact ``--version`` text (DeepJIT hashes all of it,
final newline included, into every key) and whether it can target the plan's arch."""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from jitwarm import dgenv
from jitwarm.errors import NvccError

# DeepJIT refuses older nvcc (backend/cuda/backend.hpp in tokenspeed-deepjit 0.1.0).
MIN_RELEASE = (12, 9)


@dataclass(frozen=True)
class Nvcc:
    path: Path
    version_text: str  # exact stdout of `nvcc --version`
    release: tuple[int, int]

    @property
    def release_text(self) -> str:
        return f"{self.release[0]}.{self.release[1]}"


def nvcc_arch(arch: str) -> str:
    """The arch-specific target of ``arch`` (``sm90`` -> ``sm_90a``): the code nvcc must list.
    What a build's DeepJIT passes (``sm_100f`` on sm100) is its profile's ``arch_names``."""
    match = re.fullmatch(r"sm_?(\d+)a?", arch)
    if match is None:
        raise NvccError(f"arch {arch!r}: expected sm90 or sm100")
    return f"sm_{match.group(1)}a"


def probe_nvcc(path: str | os.PathLike[str] | None = None, *, arch: str = "sm90") -> Nvcc:
    """The nvcc at ``path`` (default: the one DeepGEMM would find), checked for ``arch``."""
    found = Path(path) if path else dgenv.find_nvcc()
    fix = "install the CUDA toolkit (12.9 or later) or pass --nvcc PATH"
    if found is None:
        raise NvccError(f"no nvcc found (CUDA_HOME, PATH, /usr/local/cuda); {fix}")
    version = _run(found, "--version", fix)
    match = re.search(r"release (\d+)\.(\d+)", version)
    if match is None:
        raise NvccError(f"{found}: `--version` does not name a release; {fix}", nvcc=found)
    release = (int(match.group(1)), int(match.group(2)))
    if release < MIN_RELEASE:
        raise NvccError(
            f"{found} is CUDA {release[0]}.{release[1]}; DeepJIT builds need 12.9 or later: {fix}",
            nvcc=found,
        )
    target = nvcc_arch(arch)
    codes = _run(found, "--list-gpu-code", fix).split()
    if target.removesuffix("a") not in codes:
        raise NvccError(
            f"{found} (CUDA {release[0]}.{release[1]}) cannot target {target} (it lists "
            f"{', '.join(codes) or 'nothing'}); install a CUDA toolkit that supports it"
        )
    return Nvcc(found, version, release)


def _run(nvcc: Path, flag: str, fix: str) -> str:
    try:
        done = subprocess.run(
            [str(nvcc), flag], capture_output=True, text=True, timeout=60, check=False
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise NvccError(f"{nvcc} {flag} could not run ({exc}); {fix}", nvcc=nvcc) from None
    if done.returncode != 0 or not done.stdout:
        raise NvccError(f"{nvcc} {flag} failed (exit {done.returncode}); {fix}", nvcc=nvcc)
    return done.stdout
