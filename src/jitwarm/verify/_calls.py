"""Where verify gets its DeepGEMM calls: a *calls provider* module.

A provider exposes two functions, imported in each worker process only:

- ``prepare(ctx: WorkerContext) -> None``: once per worker, before the first call (apply the
  plan's SM count and layout settings to DeepGEMM).
- ``build_call(plan: Plan, entry_index: int, m: int) -> Callable[[], object]``: the call of
  that plan entry at that M, ready to run (arguments allocated).

The GPU provider is :mod:`jitwarm.deepgemm._verify_calls` (torch + deep_gemm, the argument
builders warm uses). ``JITWARM_VERIFY_CALLS`` names another (the test double of deep_gemm
ships one in tests/fakes).
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from types import ModuleType
from typing import Protocol

from jitwarm.plan import Plan
from jitwarm.warmer import WorkerContext

CALLS_VAR = "JITWARM_VERIFY_CALLS"
DEFAULT_PROVIDER = "jitwarm.deepgemm._verify_calls"
# Modules a fork server imports once for the default provider, so workers start fast.
DEFAULT_PRELOAD = ("torch", "deep_gemm")


class CallsProvider(Protocol):
    def prepare(self, ctx: WorkerContext) -> None: ...

    def build_call(self, plan: Plan, entry_index: int, m: int) -> Callable[[], object]: ...


def provider_name() -> str:
    return os.environ.get(CALLS_VAR) or DEFAULT_PROVIDER


def preload_for(name: str) -> tuple[str, ...]:
    return DEFAULT_PRELOAD if name == DEFAULT_PROVIDER else ()


def load_provider(name: str) -> ModuleType:
    return importlib.import_module(name)
