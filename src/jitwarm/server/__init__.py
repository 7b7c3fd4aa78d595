"""``jitwarm serve``: a reference server for end-to-end measurements (extra ``jitwarm[server]``).

One HTTP process (FastAPI on uvicorn) in front of one engine process (the reference model,
``_refmodel``, and its continuous-batching loop). The HTTP process imports no torch; the engine
process does, and calls DeepGEMM only through :mod:`jitwarm.deepgemm` (the one package that
imports deep_gemm).
"""

from jitwarm._lazy import lazy_getattr
from jitwarm.server._settings import Device, ServerSettings, WarmupMode


def serve(settings: ServerSettings) -> int:
    """Serve until SIGTERM/SIGINT; returns the process exit code."""
    from jitwarm.server._launcher import serve as run

    return run(settings)


# Imported on first use (the package's interface; its modules are private).
_LAZY = {
    "derive_shapes": "jitwarm.server._refmodel",
    "import_bundle_available": "jitwarm.server._warmup",
}

__getattr__ = lazy_getattr(__name__, _LAZY)

__all__ = [
    "Device",
    "ServerSettings",
    "WarmupMode",
    "derive_shapes",
    "import_bundle_available",
    "serve",
]
