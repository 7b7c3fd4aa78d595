"""Prometheus counters of the guard, on prometheus-client's default registry.

The default registry is what engines (vLLM, SGLang) already expose on ``/metrics``, so the
counters appear there without any wiring. prometheus-client is optional at run time: a server
without it still gets the log lines and the summary.
"""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger(__name__)

_COUNTERS: dict[str, Any] | None = None


def counters() -> dict[str, Any] | None:
    """The guard's counters, created once per process; None without prometheus-client."""
    global _COUNTERS
    if _COUNTERS is not None:
        return _COUNTERS
    try:
        from prometheus_client import Counter
    except ImportError:
        log.info("prometheus-client is not installed: guard metrics are off")
        return None
    _COUNTERS = {
        "inline": Counter(
            "jitwarm_inline_compiles",
            "DeepGEMM JIT compiles on the serving path (after readiness), by kernel family.",
            ["family"],
        ),
        "inline_s": Counter(
            "jitwarm_inline_compile_seconds",
            "Wall seconds of calls that compiled a DeepGEMM kernel after readiness, by family.",
            ["family"],
        ),
        "warmup": Counter(
            "jitwarm_warmup_compiles",
            "DeepGEMM JIT compiles before readiness (startup warmup), by kernel family.",
            ["family"],
        ),
    }
    return _COUNTERS


def count_compile(family: str, *, inline: bool, wall_s: float) -> None:
    c = counters()
    if c is None:
        return
    if inline:
        c["inline"].labels(family=family).inc()
        c["inline_s"].labels(family=family).inc(wall_s)
    else:
        c["warmup"].labels(family=family).inc()


def serve(port: int) -> None:
    """Expose the default registry on ``port`` (for servers that have no /metrics)."""
    if counters() is None:
        return
    from prometheus_client import start_http_server

    try:
        start_http_server(port)
    except OSError as exc:  # another rank of the same server already holds the port
        log.warning("jitwarm guard: cannot serve metrics on port %d: %s", port, exc)
