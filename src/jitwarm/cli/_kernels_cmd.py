"""``jitwarm kernels``: explain one shape - which M values share which kernel, and why."""

from __future__ import annotations

from enum import Enum
from typing import Annotated

import typer
from rich.table import Table

from jitwarm.cli import app
from jitwarm.cli._output import print_json, stdout
from jitwarm.errors import UsageError
from jitwarm.mset import MSet
from jitwarm.plan import (
    MAX_DIM,
    MAX_M,
    TF32_HC_CONVENTIONS,
    Conventions,
    Family,
    Selection,
    families_selected,
    select_kernels,
    selection_model,
    selection_note,
    spec,
)
from jitwarm.profiles import get_profile
from jitwarm.serving import (
    DEFAULT_NUM_SMS,
    MAX_DRAFT_TOKENS,
    MAX_NUM_SMS,
    MAX_RUNNING_SEQS,
    Arch,
)

# The metadata kernel's M is a decode batch: at most every running sequence's verify rows.
MAX_DECODE_BATCH = MAX_RUNNING_SEQS * (MAX_DRAFT_TOKENS + 1)

# Families whose kernel M (or a value derived from it) moves, per arch: the ones this explains.
_MODELLED = {arch.value: families_selected(arch.value, invariant=False) for arch in Arch}

# Only families with a selection model are offered (an Enum, so --help lists them).
ModelledFamily = Enum(  # type: ignore[misc]
    "ModelledFamily",
    {f.name: f.value for f in dict.fromkeys(f for fams in _MODELLED.values() for f in fams)},
    type=str,
)


@app.command("kernels")
def kernels_command(
    family_choice: Annotated[
        ModelledFamily, typer.Option("--family", help="Kernel family with a selection model.")
    ],
    m_max: Annotated[
        int,
        typer.Option(
            "--m-max",
            min=1,
            max=MAX_M,
            help="Largest M (total rows for contiguous, expected_m for masked, b for einsum, batch for metadata).",
        ),
    ],
    n: Annotated[
        int | None,
        typer.Option("--n", min=1, max=MAX_DIM, help="N (output columns; d for einsum)."),
    ] = None,
    k: Annotated[
        int | None, typer.Option("--k", min=1, max=MAX_DIM, help="K (reduction; r for einsum).")
    ] = None,
    groups: Annotated[
        int,
        typer.Option(
            "--groups",
            min=1,
            max=MAX_DIM,
            help="Groups on this rank (experts, or heads h for einsum).",
        ),
    ] = 1,
    arch: Annotated[Arch, typer.Option("--arch")] = Arch.SM90,
    num_sms: Annotated[int | None, typer.Option("--num-sms", min=1, max=MAX_NUM_SMS)] = None,
    alignment: Annotated[
        int,
        typer.Option(
            "--alignment", min=16, max=256, help="Contiguous layout alignment (a power of two)."
        ),
    ] = 128,
    out_dtype: Annotated[str, typer.Option("--out-dtype", help="bf16 or fp32.")] = "bf16",
    ab_dtype: Annotated[
        str, typer.Option("--ab-dtype", help="sm100 operands: fp8_e4m3 or fp8xfp4 (FP4 weights).")
    ] = "fp8_e4m3",
    ep: Annotated[int, typer.Option("--ep", min=1, help="Expert-parallel size (mega-MoE).")] = 1,
    top_k: Annotated[int, typer.Option("--top-k", min=1, help="Experts per token (mega-MoE).")] = 8,
    build: Annotated[
        str | None,
        typer.Option("--build", help="DeepGEMM build profile whose heuristic to follow."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Explain one shape: each distinct kernel, its parameters and the M values that use it."""
    family = Family(family_choice.value)
    modelled = _MODELLED[arch.value]
    if family not in modelled:
        raise UsageError(
            f"'--family': {family.value} has no {arch.value} selection model "
            f"(modelled on {arch.value}: {', '.join(f.value for f in modelled)})"
        )
    if family is not Family.PAGED_MQA_METADATA and (n is None or k is None):
        raise UsageError(f"--n and --k are required for {family.value}")
    n, k = n or 1, k or 1
    if family is Family.PAGED_MQA_METADATA and m_max > MAX_DECODE_BATCH:
        raise UsageError(
            f"--m-max {m_max} is above the largest decode batch a server runs "
            f"({MAX_DECODE_BATCH:,})"
        )
    if alignment & (alignment - 1):
        raise UsageError(f"--alignment must be a power of two, got {alignment}")
    if ab_dtype not in ("fp8_e4m3", "fp8xfp4"):
        raise UsageError(f"--ab-dtype must be fp8_e4m3 or fp8xfp4, got {ab_dtype!r}")
    profile = get_profile(build) if build is not None else None
    model = selection_model(profile, arch.value)
    if out_dtype not in ("bf16", "fp32"):
        raise UsageError(f"--out-dtype must be bf16 or fp32, got {out_dtype!r}")
    if family is Family.M_GROUPED_CONTIGUOUS:
        m_values = MSet.multiples(alignment, m_max)
        if not m_values:
            raise UsageError(f"--m-max {m_max} is below the contiguous alignment ({alignment})")
    else:
        m_values = MSet.span(1, m_max)
    sms = num_sms or DEFAULT_NUM_SMS[arch.value]
    conv = (
        TF32_HC_CONVENTIONS
        if family is Family.TF32_HC_PRENORM
        else Conventions(ab_dtype=ab_dtype, gemm_type=spec(family).gemm_type, out_dtype=out_dtype)
    )
    selection, kernels = select_kernels(
        family,
        n,
        k,
        groups,
        conv,
        m_values,
        arch=arch.value,
        num_sms=sms,
        mk_alignment=alignment,
        dims={"top_k": top_k},
        ep=ep,
        model=model,
    )
    if selection is Selection.SWEEP or kernels is None:
        build_name = profile.label if profile is not None else "the default build"
        raise UsageError(selection_note(arch.value, model, build_name))
    if as_json:
        print_json(
            {
                "family": family.value,
                "n": n,
                "k": k,
                "num_groups": groups,
                "arch": arch.value,
                "num_sms": sms,
                "m_max": m_max,
                "selection": selection.value,
                "model": model,
                "kernels": [
                    {
                        "m": kn.m,
                        "m_ranges": kn.m_ranges,
                        **kn.params,
                        "template_args": kn.template_args,
                    }
                    for kn in kernels
                ],
            }
        )
        return
    table = Table(
        title=f"{family.value} N={n} K={k} groups={groups} on {arch.value} ({sms} SMs), M 1..{m_max}",
        title_justify="left",
    )
    param_names = [p for p in kernels[0].params if p not in ("smem_bytes",)]
    param_names = [
        p for p in param_names if len({str(kn.params[p]) for kn in kernels}) > 1
    ] or param_names
    for col in ("#", "M values", *param_names):
        table.add_column(col, overflow="fold")
    for i, kn in enumerate(kernels, 1):
        table.add_row(
            str(i),
            MSet.from_ranges(kn.m_ranges).describe(6),
            *(str(kn.params[p]) for p in param_names),
        )
    stdout.print(table)
    stdout.print(
        f"{len(kernels)} distinct kernels for {len(m_values)} M values ({selection.value})"
    )
    stdout.print(
        selection_note(arch.value, model, profile.label if profile else "the default build")
    )
