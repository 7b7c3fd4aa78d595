"""The nvcc interposer: the one script DeepGEMM runs as its nvcc (``DG_JIT_NVCC_COMPILER``)
whenever jitwarm stands between it and the real compiler, in one of three modes named by
``JITWARM_NVCC_MODE``:

- ``capture``: record the source DeepGEMM asks for (to ``$JITWARM_CAPTURE_FILE``, its arguments
  beside it) and exit ``CAPTURE_EXIT_CODE`` with nothing compiled, so the call raises and
  nothing is published (warm's exact mode, verify);
- ``hand_over``: a cubin staged ahead (``jitwarm.ahead``) for this source and these flags is
  copied to DeepGEMM's output path; one still being compiled ahead is waited for; anything else
  (never planned, failed, abandoned, not done in time) goes to the real nvcc;
- ``pass_through``: the real nvcc (``$JITWARM_REAL_NVCC``), untouched.

In every mode ``--version`` is the real nvcc's own answer: DeepGEMM puts that text in every
cache key. A handed-over cubin is fine to load: DeepGEMM publishes, loads and runs it as if its
own nvcc had just built it (no two nvcc runs give the same bytes anyway: each names internal
symbols after its own process), and stays the authority on keys, names, loading and launching.

Standard library only, and only ``os`` and ``sys`` before the mode is known: the script runs
under ``python -I -S`` once per compile request (capture costs a Python start, no more).
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False  # typing and pathlib cost more than the rest of a capture run
if TYPE_CHECKING:
    from pathlib import Path

MODE_VAR = "JITWARM_NVCC_MODE"
REAL_NVCC_VAR = "JITWARM_REAL_NVCC"
CAPTURE_FILE_VAR = "JITWARM_CAPTURE_FILE"
STAGE_VAR = "JITWARM_STAGE_DIR"
WAIT_VAR = "JITWARM_STAGE_WAIT_S"
DEFAULT_WAIT_S = 1800.0
CAPTURE_EXIT_CODE = 86
USAGE_EXIT_CODE = 2
_POLL_S = 0.01


class Mode:
    """The values of ``JITWARM_NVCC_MODE`` (plain strings: no enum import at each start)."""

    CAPTURE = "capture"
    HAND_OVER = "hand_over"
    PASS_THROUGH = "pass_through"
    ALL = (CAPTURE, HAND_OVER, PASS_THROUGH)


def compile_key(source: bytes, nvcc_args: list[str]) -> str | None:
    """Identity of one nvcc request: the source bytes and the arguments, with the source path
    and the ``-o`` target as placeholders (they are temp paths). None if not a -cubin compile."""
    import hashlib

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
    from pathlib import Path

    source = next(a for a in nvcc_args if a.endswith(".cu"))
    return Path(source), Path(nvcc_args[nvcc_args.index("-o") + 1])


class Stage:
    """A folder of ``<key>.planned`` (will be compiled ahead), ``<key>.cubin`` (done),
    ``<key>.failed`` (nvcc failed: hand-over falls back) and ``<key>.used`` (handed over)."""

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
        import time

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
        import contextlib
        import shutil

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


def _capture(argv: list[str], env: dict[str, str] | os._Environ[str]) -> int:
    sources = [a for a in argv if a.endswith(".cu")]
    source = sources[-1] if sources else ""
    target = env.get(CAPTURE_FILE_VAR)
    if source and target:
        try:
            # The arguments first: once the source is in place the call's capture is complete.
            with open(target + ".args", "w") as fh:
                fh.write("".join(f"{a}\n" for a in argv))
            with open(source, "rb") as src, open(target + ".tmp", "wb") as dst:
                dst.write(src.read())
            os.replace(target + ".tmp", target)
        except OSError as exc:
            sys.stderr.write(f"jitwarm capture: cannot record {source}: {exc}\n")
    sys.stderr.write(f"jitwarm capture: not compiling {source}\n")
    return CAPTURE_EXIT_CODE


def _hand_over(argv: list[str], env: dict[str, str] | os._Environ[str]) -> bool:
    """Whether a staged cubin was handed over for this request."""
    stage_dir = env.get(STAGE_VAR)
    if not stage_dir or compile_key(b"", argv) is None:
        return False
    source, output = request_paths(argv)
    try:
        key = compile_key(source.read_bytes(), argv)
    except OSError:
        return False
    assert key is not None
    from pathlib import Path

    stage = Stage(Path(stage_dir))
    cubin = stage.wait(key, timeout_s=_wait_s(env))
    if cubin is None:
        return False
    try:
        stage.hand_over(key, cubin, output)
    except OSError:
        return False  # compile it here instead
    return True


def main(argv: list[str], env: dict[str, str] | os._Environ[str] = os.environ) -> int:
    mode = env.get(MODE_VAR, "")
    if mode not in Mode.ALL:
        sys.stderr.write(
            f"jitwarm nvcc interposer: {MODE_VAR}={mode!r} is not one of {', '.join(Mode.ALL)}\n"
        )
        return USAGE_EXIT_CODE
    real = env.get(REAL_NVCC_VAR)
    if not real:
        sys.stderr.write(f"jitwarm nvcc interposer: {REAL_NVCC_VAR} is not set\n")
        return USAGE_EXIT_CODE
    asks_version = "--version" in argv or "-V" in argv
    if not asks_version:
        if mode == Mode.CAPTURE:
            return _capture(argv, env)
        if mode == Mode.HAND_OVER and _hand_over(argv, env):
            return 0
    os.execv(real, [real, *argv])
    return 127  # not reached


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
