"""Every startup mode in CPU mode: what each compiles before readiness and while serving, and
that the tokens are the same whichever way the kernels were made."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from jitwarm.server._process import ServerProcess

pytest.importorskip("torch")
pytest.importorskip("fastapi")

SERVING = ["--tp", "8", "--max-batched-tokens", "256", "--max-running-seqs", "16"]
COMMON = [
    *SERVING,
    "--cpu-shrink",
    "32",
    "--device",
    "cpu",
    "--sim-compile-s",
    "0.01",
    "--warm-workers",
    "2",
]
PROMPTS = ["a" * 200, "the quick brown fox", "x"]


def _serve(args: list[str], log: Path) -> tuple[dict[str, float], list[list[int]], dict]:
    with ServerProcess([*COMMON, *args], log_path=log) as srv:
        srv.wait_for("/ready", 90)
        tokens = [
            httpx.post(
                srv.url + "/v1/completions", json={"prompt": p, "max_tokens": 6}, timeout=60
            ).json()["choices"][0]["token_ids"]
            for p in PROMPTS
        ]
        inline: dict[str, float] = {}
        for line in httpx.get(srv.url + "/metrics").text.splitlines():
            if line.startswith("jitwarm_inline_compiles_total{"):
                family = line.split('family="', 1)[1].split('"', 1)[0]
                inline[family] = float(line.rsplit(" ", 1)[1])
        warmup = httpx.get(srv.url + "/ready").json()["warmup"]
        assert srv.stop() == 0 and not srv.left_behind
    return inline, tokens, warmup


def test_every_startup_mode(tmp_path):
    from jitwarm.bundle import export_bundle, host_provenance
    from jitwarm.cache import scan_cache
    from jitwarm.dgenv import resolve_cache_roots
    from jitwarm.models._loader import load_model
    from jitwarm.plan import plan_serving
    from jitwarm.serving import ServingConfig

    none_inline, none_tokens, _ = _serve(["--warmup", "none"], tmp_path / "none.log")
    assert set(none_inline) == {
        "fp8_gemm_nt",
        "m_grouped_fp8_gemm_nt_contiguous",
        "m_grouped_fp8_gemm_nt_masked",
    }

    dense_inline, dense_tokens, dense = _serve(["--warmup", "dense"], tmp_path / "dense.log")
    assert dense["calls"] == 256 * 8  # M 1..256, eight dense FP8 linears of a dense + a MoE layer
    assert (
        "fp8_gemm_nt" not in dense_inline and dense_inline
    )  # the seed's sweep misses the MoE GEMMs

    cache = tmp_path / "warmed"
    j_inline, j_tokens, j = _serve(
        ["--warmup", "jitwarm", "--cache-dir", str(cache)], tmp_path / "jitwarm.log"
    )
    assert j_inline == {} and j["calls"] == j["planned_kernels"] > 0

    plan = plan_serving(
        load_model("deepseek-v3"), ServingConfig(tp=8, max_batched_tokens=256, max_running_seqs=16)
    )
    bundle = tmp_path / "kernels.tar.gz"
    result = export_bundle(
        scan_cache(resolve_cache_roots(cache)),
        bundle,
        provenance=host_provenance(arch="sm90", num_sms=132),
        plan=plan,
    )
    assert result.plan_kernels_missing == 0
    b_inline, b_tokens, b = _serve(["--bundle", str(bundle)], tmp_path / "bundle.log")
    assert b_inline == {} and b["mode"] == "bundle"

    assert none_tokens == dense_tokens == j_tokens == b_tokens
