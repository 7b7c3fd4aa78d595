"""Planning: model + serving configuration -> every reachable kernel. Pure Python."""

from __future__ import annotations

from jitwarm._lazy import lazy_getattr

# Imported on first use, so loading the schema (as warm's workers do to read their items) does
# not also load the planner and the model specs.
_LAZY = {
    "FP4_MQA_LOGITS_CALL": "jitwarm.plan._families",
    "PAGED_MQA_LOGITS_CALL": "jitwarm.plan._families",
    "CallSize": "jitwarm.plan._families",
    "Conventions": "jitwarm.plan._schema",
    "FAMILIES": "jitwarm.plan._families",
    "Family": "jitwarm.plan._schema",
    "GEMM_KERNEL_NAMES": "jitwarm.plan._families",
    "HELPER_KERNELS": "jitwarm.plan._families",
    "MAX_DIM": "jitwarm.plan._schema",
    "MAX_M": "jitwarm.plan._schema",
    "METADATA_CONVENTIONS": "jitwarm.plan._schema",
    "MKind": "jitwarm.plan._schema",
    "ModelRef": "jitwarm.plan._schema",
    "Module": "jitwarm.plan._schema",
    "Plan": "jitwarm.plan._schema",
    "PlanEntry": "jitwarm.plan._schema",
    "PlanKernel": "jitwarm.plan._schema",
    "Selection": "jitwarm.plan._schema",
    "Site": "jitwarm.plan._sites",
    "TF32_HC_CONVENTIONS": "jitwarm.plan._schema",
    "build_entry": "jitwarm.plan._builder",
    "collect_sites": "jitwarm.plan._sites",
    "estimate_compile": "jitwarm.plan._estimate",
    "estimate_kernel_s": "jitwarm.plan._estimate",
    "families_selected": "jitwarm.plan._families",
    "family_of_kernel_name": "jitwarm.plan._families",
    "gemm_family_of_type": "jitwarm.plan._families",
    "hc_num_splits": "jitwarm.plan._select",
    "jitwarm_version": "jitwarm.plan._builder",
    "kernel_built_when": "jitwarm.plan._families",
    "kernel_positions": "jitwarm.plan._families",
    "linear_site": "jitwarm.plan._site",
    "select_kernels": "jitwarm.plan._select",
    "selection_model": "jitwarm.plan._builder",
    "selection_note": "jitwarm.plan._select",
    "sm100_problem": "jitwarm.plan._select",
    "sm90_problem": "jitwarm.plan._select",
    "spec": "jitwarm.plan._families",
    "plan_serving": "jitwarm.plan._builder",
    "kernel_key": "jitwarm.plan._identity",
    **{
        name: "jitwarm.plan._families"
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
        name: "jitwarm.plan._schema"
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
