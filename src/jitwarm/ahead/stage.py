"""The stage: cubins compiled ahead of DeepGEMM, and the nvcc shim that hands them over.

warm's parent compiles every planned kernel it can render (``jitwarm.ahead.compiler``) while
the workers are still importing torch and making CUDA contexts. Workers run DeepGEMM with
``DG_JIT_NVCC_COMPILER`` pointing at this module run as a script. For each compile DeepGEMM
asks for, the shim keys the request by the source's bytes and every flag (not the temp paths):

- a staged cubin of that key: copied to DeepGEMM's output path; DeepGEMM then publishes, loads
  and runs it as if its own nvcc had just built it (no two nvcc runs give the same bytes
  anyway: each names internal symbols after its own process);
- a key still being compiled ahead: wait for it;
- anything else (a key never planned, a failed or abandoned ahead compile): the real nvcc.

So DeepGEMM stays the authority on cache keys, entry names, loading and launching; staging
only moves nvcc runs earlier. Standard library only: the shim runs under ``python -I -S``.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import sys
import time
from pathlib import Path

STAGE_VAR = "JITWARM_STAGE_DIR"
REAL_NVCC_VAR = "JITWARM_REAL_NVCC"
WAIT_VAR = "JITWARM_STAGE_WAIT_S"
DEFAULT_WAIT_S = 1800.0
_POLL_S = 0.01


def compile_key(source: bytes, nvcc_args: list[str]) -> str | None:
    """Identity of one nvcc request: the source bytes and the arguments, with the source path
    and the ``-o`` target as placeholders (they are temp paths). None if not a -cubin compile."""
    try:
        out = nvcc_args.index("-o") + 1
    except ValueError:
        return None
    sources = [i for i, a in enumerate(nvcc_args) if a.endswith(".cu")]
    if len(sources) != 1 or out >= len(nvcc_args) or "-cubin" not in nvcc_args:
        return None
    shape = list(nvcc_args)
    shape[sources[0]], shape[out] = "<source>", "<output>"
    digest = hashlib.sha256(source)
    digest.update(b"\0" + "\0".join(shape).encode())
    return digest.hexdigest()


def request_paths(nvcc_args: list[str]) -> tuple[Path, Path]:
    """(source, output) of an nvcc request ``compile_key`` accepted."""
    source = next(a for a in nvcc_args if a.endswith(".cu"))
    return Path(source), Path(nvcc_args[nvcc_args.index("-o") + 1])


class Stage:
    """A folder of ``<key>.planned`` (will be compiled ahead), ``<key>.cubin`` (done),
    ``<key>.failed`` (nvcc failed: the shim falls back) and ``<key>.used`` (handed over)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str, suffix: str) -> Path:
        return self.root / f"{key}.{suffix}"

    def plan(self, key: str) -> None:
        self._path(key, "planned").touch()

    def fail(self, key: str, reason: str) -> None:
        self._path(key, "failed").write_text(reason)

    def wait(self, key: str, *, timeout_s: float) -> Path | None:
        """The staged cubin once there, or None: never planned, failed, or not done in time."""
        cubin = self._path(key, "cubin")
        if cubin.exists():
            return cubin
        if not self._path(key, "planned").exists():
            return None
        deadline = time.monotonic() + timeout_s
        failed = self._path(key, "failed")
        while time.monotonic() < deadline:
            if cubin.exists():
                return cubin
            if failed.exists():
                return None
            time.sleep(_POLL_S)
        return None

    def hand_over(self, key: str, cubin: Path, output: Path) -> None:
        tmp = output.with_name(output.name + ".jitwarm.tmp")
        shutil.copyfile(cubin, tmp)
        os.replace(tmp, output)
        with contextlib.suppress(OSError):
            self._path(key, "used").touch()

    def count(self, suffix: str) -> int:
        return sum(1 for _ in self.root.glob(f"*.{suffix}"))


def _wait_s(env: dict[str, str] | os._Environ[str]) -> float:
    try:
        return float(env.get(WAIT_VAR) or DEFAULT_WAIT_S)
    except ValueError:
        return DEFAULT_WAIT_S


def shim_main(argv: list[str], env: dict[str, str] | os._Environ[str] = os.environ) -> int:
    real = env.get(REAL_NVCC_VAR)
    if not real:
        sys.stderr.write(f"jitwarm nvcc shim: {REAL_NVCC_VAR} is not set\n")
        return 2
    stage_dir = env.get(STAGE_VAR)
    key = None
    if stage_dir and "--version" not in argv and "-V" not in argv and compile_key(b"", argv):
        source, output = request_paths(argv)
        with contextlib.suppress(OSError):
            key = compile_key(source.read_bytes(), argv)
        if key is not None:
            stage = Stage(Path(stage_dir))
            cubin = stage.wait(key, timeout_s=_wait_s(env))
            if cubin is not None:
                try:
                    stage.hand_over(key, cubin, output)
                    return 0
                except OSError:
                    pass  # compile it here instead
    os.execv(real, [real, *argv])
    return 127  # not reached


if __name__ == "__main__":
    sys.exit(shim_main(sys.argv[1:]))
