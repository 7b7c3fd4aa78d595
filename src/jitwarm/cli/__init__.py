"""The ``jitwarm`` command line. Each command group lives in its own module."""

from __future__ import annotations

import logging
import os
import sys
from importlib import import_module

import typer

from jitwarm.errors import JitwarmError

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


def _register() -> None:
    # Imported here so `import jitwarm.cli` stays cheap and modules can import `app`.
    for name in _COMMAND_MODULES:
        import_module(f"jitwarm.cli.{name}")


def main(argv: list[str] | None = None) -> None:
    """Entry point: one line on stderr and exit code 2 for a user mistake, never a traceback
    unless JITWARM_DEBUG=1."""
    logging.basicConfig(
        level=os.environ.get("JITWARM_LOG_LEVEL", "WARNING").upper(),
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    _register()
    try:
        # Standalone mode: click reports its own usage errors (exit 2) and handles Ctrl-C.
        app(args=argv, prog_name="jitwarm")
    except JitwarmError as exc:
        if os.environ.get("JITWARM_DEBUG"):
            raise
        print(f"jitwarm: error: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)
