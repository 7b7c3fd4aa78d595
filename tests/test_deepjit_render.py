"""jitwarm.deepjit against what DeepGEMM 2.8.0 and 2.8.2 wrote on an H200 (tests/data/
deepgemm-2.8-h200): for the same preset plans, every captured entry's kernel.cu, folder name
and meta.json must come out of the renderer byte for byte, and nothing else may.

The 2.8.0 capture's prefill indexer kernel (``sm90_fp8_mqa_logits``) was warmed with
DeepGEMM's default flags (``clean_logits=True, max_seqlen_k=0``), which plans recorded then;
plans now record the engine's (TokenSpeed 0.1.1: compressed, not cleaned), whose kernel the
capture does not hold. So the capture is compared with the plans' render with that kernel's
flags set back to the capture's (everything else unchanged); the engine flags' sources are
checked against the H200 capture of the engines' own calls (engine-calls-2.8.0,
`test_engine_indexer_calls_capture`) and the wheel's generator (test_deepjit_sm90_indexer.py)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest
from tests._data import DEEPJIT_ENTRIES, ENGINE_INDEXER_CALLS
from tests._wheels import unpacked_wheel, vllm_281_dir

from jitwarm import ServingConfig, load_model, plan_serving
from jitwarm.deepjit import (
    GapReason,
    HeaderNotFoundError,
    KernelSource,
    NonStandardIncludeError,
    NotDeepJitBuildError,
    compiler_options,
    deepjit_key,
    meta_json,
    render_plan,
    unrendered_kernels,
)
from jitwarm.plan import Family, Plan
from jitwarm.profiles import DEEPGEMM_DEFAULT_PREFILL, PrefillLogits, get_profile

# Which plans each capture warmed (its README), and the profile of its build.
V3, V4, V32 = ("deepseek-v3", 8, 0), ("deepseek-v4-flash", 4, 0), ("deepseek-v3.2", 8, 3)
CAPTURES = {
    "2.8.0": ("tokenspeed-deepgemm-2.8.0", [V3, V4, V32]),
    "2.8.1": ("vllm-deepgemm-2.8.1", [V3, V4, V32]),
    "2.8.2": ("tokenspeed-deepgemm-2.8.2", [V3, V4, V32]),
}


# Captures whose prefill indexer kernels were warmed with DeepGEMM's default flags, not the
# engine's the plans now record (the 2.8.x compressed-only builds bake neither flag).
CAPTURED_WITH_DEFAULT_PREFILL = {"2.8.0"}
PREFILL_TAG = "sm90_fp8_mqa_logits"


@cache
def _capture(version: str) -> dict:
    return json.loads(DEEPJIT_ENTRIES[version].read_text())


@cache
def _plan(model: str, tp: int, draft: int) -> Plan:
    return plan_serving(load_model(model), ServingConfig(tp=tp, spec_draft_tokens=draft))


@cache
def _include_dir(version: str) -> Path:
    if version == "2.8.1":  # vLLM's vendored headers, kept in tests/data
        return vllm_281_dir() / "include"
    return unpacked_wheel(version) / "deep_gemm" / "include"


def _as_captured(plan: Plan, version: str) -> Plan:
    """``plan`` with its prefill indexer kernels' flags as the capture of ``version`` warmed
    them (see the module doc); unchanged where the capture used the plan's own."""
    if version not in CAPTURED_WITH_DEFAULT_PREFILL:
        return plan
    old = DEEPGEMM_DEFAULT_PREFILL.params()
    entries = [
        e.model_copy(
            update={
                "kernels": [
                    k.model_copy(update={"params": {**k.params, **old}}) for k in e.kernels or []
                ]
            }
        )
        if e.family is Family.MQA_LOGITS
        else e
        for e in plan.entries
    ]
    return plan.model_copy(update={"entries": entries})


