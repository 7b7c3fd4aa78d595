"""Build profiles and build detection, against the builds' own files and the captured entries."""

from __future__ import annotations

import json
import re
import zipfile
from pathlib import Path

import pytest

from _data import DEEPJIT_ENTRIES
from _sites import deepgemm_site, run_detect, vllm_site
from _wheels import fetch_wheel, unpacked_wheel, vllm_281_dir
from jitwarm.cache import parse_template_args
from jitwarm.plan._schema import Family
from jitwarm.profiles import (
    PROFILES,
    BuildMismatchError,
    IndexerApi,
    Sm90GemmArgs,
    check_same_build,
    detect_build,
    get_profile,
)

SGL_WHEEL = fetch_wheel("sgl-0.2.3") or Path("/nonexistent/sgl-deep-gemm.whl")
VLLM_281 = vllm_281_dir()


# -- detection ---------------------------------------------------------------------------------
def test_vendored_vllm_copy_is_found_without_running_vllm(tmp_path: Path) -> None:
    pkg = vllm_site(tmp_path)
    got = json.loads(run_detect([tmp_path]))
    assert got["imported"] == []
    assert got["module"] == "vllm.third_party.deep_gemm" and got["path"] == str(pkg)
    assert (got["distribution"], got["distribution_version"]) == ("vllm", "0.33.0")
    assert (got["version"], got["generation"], got["profile"]) == (
        "2.8.1",
        "deepjit",
        "vllm-deepgemm-2.8.1",
    )


def test_installed_deep_gemm_wins_over_the_vendored_copy(tmp_path: Path) -> None:
    vllm_site(tmp_path / "a")
    deepgemm_site(tmp_path / "b", "tokenspeed-deepgemm", "2.8.0.post20260924")
    got = json.loads(run_detect([tmp_path / "a", tmp_path / "b"]))
    assert (got["module"], got["profile"]) == ("deep_gemm", "tokenspeed-deepgemm-2.8.0")
    # ... unless one is named explicitly, by flag or by variable
    flag = json.loads(run_detect([tmp_path / "a", tmp_path / "b"], "vllm.third_party.deep_gemm"))
    assert flag["profile"] == "vllm-deepgemm-2.8.1" and flag["found_by"] == "--deepgemm"
    var = json.loads(
        run_detect(
            [tmp_path / "a", tmp_path / "b"],
            env_extra={"JITWARM_DEEPGEMM": "vllm.third_party.deep_gemm"},
        )
    )
    assert var["profile"] == "vllm-deepgemm-2.8.1" and var["found_by"] == "JITWARM_DEEPGEMM"


@pytest.mark.parametrize(
    ("dist", "version", "version_file", "profile", "generation"),
    [
        (
            "tokenspeed-deepgemm",
            "2.5.0.post20260604",
            False,
            "tokenspeed-deepgemm-2.5.0",
            "upstream",
        ),
        (
            "tokenspeed-deepgemm",
            "2.8.2.post20261020",
            False,
            "tokenspeed-deepgemm-2.8.2",
            "deepjit",
        ),
        ("sgl-deep-gemm", "0.2.3.post2", True, "sgl-deep-gemm-0.2.3", "deepjit"),
        ("tokenspeed-deepgemm", "2.9.0.post20270101", False, "unknown", None),
        ("deep-gemm", "2.8.2", False, "unknown", None),  # an upstream source install
    ],
)
def test_installed_builds_map_to_their_profile(
    tmp_path: Path,
    dist: str,
    version: str,
    version_file: bool,
    profile: str,
    generation: str | None,
) -> None:
    deepgemm_site(tmp_path, dist, version, version_file=version_file)
    got = json.loads(run_detect([tmp_path]))
    assert (got["distribution"], got["version"]) == (dist, version)
    assert (got["profile"], got["generation"]) == (profile, generation)
    assert got["imported"] == []
    if profile == "unknown":
        assert got["describe"].startswith(f"unknown build: {dist} {version}")


def test_nothing_installed_says_what_was_searched(tmp_path: Path) -> None:
    got = json.loads(run_detect([tmp_path]))
    assert got["path"] is None and got["profile"] == "unknown"
    assert "deep_gemm then vllm.third_party.deep_gemm" in got["describe"]


