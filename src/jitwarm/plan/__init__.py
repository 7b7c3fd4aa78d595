"""Planning: model + serving configuration -> every reachable kernel. Pure Python."""

from __future__ import annotations

from jitwarm._lazy import lazy_getattr

# Imported on first use, so loading the schema (as warm's workers do to read their plan) does
# not also load the planner and the model specs.
_LAZY = {
    "plan_serving": "jitwarm.plan.builder",
    "kernel_key": "jitwarm.plan.identity",
    **{
        name: "jitwarm.plan.families"
        for name in (
            "FAMILIES",
            "CacheKernel",
            "CallSize",
            "FamilySpec",
            "SelectionKind",
            "family_of_kernel_name",
        )
    },
    **{
        name: "jitwarm.plan.schema"
        for name in (
            "SCHEMA_VERSION",
            "Conventions",
            "Family",
            "MKind",
            "Module",
            "Plan",
            "PlanEntry",
            "PlanKernel",
            "Selection",
        )
    },
}

__all__ = sorted(_LAZY)

__getattr__ = lazy_getattr(__name__, _LAZY)
