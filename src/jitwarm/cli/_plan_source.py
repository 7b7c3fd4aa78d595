"""Where a command's plan comes from: ``--plan``/``--manifest`` (a plan manifest or a
recording of real calls) or ``--model`` with the serving flags."""

from __future__ import annotations

from pathlib import Path

from jitwarm.errors import UsageError
from jitwarm.models import ModelSpec
from jitwarm.plan import Plan, plan_serving
from jitwarm.profiles import DetectedBuild, check_same_build
from jitwarm.serving import ServingConfig


def load_plan_arg(
    plan_file: Path | None,
    model: ModelSpec | None,
    serving: ServingConfig,
    *,
    build: DetectedBuild | None = None,
) -> Plan:
    """A plan manifest is used as written; a recording is widened to the M sets ``serving``
    allows (``--model`` then only adds MoE routing); otherwise ``--model`` is planned.

    With ``build`` (the DeepGEMM this command runs), a new plan records it, and a manifest
    made for another build is refused in one line."""
    if plan_file is None:
        if model is None:
            raise UsageError("--model or --plan is required (what to work on)")
        made_for = build.profile_name if build is not None and build.found else None
        return plan_serving(model, serving, build=made_for)
    from jitwarm.record import is_recording, plan_from_recording

    if is_recording(plan_file):
        profile = build.profile if build is not None else None
        return plan_from_recording(plan_file, serving, model=model, profile=profile)
    if model is not None:
        raise UsageError("give either a plan manifest or --model, not both")
    plan = Plan.load(plan_file)
    if build is not None:
        check_same_build(
            f"plan {plan_file}",
            plan.build,
            build,
            "plan again on this host (jitwarm plan), or pick its build with --deepgemm",
        )
    return plan
