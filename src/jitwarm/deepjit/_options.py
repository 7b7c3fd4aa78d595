"""DeepJIT's compiler options for one build, arch and environment, and the nvcc flags they give
(``deep_jit::cuda::CompilerOptions`` in backend/cuda/options.hpp of tokenspeed-deepjit 0.1.0,
MIT: ``default_options``, ``get_flags`` and ``to_json``). The build's own parts (its nvcc flags,
optimisation and register levels, env prefix) come from its profile."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from jitwarm.dgenv import DeepJitEnv
from jitwarm.errors import NotDeepJitBuildError
from jitwarm.profiles import BuildProfile


def not_deepjit_error(profile: BuildProfile) -> NotDeepJitBuildError:
    """The error for a profile whose keys jitwarm cannot compute (not DeepJIT, or no flags)."""
    return NotDeepJitBuildError(profile.name, is_deepjit=profile.generation.value == "deepjit")


@dataclass(frozen=True)
class CompilerOptions:
    """The options one kernel is compiled with, in DeepJIT's field order (meta.json's)."""

    optimize_level: str
    use_fast_math: bool
    ptxas_verbose: bool
    ptxas_register_usage_level: int
    check_no_spills: bool
    check_no_local_memory: bool
    with_line_info: bool
    dump_ptx: bool
    dump_sass: bool
    arch: str
    nvcc_flags: tuple[str, ...]
    extra_nvcc_flags: tuple[str, ...] = ()
    post_hook: str | None = None

    def flags(self) -> tuple[str, ...]:
        """``get_flags``: what the key covers (no nvcc path, files or include folders)."""
        out = [
            f"--gpu-architecture=sm_{self.arch}",
            f"-O{self.optimize_level}",
            f"--compiler-options=-O{self.optimize_level}",
        ]
        if self.use_fast_math:
            out.append("--use_fast_math")
        if self.ptxas_verbose:
            out.append("--ptxas-options=--verbose")
        out.append(f"--ptxas-options=--register-usage-level={self.ptxas_register_usage_level}")
        if self.check_no_spills:
            out.append("--ptxas-options=--warn-on-spills")
        if self.check_no_local_memory:
            out.append("--ptxas-options=--warn-on-local-memory-usage")
        if self.with_line_info:
            out.append("--generate-line-info")
        return (*out, *self.nvcc_flags, *self.extra_nvcc_flags)

    def to_json(self) -> dict[str, Any]:
        """``to_json``: meta.json's ``compiler_options`` object, in its order."""
        return {
            "optimize_level": self.optimize_level,
            "use_fast_math": self.use_fast_math,
            "ptxas_verbose": self.ptxas_verbose,
            "ptxas_register_usage_level": self.ptxas_register_usage_level,
            "check_no_spills": self.check_no_spills,
            "check_no_local_memory": self.check_no_local_memory,
            "with_line_info": self.with_line_info,
            "dump_ptx": self.dump_ptx,
            "dump_sass": self.dump_sass,
            "arch": self.arch,
            "nvcc_flags": list(self.nvcc_flags),
            "extra_nvcc_flags": list(self.extra_nvcc_flags),
            "post_hook": self.post_hook,
        }


def compiler_options(
    profile: BuildProfile,
    arch: str,
    *,
    env: Mapping[str, str] | None = None,
    extra_nvcc_flags: tuple[str, ...] = (),
) -> CompilerOptions:
    """The default options of ``profile``'s DeepJIT runtime on ``arch`` ("sm90") under ``env``
    (a mapping of environment variables; None: this process's)."""
    facts = profile.deepjit_flags
    arch_name = facts.arch_name(arch) if facts is not None else None
    if facts is None or arch_name is None:
        raise not_deepjit_error(profile)
    jit = DeepJitEnv.from_env(env, prefixes=profile.env_prefixes)
    dump_asm = jit.debug or jit.dump_asm
    return CompilerOptions(
        optimize_level=facts.optimize_level,
        use_fast_math=False,
        ptxas_verbose=jit.debug or jit.ptxas_verbose,
        ptxas_register_usage_level=facts.register_usage_level,
        check_no_spills=jit.check_no_spills,
        check_no_local_memory=jit.check_no_local_memory,
        with_line_info=jit.debug or jit.with_lineinfo,
        dump_ptx=dump_asm or jit.dump_ptx,
        dump_sass=dump_asm or jit.dump_sass,
        arch=arch_name,
        nvcc_flags=tuple(f.format(cpp_standard=jit.cpp_standard) for f in facts.nvcc_flags),
        extra_nvcc_flags=tuple(extra_nvcc_flags),
    )
