"""Where a command's plan comes from: ``--plan``/``--manifest`` (a plan manifest or a
recording of real calls) or ``--model`` with the serving flags."""

from __future__ import annotations

from pathlib import Path

from jitwarm.errors import UsageError
from jitwarm.models.spec import ModelSpec
from jitwarm.plan import Plan, plan_serving
from jitwarm.serving import ServingConfig


def load_plan_arg(plan_file: Path | None, model: ModelSpec | None, serving: ServingConfig) -> Plan:
    """A plan manifest is used as written; a recording is widened to the M sets ``serving``
    allows (``--model`` then only adds MoE routing); otherwise ``--model`` is planned."""
    if plan_file is None:
        if model is None:
            raise UsageError("--model or --plan is required (what to work on)")
        return plan_serving(model, serving)
    from jitwarm.record import is_recording, plan_from_recording

    if is_recording(plan_file):
        return plan_from_recording(plan_file, serving, model=model)
    if model is not None:
        raise UsageError("give either a plan manifest or --model, not both")
    return Plan.load(plan_file)
