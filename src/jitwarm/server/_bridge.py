"""The HTTP process's handle on the engine process.

One spawned process, one duplex Pipe. A reader thread turns engine messages into asyncio
future results; a sender thread does every ``send``, so an engine that stops reading (stalled
in a compile) can never block the event loop that answers ``/live``.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import multiprocessing as mp
import queue
import threading
from collections.abc import Callable
from typing import Any

from jitwarm.server._engine import engine_main
from jitwarm.server._messages import Done, Failed, Ping, Pong, Ready, Shutdown, StepReport, Submit
from jitwarm.server._metrics import ServerMetrics
from jitwarm.server._settings import ServerSettings

log = logging.getLogger(__name__)


class _EngineGone(RuntimeError):
    """The engine process exited; no request can be served."""


class EngineBridge:
    def __init__(
        self,
        settings: ServerSettings,
        metrics: ServerMetrics,
        on_exit: Callable[[], None] | None = None,
    ) -> None:
        self.settings = settings
        self.metrics = metrics
        self.on_exit = on_exit
        self.ready: Ready | None = None
        self.failed: Failed | None = None
        self.alive = False
        self.stopping = False
        self.died = False  # exited without being asked to
        self._ctx = mp.get_context("spawn")  # no fork: the engine must not inherit our threads
        self._conn, child = self._ctx.Pipe()
        self._child = child
        self.proc = self._ctx.Process(
            target=engine_main, args=(child, settings.model_dump_json()), name="jitwarm-engine"
        )
        self._outbox: queue.Queue[Any] = queue.Queue()
        self._pending: dict[int, asyncio.Future[Done]] = {}
        self._pings: dict[int, asyncio.Future[None]] = {}
        self._ids = itertools.count(1)
        self._loop: asyncio.AbstractEventLoop | None = None

    # -- lifecycle ----------------------------------------------------------------------------
    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self.proc.start()
        self._child.close()
        self.alive = True
        threading.Thread(target=self._read_loop, name="engine-reader", daemon=True).start()
        threading.Thread(target=self._send_loop, name="engine-sender", daemon=True).start()

    def stop(self, timeout_s: float = 10.0) -> None:
        """Ask the engine to stop, then terminate and kill it if it does not."""
        self.stopping = True
        if self.proc.is_alive() and self.ready is None:
            self.proc.terminate()  # still warming up: no loop reads the pipe yet
        elif self.proc.is_alive():
            self._outbox.put(Shutdown())
            self.proc.join(timeout_s)
        if self.proc.is_alive():
            self.proc.terminate()
            self.proc.join(5)
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join(5)
        self._outbox.put(None)

    # -- requests -----------------------------------------------------------------------------
    async def generate(self, prompt: list[int], max_tokens: int) -> Done:
        if not self.alive:
            raise _EngineGone("engine process is not running")
        rid = next(self._ids)
        fut: asyncio.Future[Done] = asyncio.get_running_loop().create_future()
        self._pending[rid] = fut
        self._outbox.put(Submit(rid, prompt, max_tokens))
        try:
            return await fut
        finally:
            self._pending.pop(rid, None)

    async def ping(self, timeout_s: float) -> bool:
        """True when the engine loop answered within ``timeout_s``."""
        if not self.alive:
            return False
        pid = next(self._ids)
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pings[pid] = fut
        self._outbox.put(Ping(pid))
        try:
            await asyncio.wait_for(fut, timeout_s)
            return True
        except asyncio.TimeoutError:
            return False
        finally:
            self._pings.pop(pid, None)

    # -- threads ------------------------------------------------------------------------------
    def _send_loop(self) -> None:
        while (msg := self._outbox.get()) is not None:
            try:
                self._conn.send(msg)
            except (OSError, EOFError, BrokenPipeError):
                return

    def _read_loop(self) -> None:
        assert self._loop is not None
        while True:
            try:
                msg = self._conn.recv()
            except (EOFError, OSError):
                break
            self._loop.call_soon_threadsafe(self._on_message, msg)
        self._loop.call_soon_threadsafe(self._on_engine_exit)

    def _on_message(self, msg: Any) -> None:
        if isinstance(msg, Pong):
            fut = self._pings.get(msg.pid)
            if fut is not None and not fut.done():
                fut.set_result(None)
        elif isinstance(msg, Done):
            done = self._pending.get(msg.rid)
            if done is not None and not done.done():
                done.set_result(msg)
        elif isinstance(msg, StepReport):
            self.metrics.on_step(msg)
        elif isinstance(msg, Ready):
            self.ready = msg
            self.metrics.on_compiles(msg.compiles)
            self.metrics.ready.set(1)
            self.metrics.warmup_seconds.set(msg.warmup.get("seconds", 0.0))
            log.info("engine ready on %s after %s warmup", msg.device, msg.warmup.get("mode"))
        elif isinstance(msg, Failed):
            self.failed = msg
            log.error("engine failed: %s", msg.message)

    def _on_engine_exit(self) -> None:
        self.alive = False
        self.metrics.ready.set(0)
        for fut in list(self._pending.values()):
            if not fut.done():
                fut.set_exception(_EngineGone("engine process exited"))
        if not self.stopping:
            self.died = True
            if self.on_exit is not None:
                self.on_exit()
