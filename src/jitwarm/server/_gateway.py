"""The smg gateway (PyPI ``tokenspeed-smg``, command ``smg``) in front of ``jitwarm serve``.

smg registers an HTTP worker by probing ``/health``, reading ``/v1/models`` (``owned_by``
names the backend: ``sglang``) and ``/model_info`` or ``/get_model_info``; it then health-checks
the worker every interval. After ``failure_threshold`` consecutive failed probes it marks the
worker NotReady (no request is routed to it: an eviction); after three times that many it marks
it Failed and, with ``--remove-unhealthy-workers``, removes it for good. Both transitions are
logged at INFO level (``Worker status transition ... old=Ready new=NotReady``), which is where
:meth:`SmgGateway.evictions` counts them.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import httpx

from jitwarm.server._process import free_port

_TRANSITION = re.compile(r"Worker status transition .*old=(\w+) new=(\w+)")
_REMOVAL = "Removing failed worker from registry"


def find_smg() -> str | None:
    """The ``smg`` executable: beside this Python first (a venv), then on PATH."""
    beside = Path(sys.executable).with_name("smg")
    return str(beside) if beside.is_file() else shutil.which("smg")


@dataclass(frozen=True)
class HealthCheck:
    """smg's worker health check. Production values for endpoint, timeout and threshold; the
    interval is shortened from smg's default 60 s so a benchmark sees a stall of seconds."""

    endpoint: str = "/health"
    timeout_s: int = 5
    failure_threshold: int = 3
    interval_s: int = 5
    remove_unhealthy: bool = True


@dataclass(frozen=True)
class GatewayStats:
    evictions: int  # Ready -> NotReady: no longer routed to
    failed: int  # -> Failed
    removals: int  # removed from the registry (never comes back with a static URL)
    recoveries: int  # NotReady -> Ready


class SmgGateway:
    """Runs ``smg launch`` with one HTTP worker; a context manager that stops it on exit."""

    def __init__(
        self,
        worker_url: str,
        *,
        log_path: Path,
        port: int | None = None,
        metrics_port: int | None = None,
        health: HealthCheck = HealthCheck(),
        host: str = "127.0.0.1",
        extra_args: tuple[str, ...] = (),
    ) -> None:
        """``port`` / ``metrics_port``: free ports when not given, as for ``ServerProcess``."""
        exe = find_smg()
        if exe is None:
            raise FileNotFoundError("smg is not installed (pip install tokenspeed-smg)")
        port, metrics_port = port or free_port(), metrics_port or free_port()
        self.url = f"http://{host}:{port}"
        self.worker_url = worker_url
        self.log_path = log_path
        self.args = [
            exe,
            "launch",
            "--host",
            host,
            "--port",
            str(port),
            "--worker-urls",
            worker_url,
            "--prometheus-host",
            host,
            "--prometheus-port",
            str(metrics_port),
            "--health-check-endpoint",
            health.endpoint,
            "--health-check-timeout-secs",
            str(health.timeout_s),
            "--health-failure-threshold",
            str(health.failure_threshold),
            "--health-check-interval-secs",
            str(health.interval_s),
            "--remove-unhealthy-workers"
            if health.remove_unhealthy
            else "--no-remove-unhealthy-workers",
            "--log-level",
            "info",
            *extra_args,
        ]
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> SmgGateway:
        self.start()
        return self

    def __exit__(
        self, *exc: tuple[type[BaseException], BaseException, TracebackType] | None
    ) -> None:
        self.stop()

    def start(self) -> None:
        log = open(self.log_path, "wb")  # noqa: SIM115 - the child owns it until stop()
        env = {**os.environ, "NO_COLOR": "1", "RUST_LOG_STYLE": "never"}
        self.proc = subprocess.Popen(self.args, stdout=log, stderr=subprocess.STDOUT, env=env)
        log.close()

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)

    def worker_status(self) -> str | None:
        """The worker's status in smg's registry ("ready", ...); None when it is not listed."""
        workers = httpx.get(f"{self.url}/workers", timeout=2).json().get("workers", [])
        for w in workers:
            if w.get("url") == self.worker_url:
                return str(w.get("status"))
        return None

    def register(self) -> None:
        """Add the worker to smg's registry again, as service discovery does for a pod that is
        still running after smg removed it (POST /workers; smg answers 202 and adds it)."""
        r = httpx.post(f"{self.url}/workers", json={"url": self.worker_url}, timeout=5)
        r.raise_for_status()

    def wait_routable(self, timeout_s: float = 60.0, *, reregister: bool = False) -> int:
        """Until smg lists the worker as ready (registered and healthy). With ``reregister``, a
        worker smg removed is added again. Returns how many times it was."""
        deadline = time.monotonic() + timeout_s
        added = 0
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"smg exited with {self.proc.returncode}; see {self.log_path}")
            try:
                status = self.worker_status()
                if status == "ready":
                    return added
                if status is None and reregister:
                    self.register()
                    added += 1
                    time.sleep(1.0)  # smg adds it in the background
            except (httpx.HTTPError, ValueError):
                pass
            time.sleep(0.2)
        raise TimeoutError(
            f"smg did not route to {self.worker_url} within {timeout_s} s; see {self.log_path}"
        )

    def stats(self) -> GatewayStats:
        """Evictions, failures and removals of the worker, read from smg's log."""
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        text = re.sub(r"\x1b\[[0-9;]*m", "", text)
        moves = _TRANSITION.findall(text)
        return GatewayStats(
            evictions=sum(1 for old, new in moves if old == "Ready" and new == "NotReady"),
            failed=sum(1 for _, new in moves if new == "Failed"),
            removals=text.count(_REMOVAL),
            recoveries=sum(1 for old, new in moves if old == "NotReady" and new == "Ready"),
        )