@cache
def _rendered(version: str, *, as_captured: bool = True) -> dict[str, KernelSource]:
    """The render of the capture's plans (``as_captured``: with the capture's prefill flags)."""
    profile_name, presets = CAPTURES[version]
    out: dict[str, KernelSource] = {}
    for preset in presets:
        plan = _plan(*preset)
        for kernel in render_plan(
            _as_captured(plan, version) if as_captured else plan,
            get_profile(profile_name),
            _include_dir(version),
            _capture(version)["nvcc_version_text"],
        ):
            out.setdefault(kernel.entry_name, kernel)
    return out


@pytest.mark.parametrize("version", sorted(CAPTURES))
def test_only_the_prefill_indexer_kernel_differs_from_the_capture_convention(version: str) -> None:
    """The plans as made and as captured render the same kernels but the prefill indexer's,
    which differ exactly where the capture's prefill flags were not the engine's."""
    now, then = _rendered(version, as_captured=False), _rendered(version)
    changed = set(now) ^ set(then)
    assert {n.split(".")[0] for n in changed} <= {PREFILL_TAG}
    assert bool(changed) is (version in CAPTURED_WITH_DEFAULT_PREFILL)
    if changed:  # one kernel each side: the V3.2 and V4-Flash indexers share 64 x 128 heads
        assert len(set(now) - set(then)) == len(set(then) - set(now)) == 1


# The cases of the engine-calls capture (its script's CASES): the pair each call passes, and
# the profile that plans it (None: DeepGEMM's defaults, what plans recorded before).
ENGINE_CASES = {
    "tokenspeed-0.1.1": (PrefillLogits(compressed=True, clean=False), "tokenspeed-deepgemm-2.8.0"),
    "sglang-0.5.23": (PrefillLogits(compressed=False, clean=False), "sgl-deep-gemm-0.2.3"),
    "deepgemm-default": (DEEPGEMM_DEFAULT_PREFILL, None),
}


def test_engine_indexer_calls_capture() -> None:
    """The H200 capture of the engines' own calls (tests/_data.py ENGINE_INDEXER_CALLS): each
    engine case's ``sm90_fp8_mqa_logits`` entry (folder name = key, and kernel.cu) is 2.8.0's render of
    the planned prefill kernel with that case's flags, and the profile of the engine's build
    plans that pair."""
    path = ENGINE_INDEXER_CALLS["2.8.0"]
    capture = json.loads(path.read_text())
    by_name = {e["entry"]: e for e in capture["entries"]}
    profile = get_profile(CAPTURES["2.8.0"][0])
    plan = _plan(*V32)
    for case, (pair, planned_by) in ENGINE_CASES.items():
        if planned_by is not None:
            assert pair in get_profile(planned_by).prefill_logits, case
        names = [n for n in capture["plans"][case] if n.startswith(PREFILL_TAG)]
        assert len(names) == 1, (case, capture["plans"][case])
        entries = [
            e.model_copy(
                update={
                    "kernels": [
                        k.model_copy(update={"params": {**k.params, **pair.params()}})
                        for k in e.kernels or []
                    ]
                }
            )
            if e.family is Family.MQA_LOGITS
            else e
            for e in plan.entries
        ]
        rendered = {
            k.entry_name: k
            for k in render_plan(
                plan.model_copy(update={"entries": entries}),
                profile,
                _include_dir("2.8.0"),
                capture["nvcc_version_text"],
            )
        }
        assert names[0] in rendered, (case, _args(by_name[names[0]]["kernel_cu"]))
        assert rendered[names[0]].source == by_name[names[0]]["kernel_cu"], case


def _args(source: str) -> str:
    """The template-argument list of a kernel source, on one line (for failure messages)."""
    body = source.split("<\n", 1)[-1].split(">);", 1)[0]
    return " ".join(body.split())


@pytest.mark.parametrize("version", sorted(CAPTURES))
def test_key_of_every_captured_source(version: str) -> None:
    capture = _capture(version)
    profile = get_profile(CAPTURES[version][0])
    options = compiler_options(profile, "sm90", env={})
    wrong = []
    for entry in capture["entries"]:
        key = entry["entry"].split(".")[1]
        got = deepjit_key(
            entry["meta"]["config"]["extra_signature"],
            capture["nvcc_version_text"],
            options.flags(),
            "",
            entry["kernel_cu"],
            [_include_dir(version)],
        )
        if got != key:
            wrong.append(f"{entry['entry']}: computed {got}")
    assert not wrong, "\n".join(wrong)
    assert {e["meta"]["config"]["extra_signature"] for e in capture["entries"]} == {
        profile.extra_signature
    }


