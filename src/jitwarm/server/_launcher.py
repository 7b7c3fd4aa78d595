"""Run the two processes of ``jitwarm serve``: this one serves HTTP (uvicorn), a spawned one
runs the engine. SIGTERM or SIGINT stops uvicorn, whose shutdown stops the engine; an engine
that exits on its own stops uvicorn."""

from __future__ import annotations

import contextlib
import logging
import signal
from collections.abc import Iterator

import uvicorn

from jitwarm.errors import EngineFailedError
from jitwarm.server._app import create_app
from jitwarm.server._settings import ServerSettings

log = logging.getLogger(__name__)


EngineFailed = EngineFailedError  # its old name


class _Server(uvicorn.Server):
    """uvicorn re-raises a captured SIGTERM after shutdown (the process dies of the signal);
    a server asked to stop should exit 0 after stopping its engine, so handle them here."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        previous = {
            sig: signal.signal(sig, self.handle_exit) for sig in (signal.SIGINT, signal.SIGTERM)
        }
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def serve(settings: ServerSettings) -> int:
    """Serve until stopped. Returns 0 after a requested stop, 1 when the engine died; raises
    :class:`~jitwarm.errors.EngineFailedError` (exit code 2 for a user mistake) when the engine
    could not start."""
    server: _Server | None = None

    def engine_exited() -> None:
        if server is not None:
            server.should_exit = True

    app = create_app(settings, on_engine_exit=engine_exited)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level="warning",
        lifespan="on",
        timeout_graceful_shutdown=5,
    )
    server = _Server(config)
    server.run()
    bridge = app.state.bridge
    if bridge.failed is not None:
        raise EngineFailedError(bridge.failed.message, bridge.failed.exit_code)
    return 1 if bridge.died else 0
