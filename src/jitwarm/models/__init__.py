from jitwarm._lazy import lazy_getattr

# Imported on first use (the package's interface; its modules are private).
_LAZY = {
    "Architecture": "jitwarm.models._spec",
    "GQAAttention": "jitwarm.models._spec",
    "LowRankMQAAttention": "jitwarm.models._spec",
    "MLAAttention": "jitwarm.models._spec",
    "MoE": "jitwarm.models._spec",
    "ModelSpec": "jitwarm.models._spec",
    "load_model": "jitwarm.models._loader",
}

__getattr__ = lazy_getattr(__name__, _LAZY)

__all__ = [
    "Architecture",
    "GQAAttention",
    "LowRankMQAAttention",
    "MLAAttention",
    "MoE",
    "ModelSpec",
    "load_model",
]
