"""Each build's calls bind to that build's own declared signatures (its ``_C.pyi`` stubs and
Python wrappers, read from the wheel), for every family a DeepSeek plan reaches. Needs torch
(CPU tensors), not a GPU."""

from __future__ import annotations

import ast
import inspect
import zipfile
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from _wheels import fetch_wheel, unpacked_wheel, vllm_281_dir  # noqa: E402
from jitwarm.deepgemm._calls import build_call  # noqa: E402
from jitwarm.models._loader import load_model  # noqa: E402
from jitwarm.plan import plan_serving  # noqa: E402
from jitwarm.plan._schema import Family  # noqa: E402
from jitwarm.profiles import PROFILES, IndexerApi  # noqa: E402
from jitwarm.serving import ServingConfig  # noqa: E402

SGL_WHEEL = fetch_wheel("sgl-0.2.3") or Path("/nonexistent/sgl-deep-gemm.whl")
VLLM = vllm_281_dir()


def _sources(name: str) -> list[str]:
    """The build's Python files that declare its public calls, lowest precedence first."""
    if name == "sgl-deep-gemm-0.2.3":
        if not SGL_WHEEL.is_file():
            pytest.skip("sgl-deep-gemm wheel not present")
        with zipfile.ZipFile(SGL_WHEEL) as zf:
            return [zf.read("deep_gemm/__init__.py").decode()]
    if name == "vllm-deepgemm-2.8.1":
        if not VLLM.is_dir():
            pytest.skip("vLLM's vendored DeepGEMM not present")
        return [(VLLM / "_C.py").read_text(), (VLLM / "__init__.py").read_text()]
    if name == "tokenspeed-deepgemm-2.5.0":
        pkg = unpacked_wheel("2.5.0") / "deep_gemm"
        if not pkg.is_dir():
            pytest.skip("2.5.0 wheel not unpacked")
    else:
        pkg = unpacked_wheel(name.rsplit("-", 1)[1]) / "deep_gemm"
    return [(pkg / "_C.pyi").read_text(), (pkg / "__init__.py").read_text()]


def _signatures(texts: list[str]) -> dict[str, inspect.Signature]:
    defs: dict[str, inspect.Signature] = {}
    aliases: dict[str, str] = {}
    for text in texts:
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef) and not node.name.startswith("_"):
                defs[node.name] = _signature(node.args)
            elif isinstance(node, ast.Assign) and len(node.targets) == 1:
                target, value = node.targets[0], node.value
                if isinstance(target, ast.Name) and isinstance(value, ast.Name | ast.Attribute):
                    aliases[target.id] = value.id if isinstance(value, ast.Name) else value.attr
            elif isinstance(node, ast.Dict):  # globals().update({"name": function, ...})
                for key, value in zip(node.keys, node.values, strict=True):
                    if isinstance(key, ast.Constant) and isinstance(value, ast.Name):
                        aliases[str(key.value)] = value.id
    for alias, target in aliases.items():
        if target in defs and alias not in defs:
            defs[alias] = defs[target]
    return defs


def _signature(args: ast.arguments) -> inspect.Signature:
    P = inspect.Parameter
    positional = [*args.posonlyargs, *args.args]
    first_default = len(positional) - len(args.defaults)
    params = [
        P(a.arg, P.POSITIONAL_OR_KEYWORD, default=None if i >= first_default else P.empty)
        for i, a in enumerate(positional)
        if a.arg != "self"
    ]
    params += [P(a.arg, P.KEYWORD_ONLY, default=None) for a in args.kwonlyargs]
    return inspect.Signature(params)


def _plans() -> list:
    small = {"max_batched_tokens": 256, "max_running_seqs": 8}
    return [
        plan_serving(
            load_model("deepseek-v3.2"), ServingConfig(tp=8, spec_draft_tokens=1, **small)
        ),
        plan_serving(load_model("deepseek-v4-flash"), ServingConfig(tp=4, **small)),
    ]


@pytest.mark.parametrize("profile", PROFILES, ids=lambda p: p.name)
def test_every_call_binds_to_the_builds_own_signature(profile) -> None:
    sigs = _signatures(_sources(profile.name))
    bound: set[str] = set()
    undeclared: set[str] = set()
    for plan in _plans():
        for entry in plan.entries:
            call = build_call(entry, 4, "cpu", num_sms=132, for_capture=True, profile=profile)
            assert call.fn_name == profile.entry_point(entry.family.value)
            if call.fn_name not in sigs:  # a pybind function the stubs do not list
                undeclared.add(entry.family.value)
                continue
            sigs[call.fn_name].bind(*call.args, **call.kwargs)  # raises on a contract mismatch
            bound.add(entry.family.value)
    # The indexer's contract is what changed between builds: it must be checked everywhere.
    assert {"fp8_mqa_logits", "fp8_paged_mqa_logits"} <= bound
    assert len(bound) >= 5 or profile.name == "tokenspeed-deepgemm-2.5.0", (bound, undeclared)


def test_fp8_fp4_only_builds_get_q_with_no_scales_and_no_clean_logits() -> None:
    profile = next(p for p in PROFILES if p.indexer_api is IndexerApi.FP8_FP4_ONLY)
    plan = _plans()[0]
    for family in (Family.MQA_LOGITS, Family.PAGED_MQA_LOGITS):
        entry = next(e for e in plan.entries if e.family is family)
        call = build_call(entry, 4, "cpu", num_sms=132, for_capture=True, profile=profile)
        assert call.fn_name.startswith("fp8_fp4_") and call.kwargs == {}
        q, q_sf = call.args[0]
        assert q.dtype == torch.float8_e4m3fn and q_sf is None


def test_fp8_fp4_mqa_logits_gets_the_width_its_host_check_requires() -> None:
    """2.8.1+ asserts ``max_seqlen_k > 0`` (csrc/apis/attention.hpp; an H200 verify of
    deepseek-v4-flash on 2.8.2 failed on it when jitwarm passed 0): the width of the logits,
    at least the longest row the call's ``ke`` spans."""
    header = unpacked_wheel("2.8.2") / "deep_gemm/csrc/apis/attention.hpp"
    if not header.is_file():
        pytest.skip("2.8.2 wheel not unpacked")
    assert "DG_HOST_ASSERT(max_seqlen_k > 0)" in header.read_text()
    profile = next(p for p in PROFILES if p.indexer_api is IndexerApi.FP8_FP4_ONLY)
    entry = next(e for e in _plans()[0].entries if e.family is Family.MQA_LOGITS)
    for m in (1, 7, 300):
        call = build_call(entry, m, "cpu", num_sms=132, for_capture=True, profile=profile)
        bound = _signatures(_sources(profile.name))[call.fn_name].bind(*call.args)
        ke = bound.arguments["cu_seq_len_k_end"]
        assert bound.arguments["max_seqlen_k"] >= int(ke.max()) > 0
