"""Property: whatever a user feeds the CLI (configs, serving flags, plan manifests), it answers
with exit 0, 1 or 2, one stderr line for a usage error, no traceback, within seconds."""

from __future__ import annotations

import json
import time
from importlib import resources
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests._cli import run

CASE_LIMIT_S = 10.0  # generous on a shared 2-core machine; the slowest valid case takes ~3 s
FUZZ = settings(
    max_examples=25,
    deadline=None,  # timed below: hypothesis' deadline is too jumpy on shared cores
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# Numbers a user might type: small, around the edges, absurd.
numbers = st.one_of(
    st.integers(-3, 300),
    st.sampled_from([0, 7, 64, 128, 1 << 14, 1 << 20, 10**9, 10**15]),
)
number_text = st.one_of(numbers.map(str), st.sampled_from(["abc", "", "1.5", "-", "0x10"]))
SERVING_FLAGS = {
    "--tp": number_text,
    "--ep": number_text,
    "--attn-dp": number_text,
    "--max-batched-tokens": number_text,
    "--max-running-seqs": number_text,
    "--cuda-graph-bs": st.lists(number_text, max_size=4).map(",".join),
    "--spec-draft-tokens": number_text,
    "--moe-path": st.sampled_from(["grouped", "mega", "fused"]),
    "--role": st.sampled_from(["mixed", "prefill", "decode", "both"]),
    "--indexer-block-size": number_text,
    "--arch": st.sampled_from(["sm90", "sm100", "sm80"]),
    "--num-sms": number_text,
}
flags = st.dictionaries(st.sampled_from(sorted(SERVING_FLAGS)), st.just(None), max_size=4).flatmap(
    lambda chosen: st.fixed_dictionaries({f: SERVING_FLAGS[f] for f in chosen})
)
PRESETS = ["deepseek-v3", "deepseek-v3.2", "kimi-k2", "deepseek-v4-flash", "qwen3-30b-a3b-fp8"]
json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), numbers, st.text(max_size=5)),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=8,
)


def check(code: int, err: str, elapsed_s: float) -> None:
    assert code in (0, 1, 2), err
    assert "Traceback" not in err and "╭" not in err, err
    if code == 2:
        assert len(err.strip().splitlines()) <= 1, err
    assert elapsed_s < CASE_LIMIT_S


def timed_run(capsys: pytest.CaptureFixture[str], *argv: str) -> None:
    start = time.monotonic()
    code, _, err = run(capsys, *argv)
    check(code, err, time.monotonic() - start)


def _argv(chosen: dict[str, str]) -> list[str]:
    return [x for flag, value in chosen.items() for x in (flag, value)]


@FUZZ
@given(model=st.sampled_from(PRESETS), chosen=flags)
def test_serving_flags(capsys: pytest.CaptureFixture[str], model: str, chosen: dict) -> None:
    timed_run(capsys, "plan", "--model", model, *_argv(chosen))


def _preset(name: str) -> dict[str, Any]:
    return json.loads((resources.files("jitwarm.models") / "presets" / f"{name}.json").read_text())


@FUZZ
@given(
    model=st.sampled_from(PRESETS),
    edits=st.dictionaries(
        st.sampled_from(
            [
                "hidden_size",
                "num_hidden_layers",
                "num_attention_heads",
                "n_routed_experts",
                "num_experts_per_tok",
                "moe_intermediate_size",
                "intermediate_size",
                "first_k_dense_replace",
                "moe_layer_freq",
                "q_lora_rank",
                "kv_lora_rank",
                "quantization_config",
                "architectures",
                "index_n_heads",
            ]
        ),
        json_values,
        max_size=3,
    ),
    whole=st.none() | json_values,
)
def test_model_configs(
    capsys: pytest.CaptureFixture[str],
    tmp_path_factory: pytest.TempPathFactory,
    model: str,
    edits: dict,
    whole: Any,
) -> None:
    cfg: Any = whole if whole is not None else {**_preset(model), **edits}
    path = tmp_path_factory.mktemp("cfg") / "config.json"
    path.write_text(json.dumps(cfg))
    timed_run(capsys, "plan", "--model", str(path), "--tp", "8")


_PLAN_FIELDS = ["n", "k", "num_groups", "m_values", "family", "kernels", "dims", "selection"]


@FUZZ
@given(
    entry_edits=st.dictionaries(st.sampled_from(_PLAN_FIELDS), json_values, max_size=2),
    top_edits=st.dictionaries(
        st.sampled_from(["num_sms", "arch", "schema_version", "entries", "serving"]),
        json_values,
        max_size=1,
    ),
    verb=st.sampled_from(["verify", "warm", "cache-prune", "bundle-export"]),
)
def test_plan_manifests(
    capsys: pytest.CaptureFixture[str],
    tmp_path_factory: pytest.TempPathFactory,
    small_plan: dict,
    entry_edits: dict,
    top_edits: dict,
    verb: str,
) -> None:
    raw = json.loads(json.dumps(small_plan))
    raw["entries"][0].update(entry_edits)
    raw.update(top_edits)
    folder = tmp_path_factory.mktemp("plan")
    path = folder / "plan.json"
    path.write_text(json.dumps(raw))
    cache = folder / "cache"
    argv = {
        "verify": ["verify", "--plan", str(path), "--cache-dir", str(cache)],
        "warm": ["warm", "--plan", str(path), "--cache-dir", str(cache)],
        "cache-prune": ["cache", "prune", "--plan", str(path), "--cache-dir", str(cache)],
        "bundle-export": ["bundle", "export", "--plan", str(path), "-o", str(folder / "b.tar")],
    }[verb]
    timed_run(capsys, *argv)


@pytest.fixture(scope="module")
def small_plan() -> dict:
    from jitwarm import ServingConfig, load_model, plan_serving

    serving = ServingConfig(tp=8, max_batched_tokens=256, max_running_seqs=16)
    return json.loads(plan_serving(load_model("deepseek-v3"), serving).to_json())


def test_the_case_check_can_fail() -> None:
    with pytest.raises(AssertionError):
        check(2, "jitwarm: error: one\nsecond line\n", 0.1)
    with pytest.raises(AssertionError):
        check(1, "Traceback (most recent call last):\n", 0.1)
    with pytest.raises(AssertionError):
        check(0, "", CASE_LIMIT_S + 1)


KERNELS_FLAGS = {
    "--n": number_text,
    "--k": number_text,
    "--groups": number_text,
    "--m-max": number_text,
    "--alignment": number_text,
    "--num-sms": number_text,
    "--arch": st.sampled_from(["sm90", "sm100"]),
    "--out-dtype": st.sampled_from(["bf16", "fp32", "fp8"]),
}


@FUZZ
@given(
    family=st.sampled_from(
        [
            "fp8_gemm_nt",
            "m_grouped_fp8_gemm_nt_contiguous",
            "m_grouped_fp8_gemm_nt_masked",
            "fp8_einsum",
            "get_paged_mqa_logits_metadata",
            "tf32_hc_prenorm_gemm",
            "fp8_mqa_logits",
        ]
    ),
    chosen=st.dictionaries(
        st.sampled_from(sorted(KERNELS_FLAGS)), st.just(None), max_size=6
    ).flatmap(lambda chosen: st.fixed_dictionaries({f: KERNELS_FLAGS[f] for f in chosen})),
)
def test_kernels_flags(capsys: pytest.CaptureFixture[str], family: str, chosen: dict) -> None:
    timed_run(capsys, "kernels", "--family", family, "--json", *_argv(chosen))
