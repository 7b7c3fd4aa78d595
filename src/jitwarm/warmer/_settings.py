"""The environment warm's workers run DeepGEMM in: the plan's settings, as the server uses them.

- ``Plan.jit_env`` (DG_* variables the server sets) is applied to every worker.
- ``DG_JIT_CACHE_DIR`` points at the cache root being warmed.
- ``DG_JIT_PRINT_COMPILER_COMMAND=1`` (print-only, not part of any key) makes DeepGEMM print one
  line per compile, which is how a worker tells "compiled" from "already cached" per call.
- ``CUDA_DEVICE_MAX_CONNECTIONS=1`` (unless the caller set it): a worker runs one stream, and
  with one hardware queue per context instead of eight, sixteen workers create their CUDA
  contexts at once in about 1.4 s instead of 3 s (measured on an H100). It changes no kernel.
- The SM count (``Plan.num_sms``) and the contiguous-layout alignment (``serving.mk_alignment``)
  are applied by the DeepGEMM backend through the library's setters: workers get them, and the
  arch the plan is for, as :class:`PlanSettings` (not the plan: each work item carries its entry).

A key-changing debug variable (``DG_JIT_DEBUG``, ``DG_JIT_PTXAS_*``, ``DG_JIT_WITH_LINEINFO``,
``DG_JIT_CPP_STANDARD``) that the plan does not record makes warm refuse: every kernel would be
built under keys the server never looks up.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from jitwarm import dgenv
from jitwarm.errors import KeyChangingEnvError
from jitwarm.plan import Plan
from jitwarm.serving import Arch

log = logging.getLogger(__name__)

PRINT_COMPILES_VAR = "DG_JIT_PRINT_COMPILER_COMMAND"
CONNECTIONS_VAR = "CUDA_DEVICE_MAX_CONNECTIONS"


@dataclass(frozen=True)
class PlanSettings:
    """What a worker needs of its plan besides the items: the architecture the kernels are for
    (checked against the GPU), and the settings the server applies to DeepGEMM before any call,
    which every call is made under (``set_num_sms``, ``set_mk_alignment_for_contiguous_layout``).
    """

    arch: Arch
    num_sms: int
    mk_alignment: int  # rows per expert block of the contiguous grouped layout

    @classmethod
    def of(cls, plan: Plan) -> PlanSettings:
        return cls(arch=plan.arch, num_sms=plan.num_sms, mk_alignment=plan.serving.mk_alignment)


def worker_env(
    plan: Plan,
    *,
    cache_root: Path,
    base_env: Mapping[str, str] | None = None,
    allow_key_changing_env: bool = False,
) -> dict[str, str]:
    """Variables to set in each worker (on top of the inherited environment)."""
    base = os.environ if base_env is None else base_env
    env = {str(k): str(v) for k, v in plan.jit_env.items()}
    env[dgenv.CACHE_DIR_VAR] = str(cache_root)
    env[PRINT_COMPILES_VAR] = "1"
    if CONNECTIONS_VAR not in base:
        env[CONNECTIONS_VAR] = "1"
    effective = {**base, **env}
    unplanned = {
        var: value
        for var, value in dgenv.key_env(effective).items()
        if var != dgenv.NVCC_VAR and plan.jit_env.get(var) != effective.get(var)
    }
    if unplanned and not allow_key_changing_env:
        raise KeyChangingEnvError(unplanned)
    if unplanned:
        log.warning("warming with key-changing settings not in the plan: %s", unplanned)
    stray = sorted(k for k in base if k.startswith("DG_") and k not in env)
    if stray:
        log.info("DeepGEMM variables inherited from this environment, not in the plan: %s", stray)
    return env