@pytest.mark.parametrize("version", sorted(CAPTURES))
def test_rendered_entries_are_the_captured_ones(version: str) -> None:
    captured = {e["entry"]: e["kernel_cu"] for e in _capture(version)["entries"]}
    rendered = _rendered(version)
    missing = sorted(set(captured) - set(rendered))
    extra = sorted(set(rendered) - set(captured))
    wrong = sorted(n for n in set(captured) & set(rendered) if rendered[n].source != captured[n])
    lines = [f"captured, not rendered: {n}  <{_args(captured[n])}>" for n in missing]
    lines += [f"rendered, not captured: {n}  <{_args(rendered[n].source)}>" for n in extra]
    lines += [
        f"source differs: {n}\n  captured <{_args(captured[n])}>\n  rendered "
        f"<{_args(rendered[n].source)}>"
        for n in wrong
    ]
    assert not lines, f"{len(lines)} differences:\n" + "\n".join(lines)
    # Every family of the three plans, the indexer's included (captured in session 6).
    assert {k.tag for k in rendered.values()} >= {
        "sm90_fp8_gemm_1d2d",
        "sm90_tf32_hc_prenorm_gemm",
        "sm90_fp8_mqa_logits",
        "sm90_fp8_paged_mqa_logits",
        "sm90_paged_mqa_logits_metadata",
    }


@pytest.mark.parametrize("version", sorted(CAPTURES))
def test_meta_json_is_the_captured_one(version: str) -> None:
    capture = _capture(version)
    rendered = _rendered(version)
    profile = get_profile(CAPTURES[version][0])
    tags_seen: set[str] = set()
    for entry in capture["entries"]:
        tag = entry["entry"].split(".")[0]
        if tag in tags_seen:
            continue
        tags_seen.add(tag)
        meta = entry["meta"]
        tmp = re.search(r" (\S+)/kernel\.cu ", meta["command"])
        assert tmp is not None
        text = meta_json(
            rendered[entry["entry"]],
            profile,
            nvcc_path=meta["compiler_info"]["path"],
            nvcc_version_text=capture["nvcc_version_text"],
            library_root="<deep_gemm>",  # the README's placeholders for the capture's paths
            tmp_dir=tmp.group(1),
        )
        # DeepJIT's json::dump is compact and keeps field order: compare the exact text.
        assert text == json.dumps(meta, separators=(",", ":"), ensure_ascii=False), tag
    assert len(tags_seen) == 7  # every kernel tag of the three plans


# Each port's template against the raw string literal in the wheel's own generator.


@pytest.mark.parametrize("version", ["2.8.0", "2.8.2"])  # the wheels that ship csrc
def test_templates_are_the_wheels_format_strings(version: str) -> None:
    from jitwarm.deepjit._generators import (
        sm90_fp8_gemm_1d2d,
        sm90_fp8_mqa_logits,
        sm90_tf32_hc_prenorm_gemm,
    )

    profile = get_profile(CAPTURES[version][0])
    ours = {
        "sm90_fp8_gemm_1d2d.hpp": [sm90_fp8_gemm_1d2d.TEMPLATES[profile.sm90_gemm_args]],
        "sm90_tf32_hc_prenorm_gemm.hpp": [sm90_tf32_hc_prenorm_gemm.TEMPLATE],
        "sm90_fp8_mqa_logits.hpp": [
            sm90_fp8_mqa_logits.MQA_LOGITS_TEMPLATES[profile.sm90_indexer_args],
            sm90_fp8_mqa_logits.PAGED_MQA_LOGITS_TEMPLATE,
            sm90_fp8_mqa_logits.METADATA_TEMPLATE,
        ],
    }
    impls = unpacked_wheel(version) / "deep_gemm" / "csrc" / "jit_kernels" / "impls"
    for name, templates in ours.items():
        literals = re.findall(r'std::format\(R"\((.*?)\)"', (impls / name).read_text(), re.S)
        assert literals, name
        for template in templates:
            assert template in literals, f"{name}: template not in the wheel's sources"


