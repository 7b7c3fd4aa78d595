"""The DeepGEMM builds jitwarm knows, one profile each. Adding a build is one entry here plus
its ground truth under tests/data."""

from __future__ import annotations

from jitwarm.profiles._profile import (
    BuildProfile,
    DeepJitFlags,
    JitGeneration,
    Sm90GemmArgs,
    Sm90IndexerArgs,
)

# 2.8.1 and later renamed the indexer's entry points (any FP8/FP4 mix).
_FP4_INDEXER_NAMES = {
    "fp8_mqa_logits": None,
    "fp8_paged_mqa_logits": None,
}
_DEEPJIT_LOG = "Running command:"

# DeepJIT's default nvcc_flags (backend/cuda/options.hpp of tokenspeed-deepjit 0.1.0), then the
# two DeepGEMM's init_jit appends (csrc/runtime/jit.hpp of tokenspeed-deepgemm 2.8.0 and 2.8.2).
_TOKENSPEED_DEEPJIT_FLAGS = DeepJitFlags(
    env_prefix="DG",
    nvcc_flags=(
        "-std=c++{cpp_standard}",
        "--compiler-options=-fPIC",
        "--compiler-options=-fconcepts",
        "--expt-relaxed-constexpr",
        "--expt-extended-lambda",
        "--diag-suppress=39,161,174,177,186,940",
        "--compiler-options=-Wno-deprecated-declarations,-Wno-abi",
    ),
)
# SM90 families whose 2.8.x generators jitwarm.deepjit ports (checked against 2.8.0 captures).
_SM90_RENDERED = frozenset(
    {
        "fp8_gemm_nt",
        "m_grouped_fp8_gemm_nt_contiguous",
        "m_grouped_fp8_gemm_nt_masked",
        "fp8_einsum",
        "tf32_hc_prenorm_gemm",
        "fp8_mqa_logits",
        "fp8_paged_mqa_logits",
        "get_paged_mqa_logits_metadata",
    }
)

TOKENSPEED_250 = BuildProfile(
    name="tokenspeed-deepgemm-2.5.0",
    distribution="tokenspeed-deepgemm",
    version="2.5.0.post20260604",
    module="deep_gemm",
    generation=JitGeneration.UPSTREAM,
    shipped_by="tokenspeed-deepgemm (June 2026)",
    sm90_gemm_args=Sm90GemmArgs.WITH_EPILOGUE,
    nvrtc=True,
    selection_models={"sm90": "sm90"},
)

TOKENSPEED_280 = BuildProfile(
    name="tokenspeed-deepgemm-2.8.0",
    distribution="tokenspeed-deepgemm",
    version="2.8.0.post20260924",
    module="deep_gemm",
    generation=JitGeneration.DEEPJIT,
    shipped_by="TokenSpeed 0.1.1",
    sm90_gemm_args=Sm90GemmArgs.WITH_EPILOGUE,
    sm90_indexer_args=Sm90IndexerArgs.WITH_CLEAN_FLAGS,
    extra_signature="cutlass-480",
    deepjit_flags=_TOKENSPEED_DEEPJIT_FLAGS,
    rendered_families=_SM90_RENDERED,
    env_fallback_prefix="DJ_",
    compile_log_marker=_DEEPJIT_LOG,
    selection_models={"sm90": "sm90"},
)

VLLM_281 = BuildProfile(
    name="vllm-deepgemm-2.8.1",
    distribution="vllm",
    version="2.8.1",
    module="vllm.third_party.deep_gemm",
    generation=JitGeneration.DEEPJIT,
    shipped_by="vLLM 0.33.0 (vendored)",
    entry_points=dict(_FP4_INDEXER_NAMES),
    sm90_gemm_args=Sm90GemmArgs.NO_EPILOGUE,
    sm90_indexer_args=Sm90IndexerArgs.COMPRESSED_ONLY,
    extra_signature="cutlass-421",
    # Same flags as tokenspeed's 2.8.x (its captured meta.json); its extension holds the same
    # 1D2D, hc_prenorm, metadata and compressed mqa_logits templates, but its paged-logits one
    # takes a 13th argument (a KV multicast, per later upstream sources): no port of that yet.
    deepjit_flags=_TOKENSPEED_DEEPJIT_FLAGS,
    rendered_families=_SM90_RENDERED - {"fp8_paged_mqa_logits"},
    env_fallback_prefix="DJ_",
    compile_log_marker=_DEEPJIT_LOG,
    selection_models={"sm90": "sm90"},
)

TOKENSPEED_282 = BuildProfile(
    name="tokenspeed-deepgemm-2.8.2",
    distribution="tokenspeed-deepgemm",
    version="2.8.2.post20261020",
    module="deep_gemm",
    generation=JitGeneration.DEEPJIT,
    shipped_by="tokenspeed-deepgemm (latest)",
    entry_points=dict(_FP4_INDEXER_NAMES),
    sm90_gemm_args=Sm90GemmArgs.NO_EPILOGUE,
    sm90_indexer_args=Sm90IndexerArgs.COMPRESSED_ONLY,
    extra_signature="cutlass-480",
    deepjit_flags=_TOKENSPEED_DEEPJIT_FLAGS,
    # The indexer's 2.8.2 templates are checked against its sources, but no 2.8.2 capture has
    # an indexer kernel yet (the 2.8.2 ground truth is DeepSeek-V3 only).
    rendered_families=_SM90_RENDERED,
    env_fallback_prefix="DJ_",
    compile_log_marker=_DEEPJIT_LOG,
    selection_models={"sm90": "sm90"},
)

SGL_023 = BuildProfile(
    name="sgl-deep-gemm-0.2.3",
    distribution="sgl-deep-gemm",
    version="0.2.3.post2",
    module="deep_gemm",
    generation=JitGeneration.DEEPJIT,
    shipped_by="SGLang 0.5.23",
    entry_points=dict(_FP4_INDEXER_NAMES),
    sm90_gemm_args=Sm90GemmArgs.SGL_SCALE_GRAN,
    extra_signature="cutlass-421",
    env_fallback_prefix="DJ_",
    compile_log_marker=_DEEPJIT_LOG,
    selection_models={"sm90": "sm90"},
    validated=False,
    notes=(
        "its prebuilt extension does not load on the lent GPU hosts and its sources are not "
        "public: checked on CPU against its wheel's headers only",
    ),
)

PROFILES: tuple[BuildProfile, ...] = (
    TOKENSPEED_250,
    TOKENSPEED_280,
    VLLM_281,
    TOKENSPEED_282,
    SGL_023,
)
