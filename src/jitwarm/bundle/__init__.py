"""Ship kernel caches between hosts: bundles with provenance, imported atomically. Pure Python.

host = host_provenance()
export_bundle(scan_cache(roots), Path("kernels.tar.gz"), provenance=host, plan=plan)
import_bundle(Path("kernels.tar.gz"), roots, host=host)
"""

from jitwarm.bundle._export import ExportResult, export_bundle, select_entries
from jitwarm.bundle._host import (
    PROVENANCE_FILE,
    GpuFacts,
    compare_provenance,
    host_provenance,
    nvcc_version_mismatch,
    probe_gpu,
    read_cache_provenance,
    write_cache_provenance,
)
from jitwarm.bundle._import import ImportResult, import_bundle
from jitwarm.bundle._manifest import (
    FORMAT_VERSION,
    MANIFEST_NAME,
    BundleEntry,
    BundleFile,
    BundleLimits,
    BundleManifest,
    Provenance,
)
from jitwarm.bundle._merge import MergeResult, merge_bundles
from jitwarm.bundle._read import OpenBundle, open_bundle
from jitwarm.errors import BundleError, ProvenanceMismatchError

__all__ = [
    "FORMAT_VERSION",
    "MANIFEST_NAME",
    "PROVENANCE_FILE",
    "BundleEntry",
    "BundleError",
    "BundleFile",
    "BundleLimits",
    "BundleManifest",
    "ExportResult",
    "GpuFacts",
    "ImportResult",
    "MergeResult",
    "OpenBundle",
    "Provenance",
    "ProvenanceMismatchError",
    "compare_provenance",
    "export_bundle",
    "host_provenance",
    "import_bundle",
    "merge_bundles",
    "nvcc_version_mismatch",
    "open_bundle",
    "probe_gpu",
    "read_cache_provenance",
    "select_entries",
    "write_cache_provenance",
]
