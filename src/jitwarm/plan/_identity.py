"""What a planned kernel is, by name: the identity warm's work items, compiling ahead and the
local builds agree on (``kernel_key``)."""

from __future__ import annotations

import json

from jitwarm.plan._schema import PlanEntry, PlanKernel


def kernel_key(entry: PlanEntry, kernel: PlanKernel) -> str:
    """Identity of a planned kernel: the entry (baked shape and conventions) plus the choice."""
    choice = kernel.template_args or json.dumps(kernel.params, sort_keys=True)
    if choice in ("", "{}"):
        choice = f"m{kernel.m}"
    return f"{entry.key}|{choice}"
