"""Read a model: a preset name shipped with jitwarm, a ``config.json``, or a folder holding one."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

from jitwarm.errors import ConfigError, UnknownArchitectureError
from jitwarm.models._spec import (
    Architecture,
    FP8BlockQuant,
    GQAAttention,
    GroupedOutput,
    HyperConnections,
    Indexer,
    LowRankMQAAttention,
    MLAAttention,
    ModelSpec,
    MoE,
)

# Bounds no real model reaches; they keep a typo from planning for hours.
MAX_CONFIG_INT = 1 << 24  # any size (vocabularies are the largest, ~2**18)
MAX_LAYERS = 1024  # decoder layers (the largest models have ~128)

_ARCHITECTURES: dict[str, Architecture] = {
    "DeepseekV3ForCausalLM": Architecture.DEEPSEEK_V3,
    "DeepseekV32ForCausalLM": Architecture.DEEPSEEK_V32,
    "DeepseekV4ForCausalLM": Architecture.DEEPSEEK_V4,
    "Qwen3MoeForCausalLM": Architecture.QWEN3_MOE,
}


def list_presets() -> list[str]:
    """Names of the model presets shipped inside the package."""
    folder = resources.files("jitwarm.models") / "presets"
    return sorted(p.name[: -len(".json")] for p in folder.iterdir() if p.name.endswith(".json"))


def load_model(name_or_path: str | Path) -> ModelSpec:
    """Load a preset by name, or a Hugging Face config from a file or a folder holding one."""
    text = str(name_or_path)
    path = Path(text).expanduser()
    if path.is_dir():
        path = path / "config.json"
        if not path.is_file():
            raise ConfigError(f"{name_or_path}: folder holds no config.json")
    if path.is_file():
        return parse_config(_read_json(path), source=str(path), name=path.parent.name or path.stem)
    if text in list_presets():
        preset = resources.files("jitwarm.models") / "presets" / f"{text}.json"
        return parse_config(json.loads(preset.read_text()), source=f"preset:{text}", name=text)
    raise ConfigError(
        f"unknown model '{text}': not a file, a folder with config.json, or a preset "
        f"({', '.join(list_presets())})"
    )


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}: not valid JSON (line {exc.lineno}: {exc.msg})") from None
    except RecursionError:
        raise ConfigError(f"{path}: JSON nested too deeply to be a model config") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a JSON object, got {type(data).__name__}")
    return data


class _Fields:
    """Typed access to a raw config dict; every failure names the field."""

    def __init__(self, cfg: dict[str, Any], arch: str) -> None:
        self.cfg = cfg
        self.arch = arch

    def has(self, key: str) -> bool:
        return self.cfg.get(key) is not None

    def int(
        self,
        key: str,
        default: int | None = None,
        *,
        minimum: int = 1,
        maximum: int = MAX_CONFIG_INT,
    ) -> int:
        value = self.cfg.get(key)
        if value is None:
            if default is not None:
                return default
            raise ConfigError(
                f"config field '{key}' is missing (needed for {self.arch})", field=key
            )
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"config field '{key}' must be an integer, got {value!r}", field=key)
        if value < minimum:
            raise ConfigError(f"config field '{key}' must be >= {minimum}, got {value}", field=key)
        if value > maximum:
            raise ConfigError(
                f"config field '{key}' is {value}, above {maximum:,} (no real model has more)",
                field=key,
            )
        return value

    def opt_int(self, key: str, *, minimum: int = 1) -> int | None:
        return self.int(key, minimum=minimum) if self.has(key) else None


def _architecture(cfg: dict[str, Any]) -> tuple[str, Architecture]:
    archs = cfg.get("architectures")
    if not isinstance(archs, list) or not archs or not isinstance(archs[0], str):
        raise ConfigError(
            "config field 'architectures' is missing or not a list of names", field="architectures"
        )
    name = archs[0]
    if name not in _ARCHITECTURES:
        raise UnknownArchitectureError(
            f"unknown architecture '{name}' (jitwarm knows {', '.join(_ARCHITECTURES)})",
            field="architectures",
        )
    return name, _ARCHITECTURES[name]


def _quant(cfg: dict[str, Any]) -> FP8BlockQuant | None:
    q = cfg.get("quantization_config")
    if q is None:
        return None
    if not isinstance(q, dict):
        raise ConfigError(
            "config field 'quantization_config' must be an object", field="quantization_config"
        )
    if q.get("quant_method") != "fp8":
        return None  # not FP8 block-quantized: its linears do not go through DeepGEMM
    block = q.get("weight_block_size")
    if block is None:
        return None  # per-tensor FP8: not DeepGEMM's block-scaled GEMM
    if (
        not isinstance(block, list)
        or len(block) != 2
        or not all(isinstance(b, int) and not isinstance(b, bool) and b > 0 for b in block)
    ):
        raise ConfigError(
            f"config field 'quantization_config.weight_block_size' must be two positive "
            f"integers, got {block!r}",
            field="quantization_config.weight_block_size",
        )
    if tuple(block) != (128, 128):
        raise ConfigError(
            f"config field 'quantization_config.weight_block_size' is {block}; DeepGEMM's FP8 "
            "GEMMs take 128x128 weight blocks",
            field="quantization_config.weight_block_size",
        )
    return FP8BlockQuant(
        fmt=str(q.get("fmt", "e4m3")), weight_block_n=block[0], weight_block_k=block[1]
    )


def _layer_split(
    num_layers: int, first_dense: int, freq: int
) -> tuple[tuple[int, ...], tuple[int, ...]]:
    moe = tuple(range(first_dense, num_layers, freq))
    moe_set = set(moe)
    dense = tuple(i for i in range(num_layers) if i not in moe_set)
    return dense, moe


def parse_config(cfg: dict[str, Any], *, source: str, name: str) -> ModelSpec:
    """Map a raw Hugging Face config onto a :class:`ModelSpec`, or raise :class:`ConfigError`."""
    arch_name, arch = _architecture(cfg)
    f = _Fields(cfg, arch_name)
    if arch is Architecture.QWEN3_MOE:
        return _parse_qwen3_moe(f, source=source, name=name)
    return _parse_deepseek(f, arch, source=source, name=name)


def _routing(f: _Fields, experts_key: str) -> tuple[int, int]:
    """(routed experts, experts per token), checked against each other."""
    num_experts = f.int(experts_key)
    top_k = f.int("num_experts_per_tok")
    if top_k > num_experts:
        raise ConfigError(
            f"config field 'num_experts_per_tok' ({top_k}) exceeds '{experts_key}' ({num_experts})",
            field="num_experts_per_tok",
        )
    return num_experts, top_k


def _deepseek_moe(f: _Fields, expert_dtype: str = "fp8") -> MoE:
    num_experts, top_k = _routing(f, "n_routed_experts")
    return MoE(
        num_experts=num_experts,
        top_k=top_k,
        intermediate_size=f.int("moe_intermediate_size"),
        num_shared_experts=f.int("n_shared_experts", 0, minimum=0),
        expert_dtype=expert_dtype,
    )


def _parse_deepseek(f: _Fields, arch: Architecture, *, source: str, name: str) -> ModelSpec:
    if arch is Architecture.DEEPSEEK_V4:
        return _parse_deepseek_v4(f, source=source, name=name)
    num_layers = f.int("num_hidden_layers", maximum=MAX_LAYERS)
    first_dense = f.int("first_k_dense_replace", 0, minimum=0)
    if first_dense > num_layers:
        raise ConfigError(
            f"config field 'first_k_dense_replace' ({first_dense}) exceeds "
            f"'num_hidden_layers' ({num_layers})",
            field="first_k_dense_replace",
        )
    dense, moe_layers = _layer_split(num_layers, first_dense, f.int("moe_layer_freq", 1))
    attention = MLAAttention(
        num_heads=f.int("num_attention_heads"),
        q_lora_rank=f.opt_int("q_lora_rank"),
        kv_lora_rank=f.int("kv_lora_rank"),
        qk_nope_head_dim=f.int("qk_nope_head_dim"),
        qk_rope_head_dim=f.int("qk_rope_head_dim"),
        v_head_dim=f.int("v_head_dim"),
    )
    indexer = None
    if arch is Architecture.DEEPSEEK_V32:
        indexer = Indexer(
            num_heads=f.int("index_n_heads"),
            head_dim=f.int("index_head_dim"),
            topk=f.int("index_topk"),
        )
    return ModelSpec(
        name=name,
        architecture=arch,
        source=source,
        hidden_size=f.int("hidden_size"),
        num_layers=num_layers,
        vocab_size=f.int("vocab_size"),
        quant=_quant(f.cfg),
        attention=attention,
        dense_intermediate_size=f.int("intermediate_size")
        if dense
        else f.opt_int("intermediate_size"),
        dense_layers=dense,
        moe_layers=moe_layers,
        moe=_deepseek_moe(f),
        indexer=indexer,
        indexer_layers=tuple(range(num_layers)) if indexer else (),
    )


def _parse_deepseek_v4(f: _Fields, *, source: str, name: str) -> ModelSpec:
    """DeepSeek-V4: every layer is mHC + low-rank MQA attention + MoE; layers whose
    ``compress_ratios`` entry is 4 also run the sparse indexer."""
    num_layers = f.int("num_hidden_layers", maximum=MAX_LAYERS)
    ratios = f.cfg.get("compress_ratios")
    if (
        not isinstance(ratios, list)
        or len(ratios) < num_layers
        or not all(isinstance(r, int) and not isinstance(r, bool) and r >= 0 for r in ratios)
    ):
        raise ConfigError(
            "config field 'compress_ratios' must list a non-negative integer for each of the "
            f"{num_layers} layers",
            field="compress_ratios",
        )
    heads = f.int("num_attention_heads")
    head_dim = f.int("head_dim")
    rope = f.int("qk_rope_head_dim")
    if rope >= head_dim:
        raise ConfigError(
            f"config field 'qk_rope_head_dim' ({rope}) must be below 'head_dim' ({head_dim})",
            field="qk_rope_head_dim",
        )
    o_groups = f.int("o_groups")
    if heads % o_groups:
        raise ConfigError(
            f"config field 'o_groups' ({o_groups}) does not divide 'num_attention_heads' ({heads})",
            field="o_groups",
        )
    expert_dtype = str(f.cfg.get("expert_dtype", "fp8"))
    if expert_dtype not in ("fp8", "fp4"):
        raise ConfigError(
            f"config field 'expert_dtype' must be fp8 or fp4, got {expert_dtype!r}",
            field="expert_dtype",
        )
    return ModelSpec(
        name=name,
        architecture=Architecture.DEEPSEEK_V4,
        source=source,
        hidden_size=f.int("hidden_size"),
        num_layers=num_layers,
        vocab_size=f.int("vocab_size"),
        quant=_quant(f.cfg),
        attention=LowRankMQAAttention(
            num_heads=heads,
            head_dim=head_dim,
            q_lora_rank=f.int("q_lora_rank"),
            qk_rope_head_dim=rope,
        ),
        dense_intermediate_size=None,
        dense_layers=(),
        moe_layers=tuple(range(num_layers)),
        moe=_deepseek_moe(f, expert_dtype),
        indexer=Indexer(
            num_heads=f.int("index_n_heads"),
            head_dim=f.int("index_head_dim"),
            topk=f.int("index_topk"),
        ),
        indexer_layers=tuple(i for i in range(num_layers) if ratios[i] == 4),
        hyper_connections=HyperConnections(
            hc_mult=f.int("hc_mult"), sinkhorn_iters=f.opt_int("hc_sinkhorn_iters")
        ),
        grouped_output=GroupedOutput(num_groups=o_groups, lora_rank=f.int("o_lora_rank")),
        notes=(
            "the MTP block (num_nextn_predict_layers) repeats a layer's shapes; its e_proj/h_proj "
            "are not planned",
        )
        if f.has("num_nextn_predict_layers")
        else (),
    )


def _parse_qwen3_moe(f: _Fields, *, source: str, name: str) -> ModelSpec:
    num_layers = f.int("num_hidden_layers", maximum=MAX_LAYERS)
    mlp_only = f.cfg.get("mlp_only_layers") or []
    if not isinstance(mlp_only, list) or not all(isinstance(i, int) for i in mlp_only):
        raise ConfigError(
            "config field 'mlp_only_layers' must be a list of layer indices",
            field="mlp_only_layers",
        )
    step = f.int("decoder_sparse_step", 1)
    moe_layers = tuple(i for i in range(num_layers) if i not in mlp_only and (i + 1) % step == 0)
    dense = tuple(i for i in range(num_layers) if i not in set(moe_layers))
    heads = f.int("num_attention_heads")
    kv_heads = f.int("num_key_value_heads")
    if heads % kv_heads:
        raise ConfigError(
            f"config field 'num_key_value_heads' ({kv_heads}) does not divide "
            f"'num_attention_heads' ({heads})",
            field="num_key_value_heads",
        )
    hidden = f.int("hidden_size")
    num_experts, top_k = _routing(f, "num_experts")
    return ModelSpec(
        name=name,
        architecture=Architecture.QWEN3_MOE,
        source=source,
        hidden_size=hidden,
        num_layers=num_layers,
        vocab_size=f.int("vocab_size"),
        quant=_quant(f.cfg),
        attention=GQAAttention(
            num_heads=heads, num_kv_heads=kv_heads, head_dim=f.int("head_dim", hidden // heads)
        ),
        dense_intermediate_size=f.int("intermediate_size")
        if dense
        else f.opt_int("intermediate_size"),
        dense_layers=dense,
        moe_layers=moe_layers,
        moe=MoE(
            num_experts=num_experts,
            top_k=top_k,
            intermediate_size=f.int("moe_intermediate_size"),
        ),
    )
