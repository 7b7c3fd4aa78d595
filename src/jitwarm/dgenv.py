"""How DeepGEMM sees this environment, read in one place and typed, without importing it.

- The cache roots: ``--cache-dir``, else ``DG_JIT_CACHE_DIR``, else the layout's default
  (``~/.deep_gemm`` for 2.5.0-style builds, ``~/.dj`` for DeepJIT builds). DeepJIT reads
  ``W:R1:R2`` as one writable root then read-only roots; 2.5.0 takes the value as one path.
- The environment variables that change compiler flags, hence every cache key.
- The DeepGEMM install (distribution, version, path) and the nvcc DeepGEMM would run.

Warm, doctor, cache and bundle all read these through this module so they agree.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import re
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from jitwarm.errors import UsageError

CACHE_DIR_VAR = "DG_JIT_CACHE_DIR"
NVCC_VAR = "DG_JIT_NVCC_COMPILER"

# Variables that change nvcc flags or the compiler identity: every key changes with them.
KEY_CHANGING_VARS: tuple[str, ...] = (
    "DG_JIT_DEBUG",
    "DG_JIT_PTXAS_VERBOSE",
    "DG_JIT_PTXAS_CHECK",
    "DG_JIT_WITH_LINEINFO",
    "DG_JIT_CPP_STANDARD",
    NVCC_VAR,  # through the version of the compiler it names
)
_FLAG_VARS = KEY_CHANGING_VARS[:4]
DEFAULT_CPP_STANDARD = 20

# Variables that only print or dump; they never change a key.
PRINT_ONLY_VARS: tuple[str, ...] = (
    "DG_JIT_PRINT_COMPILER_COMMAND",
    "DG_PRINT_CONFIGS",
    "DG_JIT_PRINT_LOAD_TIME",
    "DG_JIT_DUMP_ASM",
    "DG_JIT_DUMP_PTX",
    "DG_JIT_DUMP_SASS",
)

# Distributions that ship the `deep_gemm` package, most specific first.
DEEPGEMM_DISTRIBUTIONS = ("tokenspeed-deepgemm", "sgl-deep-gemm", "deep-gemm", "deep_gemm")


class Layout(str, Enum):
    """On-disk layout of a DeepGEMM kernel cache."""

    UPSTREAM = "upstream"  # 2.5.0: cache/kernel.<name>.<hash>/{kernel.cu,kernel.cubin}
    DEEPJIT = "deepjit"  # DeepJIT: cache/<tag>.<key>/{kernel.cu,kernel.cubin,meta.json,.committed}


DEFAULT_ROOT_NAMES = {Layout.UPSTREAM: ".deep_gemm", Layout.DEEPJIT: ".dj"}


class EnvValueError(UsageError):
    """An environment variable DeepGEMM reads holds a value it cannot use."""

    def __init__(self, var: str, value: str, expected: str) -> None:
        super().__init__(f"{var}={value!r}: expected {expected}")
        self.var = var


@dataclass(frozen=True)
class CacheRoots:
    """The roots DeepGEMM reads: one writable root first, then read-only ones (DeepJIT)."""

    writable: Path
    read_only: tuple[Path, ...] = ()
    source: str = "default"  # "--cache-dir", "DG_JIT_CACHE_DIR" or "default"

    @property
    def all(self) -> tuple[Path, ...]:
        return (self.writable, *self.read_only)

    def describe(self) -> str:
        extra = f" +{len(self.read_only)} read-only" if self.read_only else ""
        return f"{self.writable}{extra} (from {self.source})"


@dataclass(frozen=True)
class DeepGEMMInstall:
    """Where `deep_gemm` would be imported from, found without importing it."""

    distribution: str | None
    version: str | None
    path: Path | None

    @property
    def layout(self) -> Layout | None:
        """The cache layout this build writes, where the distribution says so."""
        if self.distribution is None or self.version is None:
            return None
        if self.distribution == "sgl-deep-gemm":
            return Layout.DEEPJIT
        if self.distribution == "tokenspeed-deepgemm":
            return Layout.DEEPJIT if _version_tuple(self.version) >= (2, 8) else Layout.UPSTREAM
        return Layout.UPSTREAM


@dataclass(frozen=True)
class JitEnv:
    """The key-changing DeepGEMM settings of an environment, typed."""

    debug: bool = False
    ptxas_verbose: bool = False
    ptxas_check: bool = False
    with_lineinfo: bool = False
    cpp_standard: int = DEFAULT_CPP_STANDARD
    nvcc_compiler: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> JitEnv:
        env = os.environ if env is None else env
        flags = [_env_flag(env, var) for var in _FLAG_VARS]
        return cls(
            *flags,
            cpp_standard=_env_int(env, "DG_JIT_CPP_STANDARD", DEFAULT_CPP_STANDARD),
            nvcc_compiler=env.get(NVCC_VAR) or None,
        )

    def key_items(self) -> dict[str, str]:
        """Only the settings that differ from DeepGEMM's defaults, as ``VAR: value``.

        Two environments with equal ``key_items`` produce the same compiler flags. The nvcc
        override is named by path here; its version is compared separately (provenance).
        """
        out: dict[str, str] = {}
        for var, on in zip(
            _FLAG_VARS,
            (self.debug, self.ptxas_verbose, self.ptxas_check, self.with_lineinfo),
            strict=True,
        ):
            if on:
                out[var] = "1"
        if self.cpp_standard != DEFAULT_CPP_STANDARD:
            out["DG_JIT_CPP_STANDARD"] = str(self.cpp_standard)
        if self.nvcc_compiler:
            out[NVCC_VAR] = self.nvcc_compiler
        return out


def key_env(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The key-changing variables of ``env`` (default: this process) that are set."""
    return JitEnv.from_env(env).key_items()


