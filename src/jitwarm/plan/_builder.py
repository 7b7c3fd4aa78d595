"""Model + serving configuration -> plan. No GPU, no weights, no torch."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import Protocol

from jitwarm.models import ModelSpec
from jitwarm.mset import MSet
from jitwarm.plan._schema import Conventions, Family, MKind, ModelRef, Module, Plan, PlanEntry
from jitwarm.plan._select import DEFAULT_MODELS, select_kernels, selection_note
from jitwarm.plan._sites import Site, collect_sites, planning_notes
from jitwarm.profiles import DEFAULT_PREFILL_LOGITS, BuildProfile, get_profile
from jitwarm.serving import ServingConfig


def jitwarm_version() -> str:
    try:
        return version("jitwarm")
    except PackageNotFoundError:  # running from a source tree
        return "0+source"


def _site_key(site: Site) -> tuple:
    return (
        site.family,
        site.n,
        site.k,
        site.num_groups,
        tuple(sorted(site.dims.items())),
        site.conventions,
        site.m_kind,
    )


def selection_model(build: BuildProfile | None, arch: str) -> str | None:
    """The selection model `build`'s profile names for `arch` (no build: `DEFAULT_MODELS`)."""
    if build is None:
        return DEFAULT_MODELS.get(arch)
    chosen = build.selection_model(arch)
    return chosen.model if chosen is not None else None


def plan_serving(
    model: ModelSpec,
    serving: ServingConfig,
    *,
    jit_env: dict[str, str] | None = None,
    build: BuildProfile | str | None = None,
) -> Plan:
    """Every DeepGEMM kernel ``model`` can reach on one rank under ``serving``, with the
    kernel choice of ``build`` (a profile, or a profile id as ``DetectedBuild.profile_name``
    gives it; None: the default selection models, see `DEFAULT_MODELS`). The plan records the
    profile id it was made for."""
    if isinstance(build, str):
        build = get_profile(build)
    groups: dict[tuple, list[Site]] = {}
    for site in collect_sites(model, serving):
        groups.setdefault(_site_key(site), []).append(site)
    entries = [_entry(sites, serving, build) for sites in groups.values()]
    arch = serving.arch.value
    build_name = build.label if build is not None else "the default build"
    selection_notes = [selection_note(arch, selection_model(build, arch), build_name)]
    entries.sort(key=lambda e: (e.family.value, e.num_groups, e.n, e.k, sorted(e.dims.items())))
    return Plan(
        jitwarm_version=jitwarm_version(),
        build=build.name if build is not None else None,
        arch=serving.arch.value,
        num_sms=serving.sms,
        model=ModelRef(name=model.name, architecture=model.architecture.value, source=model.source),
        serving=serving,
        jit_env=dict(jit_env or {}),
        notes=list(model.notes) + planning_notes(model, serving) + selection_notes,
        entries=entries,
    )


def _entry(sites: list[Site], serving: ServingConfig, build: BuildProfile | None) -> PlanEntry:
    first = sites[0]
    m_values = MSet()
    modules: dict[str, MSet] = {}
    phases: list[str] = []
    for site in sites:
        m_values = m_values | site.m_values
        modules[site.module] = modules.get(site.module, MSet()) | MSet.of(site.layers)
        phases += [p for p in site.phases if p not in phases]
    return build_entry(
        first,
        m_values,
        phases=phases,
        modules=[Module(name=name, layers=layers.to_json()) for name, layers in modules.items()],
        serving=serving,
        build=build,
    )


class EntryShape(Protocol):
    """What identifies an entry's kernels besides M: a planned site or a recorded call."""

    family: Family
    n: int
    k: int
    num_groups: int
    dims: dict[str, int]
    conventions: Conventions
    m_kind: MKind


def build_entry(
    site: EntryShape,
    m_values: MSet,
    *,
    phases: list[str],
    modules: list[Module],
    serving: ServingConfig,
    build: BuildProfile | None = None,
) -> PlanEntry:
    """A plan entry for ``site``'s kernel family and dimensions over ``m_values``, with its
    distinct kernels selected for the serving target as ``build`` chooses them."""
    selection, kernels = select_kernels(
        site.family,
        site.n,
        site.k,
        site.num_groups,
        site.conventions,
        m_values,
        arch=serving.arch.value,
        num_sms=serving.sms,
        mk_alignment=serving.mk_alignment,
        dims=site.dims,
        ep=serving.ep,
        model=selection_model(build, serving.arch.value),
        prefill_logits=build.prefill_logits if build is not None else DEFAULT_PREFILL_LOGITS,
    )
    return PlanEntry(
        family=site.family,
        n=site.n,
        k=site.k,
        num_groups=site.num_groups,
        dims=dict(site.dims),
        conventions=site.conventions,
        phases=phases,
        m_kind=site.m_kind,
        m_values=m_values.to_json(),
        selection=selection,
        kernels=kernels,
        modules=modules,
    )
