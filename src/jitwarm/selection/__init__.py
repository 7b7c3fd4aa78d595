from jitwarm._lazy import lazy_getattr

# Imported on first use (the package's interface; its modules are private).
_LAZY = {
    "GemmProblem": "jitwarm.selection._types",
    "GemmType": "jitwarm.selection._types",
    "KernelType": "jitwarm.selection._types",
    "MEGA_MOE_MAX_BLOCK_CONFIGS": "jitwarm.selection._sm100",
    "MegaMoEProblem": "jitwarm.selection._sm100",
    "SM100GemmProblem": "jitwarm.selection._sm100",
    "SM100KernelConfig": "jitwarm.selection._sm100",
    "SM90KernelConfig": "jitwarm.selection._sm90",
    "max_kernels_sm100": "jitwarm.selection._sm100",
    "max_kernels_sm90": "jitwarm.selection._sm90",
    "paged_metadata_threads": "jitwarm.selection._sm100",
    "partition_m_sm100": "jitwarm.selection._sm100",
    "partition_m_sm90": "jitwarm.selection._sm90",
    "partition_tokens_mega_moe": "jitwarm.selection._sm100",
    "select_sm90": "jitwarm.selection._sm90",
    "sm100_rules": "jitwarm.selection._sm100",
}

__getattr__ = lazy_getattr(__name__, _LAZY)

__all__ = [
    "MEGA_MOE_MAX_BLOCK_CONFIGS",
    "GemmProblem",
    "GemmType",
    "KernelType",
    "MegaMoEProblem",
    "SM90KernelConfig",
    "SM100GemmProblem",
    "SM100KernelConfig",
    "max_kernels_sm90",
    "max_kernels_sm100",
    "paged_metadata_threads",
    "partition_m_sm90",
    "partition_m_sm100",
    "partition_tokens_mega_moe",
    "select_sm90",
    "sm100_rules",
]
