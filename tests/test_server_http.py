"""``jitwarm serve`` in CPU mode, end to end over HTTP: probes, completions, errors, metrics,
and a clean stop on SIGTERM with no process left behind."""

from __future__ import annotations

import threading
import time

import httpx
import pytest

from _serve_args import SMALL_SERVE_ARGS
from jitwarm.cli import main
from jitwarm.server._process import ServerProcess

pytest.importorskip("torch")
pytest.importorskip("fastapi")

SMALL = SMALL_SERVE_ARGS


def _metric(text: str, name: str) -> float:
    return sum(
        float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(name + "{")
    )


def test_serves_completions_and_answers_probes(tmp_path):
    with ServerProcess([*SMALL, "--sim-compile-s", "0.01"], log_path=tmp_path / "serve.log") as srv:
        srv.wait_for("/live", 30)
        srv.wait_for("/ready", 60)
        assert httpx.get(srv.url + "/health").status_code == 200
        models = httpx.get(srv.url + "/v1/models").json()
        assert models["data"][0]["owned_by"] == "sglang"
        model_id = models["data"][0]["id"]
        r = httpx.post(
            srv.url + "/v1/completions",
            json={"model": model_id, "prompt": "hello", "max_tokens": 5},
            timeout=30,
        )
        assert r.status_code == 200
        choice = r.json()["choices"][0]
        assert len(choice["token_ids"]) == 5 and r.json()["usage"]["prompt_tokens"] == 5
        same = httpx.post(
            srv.url + "/v1/completions",
            json={"prompt": list(b"hello"), "max_tokens": 5},
            timeout=30,
        )
        assert same.json()["choices"][0]["token_ids"] == choice["token_ids"]
        gen = httpx.post(
            srv.url + "/generate",
            json={"text": "hello", "sampling_params": {"max_new_tokens": 5}},
            timeout=30,
        )
        assert gen.json()["output_ids"] == choice["token_ids"]
        for bad in (
            {"prompt": [300], "max_tokens": 1},
            {"prompt": "", "max_tokens": 1},
            {"prompt": "x", "max_tokens": 0},
            {"prompt": "x", "stream": True},
            {"max_tokens": 3},
        ):
            resp = httpx.post(srv.url + "/v1/completions", json=bad, timeout=10)
            assert resp.status_code == 400 and resp.json()["error"]["message"]
        metrics = httpx.get(srv.url + "/metrics").text
        assert _metric(metrics, "jitwarm_inline_compiles_total") > 0  # warmup none: compiled inline
        assert _metric(metrics, "jitwarm_requests_total") == 3
        info = httpx.get(srv.url + "/get_server_info").json()
        assert info["device"] == "cpu" and info["warmup"] == "none"
        assert srv.stop() == 0
        assert not srv.left_behind


def test_an_inline_compile_fails_health_while_live_answers(tmp_path):
    args = [*SMALL, "--sim-compile-s", "0.6", "--health-timeout", "0.2"]
    with ServerProcess(args, log_path=tmp_path / "serve.log") as srv:
        srv.wait_for("/ready", 60)
        worker = threading.Thread(
            target=lambda: httpx.post(
                srv.url + "/v1/completions",
                json={"prompt": "x" * 100, "max_tokens": 2},
                timeout=120,
            )
        )
        worker.start()
        health, live = [], []
        while worker.is_alive():
            health.append(httpx.get(srv.url + "/health", timeout=5).status_code)
            t0 = time.monotonic()
            live.append(
                (httpx.get(srv.url + "/live", timeout=5).status_code, time.monotonic() - t0)
            )
        worker.join()
        assert 503 in health  # the engine loop stalled in a compile past the deadline
        assert all(code == 200 and seconds < 1.0 for code, seconds in live)
        assert httpx.get(srv.url + "/health", timeout=5).status_code == 200
        assert httpx.get(srv.url + "/ready", timeout=5).status_code == 200


def test_sigterm_during_warmup_stops_everything(tmp_path):
    args = [*SMALL, "--warmup", "dense", "--sim-compile-s", "0.5"]
    with ServerProcess(args, log_path=tmp_path / "serve.log") as srv:
        srv.wait_for("/live", 30)
        assert httpx.get(srv.url + "/ready").status_code == 503
        assert httpx.get(srv.url + "/health").status_code == 503
        assert httpx.post(srv.url + "/v1/completions", json={"prompt": "x"}).status_code == 503
        assert srv.stop() == 0
        assert not srv.left_behind


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["serve", "--warmup", "bundle"], "--bundle"),
        (["serve", "--warmup", "later"], "--warmup"),
        (["serve", "--bundle", "/nonexistent/kernels.tar.gz"], "not a file"),
        (["serve", "--model", "qwen3-30b-a3b-fp8"], "DeepSeek-V3-architecture"),
        (["serve", "--tp", "8", "--device", "tpu"], "--device"),
    ],
)
def test_a_bad_flag_is_one_line_and_exit_2(argv, needle, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert needle in err and len(err.splitlines()) == 1


def test_an_engine_that_cannot_start_exits_with_its_message(tmp_path):
    if pytest.importorskip("torch").cuda.is_available():
        pytest.skip("a GPU is here: --device cuda may start")
    srv = ServerProcess(["--tp", "8", "--device", "cuda"], log_path=tmp_path / "serve.log")
    srv.start()
    assert srv.proc.wait(60) == 2
    log = (tmp_path / "serve.log").read_text()
    assert "jitwarm: error: --device cuda: no CUDA device" in log and "Traceback" not in log
    srv.stop()
    assert not srv.left_behind
