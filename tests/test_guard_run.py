"""``jitwarm run``: a server command guarded without changing its code."""

from __future__ import annotations

import http.server
import json
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from fakes.helpers import fake_env
from jitwarm.cli import main
from jitwarm.guard._launch import watch_ready_url

SERVER = textwrap.dedent("""
    import sys
    import fake_tensor as ft
    import deep_gemm
    def gemm(m):
        a = (ft.empty(m, 7168, dtype=ft.float8_e4m3fn), ft.mn_major(m, 56))
        b = (ft.empty(512, 7168, dtype=ft.float8_e4m3fn), ft.empty(4, 56, dtype=ft.float32))
        deep_gemm.fp8_gemm_nt(a, b, ft.empty(m, 512, dtype=ft.bfloat16))
    gemm(5)                       # startup warmup
    from jitwarm import guard
    guard.mark_ready()
    gemm(6)                       # same kernel: fine
    try:
        gemm(4000)                # a long prefill: a new kernel, compiled inline
    except Exception as exc:
        print(type(exc).__name__)
    sys.exit(int(sys.argv[1]) if len(sys.argv) > 1 else 0)
""")


@pytest.fixture
def server_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cache = tmp_path / "cache"
    for key, value in fake_env(cache).items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(tmp_path)
    return cache


def run(argv: list[str]) -> int:
    with pytest.raises(SystemExit) as done:
        main(["run", *argv])
    return int(done.value.code or 0)


def test_error_mode_after_mark_ready(
    server_env: Path, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    code = run(
        [
            "--guard",
            "error",
            "--ready",
            "mark",
            "--summary",
            "s.json",
            "--record",
            "rec.json",
            "--",
            sys.executable,
            "-c",
            SERVER,
        ]
    )
    out, err = capfd.readouterr()
    assert code == 3  # the server swallowed InlineJITError and exited 0: run says 3
    assert out.strip() == "InlineJITError"
    summary = json.loads((tmp_path / "s.json").read_text())
    assert (summary["warmup_compiles"], summary["inline_compiles"]) == (1, 1)
    (event,) = [e for e in summary["events"] if e["phase"] == "inline"]
    assert event["signature"]["args"][0][0]["shape"] == [4000, 7168]
    assert "1 inline compiles" in err
    rec = json.loads((tmp_path / "rec.json").read_text())
    assert sorted(c["args"][0][0]["shape"][0] for c in rec["calls"]) == [5, 6, 4000]


def test_warn_mode_keeps_the_servers_exit_code(
    server_env: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    assert run(["--guard", "warn", "--", sys.executable, "-c", SERVER, "7"]) == 7
    assert capfd.readouterr().out.strip() == ""  # warn never raises
    assert run(["--guard", "warn", "--", sys.executable, "-c", SERVER]) == 0


def test_usage_errors(server_env: Path, capfd: pytest.CaptureFixture[str]) -> None:
    assert run(["--guard", "warn"]) == 2
    assert "no server command" in capfd.readouterr().err
    assert run(["--ready", "later", "--", "true"]) == 2
    assert "--ready='later'" in capfd.readouterr().err
    assert run(["--", "/no/such/server"]) == 2


def test_print_env(capfd: pytest.CaptureFixture[str]) -> None:
    assert run(["--print-env", "--guard", "error", "--ready", "after:30"]) == 0
    lines = capfd.readouterr().out.splitlines()
    assert lines[0].startswith("export PYTHONPATH=") and "jitwarm/guard/_site" in lines[0]
    assert lines[1:] == ["export JITWARM_GUARD=error", "export JITWARM_GUARD_READY=after:30"]


def test_ready_url_creates_the_ready_file(tmp_path: Path) -> None:
    class Health(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Health)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    flag, stop = tmp_path / "ready", threading.Event()
    try:
        watch_ready_url(
            f"http://127.0.0.1:{server.server_port}/health", flag, stop, interval_s=0.05
        ).join(10)
        assert flag.exists()
    finally:
        stop.set()
        server.shutdown()


@pytest.mark.parametrize("url", ["notaurl", "ftp://x", "http://", "http://host:99999/health"])
def test_a_malformed_ready_url_is_a_usage_error(
    url: str, capfd: pytest.CaptureFixture[str]
) -> None:
    assert run(["--guard", "error", "--ready-url", url, "--", sys.executable, "-c", "0"]) == 2
    err = capfd.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--ready-url" in err[0]


def _closed_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize(("mode", "expected"), [("error", 1), ("warn", 0)])
def test_readiness_that_never_comes_is_reported_and_fails_under_error(
    server_env: Path, capfd: pytest.CaptureFixture[str], mode: str, expected: int
) -> None:
    url = f"http://127.0.0.1:{_closed_port()}/health"
    child = "import deep_gemm"  # a guarded process that exits before the URL ever answers
    assert run(["--guard", mode, "--ready-url", url, "--", sys.executable, "-c", child]) == expected
    err = capfd.readouterr().err
    assert "never armed" in err and url in err


def test_an_inline_compile_the_command_does_not_catch_still_exits_3(
    server_env: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    uncaught = SERVER.replace("try:\n    gemm(4000)", "if True:\n    gemm(4000)").replace(
        "except Exception as exc:\n    print(type(exc).__name__)", ""
    )
    assert "try:" not in uncaught
    assert run(["--guard", "error", "--ready", "mark", "--", sys.executable, "-c", uncaught]) == 3
    assert "InlineJITError" in capfd.readouterr().err
