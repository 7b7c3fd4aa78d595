"""What a GPU-free build records about itself: the build, arch, SM count, nvcc (the whole
version text: every key depends on it), and, where nothing ran on such a GPU, that it was not
verified on hardware."""

from __future__ import annotations

from jitwarm.build._nvcc import Nvcc
from jitwarm.build._target import TargetBuild
from jitwarm.bundle import Provenance
from jitwarm.dgenv import Layout
from jitwarm.plan import Plan

# Arches whose GPU-free caches were loaded by DeepGEMM on such a GPU with no compile (H200,
# 2026-12-01, DeepSeek-V3 TP8 on the build TokenSpeed 0.1.1 ships); anything else is marked as not verified.
VERIFIED_ARCHES = frozenset({"sm90"})
NOT_VERIFIED = "not verified on hardware"


def build_provenance(plan: Plan, target: TargetBuild, nvcc: Nvcc) -> Provenance:
    notes = []
    if plan.arch not in VERIFIED_ARCHES:
        notes.append(
            f"{NOT_VERIFIED}: GPU-free {plan.arch} builds have not been loaded on such a GPU yet"
        )
    return Provenance(
        arch=plan.arch,
        num_sms=plan.num_sms,
        deepgemm_distribution=target.distribution,
        deepgemm_version=target.version,
        deepgemm_path=None,  # DeepJIT keys leave the install path out
        nvcc_path=str(nvcc.path),
        nvcc_version=nvcc.version_text.strip(),  # as host_provenance reads it
        cuda_version=nvcc.release_text,
        key_env=dict(plan.jit_env),
        layout=Layout.DEEPJIT,
        deepgemm_module=target.profile.module,
        deepgemm_build=target.profile.name,
        built_without_gpu=True,
        notes=notes,
    )
