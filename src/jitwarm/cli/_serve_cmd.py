"""``jitwarm serve``: the reference server (a DeepSeek-V3-architecture model at one rank's real
GEMM shapes) behind an HTTP API, with a chosen startup warmup. Needs ``jitwarm[server]``."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Annotated

import typer

from jitwarm.cli import app
from jitwarm.cli._output import stderr
from jitwarm.cli._serving_options import with_serving_options
from jitwarm.errors import UsageError
from jitwarm.models import ModelSpec
from jitwarm.serving import ServingConfig

_S = "Server"
_CPU = "CPU mode"


@app.command("serve")
@with_serving_options(model_default="deepseek-v3")
def serve_command(
    warmup: Annotated[
        str,
        typer.Option(
            "--warmup",
            help="none | dense | jitwarm | bundle (with --bundle FILE).",
            rich_help_panel=_S,
        ),
    ] = "none",
    bundle: Annotated[
        Path | None,
        typer.Option(
            "--bundle",
            help="Cache bundle to import before serving (implies --warmup bundle).",
            rich_help_panel=_S,
        ),
    ] = None,
    layers: Annotated[
        int,
        typer.Option(
            "--layers",
            min=1,
            help="Decoder layers: layer 0 dense, the rest MoE.",
            rich_help_panel=_S,
        ),
    ] = 2,
    device: Annotated[
        str, typer.Option("--device", help="auto | cpu | cuda.", rich_help_panel=_S)
    ] = "auto",
    host: Annotated[str, typer.Option("--host", rich_help_panel=_S)] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=0, max=65535, rich_help_panel=_S)] = 30001,
    seed: Annotated[
        int, typer.Option("--seed", help="Seed of the random weights.", rich_help_panel=_S)
    ] = 0,
    health_timeout: Annotated[
        float,
        typer.Option(
            "--health-timeout",
            min=0.001,
            help="Seconds the engine loop has to answer a /health ping.",
            rich_help_panel=_S,
        ),
    ] = 3.0,
    cache_dir: Annotated[
        Path | None,
        typer.Option(
            "--cache-dir",
            help="Kernel cache (DG_JIT_CACHE_DIR; CPU mode: the simulated cache, default a fresh temp dir).",
            rich_help_panel=_S,
        ),
    ] = None,
    warm_workers: Annotated[
        int | None,
        typer.Option(
            "--warm-workers",
            min=1,
            help="Parallel compile workers of --warmup jitwarm (default: jitwarm.warm's).",
            rich_help_panel=_S,
        ),
    ] = None,
    sim_compile_s: Annotated[
        float,
        typer.Option(
            "--sim-compile-s",
            min=0.0,
            help="Simulated seconds per kernel compile.",
            rich_help_panel=_CPU,
        ),
    ] = 4.5,
    sim_load_s: Annotated[
        float,
        typer.Option(
            "--sim-load-s",
            min=0.0,
            help="Simulated seconds per cached kernel load.",
            rich_help_panel=_CPU,
        ),
    ] = 0.01,
    cpu_shrink: Annotated[
        int,
        typer.Option(
            "--cpu-shrink", min=1, help="CPU widths = real widths / this.", rich_help_panel=_CPU
        ),
    ] = 16,
    *,
    model: ModelSpec | None,
    serving: ServingConfig,
) -> None:
    """Serve the reference model over HTTP (POST /v1/completions; GET /health /live /ready /metrics)."""
    settings = build_settings(
        model=model,
        serving=serving,
        warmup=warmup,
        bundle=bundle,
        layers=layers,
        device=device,
        host=host,
        port=port,
        seed=seed,
        health_timeout=health_timeout,
        cache_dir=cache_dir,
        warm_workers=warm_workers,
        sim_compile_s=sim_compile_s,
        sim_load_s=sim_load_s,
        cpu_shrink=cpu_shrink,
    )
    from jitwarm.server import serve

    stderr.print(
        f"jitwarm serve: http://{settings.host}:{settings.port} ({settings.model_id}, "
        f"{settings.layers} layers, warmup {settings.warmup.value}, device {settings.device.value})"
    )
    code = serve(settings)
    if code:
        raise typer.Exit(code)


def build_settings(
    *,
    model: ModelSpec | None,
    serving: ServingConfig,
    warmup: str,
    bundle: Path | None,
    layers: int,
    device: str,
    **rest: object,
) -> object:
    """Check every flag here, before any process starts: one line and exit 2 for a mistake."""
    for mod in ("fastapi", "uvicorn", "torch"):
        if importlib.util.find_spec(mod) is None:
            raise UsageError(
                f"jitwarm serve needs the server extra ({mod} is missing): pip install 'jitwarm[server]'"
            )
    from jitwarm.server import (
        Device,
        ServerSettings,
        WarmupMode,
        derive_shapes,
        import_bundle_available,
    )

    assert model is not None  # the decorator defaults --model to deepseek-v3
    modes = {m.value: m for m in WarmupMode}
    if warmup not in modes:
        raise UsageError(f"--warmup: expected one of {', '.join(modes)}, got {warmup!r}")
    mode = WarmupMode.BUNDLE if bundle is not None else modes[warmup]
    if mode is WarmupMode.BUNDLE:
        if bundle is None:
            raise UsageError("--warmup bundle needs --bundle FILE")
        if not bundle.is_file():
            raise UsageError(f"--bundle: {bundle} is not a file")
        if not import_bundle_available():
            raise UsageError(
                "bundle support needs jitwarm.bundle (its import_bundle function is not in this installation)"
            )
    devices = {d.value: d for d in Device}
    if device not in devices:
        raise UsageError(f"--device: expected one of {', '.join(devices)}, got {device!r}")
    derive_shapes(
        model, serving, layers=layers
    )  # a model or layout the server cannot run: exit 2 now
    values = {k: v for k, v in rest.items() if v is not None}
    values["health_timeout_s"] = values.pop("health_timeout")
    return ServerSettings(
        model=model.source.removeprefix("preset:"),
        serving=serving,
        layers=layers,
        warmup=mode,
        bundle=bundle,
        device=devices[device],
        **values,
    )
