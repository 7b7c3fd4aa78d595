"""Record -> plan: turn the DeepGEMM calls an engine really made into a plan warm can replay.

The guard's recorder (``JITWARM_RECORD=path``) writes every distinct call signature a process
made. :func:`plan_from_recording` reads that manifest (a file, or a folder of one file per
process), groups the calls into plan entries with the recorded conventions (family, N, K,
groups, dtypes, compiled_dims, recipe), widens each entry's M values to the set the serving
configuration allows, and finds the distinct kernels with the planner's selection models::

    from jitwarm.record import plan_from_recording
    plan = plan_from_recording("recording.json", serving)   # a jitwarm.plan.Plan

Pure Python: no torch, no deep_gemm.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from jitwarm.errors import RecordingError
from jitwarm.models import ModelSpec
from jitwarm.mset import MSet
from jitwarm.plan import ModelRef, Module, Plan, PlanEntry, build_entry, jitwarm_version
from jitwarm.profiles import BuildProfile
from jitwarm.record._interpret import KernelSite, UnreadableCall, interpret
from jitwarm.record._manifest import (
    RecordedCall,
    Recording,
    dump_recording,
    is_recording,
    load_recording,
    merge_recordings,
)
from jitwarm.record._widen import phases, reachable_m
from jitwarm.serving import ServingConfig

__all__ = [
    "RecordedCall",
    "RecordedPlan",
    "Recording",
    "RecordingError",
    "dump_recording",
    "is_recording",
    "load_recording",
    "merge_recordings",
    "plan_from_recording",
    "recording_to_plan",
]

log = logging.getLogger(__name__)


@dataclass
class RecordedPlan:
    """A plan built from a recording, and what of the recording it could not use."""

    plan: Plan
    calls_used: int = 0
    skipped: Counter[str] = field(default_factory=Counter)  # reason -> recorded signatures


def plan_from_recording(
    path: str | Path,
    serving: ServingConfig,
    *,
    model: ModelSpec | None = None,
    profile: BuildProfile | None = None,
) -> Plan:
    """The plan that covers every call recorded at ``path`` under ``serving``.

    ``model`` (optional) gives the MoE routing (top_k, experts) for the grouped-GEMM M sets;
    without it they assume every token may reach every local expert. ``profile``: the DeepGEMM
    build the calls were recorded with (how it names and orders arguments; the plan records
    it); None reads them with upstream conventions. Raises :class:`RecordingError` (a
    ``UsageError``) for a file that is not a readable recording.
    """
    return recording_to_plan(load_recording(path), serving, model=model, profile=profile).plan


def recording_to_plan(
    recording: Recording,
    serving: ServingConfig,
    *,
    model: ModelSpec | None = None,
    profile: BuildProfile | None = None,
) -> RecordedPlan:
    if (
        serving.num_sms is None
        and recording.num_sms is not None
        and recording.num_sms != serving.sms
    ):
        # Kernels bake the SM count; the engine set it (set_num_sms) when it recorded.
        log.info("using the recorded SM count %d (the engine set it)", recording.num_sms)
        serving = serving.model_copy(update={"num_sms": recording.num_sms})
    sites: dict[tuple, tuple[KernelSite, list[int]]] = {}
    out = RecordedPlan(plan=None)  # type: ignore[arg-type]
    for call in recording.calls:
        try:
            site = interpret(call, profile)
        except UnreadableCall as exc:
            out.skipped[f"{call.family}: {exc}"] += 1
            continue
        out.calls_used += 1
        sites.setdefault(site.key(), (site, []))[1].append(site.m)
    for reason, count in sorted(out.skipped.items()):
        log.warning("recording: skipped %d call signature(s): %s", count, reason)
    entries = [_entry(site, ms, serving, model) for site, ms in sites.values()]
    entries.sort(key=lambda e: (e.family.value, e.num_groups, e.n, e.k, sorted(e.dims.items())))
    out.plan = Plan(
        jitwarm_version=jitwarm_version(),
        build=profile.name if profile is not None else None,
        arch=serving.arch.value,
        num_sms=serving.sms,
        model=ModelRef(
            name=model.name if model is not None else "recorded",
            architecture=model.architecture.value if model is not None else "recorded",
            source="recording:" + ",".join(recording.sources),
        ),
        serving=serving,
        jit_env=dict(recording.jit_env),
        entries=entries,
    )
    return out


def _entry(
    site: KernelSite, recorded_m: list[int], s: ServingConfig, model: ModelSpec | None
) -> PlanEntry:
    m_values = reachable_m(site, s, model) | MSet.of(recorded_m)
    return build_entry(
        site,
        m_values,
        phases=phases(site, s),
        modules=[Module(name=f"recorded {site.family.value}", layers=[])],
        serving=s,
    )