def resolve_cache_roots(
    cache_dir: str | os.PathLike[str] | None = None,
    *,
    layout: Layout | None = None,
    env: Mapping[str, str] | None = None,
) -> CacheRoots:
    """The cache roots to use, from the flag, else ``DG_JIT_CACHE_DIR``, else the default.

    ``layout`` decides how a value with ``:`` is read (DeepJIT splits it, 2.5.0 does not) and
    which default root applies. ``None`` (auto): a value with ``:`` is one path if that path
    is an existing folder, else a list; the default root follows the installed DeepGEMM,
    else whichever default root exists (``~/.deep_gemm`` first).
    """
    env = os.environ if env is None else env
    if cache_dir is not None and str(cache_dir):
        return _split_roots(str(cache_dir), "--cache-dir", layout)
    value = env.get(CACHE_DIR_VAR, "")
    if value:
        return _split_roots(value, CACHE_DIR_VAR, layout)
    home = Path(env.get("HOME") or Path.home())
    if layout is None:
        layout = find_deepgemm().layout
    if layout is None:
        up, dj = (home / DEFAULT_ROOT_NAMES[lay] for lay in (Layout.UPSTREAM, Layout.DEEPJIT))
        layout = Layout.DEEPJIT if dj.is_dir() and not up.is_dir() else Layout.UPSTREAM
    return CacheRoots(home / DEFAULT_ROOT_NAMES[layout], (), "default")


def _split_roots(value: str, source: str, layout: Layout | None) -> CacheRoots:
    literal = Path(value).expanduser()
    if ":" not in value or layout is Layout.UPSTREAM or (layout is None and literal.is_dir()):
        return CacheRoots(literal, (), source)
    parts = value.split(":")
    if any(not p for p in parts):
        raise EnvValueError(source, value, "a path or W:R1:R2 paths with no empty part")
    first, *rest = (Path(p).expanduser() for p in parts)
    return CacheRoots(first, tuple(rest), source)


def find_deepgemm() -> DeepGEMMInstall:
    """The `deep_gemm` this interpreter would import: distribution, version and folder.

    Uses import metadata and ``find_spec`` only, so neither deep_gemm nor torch is imported.
    """
    path = deepgemm_dir()
    try:
        dists = importlib.metadata.packages_distributions().get("deep_gemm", [])
    except Exception:  # broken metadata of an unrelated package must not stop us
        dists = []
    names = list(dict.fromkeys([d for d in DEEPGEMM_DISTRIBUTIONS if d in dists] + dists))
    for name in names:
        try:
            return DeepGEMMInstall(name, importlib.metadata.version(name), path)
        except importlib.metadata.PackageNotFoundError:
            continue
    return DeepGEMMInstall(None, None, path)


def deepgemm_dir() -> Path | None:
    """The folder of the `deep_gemm` package this interpreter would import (``find_spec``
    only: nothing is imported, and no package metadata is read)."""
    try:
        spec = importlib.util.find_spec("deep_gemm")
    except (ImportError, ValueError):
        return None
    if spec is None:
        return None
    if spec.submodule_search_locations:
        return Path(next(iter(spec.submodule_search_locations)))
    return Path(spec.origin).parent if spec.origin else None