def test_the_real_vendored_copy_when_present() -> None:
    if not VLLM_281.is_dir():
        pytest.skip("vLLM 0.33's vendored DeepGEMM is not unpacked here")
    got = json.loads(run_detect([VLLM_281.parents[2]]))
    assert (got["version"], got["profile"]) == ("2.8.1", "vllm-deepgemm-2.8.1")


def test_a_plan_for_another_build_is_one_clear_line(tmp_path: Path) -> None:
    deepgemm_site(tmp_path, "tokenspeed-deepgemm", "2.8.2.post20261020")
    import sys

    sys.path.insert(0, str(tmp_path))
    try:
        here = detect_build()
    finally:
        sys.path.remove(str(tmp_path))
    check_same_build("plan.json", None, here, "re-plan")  # an old plan: nothing to compare
    check_same_build("plan.json", "tokenspeed-deepgemm-2.8.2", here, "re-plan")
    with pytest.raises(BuildMismatchError) as err:
        check_same_build("plan.json", "tokenspeed-deepgemm-2.8.0", here, "re-plan")
    assert "\n" not in str(err.value)
    assert "tokenspeed-deepgemm-2.8.0" in str(err.value) and "tokenspeed-deepgemm-2.8.2" in str(
        err.value
    )


# -- profile facts, against each build's own files ---------------------------------------------
def _wheel_init(profile_name: str) -> str:
    if profile_name == "sgl-deep-gemm-0.2.3":
        if not SGL_WHEEL.is_file():
            pytest.skip("sgl-deep-gemm wheel not present")
        with zipfile.ZipFile(SGL_WHEEL) as zf:
            return zf.read("deep_gemm/__init__.py").decode()
    if profile_name == "vllm-deepgemm-2.8.1":
        if not VLLM_281.is_dir():
            pytest.skip("vLLM's vendored DeepGEMM not present")
        return (VLLM_281 / "__init__.py").read_text() + (VLLM_281 / "_C.py").read_text()
    if profile_name == "tokenspeed-deepgemm-2.5.0":
        init = unpacked_wheel("2.5.0") / "deep_gemm/__init__.py"
        if not init.is_file():
            pytest.skip("2.5.0 wheel not unpacked")
        return init.read_text()
    return (
        unpacked_wheel(profile_name.rsplit("-", 1)[1]) / "deep_gemm" / "__init__.py"
    ).read_text()


@pytest.mark.parametrize("profile", PROFILES, ids=lambda p: p.name)
def test_every_planned_family_has_its_entry_point_in_the_build(profile) -> None:
    text = _wheel_init(profile.name)
    names = set(re.findall(r"\b[a-z][a-z0-9_]*\b", text))
    for family in Family:
        entry = profile.entry_point(family.value)
        assert entry is not None and entry in names, (profile.name, family.value, entry)
    if profile.indexer_api is IndexerApi.FP8_FP4_ONLY:
        assert "fp8_mqa_logits" not in names and "fp8_paged_mqa_logits" not in names


@pytest.mark.parametrize(
    ("version", "profile"),
    [("2.8.0", "tokenspeed-deepgemm-2.8.0"), ("2.8.2", "tokenspeed-deepgemm-2.8.2")],
)
def test_template_argument_count_matches_the_captured_entries(version: str, profile: str) -> None:
    entries = json.loads(DEEPJIT_ENTRIES[version].read_text())["entries"]
    style = get_profile(profile).sm90_gemm_args
    gemms = [e for e in entries if e["entry"].startswith("sm90_fp8_gemm_1d2d.")]
    assert gemms
    for e in gemms:
        args = parse_template_args(e["kernel_cu"]).split(", ")
        assert len(args) == style.count
        assert Sm90GemmArgs.of_count(len(args)) is style
    extra = {e["meta"]["config"]["extra_signature"] for e in entries}
    assert extra == {get_profile(profile).extra_signature}


def _header(profile_name: str) -> str:
    rel = "deep_gemm/include/deep_gemm/impls/sm90_fp8_gemm_1d2d.cuh"
    if profile_name == "sgl-deep-gemm-0.2.3":
        if not SGL_WHEEL.is_file():
            pytest.skip("sgl-deep-gemm wheel not present")
        with zipfile.ZipFile(SGL_WHEEL) as zf:
            return zf.read(rel).decode()
    if profile_name == "vllm-deepgemm-2.8.1":
        if not VLLM_281.is_dir():
            pytest.skip("vLLM's vendored DeepGEMM not present")
        return (VLLM_281.parent / rel).read_text()
    if profile_name == "tokenspeed-deepgemm-2.5.0":
        path = unpacked_wheel("2.5.0") / rel
        if not path.is_file():
            pytest.skip("2.5.0 wheel not unpacked")
        return path.read_text()
    return (unpacked_wheel(profile_name.rsplit("-", 1)[1]) / rel).read_text()


