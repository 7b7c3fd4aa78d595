"""Planning: model + serving configuration -> every reachable kernel. Pure Python."""

from jitwarm.plan.builder import plan_serving
from jitwarm.plan.schema import (
    SCHEMA_VERSION,
    Conventions,
    Family,
    MKind,
    Module,
    Plan,
    PlanEntry,
    PlanKernel,
    Selection,
)

__all__ = [
    "SCHEMA_VERSION",
    "Conventions",
    "Family",
    "MKind",
    "Module",
    "Plan",
    "PlanEntry",
    "PlanKernel",
    "Selection",
    "plan_serving",
]
