"""The DeepGEMM builds jitwarm knows, one profile each. Adding a build is one entry here plus
its ground truth under tests/data.

Sources of each fact: the build's wheel (``deep_gemm/__init__.py`` for entry points and
wrapper defaults, ``include/deep_gemm/impls/sm90_fp8_gemm_1d2d.cuh`` for the template
arguments, ``csrc/apis/attention.hpp`` for the indexer's argument contract, the DeepJIT headers
for environment and log lines) and the captures in tests/data.
"""

from __future__ import annotations

from jitwarm.profiles._profile import (
    DEEPJIT_COMPILE_LOG,
    DEEPJIT_KEY_ENV,
    UPSTREAM_COMPILE_LOG,
    UPSTREAM_KEY_ENV,
    BuildProfile,
    DeepJitFlags,
    IndexerApi,
    JitGeneration,
    PrefillLogits,
    SelectionModel,
    Sm90GemmArgs,
    Sm90IndexerArgs,
    Sm100IndexerArgs,
    SM100Rules,
)

# 2.8.1 and later dropped the FP8-only indexer entry points: fp8_fp4_* take any FP8/FP4 mix.
_FP4_ONLY_INDEXER = {
    "fp8_mqa_logits": "fp8_fp4_mqa_logits",
    "fp8_paged_mqa_logits": "fp8_fp4_paged_mqa_logits",
}
# The SM90 heuristic is unchanged from 2.5.0 to 2.8.2 (compiled C++ of the 2.8.x wheels vs
# jitwarm's port: 1,067,786 points, 0 differences; 2.5.0: 2,298 H100 points).
_SM90_CPP = SelectionModel("sm90", True, "the build's own heuristic C++, compiled on a CPU")
_SM90_H100 = SelectionModel("sm90", True, "2,298 H100 captures (tests/data/deepgemm-sm90-h100)")


# The SM100 heuristic's build rules (jitwarm.selection._sm100 takes them), one per modelled build.
SM100_280 = SM100Rules("sm100-2.8.0", "tokenspeed-deepgemm 2.8.0.post20260924", False, False)
SM100_282 = SM100Rules("sm100-2.8.2", "tokenspeed-deepgemm 2.8.2.post20261020", True, True)
SM100_MODELS: tuple[SM100Rules, ...] = (SM100_280, SM100_282)


def _sm100_cpp(rules: SM100Rules) -> SelectionModel:
    """The build's own SM100 heuristic (jitwarm.selection._sm100, one model per build), checked
    against its C++ compiled on a CPU (tests/oracle; benchmarks/results/oracle-sm100.json)."""
    return SelectionModel(
        rules.name, True, "the build's own SM100 heuristic C++, compiled on a CPU"
    )


# vLLM's 2.8.1 ships no heuristic sources, but its own entries show the choice: every kernel its
# H200 captures hold (V3 TP8, V4-Flash TP4: 280) is the one predicted, and verify over every M of
# V3 TP8 found nothing missing on an H200; the heuristic is the same in 2.8.0 and 2.8.2.
_SM90_CAPTURED_281 = SelectionModel(
    "sm90", True, "its own H200 cache entries (tests/data) and verify over every M on an H200"
)
_SM90_UNCHECKED = SelectionModel("sm90", False, "no source or capture of this build's heuristic")
_DEEPJIT = {
    "generation": JitGeneration.DEEPJIT,
    "env_prefixes": ("DG", "DJ"),
    "key_env_suffixes": DEEPJIT_KEY_ENV,
    "compilers": ("nvcc",),  # DG_JIT_USE_NVRTC is ignored
    "compile_log": DEEPJIT_COMPILE_LOG,
}

