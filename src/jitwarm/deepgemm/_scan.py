"""``warm_model``: warm exactly the FP8 block-quantized linear layers of a loaded torch model.

The engine-agnostic form of the seed's post-quantization loader hook: call it after weights are
processed. A layer qualifies when it holds a 2-D ``float8_e4m3fn`` weight ``[N, K]`` and, beside
it, an FP32 tensor of 128x128 block scales ``[ceil(N/128), ceil(K/128)]`` (whatever its name:
``weight_scale_inv``, ``weight_scale``, ``scale_inv``, ...).
"""

from __future__ import annotations

from typing import Any

from jitwarm.serving import ServingConfig
from jitwarm.warmer import LinearShape, WarmReport, plan_linear_shapes

BLOCK = 128


def _ceil_div(x: int, y: int) -> int:
    return -(-x // y)


def scan_fp8_linears(model: Any) -> list[LinearShape]:
    """Distinct (N, K) of the model's FP8 block-quantized linear layers, with module names."""
    import torch

    found: dict[tuple[int, int], list[str]] = {}
    for name, module in model.named_modules():
        own = dict(module.named_parameters(recurse=False))
        own.update(dict(module.named_buffers(recurse=False)))
        weight = own.get("weight")
        if (
            not isinstance(weight, torch.Tensor)
            or weight.dim() != 2
            or weight.dtype != torch.float8_e4m3fn
        ):
            continue
        n, k = weight.shape
        block_scales = (_ceil_div(n, BLOCK), _ceil_div(k, BLOCK))
        if any(
            t is not weight and t.dtype == torch.float32 and tuple(t.shape) == block_scales
            for t in own.values()
        ):
            found.setdefault((int(n), int(k)), []).append(name)
    return [LinearShape(n, k, tuple(names)) for (n, k), names in sorted(found.items())]


def plan_model(model: Any, serving: ServingConfig, *, jit_env: dict[str, str] | None = None) -> Any:
    """The plan ``warm_model`` warms: every kernel the model's FP8 linears reach."""
    config = getattr(model, "config", None)
    archs = getattr(config, "architectures", None) or [type(model).__name__]
    name = getattr(config, "_name_or_path", None) or type(model).__name__
    return plan_linear_shapes(
        scan_fp8_linears(model),
        serving,
        model_name=str(name),
        architecture=str(archs[0]),
        jit_env=jit_env,
    )


def warm_model(model: Any, serving: ServingConfig, **options: Any) -> WarmReport:
    """Scan ``model`` for FP8 block-quantized linear layers and warm exactly their kernels.

    ``options`` go to :func:`jitwarm.warm` (``jobs``, ``cache_dir``, ``exact``, ...).
    """
    from jitwarm.warmer import warm

    jit_env = options.pop("jit_env", None)
    return warm(plan_model(model, serving, jit_env=jit_env), **options)
