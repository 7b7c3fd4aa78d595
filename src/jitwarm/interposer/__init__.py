"""jitwarm's nvcc interposer: one script DeepGEMM runs as its nvcc, in an explicit mode
(``_script``: capture, hand over, pass through), the wrapper that names it
(``write_interposer``), and the reading of what capture recorded (``_capture``).

Standard library only: warm's ahead compiler and DeepGEMM's worker session both use it.
"""

from __future__ import annotations

import shlex
import stat
import sys
from pathlib import Path

from jitwarm.interposer import _script
from jitwarm.interposer._capture import Captured, SourceCapture
from jitwarm.interposer._script import (
    CAPTURE_EXIT_CODE,
    CAPTURE_FILE_VAR,
    MODE_VAR,
    REAL_NVCC_VAR,
    STAGE_VAR,
    WAIT_VAR,
    Mode,
    Stage,
    compile_key,
)

__all__ = [
    "CAPTURE_EXIT_CODE",
    "CAPTURE_FILE_VAR",
    "MODE_VAR",
    "REAL_NVCC_VAR",
    "STAGE_VAR",
    "WAIT_VAR",
    "Captured",
    "Mode",
    "SourceCapture",
    "Stage",
    "compile_key",
    "write_interposer",
]


def write_interposer(directory: Path, mode: str, *, real_nvcc: Path | None = None) -> Path:
    """Write ``directory/nvcc``, the interposer in ``mode`` (a ``Mode`` value); returns its
    path, for ``DG_JIT_NVCC_COMPILER``. ``real_nvcc``: fixed in the wrapper; without it the
    interposer reads ``JITWARM_REAL_NVCC`` from its environment (the stage sets it per warm)."""
    if mode not in Mode.ALL:
        raise ValueError(f"unknown nvcc interposer mode {mode!r}")
    directory.mkdir(parents=True, exist_ok=True)
    lines = [
        "#!/bin/sh",
        f"# jitwarm's nvcc interposer, mode {mode} (see jitwarm.interposer._script)",
        f"export {MODE_VAR}={mode}",
    ]
    if real_nvcc is not None:
        lines.append(f"export {REAL_NVCC_VAR}={shlex.quote(str(real_nvcc))}")
    python, path = shlex.quote(sys.executable), shlex.quote(str(_script.__file__))
    lines.append(f'exec {python} -I -S {path} "$@"')
    wrapper = directory / "nvcc"
    wrapper.write_text("\n".join(lines) + "\n")
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return wrapper
