"""The ``jitwarm`` command line. Each command group lives in its own module."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import threading
from collections.abc import Iterator
from importlib import import_module
from typing import NoReturn

import typer

from jitwarm.errors import JitwarmError

__all__ = ["app", "main"]

app = typer.Typer(
    name="jitwarm",
    help="Plan, pre-compile, verify and ship every DeepGEMM JIT kernel a server can reach.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


# One module per command (group); each registers itself on `app` when imported.
_COMMAND_MODULES = (
    "plan_cmd",
    "kernels_cmd",
    "warm_cmd",
    "build_cmd",
    "verify_cmd",
    "run_cmd",
    "doctor_cmd",
    "cache_cmd",
    "bundle_cmd",
    "serve_cmd",
)


@app.callback()
def _group() -> None:
    # A group even when only one command is registered (typer would run a lone command as
    # the whole app).
    pass


def _register(argv: list[str] | None = None) -> None:
    """Import the command modules: only the one named first on the command line when there is
    one (a warm rerun should not pay for every other command's imports), else all of them.
    Imported here so `import jitwarm.cli` stays cheap and modules can import `app`."""
    args = sys.argv[1:] if argv is None else argv
    first = args[0] if args else ""
    names = [f"{first}_cmd"] if f"{first}_cmd" in _COMMAND_MODULES else _COMMAND_MODULES
    for name in names:
        import_module(f"jitwarm.cli._{name}")


def main(argv: list[str] | None = None) -> None:
    """Entry point: one line on stderr for a user mistake (exit 2) or a failure (exit 1),
    never a traceback unless JITWARM_DEBUG=1."""
    logging.basicConfig(
        level=os.environ.get("JITWARM_LOG_LEVEL", "WARNING").upper(),
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    _register(argv)
    with _sigterm_unwinds():
        _run(argv)


@contextlib.contextmanager
def _sigterm_unwinds() -> Iterator[None]:
    """SIGTERM exits through Python (exit 143), so every command's cleanup (``finally``,
    atexit) runs: warm's and verify's temporary folders, serve's scratch cache."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def terminated(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _run(argv: list[str] | None) -> NoReturn:
    try:
        # Not standalone: click's own error boxes span several lines; ours is one.
        code = app(args=argv, prog_name="jitwarm", standalone_mode=False)
    except typer.Abort:
        _fail("aborted", 130)
    except typer.TyperException as exc:  # click's errors: bad flags and values
        if type(exc).__name__ == "NoArgsIsHelpError":
            sys.exit(2)  # the help is already printed (typer tests the class by name too)
        _fail(_click_message(exc), exc.exit_code)
    except JitwarmError as exc:
        _fail(str(exc), exc.exit_code, exc)
    except OSError as exc:
        # A file the user named that cannot be written or read (a folder, no permission).
        where = f"{exc.filename}: " if exc.filename else ""
        _fail(f"{where}{exc.strerror or exc}", 1, exc)
    except RecursionError as exc:
        _fail("input nested too deeply to read", 2, exc)
    except MemoryError as exc:
        _fail("out of memory (an input asks for more than this machine holds)", 1, exc)
    sys.exit(code if isinstance(code, int) else 0)


def _click_message(exc: typer.TyperException) -> str:
    """Click's message on one line, with where to look for help."""
    text = " ".join(exc.format_message().replace("Value error, ", "").split())
    ctx = getattr(exc, "ctx", None)
    if ctx is not None:
        text += f" (see {ctx.command_path} --help)"
    return text


def _fail(message: str, code: int, exc: BaseException | None = None) -> NoReturn:
    if exc is not None and os.environ.get("JITWARM_DEBUG"):
        raise exc
    line = "; ".join(part.strip() for part in message.strip().splitlines() if part.strip())
    print(f"jitwarm: error: {line}", file=sys.stderr)
    sys.exit(code)
