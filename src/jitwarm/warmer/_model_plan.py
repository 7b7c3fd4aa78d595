"""A plan from the FP8 linear shapes found in a loaded model (``warm_model``). Pure Python: the
torch side (``jitwarm.deepgemm._scan``) only reports shapes and module names."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from jitwarm.mset import MSet
from jitwarm.plan import (
    ModelRef,
    Module,
    Plan,
    PlanEntry,
    jitwarm_version,
    linear_site,
    select_kernels,
)
from jitwarm.plan import _domains as domains
from jitwarm.serving import ServingConfig

_LAYER = re.compile(r"\.(\d+)\.")


@dataclass(frozen=True)
class LinearShape:
    """An FP8 block-quantized linear layer's GEMM: D[M, n] = A[M, k] @ W[n, k]^T."""

    n: int
    k: int
    modules: tuple[str, ...]


def _modules(names: Sequence[str]) -> list[Module]:
    """Module names with their first numeric component (the layer index) folded into ranges."""
    layers: dict[str, set[int]] = {}
    for name in names:
        match = _LAYER.search(name)
        if match is None:
            layers.setdefault(name, set())
            continue
        pattern = name[: match.start()] + ".*." + name[match.end() :]
        layers.setdefault(pattern, set()).add(int(match.group(1)))
    return [
        Module(name=p, layers=MSet.of(sorted(ls)).to_json()) for p, ls in sorted(layers.items())
    ]


def plan_linear_shapes(
    shapes: Sequence[LinearShape],
    serving: ServingConfig,
    *,
    model_name: str = "scanned-model",
    architecture: str = "unknown",
    jit_env: dict[str, str] | None = None,
) -> Plan:
    """Every ``fp8_gemm_nt`` kernel the given linear shapes reach under ``serving``.

    Which rows a layer sees is not known from its weights alone, so every shape gets the rows
    of the widest linear (gathered rows under attention data parallelism): planning a kernel
    that never runs costs one compile, missing one stalls a server.
    """
    rows = domains.gathered_rows(serving)
    entries = []
    for shape in sorted(shapes, key=lambda s: (s.n, s.k)):
        site = linear_site(
            serving, shape.modules[0] if shape.modules else "linear", (), shape.n, shape.k, rows
        )
        selection, kernels = select_kernels(
            site.family,
            site.n,
            site.k,
            1,
            site.conventions,
            rows,
            arch=serving.arch.value,
            num_sms=serving.sms,
            mk_alignment=serving.mk_alignment,
        )
        entries.append(
            PlanEntry(
                family=site.family,
                n=site.n,
                k=site.k,
                conventions=site.conventions,
                phases=list(site.phases),
                m_kind=site.m_kind,
                m_values=rows.to_json(),
                selection=selection,
                kernels=kernels,
                modules=_modules(shape.modules),
            )
        )
    return Plan(
        jitwarm_version=jitwarm_version(),
        arch=serving.arch.value,
        num_sms=serving.sms,
        model=ModelRef(
            name=model_name, architecture=architecture, source="scanned from a loaded model"
        ),
        serving=serving,
        jit_env=dict(jit_env or {}),
        entries=entries,
    )
