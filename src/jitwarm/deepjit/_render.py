"""Every planned kernel's source, flags and cache key, exactly as a DeepJIT DeepGEMM build
would write them, on a CPU.

DeepGEMM's launchers pick a configuration, format a small ``.cu`` from it and hand it to
DeepJIT, which keys the entry on the build's signature, the nvcc version, the flags and the
source tree. The plan already holds the configuration (``PlanKernel.params``, from
``jitwarm.selection``); the generator ports in ``_generators/`` turn it into the source, and
``deepjit_key`` into the key. What cannot be rendered exactly (sweep entries, families with no
port for the build) is reported as `UnrenderedKernel`, never guessed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from jitwarm.deepjit._generators import GENERATORS, Generator, RenderContext, Unrenderable
from jitwarm.deepjit._key import deepjit_key
from jitwarm.deepjit._options import CompilerOptions, compiler_options, not_deepjit_error
from jitwarm.plan import Plan, PlanEntry, PlanKernel
from jitwarm.profiles import BuildProfile, JitGeneration


@dataclass(frozen=True)
class PlanKernelRef:
    """One planned kernel: ``plan.entries[entry_index].kernels[kernel_index]``."""

    entry_index: int
    kernel_index: int
    entry_key: str  # the plan entry's `key`
    m: int  # the kernel's representative M (what a warm call would pass)


@dataclass(frozen=True)
class KernelSource:
    """One cache entry as the build writes it: ``cache/<entry_name>/kernel.cu`` holds `source`.

    `serves` lists every planned kernel that compiles to this entry (first: the first in plan
    order); `options` are the compiler options meta.json records, `flags` what the key covers.
    """

    tag: str
    source: str
    flags: tuple[str, ...]
    key: str
    serves: tuple[PlanKernelRef, ...]
    options: CompilerOptions

    @property
    def entry_name(self) -> str:
        return f"{self.tag}.{self.key}"

    @property
    def entry_index(self) -> int:
        return self.serves[0].entry_index

    @property
    def kernel_index(self) -> int:
        return self.serves[0].kernel_index

    @property
    def entry_key(self) -> str:
        return self.serves[0].entry_key


class GapReason(str, Enum):
    """Why a planned kernel has no rendering."""

    SWEEP = "sweep"  # no selection model: the entry's kernels are not known without the GPU
    NO_GENERATOR = "no_generator"  # no port of this family's generator for this build/arch
    NOT_RENDERABLE = "not_renderable"  # a port exists but not for this entry's values


@dataclass(frozen=True)
class UnrenderedKernel:
    """A planned kernel (or a whole sweep entry: ``kernel_index`` None) left for the GPU."""

    entry_index: int
    kernel_index: int | None
    entry_key: str
    reason: GapReason
    detail: str

    def describe(self) -> str:
        which = "all kernels" if self.kernel_index is None else f"kernel {self.kernel_index}"
        return f"{self.entry_key} ({which}): {self.reason.value}: {self.detail}"


def _context(plan: Plan, profile: BuildProfile) -> RenderContext:
    if profile.generation is not JitGeneration.DEEPJIT or profile.extra_signature is None:
        raise not_deepjit_error(profile)
    return RenderContext(profile=profile, arch=plan.arch, num_sms=plan.num_sms)


def _generator(entry: PlanEntry, ctx: RenderContext) -> Generator | str:
    """The port for ``entry``, or why there is none."""
    if not ctx.profile.renders(entry.family.value, ctx.arch):
        why = ctx.profile.unrendered_why(entry.family.value, ctx.arch)
        reason = f"no {entry.family.value} generator port for {ctx.profile.name} on {ctx.arch}"
        return f"{reason}: {why}" if why else reason
    port = GENERATORS.get((ctx.arch, entry.family))
    if port is None:
        return f"no {entry.family.value} generator port for {ctx.arch}"
    return port


def _walk(
    plan: Plan, ctx: RenderContext
) -> list[tuple[PlanKernelRef, tuple[str, str]] | UnrenderedKernel]:
    out: list[tuple[PlanKernelRef, tuple[str, str]] | UnrenderedKernel] = []
    for ei, entry in enumerate(plan.entries):
        if entry.kernels is None:
            detail = f"{len(entry.mset)} M values to run on the GPU (no selection model)"
            out.append(UnrenderedKernel(ei, None, entry.key, GapReason.SWEEP, detail))
            continue
        port = _generator(entry, ctx)
        for ki, kernel in enumerate(entry.kernels):
            if isinstance(port, str):
                out.append(UnrenderedKernel(ei, ki, entry.key, GapReason.NO_GENERATOR, port))
                continue
            out.append(_render_one(ei, ki, entry, kernel, port, ctx))
    return out


def _render_one(
    ei: int, ki: int, entry: PlanEntry, kernel: PlanKernel, port: Generator, ctx: RenderContext
) -> tuple[PlanKernelRef, tuple[str, str]] | UnrenderedKernel:
    try:
        rendered = port(entry, kernel, ctx)
    except Unrenderable as exc:
        return UnrenderedKernel(ei, ki, entry.key, GapReason.NOT_RENDERABLE, exc.detail)
    return PlanKernelRef(ei, ki, entry.key, kernel.m), rendered


def render_plan(
    plan: Plan,
    profile: BuildProfile,
    include_dir: Path | str,
    nvcc_version_text: str,
    *,
    extra_nvcc_flags: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
) -> list[KernelSource]:
    """The cache entries ``profile``'s build would write for every kernel of ``plan`` that
    jitwarm can render for it, one per key, in plan order.

    ``include_dir``: the build's include folder (``<deep_gemm>/include``: the key hashes its
    headers). ``nvcc_version_text``: the exact ``nvcc --version`` output of the compiler the
    server will use. ``env``: the ``DG_JIT_*``/``DJ_JIT_*`` settings the server runs with
    (default: the plan's ``jit_env``). Kernels left out are listed by `unrendered_kernels`.
    """
    ctx = _context(plan, profile)
    options = compiler_options(
        profile,
        plan.arch,
        env=dict(plan.jit_env) if env is None else env,
        extra_nvcc_flags=tuple(extra_nvcc_flags),
    )
    flags = options.flags()
    assert profile.extra_signature is not None and profile.deepjit_flags is not None
    prefixes = profile.deepjit_flags.include_prefixes
    by_key: dict[str, KernelSource] = {}
    for item in _walk(plan, ctx):
        if isinstance(item, UnrenderedKernel):
            continue
        ref, (tag, source) = item
        key = deepjit_key(
            profile.extra_signature,
            nvcc_version_text,
            flags,
            "",  # DeepGEMM's launchers set no post-hook
            source,
            [Path(include_dir)],
            include_prefixes=prefixes,
        )
        if key in by_key:
            seen = by_key[key]
            by_key[key] = KernelSource(
                seen.tag, seen.source, seen.flags, key, (*seen.serves, ref), options
            )
        else:
            by_key[key] = KernelSource(tag, source, flags, key, (ref,), options)
    return list(by_key.values())


def unrendered_kernels(plan: Plan, profile: BuildProfile) -> list[UnrenderedKernel]:
    """The planned kernels `render_plan` leaves out for ``profile``, and why (no include folder
    or compiler needed: only the plan and the build's ports decide)."""
    ctx = _context(plan, profile)
    return [item for item in _walk(plan, ctx) if isinstance(item, UnrenderedKernel)]
