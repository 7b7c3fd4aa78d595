"""A site: one place in the model where a DeepGEMM kernel family is called, with its sharded
dimensions and reachable M values; and the helpers every architecture's planner uses to make
one (sharding a dimension, an FP8 linear layer's site)."""

from __future__ import annotations

from dataclasses import dataclass, field

from jitwarm.errors import ConfigError
from jitwarm.mset import MSet
from jitwarm.plan._schema import Conventions, Family, MKind
from jitwarm.serving import Arch, Role, ServingConfig

FP8_BLOCK = 128


@dataclass(frozen=True)
class Site:
    family: Family
    module: str
    layers: tuple[int, ...]
    n: int
    k: int
    m_values: MSet
    phases: tuple[str, ...]
    num_groups: int = 1
    m_kind: MKind = MKind.ROWS
    dims: dict[str, int] = field(default_factory=dict)
    conventions: Conventions = field(default_factory=Conventions)


def shard(
    value: int, ways: int, what: str, *, field_name: str, block: int | None = FP8_BLOCK
) -> int:
    """``value / ways``, or a clear error when the split is impossible for FP8 block weights."""
    if value % ways:
        raise ConfigError(
            f"{what}: {field_name} ({value}) is not divisible by {ways}", field=field_name
        )
    part = value // ways
    if block and part % block:
        raise ConfigError(
            f"{what}: {field_name} / {ways} = {part} is not a multiple of the FP8 weight block "
            f"({block}); use a smaller parallel size or expert parallelism (--ep)",
            field=field_name,
        )
    return part


def serving_phases(s: ServingConfig) -> tuple[str, ...]:
    return {
        Role.MIXED: ("prefill", "decode"),
        Role.PREFILL: ("prefill",),
        Role.DECODE: ("decode",),
    }[s.role]


def gemm_conventions(s: ServingConfig, *, gemm_type: str = "Normal") -> Conventions:
    if s.arch is Arch.SM100:
        return Conventions(scale_dtype="ue8m0", gemm_type=gemm_type)
    return Conventions(gemm_type=gemm_type)


def linear_site(
    s: ServingConfig, module: str, layers: tuple[int, ...], n: int, k: int, rows: MSet
) -> Site:
    return Site(
        family=Family.FP8_GEMM_NT,
        module=module,
        layers=layers,
        n=n,
        k=k,
        m_values=rows,
        phases=serving_phases(s),
        conventions=gemm_conventions(s),
    )
