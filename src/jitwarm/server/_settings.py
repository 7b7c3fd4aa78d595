"""Settings of one ``jitwarm serve`` process pair (HTTP process + engine process)."""

from __future__ import annotations

import os
from enum import Enum
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from jitwarm.serving import ServingConfig


class WarmupMode(str, Enum):
    """What the engine compiles before it reports ready.

    ``none``: nothing. ``dense``: the seed's serial sweep (every dense FP8 linear at M 1..2048,
    then every 16th M up to max batched tokens). ``jitwarm``: the plan, one call per distinct
    kernel, compiled in parallel before readiness. ``bundle``: import a cache bundle.
    """

    NONE = "none"
    DENSE = "dense"
    JITWARM = "jitwarm"
    BUNDLE = "bundle"


class Device(str, Enum):
    AUTO = "auto"  # cuda when a GPU and DeepGEMM are usable, else cpu
    CPU = "cpu"
    CUDA = "cuda"


class ServerSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    model: str = Field("deepseek-v3", description="preset name or config.json path")
    serving: ServingConfig = ServingConfig(tp=8)
    layers: int = Field(2, ge=1, description="decoder layers (layer 0 dense, the rest MoE)")
    warmup: WarmupMode = WarmupMode.NONE
    bundle: Path | None = None
    device: Device = Device.AUTO
    host: str = "127.0.0.1"
    port: int = Field(30001, ge=0, le=65535)
    seed: int = 0
    health_timeout_s: float = Field(3.0, gt=0, description="engine must answer a ping within this")
    cache_dir: Path | None = Field(
        None, description="DG_JIT_CACHE_DIR (GPU) or simulated cache (CPU)"
    )
    warm_workers: int | None = Field(
        None, ge=1, description="jitwarm.warm jobs (None: its default)"
    )
    # CPU mode only
    sim_compile_s: float = Field(4.5, ge=0, description="simulated seconds per kernel compile")
    sim_load_s: float = Field(0.01, ge=0, description="simulated seconds per cached kernel load")
    cpu_shrink: int = Field(16, ge=1, description="CPU widths = real widths / this")
    max_context: int = Field(32768, ge=1, description="longest prompt + output accepted")

    @property
    def model_id(self) -> str:
        """The served model name: the preset, or the folder of a config.json."""
        path = Path(self.model)
        name = (
            self.model
            if os.sep not in self.model
            else (path.parent.name if path.suffix == ".json" else path.name)
        )
        return f"jitwarm-ref-{name}"
