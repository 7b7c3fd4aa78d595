"""The family registry (jitwarm.plan._families) covers every family, and the modules that once
kept their own family tables read it: the cache's name -> family mapping, plan matching's
positions, ``jitwarm kernels``'s offer, the planner's and the recorder's M kinds, warm's call
builders. Expected values are written out here, not taken from the registry."""

from __future__ import annotations

import pytest

from jitwarm.cache import PlanIndex, family_of
from jitwarm.cli._kernels_cmd import ModelledFamily
from jitwarm.models._loader import load_model
from jitwarm.mset import MSet
from jitwarm.plan import (
    FAMILIES,
    Conventions,
    Family,
    MKind,
    Plan,
    PlanEntry,
    PlanKernel,
    Selection,
    plan_serving,
)
from jitwarm.plan._families import GEMM_KERNEL_NAMES, HELPER_KERNELS, family_of_kernel_name
from jitwarm.plan._families import spec as family_spec
from jitwarm.plan._select import select_kernels
from jitwarm.profiles import get_profile
from jitwarm.serving import ServingConfig


def test_the_registry_covers_every_family_once() -> None:
    assert set(FAMILIES) == set(Family)
    assert all(s.family is f for f, s in FAMILIES.items())


def test_every_kernel_name_of_the_registry_resolves_to_its_family_in_the_cache() -> None:
    names = [(kn.name, s.family) for s in FAMILIES.values() for kn in s.kernels]
    assert len({n for n, _ in names}) == len(names), "a kernel name in two families"
    assert not {n for n, _ in names} & (GEMM_KERNEL_NAMES | HELPER_KERNELS)
    for name, family in names:
        assert family_of(name, "1, 2, 3") is family, name
        assert family_of_kernel_name(name) is family


@pytest.mark.parametrize(
    ("name", "args", "family"),
    [
        ("sm90_fp8_gemm_1d2d", "cute::UMMA::Major::K, 0, GemmType::Normal, x", Family.FP8_GEMM_NT),
        ("sm90_fp8_gemm_1d2d", "a, GemmType::Batched, b", Family.FP8_EINSUM),
        ("sm100_fp8_fp4_gemm_1d1d", "GemmType::MGroupedMasked", Family.M_GROUPED_MASKED),
        ("sm100_fp8_gemm_1d1d", "GemmType::MGroupedContiguous", Family.M_GROUPED_CONTIGUOUS),
        ("sm90_fp8_gemm_1d2d", "GemmType::MegaMoE", None),  # not a GEMM family's type
        ("sm90_fp8_gemm_1d2d", None, None),
        ("smxx_clean_logits", None, Family.MQA_LOGITS),
        ("sm100_mqa_logits", None, Family.MQA_LOGITS),
        ("smxx_paged_mqa_logits_metadata", None, Family.PAGED_MQA_METADATA),
        ("sm100_fp8_fp4_mega_moe", None, Family.MEGA_MOE),
        ("sm90_m_grouped_fp8_gemm_contiguous_1d2d", None, Family.M_GROUPED_CONTIGUOUS),
        ("transpose_fp32", "4", None),
        ("sm90_bf16_gemm", "GemmType::Normal", None),
    ],
)
def test_cache_family_of_known_names(name: str, args: str | None, family: Family | None) -> None:
    assert family_of(name, args) is family


def _plan_of(entry: PlanEntry) -> Plan:
    return Plan(
        jitwarm_version="0",
        arch="sm90",
        num_sms=132,
        model={"name": "m", "architecture": "a", "source": "s"},
        serving={},
        entries=[entry],
    )


def test_plan_matching_reads_the_registry_positions() -> None:
    # sm90_fp8_paged_mqa_logits carries <next_n, heads, head_dim, block_kv, ...> in that order.
    conv = Conventions(scale_recipe=None, out_dtype="fp32", compiled_dims="", kernel_type="")
    entry = PlanEntry(
        family=Family.PAGED_MQA_LOGITS,
        n=0,
        k=0,
        dims={"heads": 64, "head_dim": 128, "block_kv": 64, "next_n": 1},
        conventions=conv,
        phases=["decode"],
        m_values=[[1, 8]],
        selection=Selection.INVARIANT,
        kernels=None,
        modules=[],
    )
    index = PlanIndex.from_plan(_plan_of(entry))
    name = "sm90_fp8_paged_mqa_logits"
    assert index.needs(Family.PAGED_MQA_LOGITS, name, "1, 64, 128, 64, 2, 128")
    assert not index.needs(Family.PAGED_MQA_LOGITS, name, "64, 1, 128, 64, 2, 128")
    # A kernel without known positions: the values need only appear somewhere.
    assert index.needs(Family.PAGED_MQA_LOGITS, "sm100_paged_mqa_logits", "128, 7, 64, 1, 64")


