"""jitwarm's interpreter-start hook: installs the DeepGEMM guard when JITWARM_GUARD or
JITWARM_RECORD is set, then runs the sitecustomize this one shadows, if any.

It must never stop an interpreter from starting: every failure is one line on stderr.
"""

import importlib.machinery
import importlib.util
import os
import sys


def _install() -> None:
    if not (os.environ.get("JITWARM_GUARD") or os.environ.get("JITWARM_RECORD")):
        return
    try:
        from jitwarm.guard import install_from_env

        install_from_env()
    except Exception as exc:  # a broken guard must not break the server
        print(f"jitwarm guard: not installed: {type(exc).__name__}: {exc}", file=sys.stderr)


def _chain() -> None:
    """Run the next sitecustomize on sys.path (the one this file shadows)."""
    here = os.path.dirname(os.path.abspath(__file__))
    rest = [p for p in sys.path if os.path.abspath(p or os.getcwd()) != here]
    spec = importlib.machinery.PathFinder.find_spec("sitecustomize", rest)
    if spec is None or spec.loader is None or spec.origin == __file__:
        return
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        print(f"jitwarm: the chained sitecustomize ({spec.origin}) failed: {exc}", file=sys.stderr)


_install()
_chain()
