"""The one part of jitwarm that imports torch and deep_gemm, and only when used.

- ``build_call(entry, m, device)`` / ``run_call(entry, m)``: the DeepGEMM call a plan entry makes
  at one M, with the runtime's exact argument contract (reused by verify, guard and record).
- ``deepgemm_module()``: the DeepGEMM module the engines would import (the reference server's
  model calls its kernels through it).
- ``DeepGEMMBackend``: warm's real compile step; ``DeepGEMMCalls``: verify's real calls.
- ``warm_model(model, serving)``: scan a loaded model's FP8 linears and warm exactly them.
- ``warm(plan, ...)``: ``jitwarm.warmer.warm`` with this backend as its default, and
  ``verify_plan(plan, ...)``: ``jitwarm.verify.verify_plan`` with these calls as its default
  (both registered when this package is imported: the adapter is injected from here).
"""

from __future__ import annotations

from jitwarm._lazy import lazy_getattr
from jitwarm.deepgemm import _register  # noqa: F401  (DeepGEMM's defaults for warm and verify)

_EXPORTS = {
    "Call": "jitwarm.deepgemm._calls",
    "UnsupportedFamilyError": "jitwarm.errors",
    "build_call": "jitwarm.deepgemm._calls",
    "deepgemm_module": "jitwarm.deepgemm._calls",
    "run_call": "jitwarm.deepgemm._calls",
    "DeepGEMMBackend": "jitwarm.deepgemm._backend",
    "DeepGEMMCalls": "jitwarm.deepgemm._verify_calls",
    "scan_fp8_linears": "jitwarm.deepgemm._scan",
    "plan_model": "jitwarm.deepgemm._scan",
    "warm_model": "jitwarm.deepgemm._scan",
    "warm": "jitwarm.warmer._api",
    "verify_plan": "jitwarm.verify",
}

__all__ = sorted(_EXPORTS)

__getattr__ = lazy_getattr(__name__, _EXPORTS)
