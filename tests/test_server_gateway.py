"""Counting smg's evictions from its log, and the smg command line the server is checked with
(no smg needed)."""

from __future__ import annotations

import pytest

from jitwarm.server import _gateway as gateway
from jitwarm.server._gateway import HealthCheck, SmgGateway

LOG = """\
2026-11-25 10:38:28  WARN smg::worker::manager: Health probe failed worker_url=http://w error=timeout
2026-11-25 10:38:32  INFO smg::worker::manager: model_gateway/src/worker/manager.rs:798: \
Worker status transition worker_url=http://w old=Ready new=NotReady
2026-11-25 10:38:51  INFO smg::worker::manager: Worker status transition worker_url=http://w old=NotReady new=Ready
2026-11-25 10:39:02  INFO smg::worker::manager: \x1b[2mWorker status transition\x1b[0m worker_url=http://w old=Ready new=NotReady
2026-11-25 10:39:40  INFO smg::worker::manager: Worker status transition worker_url=http://w old=NotReady new=Failed
2026-11-25 10:39:40  WARN smg::worker::manager: Removing failed worker from registry worker_url=http://w
"""


@pytest.fixture
def fake_smg(tmp_path, monkeypatch):
    exe = tmp_path / "smg"
    exe.write_text("#!/bin/sh\n")
    monkeypatch.setattr(gateway, "find_smg", lambda: str(exe))
    return exe


def test_evictions_removals_and_recoveries_are_read_from_the_log(tmp_path, fake_smg):
    log = tmp_path / "smg.log"
    log.write_text(LOG)
    stats = SmgGateway("http://w", port=1, metrics_port=2, log_path=log).stats()
    assert (stats.evictions, stats.recoveries, stats.failed, stats.removals) == (2, 1, 1, 1)


def test_the_health_check_is_set_as_in_production(tmp_path, fake_smg):
    args = SmgGateway("http://w", port=1, metrics_port=2, log_path=tmp_path / "l").args

    def value(flag: str) -> str:
        return args[args.index(flag) + 1]

    assert value("--health-check-endpoint") == "/health"
    assert value("--health-check-timeout-secs") == "5"
    assert value("--health-failure-threshold") == "3"
    assert "--remove-unhealthy-workers" in args
    quick = SmgGateway(
        "http://w",
        port=1,
        metrics_port=2,
        log_path=tmp_path / "l",
        health=HealthCheck(remove_unhealthy=False),
    ).args
    assert "--no-remove-unhealthy-workers" in quick