@pytest.mark.parametrize("profile", PROFILES, ids=lambda p: p.name)
def test_template_argument_count_matches_the_kernel_header(profile) -> None:
    text = _header(profile.name)
    decl = text[
        text.index("template <cute::UMMA::Major kMajorSFB") : text.index("sm90_fp8_gemm_1d2d_impl(")
    ]
    params = decl[len("template <") : decl.index(">\nCUTLASS_GLOBAL")]
    assert len([p for p in params.split(",") if p.strip()]) == profile.sm90_gemm_args.count


def test_canonical_gemm_identity_is_the_same_across_renderings() -> None:
    core = [
        "cute::UMMA::Major::K", "0", "512", "7168", "1", "256", "128", "128", "128", "128",
        "128", "3", "128", "256", "1", "false", "132", "GemmType::Normal", "cutlass::bfloat16_t",
    ]  # fmt: skip
    ident = "epilogue::transform::EpilogueIdentity"
    c19 = Sm90GemmArgs.canonical(core)
    assert c19 == Sm90GemmArgs.canonical([*core, ident])
    assert c19 == Sm90GemmArgs.canonical([*core, ident, "128"])
    assert c19 != Sm90GemmArgs.canonical([*core, ident, "32"])
    assert c19 != Sm90GemmArgs.canonical([*core, "epilogue::Other"])
    assert Sm90GemmArgs.canonical(core[:-1]) is None
    assert Sm90GemmArgs.canonical(["1", *core[1:]]) is None


def test_key_env_reads_the_deepjit_fallback_only_on_deepjit_builds() -> None:
    dj, up = get_profile("tokenspeed-deepgemm-2.8.0"), get_profile("tokenspeed-deepgemm-2.5.0")
    env = {"DJ_JIT_CHECK_NO_SPILLS": "1", "DG_JIT_PTXAS_CHECK": "1", "DJ_JIT_DEBUG": "1"}
    assert dj.key_env(env) == {"DG_JIT_CHECK_NO_SPILLS": "1", "DG_JIT_DEBUG": "1"}
    assert up.key_env(env) == {"DG_JIT_PTXAS_CHECK": "1"}
    # DG_ wins over DJ_ for the same setting
    assert dj.key_env({"DG_JIT_CPP_STANDARD": "20", "DJ_JIT_CPP_STANDARD": "17"}) == {}
    assert "DJ_JIT_CHECK_NO_LOCAL_MEMORY" in dj.key_env_vars()


def test_deepjit_env_names_match_the_sgl_headers() -> None:
    if not SGL_WHEEL.is_file():
        pytest.skip("sgl-deep-gemm wheel not present")
    with zipfile.ZipFile(SGL_WHEEL) as zf:
        options = zf.read("deep_gemm/include/deep_jit/backend/cuda/options.hpp").decode()
        backend = zf.read("deep_gemm/include/deep_jit/backend/cuda/backend.hpp").decode()
        command = zf.read("deep_gemm/include/deep_jit/utils/command.hpp").decode()
    read = set(re.findall(r'env\.get<\w+(?:::\w+)?>\("(\w+)"', options + backend))
    profile = get_profile("sgl-deep-gemm-0.2.3")
    assert set(profile.key_env_suffixes) <= read
    assert re.search(profile.compile_log, 'std::printf("Running command: %s\\n"') and (
        "Running command:" in command
    )


def test_the_default_cache_root_follows_the_build_found_here(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from jitwarm import dgenv
    from jitwarm.profiles import resolve_cache_roots

    vllm_site(tmp_path / "site")  # a DeepJIT build (vLLM's vendored 2.8.1)
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    home = tmp_path / "home"
    (home / ".deep_gemm").mkdir(parents=True)  # what the layout-blind default would take
    env = {"HOME": str(home)}
    assert resolve_cache_roots(env=env).writable == home / ".dj"
    assert dgenv.resolve_cache_roots(env=env).writable == home / ".deep_gemm"
    given = {**env, "DG_JIT_CACHE_DIR": str(tmp_path / "given")}  # a given root is kept
    assert resolve_cache_roots(env=given).writable == tmp_path / "given"