# DeepJIT's default nvcc_flags (backend/cuda/options.hpp of tokenspeed-deepjit 0.1.0), then the
# two DeepGEMM's init_jit appends (csrc/runtime/jit.hpp of tokenspeed-deepgemm 2.8.0 and 2.8.2).
_TOKENSPEED_DEEPJIT_FLAGS = DeepJitFlags(
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

# SM100 families whose 2.8.x generators jitwarm.deepjit ports (checked against the builds' own
# generator C++ compiled on a CPU, tests/test_deepjit_sm100.py; never loaded on a B200).
_SM100_RENDERED = frozenset(
    {
        "fp8_gemm_nt",
        "m_grouped_fp8_gemm_nt_contiguous",
        "m_grouped_fp8_gemm_nt_masked",
        "fp8_einsum",
        "tf32_hc_prenorm_gemm",
        # The DSA indexer: prefill (it bakes whether the engine passes a schedule_meta
        # workspace, which the plan's kernel records) and decode.
        "fp8_fp4_mqa_logits",
        "fp8_fp4_paged_mqa_logits",
        "get_paged_mqa_logits_metadata",
    }
)
# The identity epilogue each build's SM100 GEMMs render last: get_default_epilogue_type
# (impls/epilogue.hpp) in 2.8.0, IdentityEpilogue (impls/epilogue_class.hpp) in 2.8.2.
_SM100_IDENTITY_280 = "epilogue::transform::EpilogueIdentity"
_SM100_IDENTITY_282 = "epilogue::operators::Identity"

# TokenSpeed 0.1.1's prefill indexer calls (tokenspeed-kernel 0.1.4, ops/attention/): DSA
# (V3.2) dsa/deep_gemm.py:576 fp8_mqa_logits(..., clean_logits=False, max_seqlen_k=max(.., 1));
# V4 dsv4/deep_gemm.py:338/353 fp8_fp4_mqa_logits / fp8_mqa_logits(clean_logits=False,
# max_seqlen_k > 0; :323 skips the call at 0); dsv41 the same. Same calls on sm90 and sm100.
_TOKENSPEED_PREFILL = (PrefillLogits(compressed=True, clean=False),)
# SGLang 0.5.23's: DSA (V3.2) dsa/dsa_indexer.py:1608/1673 fp8_mqa_logits(..., clean_logits=
# False) with no max_seqlen_k (0: not compressed); V4 dsv4/indexer.py:764 clean_logits=False,
# max_seqlen_k=plan.max_seqlen_k (compressed). Its kpool indexer (clean_logits=True) serves only
# models whose config sets index_kpool > 1 (models/deepseek_v2.py:2120), none jitwarm plans.
# Both pairs are planned for every model: one kernel too many costs a compile, one too few an
# inline compile in serving.
_SGLANG_PREFILL = (
    PrefillLogits(compressed=False, clean=False),
    PrefillLogits(compressed=True, clean=False),
)

TOKENSPEED_250 = BuildProfile(
    name="tokenspeed-deepgemm-2.5.0",
    distributions=("tokenspeed-deepgemm",),
    release="2.5.0",
    version="2.5.0.post20260604",
    module="deep_gemm",
    generation=JitGeneration.UPSTREAM,
    shipped_by="tokenspeed-deepgemm (June 2026)",
    sm90_gemm_args=Sm90GemmArgs.WITH_EPILOGUE,
    key_env_suffixes=UPSTREAM_KEY_ENV,
    compilers=("nvcc", "nvrtc"),
    compile_log=UPSTREAM_COMPILE_LOG,
    selection={"sm90": _SM90_H100},
)

TOKENSPEED_280 = BuildProfile(
    name="tokenspeed-deepgemm-2.8.0",
    distributions=("tokenspeed-deepgemm",),
    release="2.8.0",
    version="2.8.0.post20260924",
    module="deep_gemm",
    shipped_by="TokenSpeed 0.1.1",
    sm90_gemm_args=Sm90GemmArgs.WITH_EPILOGUE,
    sm90_indexer_args=Sm90IndexerArgs.WITH_CLEAN_FLAGS,
    extra_signature="cutlass-480",
    deepjit_flags=_TOKENSPEED_DEEPJIT_FLAGS,
    rendered_families=_SM90_RENDERED,
    sm100_rendered_families=_SM100_RENDERED,
    sm100_identity_epilogue=_SM100_IDENTITY_280,
    sm100_indexer_args=Sm100IndexerArgs.PER_CALL,
    prefill_logits=_TOKENSPEED_PREFILL,
    selection={"sm90": _SM90_CPP, "sm100": _sm100_cpp(SM100_280)},
    **_DEEPJIT,
)

VLLM_281 = BuildProfile(
    name="vllm-deepgemm-2.8.1",
    distributions=("vllm",),
    release="2.8.1",
    version="2.8.1",
    module="vllm.third_party.deep_gemm",
    shipped_by="vLLM 0.33.0 (vendored)",
    entry_points=_FP4_ONLY_INDEXER,
    indexer_api=IndexerApi.FP8_FP4_ONLY,
    sm90_gemm_args=Sm90GemmArgs.NO_EPILOGUE,
    sm90_indexer_args=Sm90IndexerArgs.COMPRESSED_KV_MULTICAST,
    extra_signature="cutlass-421",
    # Same flags as tokenspeed's 2.8.x (its captured meta.json); its extension holds the same
    # 1D2D, hc_prenorm, metadata and compressed mqa_logits templates; its paged-logits one
    # takes a 13th argument (the KV multicast).
    deepjit_flags=_TOKENSPEED_DEEPJIT_FLAGS,
    rendered_families=_SM90_RENDERED,
    # No C++ sources ship with it; its SM90 headers match 2.8.2's, whose heuristic was checked.
    selection={"sm90": _SM90_CAPTURED_281},
    notes=("ships headers and the extension only: its heuristic cannot be compiled on a CPU",),
    **_DEEPJIT,
)

TOKENSPEED_282 = BuildProfile(
    name="tokenspeed-deepgemm-2.8.2",
    distributions=("tokenspeed-deepgemm",),
    release="2.8.2",
    version="2.8.2.post20261020",
    module="deep_gemm",
    shipped_by="tokenspeed-deepgemm (latest)",
    entry_points=_FP4_ONLY_INDEXER,
    indexer_api=IndexerApi.FP8_FP4_ONLY,
    sm90_gemm_args=Sm90GemmArgs.NO_EPILOGUE,
    sm90_indexer_args=Sm90IndexerArgs.COMPRESSED_ONLY,
    extra_signature="cutlass-480",
    deepjit_flags=_TOKENSPEED_DEEPJIT_FLAGS,
    # The indexer's 2.8.2 templates are checked against its sources, but no 2.8.2 capture has
    # an indexer kernel yet (the 2.8.2 ground truth is DeepSeek-V3 only).
    rendered_families=_SM90_RENDERED,
    sm100_rendered_families=_SM100_RENDERED,
    sm100_identity_epilogue=_SM100_IDENTITY_282,
    sm100_indexer_args=Sm100IndexerArgs.SHARED_CONFIG,
    selection={"sm90": _SM90_CPP, "sm100": _sm100_cpp(SM100_282)},
    **_DEEPJIT,
)

SGL_023 = BuildProfile(
    name="sgl-deep-gemm-0.2.3",
    distributions=("sgl-deep-gemm",),
    release="0.2.3",
    version="0.2.3.post2",
    module="deep_gemm",
    shipped_by="SGLang 0.5.23",
    # Both indexer generations exist here; fp8_mqa_logits keeps clean_logits / max_seqlen_k.
    indexer_api=IndexerApi.SEPARATE_FP8,
    compiled_dims_defaults={"fp8_gemm_nt": ""},
    sm90_gemm_args=Sm90GemmArgs.SGL_SCALE_GRAN,
    prefill_logits=_SGLANG_PREFILL,
    extra_signature="cutlass-421",
    selection={"sm90": _SM90_UNCHECKED},
    notes=(
        "its prebuilt extension does not load on the lent GPU hosts and its sources are not "
        "public: checked on CPU against its wheel's headers and Python wrappers only",
    ),
    **_DEEPJIT,
)

PROFILES: tuple[BuildProfile, ...] = (
    TOKENSPEED_250,
    TOKENSPEED_280,
    VLLM_281,
    TOKENSPEED_282,
    SGL_023,
)

# The selection model per arch a plan made for no particular build follows: what every profiled
# build uses on sm90, and the SM100 heuristic of the build TokenSpeed 0.1.1 pins.
DEFAULT_SELECTION_MODELS: dict[str, str] = {
    "sm90": TOKENSPEED_280.selection["sm90"].model,
    "sm100": TOKENSPEED_280.selection["sm100"].model,
}
# The prefill indexer calls such a plan's kernels are planned for: the same build's engine's.
DEFAULT_PREFILL_LOGITS: tuple[PrefillLogits, ...] = TOKENSPEED_280.prefill_logits
