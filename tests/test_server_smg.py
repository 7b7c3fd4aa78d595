"""The real gateway (smg, PyPI tokenspeed-smg) in front of ``jitwarm serve`` in CPU mode: it
registers the server, routes a completion to it, and evicts it when an inline compile stalls
the engine past the health-check timeout; the model-path prober sees the same stall."""

from __future__ import annotations

import threading
import time

import httpx
import pytest

from _serve_args import SMALL_SERVE_ARGS
from jitwarm.server._gateway import HealthCheck, SmgGateway, find_smg
from jitwarm.server._prober import ModelPathProber
from jitwarm.server._process import ServerProcess

pytest.importorskip("torch")
pytest.importorskip("fastapi")
pytestmark = pytest.mark.skipif(
    find_smg() is None, reason="smg not installed (pip install tokenspeed-smg)"
)

SMALL = SMALL_SERVE_ARGS
MODEL = "jitwarm-ref-deepseek-v3"


def test_smg_routes_to_the_server_and_evicts_it_during_an_inline_compile(tmp_path):
    health = HealthCheck(timeout_s=1, failure_threshold=2, interval_s=1, remove_unhealthy=False)
    args = [*SMALL, "--sim-compile-s", "1.0", "--health-timeout", "0.5"]
    with ServerProcess(args, log_path=tmp_path / "serve.log") as srv:
        srv.wait_for("/ready", 60)
        with SmgGateway(srv.url, log_path=tmp_path / "smg.log", health=health) as smg:
            smg.wait_routable(60)
            prober = ModelPathProber(
                srv.url, interval_s=0.5, timeout_s=1.0, failure_threshold=3
            ).start()
            # Warmup none: the first request compiles ~12 kernels inline (~12 s of stall).
            r = httpx.post(
                smg.url + "/v1/completions",
                json={"model": MODEL, "prompt": "hello", "max_tokens": 3},
                timeout=120,
            )
            assert r.status_code == 200 and len(r.json()["choices"][0]["token_ids"]) == 3
            stats = prober.stop()
            assert smg.stats().evictions >= 1
            assert stats.deaths >= 1
            smg.wait_routable(30)  # recovers once the engine answers again (no removal here)
            again = httpx.post(
                smg.url + "/v1/completions",
                json={"model": MODEL, "prompt": "hello", "max_tokens": 3},
                timeout=60,
            )
            assert again.json()["choices"][0]["token_ids"] == r.json()["choices"][0]["token_ids"]


def test_no_eviction_after_a_jitwarm_warmup(tmp_path):
    # Same stall per compile as above; generous deadlines so a busy CI machine is no stall.
    health = HealthCheck(timeout_s=3, failure_threshold=2, interval_s=1)
    args = [
        *SMALL,
        "--sim-compile-s",
        "1.0",
        "--warmup",
        "jitwarm",
        "--warm-workers",
        "16",
        "--health-timeout",
        "2",
    ]
    with ServerProcess(args, log_path=tmp_path / "serve.log") as srv:
        srv.wait_for("/ready", 120)
        with SmgGateway(srv.url, log_path=tmp_path / "smg.log", health=health) as smg:
            smg.wait_routable(60)
            prober = ModelPathProber(
                srv.url, interval_s=0.5, timeout_s=1.0, failure_threshold=3
            ).start()
            prompts = ["hello", "y" * 250, "z" * 37]
            results: list[int] = []

            def send(p: str) -> None:
                body = {"model": MODEL, "prompt": p, "max_tokens": 8}
                results.append(
                    httpx.post(smg.url + "/v1/completions", json=body, timeout=60).status_code
                )

            threads = [threading.Thread(target=send, args=(p,)) for p in prompts]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            stats = prober.stop()
            assert results == [200, 200, 200]
            assert smg.stats().evictions == 0 and stats.deaths == 0 and stats.probes > 0


def test_a_worker_smg_dropped_is_added_back_and_served_again(tmp_path):
    with ServerProcess([*SMALL], log_path=tmp_path / "serve.log") as srv:
        srv.wait_for("/ready", 60)
        with SmgGateway(srv.url, log_path=tmp_path / "smg.log") as smg:
            assert smg.wait_routable(60, reregister=True) == 0  # listed from the start
            (worker,) = httpx.get(smg.url + "/workers", timeout=5).json()["workers"]
            httpx.delete(f"{smg.url}/workers/{worker['id']}", timeout=5).raise_for_status()
            deadline = time.monotonic() + 30  # smg removes it in the background
            while smg.worker_status() == "ready" and time.monotonic() < deadline:
                time.sleep(0.1)
            assert smg.wait_routable(60, reregister=True) == 1
            body = {"model": MODEL, "prompt": "back again", "max_tokens": 4}
            r = httpx.post(smg.url + "/v1/completions", json=body, timeout=60)
            assert r.status_code == 200 and r.json()["choices"][0]["token_ids"]
