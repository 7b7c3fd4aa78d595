"""Planning: model + serving configuration -> every reachable kernel. Pure Python."""

from __future__ import annotations

from importlib import import_module
from typing import Any

# Imported on first use, so loading the schema (as warm's workers do to read their plan) does
# not also load the planner and the model specs.
_LAZY = {
    "plan_serving": "jitwarm.plan.builder",
    **{
        name: "jitwarm.plan.schema"
        for name in ("SCHEMA_VERSION", "Conventions", "Family", "MKind", "Module", "Plan",
                     "PlanEntry", "PlanKernel", "Selection")
    },
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'jitwarm.plan' has no attribute {name!r}")
    return getattr(import_module(module), name)