def test_unrendered_kernels_are_typed() -> None:
    plan = _plan(*V3)
    sweep = plan.model_copy(
        update={
            "entries": [
                plan.entries[0].model_copy(update={"kernels": None, "selection": "sweep"}),
                *plan.entries[1:],
            ]
        }
    )
    gaps = unrendered_kernels(sweep, get_profile("tokenspeed-deepgemm-2.8.0"))
    assert [(g.entry_index, g.kernel_index, g.reason) for g in gaps] == [(0, None, GapReason.SWEEP)]
    # No generator port for sgl-deep-gemm's 21-argument template: every kernel is a gap.
    sgl = unrendered_kernels(plan, get_profile("sgl-deep-gemm-0.2.3"))
    assert {g.reason for g in sgl} == {GapReason.NO_GENERATOR}
    assert len(sgl) == plan.num_kernels
    with pytest.raises(NotDeepJitBuildError):
        unrendered_kernels(plan, get_profile("tokenspeed-deepgemm-2.5.0"))


def test_key_changing_env_changes_flags() -> None:
    """Flags as DeepJIT's CompilerOptions::get_flags composes them under DG_/DJ_ variables."""
    profile = get_profile("tokenspeed-deepgemm-2.8.0")
    base = compiler_options(profile, "sm90", env={}).flags()
    assert " ".join(base).startswith(
        "--gpu-architecture=sm_90a -O3 --compiler-options=-O3 "
        "--ptxas-options=--register-usage-level=10 -std=c++20 "
    )
    debug = compiler_options(profile, "sm90", env={"DJ_JIT_DEBUG": "yes"}).flags()
    assert "--ptxas-options=--verbose" in debug and "--generate-line-info" in debug
    # The build's own prefix wins over DeepJIT's global one.
    off = compiler_options(profile, "sm90", env={"DG_JIT_DEBUG": "0", "DJ_JIT_DEBUG": "1"})
    assert off.flags() == base
    cpp17 = compiler_options(profile, "sm90", env={"DG_JIT_CPP_STANDARD": "17"}).flags()
    assert "-std=c++17" in cpp17


def test_rendering_imports_neither_torch_nor_deep_gemm() -> None:
    code = (
        "import sys\n"
        "import jitwarm.deepjit\n"
        "from jitwarm.deepjit import unrendered_kernels\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('torch', 'deep_gemm')]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_header_lookup_follows_deepjits_parser(tmp_path: Path) -> None:
    """utils/parser.hpp: only <deep_gemm/...> lines are followed; a missing header or a quoted
    include is an error, never a silent partial digest."""
    inc = tmp_path / "include"
    (inc / "deep_gemm").mkdir(parents=True)
    (inc / "deep_gemm" / "a.cuh").write_text(
        "#include <cute/tensor.hpp>\n// #include <deep_gemm/x>\n"
    )
    args = ("cutlass-480", "nvcc\n", ["-O3"], "")
    base = deepjit_key(*args, "#include <deep_gemm/a.cuh>\n", [inc])
    (inc / "deep_gemm" / "a.cuh").write_text("changed\n")
    assert deepjit_key(*args, "#include <deep_gemm/a.cuh>\n", [tmp_path / "other", inc]) != base
    with pytest.raises(HeaderNotFoundError, match=r"deep_gemm/b\.cuh"):
        deepjit_key(*args, "  #  include <deep_gemm/b.cuh>\n", [inc])
    with pytest.raises(NonStandardIncludeError):
        deepjit_key(*args, '#include "deep_gemm/a.cuh"\n', [inc])
    with pytest.raises(NotDeepJitBuildError, match="no established DeepJIT flags"):
        render_plan(_plan(*V3), get_profile("sgl-deep-gemm-0.2.3"), inc, "nvcc\n")
