"""Inspect, check and prune a DeepGEMM kernel cache (both on-disk layouts). Pure Python.

info = scan_cache(resolve_cache_roots())
report = check_cache(info)
strategy = plan_prune(info, plan=Plan.load("plan.json"))
strategy.expected_freed_bytes; strategy.execute()
"""

from jitwarm.cache._check import (
    DEFAULT_TMP_GRACE_S,
    CheckReport,
    Finding,
    FindingKind,
    check_cache,
    quarantine_findings,
)
from jitwarm.cache._elf import EM_CUDA, cubin_file_problem, cubin_problem
from jitwarm.cache._fsops import (
    QUARANTINE_DIR,
    TRASH_DIR,
    fsync_dir,
    move_aside,
    new_staging_dir,
    read_noatime,
)
from jitwarm.cache._identity import family_of, parse_entry_name, parse_template_args
from jitwarm.cache._plan_match import PlanIndex, kernel_identity
from jitwarm.cache._prune import PruneItem, PruneReason, PruneStrategy, plan_prune
from jitwarm.cache._scan import (
    COMMIT_MARKER,
    CUBIN_FILE,
    ENTRY_FILES,
    META_FILE,
    REQUIRED_FILES,
    SOURCE_FILE,
    CachedFile,
    CacheEntry,
    CacheInfo,
    EntryStatus,
    FamilyStats,
    TempDir,
    scan_cache,
    scan_entry,
)
from jitwarm.cache._units import format_age, format_size, parse_age, parse_size
from jitwarm.errors import CacheNotFoundError, CacheWriteError

__all__ = [
    "COMMIT_MARKER",
    "CUBIN_FILE",
    "DEFAULT_TMP_GRACE_S",
    "EM_CUDA",
    "ENTRY_FILES",
    "META_FILE",
    "QUARANTINE_DIR",
    "REQUIRED_FILES",
    "SOURCE_FILE",
    "TRASH_DIR",
    "CacheEntry",
    "CacheInfo",
    "CacheNotFoundError",
    "CacheWriteError",
    "CachedFile",
    "CheckReport",
    "EntryStatus",
    "FamilyStats",
    "Finding",
    "FindingKind",
    "PlanIndex",
    "PruneItem",
    "PruneReason",
    "PruneStrategy",
    "TempDir",
    "check_cache",
    "cubin_file_problem",
    "cubin_problem",
    "family_of",
    "format_age",
    "format_size",
    "fsync_dir",
    "kernel_identity",
    "move_aside",
    "new_staging_dir",
    "parse_age",
    "parse_entry_name",
    "parse_size",
    "parse_template_args",
    "plan_prune",
    "quarantine_findings",
    "read_noatime",
    "scan_cache",
    "scan_entry",
]
