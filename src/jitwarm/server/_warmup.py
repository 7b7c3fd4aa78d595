"""The startup modes of ``jitwarm serve``: what the engine compiles before it reports ready.

Runs inside the engine process. ``jitwarm`` mode calls ``jitwarm.warm`` through
:func:`warm_plan` (a small adapter: the library's parallel worker pool, with the simulated
compile backend in CPU mode; one in-process call per planned kernel if the library is
missing); ``bundle`` mode imports a cache bundle through ``jitwarm.bundle`` before the model
is built.
"""

from __future__ import annotations

import importlib
import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from jitwarm.errors import BundleSupportMissingError
from jitwarm.plan import Plan
from jitwarm.server._settings import WarmupMode

log = logging.getLogger(__name__)

SEED_DENSE_LIMIT = 2048  # the seed sweeps every M up to here, then every 16th
SEED_DENSE_STEP = 16


BundleSupportMissing = BundleSupportMissingError  # its old name


@dataclass
class WarmupReport:
    mode: str
    seconds: float = 0.0
    calls: int = 0  # GEMM calls (or simulated compile jobs) the warmup made
    planned_kernels: int = 0
    method: str = ""  # how it warmed, e.g. "simulated-parallel", "jitwarm.warmer", "in-process"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def dense_sweep_m_values(max_batched_tokens: int) -> list[int]:
    """The seed's M sweep: every M in 1..2048, then every 16th M up to the token budget."""
    dense = list(range(1, min(SEED_DENSE_LIMIT, max_batched_tokens) + 1))
    return dense + list(
        range(SEED_DENSE_LIMIT + SEED_DENSE_STEP, max_batched_tokens + 1, SEED_DENSE_STEP)
    )


def run_warmup(mode: WarmupMode, runtime: Any, plan: Plan, *, workers: int | None) -> WarmupReport:
    """Warm ``runtime`` (a :class:`jitwarm.server._refmodel.RefRuntime`) before readiness."""
    report = WarmupReport(mode=mode.value, planned_kernels=plan.num_kernels)
    t0 = time.monotonic()
    if mode is WarmupMode.DENSE:
        report.calls = runtime.sweep_linears(dense_sweep_m_values(plan.serving.max_batched_tokens))
        report.method = "serial-in-process"
    elif mode is WarmupMode.JITWARM:
        report.calls, report.method = warm_plan(plan, runtime, workers=workers)
    report.seconds = time.monotonic() - t0
    log.info(
        "warmup %s: %d calls in %.1f s (%s)",
        mode.value,
        report.calls,
        report.seconds,
        report.method,
    )
    return report


def warm_plan(plan: Plan, runtime: Any, *, workers: int | None) -> tuple[int, str]:
    """Compile every kernel of ``plan`` before serving with ``jitwarm.warm`` (its parallel
    worker pool; in CPU mode with the simulated compile backend). Returns (calls, method)."""
    library_warm = _library_function("jitwarm.warmer", "warm")
    if library_warm is None:
        log.warning(
            "jitwarm.warm is not installed: warming the plan serially in the engine process"
        )
        return runtime.warm_plan_in_process(plan), "in-process (jitwarm.warm missing)"
    kwargs: dict[str, Any] = {"jobs": workers, "cache_dir": runtime.cache_root}
    if runtime.device == "cpu":
        from jitwarm.server._refmodel.sim_backend import SimulatedCompileBackend

        kwargs["backend"] = SimulatedCompileBackend(compile_s=runtime.jit.compile_s)
    report = library_warm(plan, **kwargs)
    if report.failed:
        log.warning("jitwarm.warm: %d calls failed; they will compile while serving", report.failed)
    return report.compiled + report.cached, f"jitwarm.warm x{report.jobs}"


def import_bundle(bundle: Path, cache_root: Path, *, arch: str, num_sms: int) -> None:
    """Unpack ``bundle`` into the cache at ``cache_root`` with jitwarm's bundle library."""
    if not import_bundle_available():
        raise BundleSupportMissingError(
            "bundle support needs jitwarm.bundle (its import_bundle function is not in this "
            "installation)"
        )
    from jitwarm.bundle import host_provenance
    from jitwarm.bundle import import_bundle as library_import
    from jitwarm.profiles import resolve_cache_roots

    result = library_import(
        bundle, resolve_cache_roots(cache_root), host=host_provenance(arch=arch, num_sms=num_sms)
    )
    log.info(
        "bundle %s: %d entries imported, %d already present",
        bundle,
        len(result.imported),
        len(result.skipped),
    )


def import_bundle_available() -> bool:
    return _library_function("jitwarm.bundle", "import_bundle") is not None


def _library_function(module: str, name: str) -> Any:
    try:
        mod = importlib.import_module(module)
    except ImportError:
        return None
    fn = getattr(mod, name, None)
    return fn if callable(fn) else None