def find_nvcc(env: Mapping[str, str] | None = None) -> Path | None:
    """The nvcc DeepGEMM would run: ``DG_JIT_NVCC_COMPILER``, else CUDA_HOME / CUDA_PATH,
    else the one on PATH, else /usr/local/cuda."""
    env = os.environ if env is None else env
    if env.get(NVCC_VAR):
        return Path(env[NVCC_VAR])
    for var in ("CUDA_HOME", "CUDA_PATH"):
        if env.get(var):
            return Path(env[var]) / "bin" / "nvcc"
    on_path = shutil.which("nvcc", path=env.get("PATH"))
    if on_path:
        return Path(on_path)
    default = Path("/usr/local/cuda/bin/nvcc")
    return default if default.exists() else None


def nvcc_version_text(nvcc: Path | None, *, timeout_s: float = 30.0) -> str | None:
    """The whole ``nvcc --version`` output (DeepJIT keys on it), or None if it cannot run."""
    if nvcc is None:
        return None
    try:
        done = subprocess.run(
            [str(nvcc), "--version"], capture_output=True, text=True, timeout=timeout_s, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 and done.stdout.strip() else None


def nvcc_release(version_text: str | None) -> str | None:
    """``major.minor`` from nvcc's version text (2.5.0 keys on ``NVCC<major>.<minor>``)."""
    if not version_text:
        return None
    match = re.search(r"release (\d+\.\d+)", version_text)
    return match.group(1) if match else None


_DEEPJIT_FALLBACK_PREFIX = "DJ"  # DeepJIT's global prefix, read when the build's is unset


@dataclass(frozen=True)
class DeepJitEnv:
    """The DeepJIT settings of an environment that reach the compiler options (the first six
    change the nvcc flags, hence every key; the dumps only show in meta.json).

    Read as DeepJIT's ``Env`` reads them (utils/env.hpp of tokenspeed-deepjit 0.1.0):
    ``<prefix>_JIT_<NAME>``, else ``DJ_JIT_<NAME>``; booleans are ``true``/``yes``/``false``/
    ``no`` in any case or a whole integer (non-zero is true); anything else is an error.
    """

    debug: bool = False
    ptxas_verbose: bool = False
    check_no_spills: bool = False
    check_no_local_memory: bool = False
    with_lineinfo: bool = False
    cpp_standard: int = DEFAULT_CPP_STANDARD
    dump_asm: bool = False
    dump_ptx: bool = False
    dump_sass: bool = False

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, *, prefix: str = "DG") -> DeepJitEnv:
        env = os.environ if env is None else env

        def raw(name: str) -> tuple[str, str] | None:
            for p in (prefix, _DEEPJIT_FALLBACK_PREFIX):
                var = f"{p}_JIT_{name}"
                if var in env:
                    return var, env[var]
            return None

        def flag(name: str) -> bool:
            found = raw(name)
            return False if found is None else _deepjit_bool(*found)

        cpp = raw("CPP_STANDARD")
        return cls(
            debug=flag("DEBUG"),
            ptxas_verbose=flag("PTXAS_VERBOSE"),
            check_no_spills=flag("CHECK_NO_SPILLS"),
            check_no_local_memory=flag("CHECK_NO_LOCAL_MEMORY"),
            with_lineinfo=flag("WITH_LINEINFO"),
            cpp_standard=DEFAULT_CPP_STANDARD if cpp is None else _deepjit_int(*cpp),
            dump_asm=flag("DUMP_ASM"),
            dump_ptx=flag("DUMP_PTX"),
            dump_sass=flag("DUMP_SASS"),
        )


def _deepjit_int(var: str, value: str) -> int:
    # std::from_chars over the whole string: optional '-', digits, nothing else.
    if not re.fullmatch(r"-?[0-9]+", value):
        raise EnvValueError(var, value, "a whole integer (DeepJIT rejects anything else)")
    return int(value)


def _deepjit_bool(var: str, value: str) -> bool:
    low = value.lower()
    if low in ("true", "yes"):
        return True
    if low in ("false", "no"):
        return False
    try:
        return _deepjit_int(var, value) != 0
    except EnvValueError:
        raise EnvValueError(var, value, "true/false, yes/no or an integer") from None


def _env_flag(env: Mapping[str, str], var: str) -> bool:
    return _env_int(env, var, 0) != 0


def _env_int(env: Mapping[str, str], var: str, default: int) -> int:
    raw = env.get(var, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise EnvValueError(var, raw, "an integer") from None


def _version_tuple(text: str) -> tuple[int, ...]:
    nums = []
    for part in text.split("."):
        match = re.match(r"\d+", part)
        if not match:
            break
        nums.append(int(match.group()))
    return tuple(nums)
