"""How DeepGEMM sees this environment, read in one place and typed, without importing it.

- The cache roots: ``--cache-dir``, else ``DG_JIT_CACHE_DIR``, else the layout's default
  (``~/.deep_gemm`` for upstream-JIT builds, ``~/.dj`` for DeepJIT builds). DeepJIT reads
  ``W:R1:R2`` as one writable root then read-only roots; the upstream JIT takes one path.
- The environment variables that change compiler flags, hence every cache key (``DG_*``, with
  DeepJIT's ``DJ_*`` fallback); which of them a build reads is its profile's business.
- Where the DeepGEMM module a server would import lives, in the engines' order: an explicit
  choice (``--deepgemm MODULE`` / ``JITWARM_DEEPGEMM``), else an installed ``deep_gemm``, else
  vLLM's vendored ``vllm.third_party.deep_gemm``; its distribution and version, read from
  files only (nothing is imported or executed). Which build that is: ``jitwarm.profiles``.
- The nvcc DeepGEMM would run.

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

from jitwarm.errors import EnvValueError

CACHE_DIR_VAR = "DG_JIT_CACHE_DIR"
NVCC_VAR = "DG_JIT_NVCC_COMPILER"

DEEPGEMM_MODULE_VAR = "JITWARM_DEEPGEMM"  # the DeepGEMM module to use, as --deepgemm names it
# Where engines look for DeepGEMM, in their order (vLLM: an installed deep_gemm first).
DEEPGEMM_MODULES = ("deep_gemm", "vllm.third_party.deep_gemm")

# How each key-changing variable (``<prefix>_<suffix>``) is read: every build's, so a warm
# refuses any of them by default. Flags are read as DeepJIT reads them (true/yes/false/no or an
# integer, non-zero is on).
_FLAG_SUFFIXES = (
    "JIT_DEBUG",
    "JIT_PTXAS_VERBOSE",
    "JIT_PTXAS_CHECK",
    "JIT_CHECK_NO_SPILLS",
    "JIT_CHECK_NO_LOCAL_MEMORY",
    "JIT_WITH_LINEINFO",
)
KEY_SUFFIXES = (*_FLAG_SUFFIXES, "JIT_CPP_STANDARD", "JIT_NVCC_COMPILER")
KEY_PREFIXES = ("DG", "DJ")
KEY_CHANGING_VARS: tuple[str, ...] = tuple(f"DG_{s}" for s in KEY_SUFFIXES)
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


class Layout(str, Enum):
    """On-disk layout of a DeepGEMM kernel cache."""

    UPSTREAM = "upstream"  # in-tree JIT: cache/kernel.<name>.<hash>/{kernel.cu,kernel.cubin}
    DEEPJIT = "deepjit"  # DeepJIT: cache/<tag>.<key>/{kernel.cu,kernel.cubin,meta.json,.committed}


DEFAULT_ROOT_NAMES = {Layout.UPSTREAM: ".deep_gemm", Layout.DEEPJIT: ".dj"}


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
    """A DeepGEMM module found without importing it.

    ``version`` is DeepGEMM's own (its ``__version__`` literal or ``VERSION`` file, else the
    distribution's); ``distribution`` is what installed the folder (``vllm`` for the vendored
    copy, with ``distribution_version`` its own version). ``found_by``: ``--deepgemm``,
    ``JITWARM_DEEPGEMM`` or ``search``.
    """

    module: str
    path: Path | None
    distribution: str | None = None
    distribution_version: str | None = None
    version: str | None = None
    found_by: str = "search"
    searched: tuple[str, ...] = ()

    @property
    def found(self) -> bool:
        return self.path is not None


def key_env(
    env: Mapping[str, str] | None = None,
    *,
    suffixes: tuple[str, ...] = KEY_SUFFIXES,
    prefixes: tuple[str, ...] = KEY_PREFIXES,
) -> dict[str, str]:
    """The key-changing settings of ``env`` (default: this process) that differ from the
    defaults, as ``DG_<suffix>: value``. For each suffix the first prefix that is set wins
    (DeepJIT reads ``DG_JIT_*``, then ``DJ_JIT_*``). The nvcc override is named by path; its
    version is compared separately (provenance)."""
    env = os.environ if env is None else env
    out: dict[str, str] = {}
    for suffix in suffixes:
        var = next((f"{p}_{suffix}" for p in prefixes if env.get(f"{p}_{suffix}")), None)
        if var is None:
            continue
        name = f"DG_{suffix}"
        if suffix in _FLAG_SUFFIXES:
            if _deepjit_bool(var, env[var].strip()):
                out[name] = "1"
        elif suffix == "JIT_CPP_STANDARD":
            value = _env_int(env, var, DEFAULT_CPP_STANDARD)
            if value != DEFAULT_CPP_STANDARD:
                out[name] = str(value)
        else:
            out[name] = env[var]
    return out


def resolve_cache_roots(
    cache_dir: str | os.PathLike[str] | None = None,
    *,
    layout: Layout | None = None,
    env: Mapping[str, str] | None = None,
) -> CacheRoots:
    """The cache roots to use, from the flag, else ``DG_JIT_CACHE_DIR``, else the default.

    ``layout`` decides how a value with ``:`` is read (DeepJIT splits it, the upstream JIT does not) and
    which default root applies. ``None`` (auto): a value with ``:`` is one path if that path
    is an existing folder, else a list; the default root is whichever exists (``~/.deep_gemm``
    first). `jitwarm.profiles.resolve_cache_roots` passes the installed build's layout.
    """
    env = os.environ if env is None else env
    if cache_dir is not None and str(cache_dir):
        return _split_roots(str(cache_dir), "--cache-dir", layout)
    value = env.get(CACHE_DIR_VAR, "")
    if value:
        return _split_roots(value, CACHE_DIR_VAR, layout)
    home = Path(env.get("HOME") or Path.home())
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


def find_deepgemm(
    module: str | None = None, *, env: Mapping[str, str] | None = None
) -> DeepGEMMInstall:
    """The DeepGEMM module a server would import, found as the engines find it: ``module``
    (``--deepgemm``), else ``JITWARM_DEEPGEMM``, else the first of ``DEEPGEMM_MODULES`` that
    exists. Reads files only: neither deep_gemm, torch nor vllm is imported."""
    candidates, found_by = deepgemm_candidates(module, env=env)
    for name in candidates:
        path = module_dir(name)
        if path is not None:
            dist, dist_version = _owning_distribution(path, name)
            version = _literal_version(path) or dist_version
            return DeepGEMMInstall(name, path, dist, dist_version, version, found_by, candidates)
    return DeepGEMMInstall(candidates[0], None, found_by=found_by, searched=candidates)


def deepgemm_candidates(
    module: str | None = None, *, env: Mapping[str, str] | None = None
) -> tuple[tuple[str, ...], str]:
    """The module names to look for, in order, and what chose them (``--deepgemm``,
    ``JITWARM_DEEPGEMM``, or the engines' own search)."""
    env = os.environ if env is None else env
    if module:
        return (module,), "--deepgemm"
    if env.get(DEEPGEMM_MODULE_VAR):
        return (env[DEEPGEMM_MODULE_VAR],), DEEPGEMM_MODULE_VAR
    return DEEPGEMM_MODULES, "search"


def deepgemm_dir(module: str | None = None) -> Path | None:
    """The folder of the DeepGEMM package this interpreter would import (files only)."""
    return find_deepgemm(module).path


def module_dir(name: str) -> Path | None:
    """The package folder of dotted module ``name``, found without importing any part of it:
    ``find_spec`` of the top-level package only (which does not run it), then the folders."""
    top, *rest = name.split(".")
    try:
        spec = importlib.util.find_spec(top)
    except (ImportError, ValueError):
        return None
    if spec is None:
        return None
    if spec.submodule_search_locations:
        base = Path(next(iter(spec.submodule_search_locations)))
    elif spec.origin and not rest:
        return Path(spec.origin).parent
    else:
        return None
    path = base.joinpath(*rest)
    return path if not rest or (path / "__init__.py").is_file() else None


_VERSION_LITERAL = re.compile(r"^__version__\s*=\s*['\"]([^'\"]+)['\"]", re.MULTILINE)


def _literal_version(path: Path) -> str | None:
    """``__version__ = '...'`` in the package's ``__init__.py``, else its ``VERSION`` file
    (sgl-deep-gemm reads that at import), read as text."""
    try:
        match = _VERSION_LITERAL.search((path / "__init__.py").read_text(errors="replace"))
    except OSError:
        match = None
    if match:
        return match.group(1)
    try:
        text = (path / "VERSION").read_text(errors="replace").strip()
    except OSError:
        return None
    return text.splitlines()[0].strip() if text else None


def _owning_distribution(path: Path, module: str) -> tuple[str | None, str | None]:
    """The distribution installed beside ``path`` that owns the module's top-level package."""
    top = module.split(".")[0]
    site = path.parents[len(module.split(".")) - 1]
    try:
        dists = list(importlib.metadata.distributions(path=[str(site)]))
    except Exception:  # broken metadata of an unrelated package must not stop us
        return None, None
    for dist in dists:
        try:
            tops = (dist.read_text("top_level.txt") or "").split()
            files = dist.files or []
        except Exception:
            continue
        if top in tops or any(f.parts and f.parts[0] == top for f in files):
            name = dist.metadata["Name"]
            return (name.lower().replace("_", "-") if name else None), dist.version
    return None, None


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
    """``major.minor`` from nvcc's version text (the upstream JIT keys on ``NVCC<major>.<minor>``)."""
    if not version_text:
        return None
    match = re.search(r"release (\d+\.\d+)", version_text)
    return match.group(1) if match else None


@dataclass(frozen=True)
class DeepJitEnv:
    """The DeepJIT settings of an environment that reach the compiler options (the first six
    change the nvcc flags, hence every key; the dumps only show in meta.json).

    Read as DeepJIT's ``Env`` reads them (utils/env.hpp of tokenspeed-deepjit 0.1.0):
    ``DG_JIT_<NAME>``, else ``DJ_JIT_<NAME>``; booleans are ``true``/``yes``/``false``/
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
    def from_env(
        cls, env: Mapping[str, str] | None = None, *, prefixes: tuple[str, ...] = ("DG", "DJ")
    ) -> DeepJitEnv:
        """``prefixes``: the build's (its profile's ``env_prefixes``), first set one wins."""
        env = os.environ if env is None else env

        def raw(name: str) -> tuple[str, str] | None:
            for p in prefixes:
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


def _env_int(env: Mapping[str, str], var: str, default: int) -> int:
    raw = env.get(var, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise EnvValueError(var, raw, "an integer") from None