def test_clean_logits_kernel_is_needed_only_by_a_cleaned_prefill_kernel() -> None:
    # 2.5.0 builds smxx_clean_logits <1, 8192, 8, float> (tests/data/deepgemm-2.5.0-h200) only
    # for clean_logits=True calls; the sm90 prefill kernel itself is needed either way.
    conv = Conventions(scale_recipe=None, out_dtype="fp32", compiled_dims="", kernel_type="")

    def index(clean: bool) -> PlanIndex:
        params = {"clean_logits": clean, "compressed_logits": not clean}
        entry = PlanEntry(
            family=Family.MQA_LOGITS,
            n=0,
            k=0,
            dims={"heads": 64, "head_dim": 128},
            conventions=conv,
            phases=["prefill"],
            m_values=[[1, 8]],
            selection=Selection.INVARIANT,
            kernels=[PlanKernel(m=1, m_ranges=[[1, 8]], params=params)],
            modules=[],
        )
        return PlanIndex.from_plan(_plan_of(entry))

    prefill = ("smxx_fp8_mqa_logits", "64, 128, false, 2, 256, 3, 3, 132, 128, 512, float")
    for clean in (True, False):
        assert index(clean).needs(Family.MQA_LOGITS, *prefill)
        assert index(clean).needs(Family.MQA_LOGITS, "smxx_clean_logits", "1, 8192, 8, float") is (
            clean
        )


def test_kernels_command_offers_the_families_whose_kernel_m_moves() -> None:
    assert [f.value for f in ModelledFamily] == [
        "fp8_gemm_nt",
        "m_grouped_fp8_gemm_nt_contiguous",
        "m_grouped_fp8_gemm_nt_masked",
        "fp8_einsum",
        "get_paged_mqa_logits_metadata",
        "tf32_hc_prenorm_gemm",
        "fp8_fp4_mega_moe",
    ]


def test_invariant_families_bake_their_call_flags() -> None:
    # A plan for no particular build gets the prefill flags of TokenSpeed 0.1.1 (the engine of
    # the default build): tokenspeed-kernel 0.1.4 dsa/deep_gemm.py:576 clean_logits=False,
    # max_seqlen_k >= 1 (compressed).
    for family, params in (
        (Family.MQA_LOGITS, {"clean_logits": False, "compressed_logits": True}),
        (Family.FP4_PAGED_MQA_LOGITS, {"clean_logits": False, "varlen": False}),
    ):
        for arch in ("sm90", "sm100"):
            selection, kernels = select_kernels(
                family,
                0,
                0,
                1,
                Conventions(),
                MSet.span(1, 100),
                arch=arch,
                num_sms=132,
                mk_alignment=128,
            )
            assert selection is Selection.INVARIANT and kernels is not None
            assert [k.params for k in kernels] == [params]


def test_prefill_logits_kernels_are_the_builds_engine_calls() -> None:
    """One kernel per flag pair the build's profile names, each recording its pair."""

    def kernels(profile: str, family: Family = Family.MQA_LOGITS) -> list[dict]:
        _, planned = select_kernels(
            family,
            0,
            0,
            1,
            Conventions(),
            MSet.span(1, 100),
            arch="sm90",
            num_sms=132,
            mk_alignment=128,
            prefill_logits=get_profile(profile).prefill_logits,
        )
        assert planned is not None and {k.m for k in planned} == {1}
        return [k.params for k in planned]

    not_cleaned = {"clean_logits": False, "compressed_logits": False}
    compressed = {"clean_logits": False, "compressed_logits": True}
    # SGLang 0.5.23: dsa_indexer.py:1608 (V3.2, max_seqlen_k 0), dsv4/indexer.py:764 (V4).
    assert kernels("sgl-deep-gemm-0.2.3") == [not_cleaned, compressed]
    assert kernels("tokenspeed-deepgemm-2.8.0") == [compressed]
    # 2.5.0 ships with no engine of record: DeepGEMM's defaults, as its H200 capture was made.
    assert kernels("tokenspeed-deepgemm-2.5.0") == [
        {"clean_logits": True, "compressed_logits": False}
    ]
    assert kernels("tokenspeed-deepgemm-2.8.0", Family.FP4_MQA_LOGITS) == [
        {**compressed, "schedule_meta": False}
    ]


EXPECTED_M_KIND = {
    Family.M_GROUPED_CONTIGUOUS: MKind.TOTAL_ROWS,
    Family.M_GROUPED_MASKED: MKind.EXPECTED_M,
    Family.PAGED_MQA_LOGITS: MKind.BATCH,
    Family.FP4_PAGED_MQA_LOGITS: MKind.BATCH,
    Family.PAGED_MQA_METADATA: MKind.BATCH,
    Family.MEGA_MOE: MKind.TOKENS,
}


def test_m_kinds_of_the_registry_and_of_planned_entries() -> None:
    for family in Family:
        assert family_spec(family).m_kind is EXPECTED_M_KIND.get(family, MKind.ROWS), family
    plans = [
        plan_serving(load_model("deepseek-v3.2"), ServingConfig.build(tp=8)),
        plan_serving(load_model("deepseek-v3"), ServingConfig.build(tp=8, ep=8)),
        plan_serving(
            load_model("deepseek-v4-flash"),
            ServingConfig.build(tp=4, ep=4, arch="sm100", moe_path="mega"),
        ),
    ]
    seen = set()
    for plan in plans:
        for e in plan.entries:
            assert e.m_kind is EXPECTED_M_KIND.get(e.family, MKind.ROWS), e.key
            seen.add(e.family)
    assert {Family.M_GROUPED_CONTIGUOUS, Family.PAGED_MQA_METADATA, Family.MEGA_MOE} <= seen


def test_warm_builds_a_call_for_every_family_the_registry_says_it_can() -> None:
    pytest.importorskip("torch")
    from jitwarm.deepgemm import _calls as calls

    standalone = {f for f, s in FAMILIES.items() if s.standalone_call}
    assert set(calls._BUILDERS) == standalone
    assert standalone == set(Family) - {Family.MEGA_MOE}
