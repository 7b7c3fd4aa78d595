"""Serving flags shared by every command that builds a plan (plan, warm, verify, ...).

``with_serving_options`` adds the flags to a command's signature and hands the command one
``ServingConfig`` (as ``serving``) and one ``ModelSpec`` (as ``model``), so the flags are
declared once.
"""

from __future__ import annotations

import functools
import inspect
import re
from collections.abc import Callable
from typing import Annotated, Any

import typer

from jitwarm.models import load_model
from jitwarm.serving import Arch, MoEPath, Role, ServingConfig

_P = "Serving"

_OPTIONS: dict[str, tuple[Any, Any]] = {
    "model_name": (
        str | None,
        typer.Option(
            "--model",
            "-m",
            help="Preset name, config.json, or a folder holding one.",
            rich_help_panel=_P,
        ),
    ),
    "tp": (int, typer.Option("--tp", help="Tensor-parallel size.", rich_help_panel=_P)),
    "ep": (
        int,
        typer.Option(
            "--ep", help="Expert-parallel size (1: experts TP-sharded).", rich_help_panel=_P
        ),
    ),
    "attn_dp": (
        int,
        typer.Option("--attn-dp", help="Attention data-parallel size.", rich_help_panel=_P),
    ),
    "max_batched_tokens": (
        int,
        typer.Option(
            "--max-batched-tokens",
            help="Chunked-prefill token budget per step.",
            rich_help_panel=_P,
        ),
    ),
    "max_running_seqs": (
        int,
        typer.Option(
            "--max-running-seqs", help="Max sequences decoding at once.", rich_help_panel=_P
        ),
    ),
    "cuda_graph_bs": (
        str | None,
        typer.Option(
            "--cuda-graph-bs",
            help="Decode CUDA-graph batch sizes, comma-separated (default: every size).",
            rich_help_panel=_P,
        ),
    ),
    "spec_draft_tokens": (
        int,
        typer.Option(
            "--spec-draft-tokens", help="Speculative draft tokens per step.", rich_help_panel=_P
        ),
    ),
    "moe_path": (
        MoEPath,
        typer.Option(
            "--moe-path",
            help="grouped (contiguous prefill, masked decode) or mega.",
            rich_help_panel=_P,
        ),
    ),
    "role": (
        Role,
        typer.Option(
            "--role", help="mixed, or prefill / decode of a disaggregated pair.", rich_help_panel=_P
        ),
    ),
    "indexer_block_size": (
        int,
        typer.Option(
            "--indexer-block-size", help="KV block size of the sparse indexer.", rich_help_panel=_P
        ),
    ),
    "arch": (Arch, typer.Option("--arch", help="Target GPU architecture.", rich_help_panel=_P)),
    "num_sms": (
        int | None,
        typer.Option(
            "--num-sms", help="SM count (default 132 on sm90, 148 on sm100).", rich_help_panel=_P
        ),
    ),
}
# The flag of each ServingConfig field, to name it in errors.
_FLAG_OF = {
    name: str((opt.param_decls or (opt.default,))[0]) for name, (_, opt) in _OPTIONS.items()
}
_FLAG_OF["cuda_graph_batch_sizes"] = "--cuda-graph-bs"
_DEFAULTS = {name: field.default for name, field in ServingConfig.model_fields.items()}
_DEFAULTS.update(model_name=None, cuda_graph_bs=None, num_sms=None)


def parse_int_list(text: str | None, flag: str) -> tuple[int, ...] | None:
    from jitwarm.errors import UsageError

    if text is None:
        return None
    try:
        values = tuple(int(x) for x in text.replace(" ", "").split(",") if x)
    except ValueError:
        raise UsageError(f"{flag}: expected comma-separated integers, got {text!r}") from None
    return values


def _serving_config(flags: dict[str, Any]) -> ServingConfig:
    from jitwarm.errors import ConfigError, UsageError

    try:
        return ServingConfig.build(**flags)
    except ConfigError as exc:
        # Name flags, not fields: "--ep (3) must divide --tp (8)".
        message = str(exc).removeprefix("serving: ")
        for field, flag in _FLAG_OF.items():
            message = re.sub(rf"\b{field}\b", flag, message)
        raise UsageError(message) from None


def with_serving_options(
    *, model_default: str | None = None
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def wrap(fn: Callable[..., Any]) -> Callable[..., Any]:
        sig = inspect.signature(fn)
        # Not typing.get_type_hints: before 3.11 it wraps a None default's Annotated type in
        # Optional[...], which hides typer's Option metadata.
        hints = inspect.get_annotations(fn, eval_str=True)
        own = [
            p.replace(annotation=hints.get(p.name, p.annotation))
            for p in sig.parameters.values()
            if p.name not in ("model", "serving")
        ]
        extra = [
            inspect.Parameter(
                name,
                inspect.Parameter.KEYWORD_ONLY,
                default=(model_default if name == "model_name" else _DEFAULTS[name]),
                annotation=Annotated[typ, opt],
            )
            for name, (typ, opt) in _OPTIONS.items()
        ]

        @functools.wraps(fn)
        def run(*args: Any, **kwargs: Any) -> Any:
            flags = {name: kwargs.pop(name) for name in _OPTIONS}
            model_name = flags.pop("model_name")
            flags["cuda_graph_batch_sizes"] = parse_int_list(
                flags.pop("cuda_graph_bs"), "--cuda-graph-bs"
            )
            kwargs["serving"] = _serving_config(flags)
            kwargs["model"] = load_model(model_name) if model_name else None
            return fn(*args, **kwargs)

        params = sorted(own + extra, key=lambda p: p.kind)
        run.__signature__ = sig.replace(parameters=params, return_annotation=None)  # type: ignore[attr-defined]
        run.__annotations__ = {p.name: p.annotation for p in params}
        return run

    return wrap
