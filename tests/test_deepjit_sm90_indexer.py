"""SM90 prefill indexer (``fp8_mqa_logits``) DeepJIT sources against the library's own
generator: jitwarm's port and ``sm90_fp8_mqa_logits`` of the pinned wheel's
``impls/sm90_fp8_mqa_logits.hpp`` compiled on this CPU (tests/_generator_oracle.py), called
with what the build's ``apis/attention.hpp`` passes on an SM90. Covers every (compressed,
clean) pair a build profile plans, on the preset plans and random shapes.

On the H200 (tests/data/deepgemm-2.8-h200) 2.8.0's prefill kernel was captured for the three
pairs at 64 heads x 128 (engine-calls-2.8.0, checked in test_deepjit_render.py); other shapes
and SM counts are checked here."""

from __future__ import annotations

import random

import pytest

from _generator_oracle import generator_oracle_for
from jitwarm.deepjit._generators import GENERATORS, RenderContext
from jitwarm.models import load_model
from jitwarm.plan import Family, PlanEntry, PlanKernel, plan_serving
from jitwarm.profiles import PROFILES, get_profile
from jitwarm.serving import ServingConfig

BUILDS = {"2.8.0": "tokenspeed-deepgemm-2.8.0", "2.8.2": "tokenspeed-deepgemm-2.8.2"}
PLANS = [
    ("deepseek-v4-flash", {"tp": 4}),
    ("deepseek-v3.2", {"tp": 8, "spec_draft_tokens": 3}),
]
MAX_SEQLEN_K = 4096  # what a compressed call passes (any width > 0)
# Every pair some profile plans (2.8.0: TokenSpeed's; sgl-deep-gemm: SGLang's two; others
# DeepGEMM's defaults), rendered as 2.8.0 renders them.
PLANNED_PAIRS = sorted({(v.compressed, v.clean) for p in PROFILES for v in p.prefill_logits})


def _query(build: str, entry: PlanEntry, kernel: PlanKernel, num_sms: int) -> str:
    d, p = entry.dims, kernel.params
    if build == "2.8.0":
        clean, compressed = p["clean_logits"], p["compressed_logits"]
    else:  # 2.8.2 takes neither flag: compressed logits only
        clean, compressed = False, True
    return (
        f"sm90mqa {d['heads']} {d['head_dim']} {num_sms} {int(clean)} "
        f"{MAX_SEQLEN_K if compressed else 0} {entry.conventions.out_dtype}"
    )


def _with_flags(kernel: PlanKernel, compressed: bool, clean: bool) -> PlanKernel:
    params = {**kernel.params, "clean_logits": clean, "compressed_logits": compressed}
    return kernel.model_copy(update={"params": params})


def _prefill_entries(build: str) -> list[tuple[PlanEntry, PlanKernel, int]]:
    out = []
    for name, serving in PLANS:
        plan = plan_serving(load_model(name), ServingConfig(**serving), build=BUILDS[build])
        for entry in plan.entries:
            if entry.family is Family.MQA_LOGITS:
                out += [(entry, k, plan.num_sms) for k in entry.kernels or ()]
    assert len(out) == len(PLANS)
    return out


def _check(build: str, cases: list[tuple[PlanEntry, PlanKernel, RenderContext, str]]) -> None:
    answers = generator_oracle_for(build).render([q for *_, q in cases])
    wrong = []
    for (entry, kernel, ctx, query), (tag, arch, source) in zip(cases, answers, strict=True):
        assert arch is None, query
        mine = GENERATORS[("sm90", entry.family)](entry, kernel, ctx)
        if mine != (tag, source):
            wrong.append(f"{query}: jitwarm {mine[0]}\n{mine[1]}\nDeepGEMM {tag}\n{source}")
    assert not wrong, f"{len(wrong)} of {len(cases)} differ, first: {wrong[0]}"


def test_the_planned_pairs_are_every_profiles() -> None:
    # Not compressed and cleaned (DeepGEMM's default), compressed (TokenSpeed, SGLang's V4),
    # neither (SGLang's V3.2); compressed and cleaned at once is refused by the API.
    assert PLANNED_PAIRS == [(False, False), (False, True), (True, False)]


@pytest.mark.parametrize("build", BUILDS)
def test_planned_prefill_indexer_sources_are_the_librarys(build: str) -> None:
    """The kernels the build's own plans hold, then every pair any profile plans."""
    profile = get_profile(BUILDS[build])
    cases = []
    for entry, kernel, sms in _prefill_entries(build):
        ctx = RenderContext(profile=profile, arch="sm90", num_sms=sms)
        if build == "2.8.0":  # TokenSpeed 0.1.1's call: compressed, not cleaned
            assert (kernel.params["compressed_logits"], kernel.params["clean_logits"]) == (
                True,
                False,
            )
        for compressed, clean in [(None, None), *PLANNED_PAIRS]:
            k = kernel if compressed is None else _with_flags(kernel, compressed, clean)
            cases.append((entry, k, ctx, _query(build, entry, k, sms)))
    _check(build, cases)
    if build == "2.8.0":  # the flags reach the source: three pairs, three kernels
        assert len({GENERATORS[("sm90", e.family)](e, k, c)[1] for e, k, c, _ in cases}) == 3


@pytest.mark.parametrize("build", BUILDS)
def test_random_prefill_indexer_shapes_render_as_the_library(build: str) -> None:
    profile = get_profile(BUILDS[build])
    entry0, kernel0, _ = _prefill_entries(build)[0]
    rng = random.Random(90)
    cases = []
    for _ in range(80):
        sms = rng.choice((132, 114, 78, 8))
        dims = {"heads": rng.choice((32, 64)), "head_dim": rng.choice((32, 64, 128))}
        out = "fp32" if build == "2.8.2" else rng.choice(("fp32", "bf16"))
        conv = entry0.conventions.model_copy(update={"out_dtype": out})
        entry = entry0.model_copy(update={"dims": dims, "conventions": conv})
        kernel = _with_flags(kernel0, *rng.choice(PLANNED_PAIRS))
        ctx = RenderContext(profile=profile, arch="sm90", num_sms=sms)
        cases.append((entry, kernel, ctx, _query(build, entry, kernel, sms)))
    _check(build, cases)
