"""``--deepgemm MODULE``: which DeepGEMM build a command works with, shared by the commands
that run or compare against one. The choice is put in ``JITWARM_DEEPGEMM`` so every process
the command starts (warm's and verify's workers) imports the same module."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from jitwarm.dgenv import DEEPGEMM_MODULE_VAR
from jitwarm.plan import Plan
from jitwarm.profiles import (
    UNVALIDATED,
    BuildMismatchError,
    DetectedBuild,
    check_same_build,
    detect_build,
)

DeepGEMMOption = Annotated[
    str | None,
    typer.Option(
        "--deepgemm",
        metavar="MODULE",
        help=f"DeepGEMM module to use, e.g. vllm.third_party.deep_gemm (default: ${DEEPGEMM_MODULE_VAR}, else deep_gemm, else vLLM's vendored copy).",
    ),
]


def resolve_build(module: str | None) -> DetectedBuild:
    """The build the command uses; an explicit ``--deepgemm`` is passed on to child processes."""
    build = detect_build(module)
    if module:
        os.environ[DEEPGEMM_MODULE_VAR] = module
    return build


def selection_note(build: DetectedBuild, arch: str) -> str | None:
    """The one line a report prints when the build's kernel choice is not modelled."""
    if not build.found or build.selection_validated(arch):
        return None
    return f"{UNVALIDATED} ({build.describe()}, {arch}): the real sources are captured first"


def check_plan_for_cache(plan: Plan, plan_file: Path, root: Path) -> None:
    """Refuse, in one line, a plan made for another DeepGEMM build than the one that filled the
    cache (warm's record at its root), or, without a record, than the one installed here:
    the plan's kernels would not be this cache's, and keeping "what it needs" would guess."""
    from jitwarm.bundle import read_cache_provenance

    if plan.build is None:
        return
    record = read_cache_provenance(root)
    hint = "use a plan made for that build (jitwarm plan --deepgemm MODULE on its host)"
    if record is not None and record.deepgemm_build is not None:
        if record.deepgemm_build != plan.build:
            raise BuildMismatchError(
                f"plan {plan_file}", plan.build, f"{record.deepgemm_build} (cache {root})", hint
            )
        return
    check_same_build(f"plan {plan_file}", plan.build, detect_build(), hint)
