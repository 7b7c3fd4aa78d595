"""A health prober that goes through the model: a 1-token completion every interval.

``/health`` only proves the engine loop turns; this prober proves a request gets through prefill
and decode in time. ``failure_threshold`` consecutive failures (timeout or error) count one
death; the next success brings the server back to life.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import httpx


@dataclass
class ProberStats:
    probes: int = 0
    failures: int = 0
    deaths: int = 0
    latencies_s: list[float] = field(default_factory=list)


class ModelPathProber:
    """Runs in a background thread between :meth:`start` and :meth:`stop`."""

    def __init__(
        self,
        url: str,
        *,
        model: str | None = None,
        interval_s: float = 5.0,
        timeout_s: float = 5.0,
        failure_threshold: int = 3,
    ) -> None:
        self.url = url.rstrip("/") + "/v1/completions"
        self.body: dict[str, object] = {"prompt": "ping", "max_tokens": 1}
        if model is not None:
            self.body["model"] = model
        self.interval_s = interval_s
        self.timeout_s = timeout_s
        self.failure_threshold = failure_threshold
        self.stats = ProberStats()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="model-path-prober", daemon=True)

    def start(self) -> ModelPathProber:
        self._thread.start()
        return self

    def stop(self) -> ProberStats:
        self._stop.set()
        self._thread.join(self.timeout_s + self.interval_s + 1)
        return self.stats

    def probe_once(self, client: httpx.Client) -> bool:
        t0 = time.monotonic()
        try:
            ok = client.post(self.url, json=self.body, timeout=self.timeout_s).status_code == 200
        except httpx.HTTPError:
            ok = False
        if ok:
            self.stats.latencies_s.append(time.monotonic() - t0)
        return ok

    def _run(self) -> None:
        consecutive = 0
        dead = False
        with httpx.Client() as client:
            while not self._stop.is_set():
                started = time.monotonic()
                ok = self.probe_once(client)
                self.stats.probes += 1
                if ok:
                    consecutive, dead = 0, False
                else:
                    self.stats.failures += 1
                    consecutive += 1
                    if consecutive >= self.failure_threshold and not dead:
                        self.stats.deaths += 1
                        dead = True
                self._stop.wait(max(0.0, self.interval_s - (time.monotonic() - started)))
