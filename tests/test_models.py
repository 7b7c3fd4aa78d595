import json
from pathlib import Path

import pytest

from jitwarm.errors import ConfigError, UnknownArchitectureError
from jitwarm.models._loader import list_presets, load_model
from jitwarm.models._spec import Architecture, LowRankMQAAttention, MLAAttention

PRESETS_DIR = Path(__file__).resolve().parents[1] / "src/jitwarm/models/presets"


def test_every_preset_names_its_source_and_loads() -> None:
    assert set(list_presets()) >= {
        "deepseek-v3",
        "deepseek-v3.2",
        "kimi-k2",
        "deepseek-v4-flash",
        "qwen3-30b-a3b-fp8",
    }
    for name in list_presets():
        raw = json.loads((PRESETS_DIR / f"{name}.json").read_text())
        assert raw["_jitwarm"]["source"], name
        spec = load_model(name)
        assert spec.source == f"preset:{name}"


def test_deepseek_v3_published_values() -> None:
    m = load_model("deepseek-v3")
    assert m.architecture is Architecture.DEEPSEEK_V3
    assert (m.hidden_size, m.num_layers, m.dense_intermediate_size) == (7168, 61, 18432)
    assert m.dense_layers == (0, 1, 2) and len(m.moe_layers) == 58
    assert isinstance(m.attention, MLAAttention)
    assert (m.attention.num_heads, m.attention.q_lora_rank, m.attention.kv_lora_rank) == (
        128,
        1536,
        512,
    )
    assert m.moe and (m.moe.num_experts, m.moe.top_k, m.moe.intermediate_size) == (256, 8, 2048)
    assert m.quant is not None and m.indexer is None


def test_kimi_k2_differs_from_v3_where_published() -> None:
    m = load_model("kimi-k2")
    assert m.moe and m.moe.num_experts == 384
    assert m.attention.num_heads == 64
    assert m.dense_layers == (0,)


def test_v32_indexer_and_v4_structure() -> None:
    v32 = load_model("deepseek-v3.2")
    assert v32.indexer and (v32.indexer.num_heads, v32.indexer.head_dim) == (64, 128)
    assert len(v32.indexer_layers) == v32.num_layers
    v4 = load_model("deepseek-v4-flash")
    assert isinstance(v4.attention, LowRankMQAAttention)
    assert v4.hyper_connections and v4.hyper_connections.hc_mult == 4
    assert v4.grouped_output and (v4.grouped_output.num_groups, v4.grouped_output.lora_rank) == (
        8,
        1024,
    )
    assert v4.moe and v4.moe.expert_dtype == "fp4"
    # compress ratio 4 (the layers with a sparse indexer) on even layers from 2 on
    assert v4.indexer_layers == tuple(range(2, 43, 2))


def test_config_folder_and_file(tmp_path: Path) -> None:
    raw = json.loads((PRESETS_DIR / "deepseek-v3.json").read_text())
    (tmp_path / "config.json").write_text(json.dumps(raw))
    assert load_model(tmp_path).hidden_size == 7168
    assert load_model(tmp_path / "config.json").hidden_size == 7168


def _write(tmp_path: Path, cfg: object) -> Path:
    p = tmp_path / "config.json"
    p.write_text(json.dumps(cfg))
    return p


def _v3(**changes: object) -> dict:
    raw = json.loads((PRESETS_DIR / "deepseek-v3.json").read_text())
    for k, v in changes.items():
        if v is None:
            raw.pop(k)
        else:
            raw[k] = v
    return raw


@pytest.mark.parametrize(
    ("changes", "field", "needle"),
    [
        ({"hidden_size": None}, "hidden_size", "missing"),
        ({"num_attention_heads": 0}, "num_attention_heads", ">= 1"),
        ({"n_routed_experts": "many"}, "n_routed_experts", "integer"),
        ({"num_experts_per_tok": 300}, "num_experts_per_tok", "exceeds"),
        ({"first_k_dense_replace": 99}, "first_k_dense_replace", "exceeds"),
        ({"architectures": None}, "architectures", "missing"),
        (
            {"quantization_config": {"quant_method": "fp8", "weight_block_size": [64, 64]}},
            "quantization_config.weight_block_size",
            "128x128",
        ),
    ],
)
def test_bad_config_names_the_field(tmp_path: Path, changes: dict, field: str, needle: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_model(_write(tmp_path, _v3(**changes)))
    assert info.value.field == field
    assert field.split(".")[0] in str(info.value) and needle in str(info.value)


def test_unknown_architecture(tmp_path: Path) -> None:
    with pytest.raises(UnknownArchitectureError, match="LlamaForCausalLM"):
        load_model(_write(tmp_path, {"architectures": ["LlamaForCausalLM"]}))


def test_unreadable_inputs(tmp_path: Path) -> None:
    bad = tmp_path / "config.json"
    bad.write_text("{not json")
    with pytest.raises(ConfigError, match="not valid JSON"):
        load_model(bad)
    with pytest.raises(ConfigError, match=r"no config\.json"):
        load_model(_empty_dir(tmp_path))
    with pytest.raises(ConfigError, match="unknown model"):
        load_model("no-such-model")
    bad.write_text("[1, 2]")
    with pytest.raises(ConfigError, match="JSON object"):
        load_model(bad)


def _empty_dir(tmp_path: Path) -> Path:
    d = tmp_path / "empty"
    d.mkdir()
    return d
