"""``jitwarm serve``: a reference server for end-to-end measurements (extra ``jitwarm[server]``).

One HTTP process (FastAPI on uvicorn) in front of one engine process (the reference model and
its continuous-batching loop). Imports no torch: the engine process imports
:mod:`jitwarm.deepgemm.refmodel`.
"""

from jitwarm.server.settings import Device, ServerSettings, WarmupMode

__all__ = ["Device", "ServerSettings", "WarmupMode", "serve"]


def serve(settings: ServerSettings) -> int:
    """Serve until SIGTERM/SIGINT; returns the process exit code."""
    from jitwarm.server.launcher import serve as run

    return run(settings)
