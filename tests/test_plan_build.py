"""The plan records the DeepGEMM build it was made for; commands against another build refuse
it in one line; a bundle of one build is refused by another; an unvalidated build is warmed
from captured sources."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from _cli import run
from _cubin import minimal_cubin
from _sites import deepgemm_site
from jitwarm.bundle import Provenance, ProvenanceMismatchError, compare_provenance
from jitwarm.dgenv import Layout
from jitwarm.errors import ManifestError
from jitwarm.models._loader import load_model
from jitwarm.plan import Plan, plan_serving
from jitwarm.plan._schema import Selection
from jitwarm.serving import ServingConfig

B280, B282 = "tokenspeed-deepgemm-2.8.0", "tokenspeed-deepgemm-2.8.2"


@pytest.fixture(scope="module")
def small_plan() -> Plan:
    serving = ServingConfig(tp=8, max_batched_tokens=256, max_running_seqs=8)
    return plan_serving(load_model("deepseek-v3"), serving, build=B280)


@pytest.fixture
def site_282(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """tokenspeed-deepgemm 2.8.2 installed (as files only) on this interpreter's path."""
    site = tmp_path / "site"
    deepgemm_site(site, "tokenspeed-deepgemm", "2.8.2.post20261020")
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setenv("JITWARM_DEEPGEMM", "")  # restored after the test, as --deepgemm sets it
    monkeypatch.delitem(sys.modules, "deep_gemm", raising=False)
    return site


def test_version_2_records_the_build_and_version_1_loads_as_unknown(small_plan: Plan) -> None:
    again = Plan.from_json(small_plan.to_json())
    assert again.schema_version == 2 and again.build == B280
    raw = json.loads(small_plan.to_json())
    raw["schema_version"] = 1
    del raw["build"]
    old = Plan.from_json(json.dumps(raw))
    assert old.build is None and old.entries == small_plan.entries
    # a build changes which kernels the plan means; no build keeps the version 1 digest
    assert old.digest() != small_plan.digest()
    assert old.digest() == small_plan.model_copy(update={"build": None}).digest()
    raw["build"] = B280
    with pytest.raises(ManifestError, match="version 1 plan has no 'build'"):
        Plan.from_json(json.dumps(raw))


def _write(tmp_path: Path, plan: Plan) -> Path:
    path = tmp_path / "plan.json"
    path.write_text(plan.to_json())
    return path


@pytest.mark.parametrize(
    "argv",
    [
        ("warm", "--plan", "{plan}", "--cache-dir", "{root}"),
        ("verify", "--plan", "{plan}", "--cache-dir", "{root}"),
        ("cache", "prune", "--plan", "{plan}", "--cache-dir", "{root}", "--yes"),
        ("bundle", "export", "--plan", "{plan}", "--cache-dir", "{root}", "-o", "{root}/b.tgz"),
    ],
    ids=lambda a: " ".join(a[:2]),
)
def test_a_plan_for_another_build_is_refused_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], site_282: Path, small_plan: Plan, argv
) -> None:
    root = tmp_path / "root"
    (root / "cache").mkdir(parents=True)
    entry = root / "cache" / ("sm90_fp8_gemm_1d2d." + "a" * 32)
    entry.mkdir()
    for name, data in (("kernel.cu", b"x"), ("kernel.cubin", minimal_cubin()), ("meta.json", b"{}"), (".committed", b"")):  # fmt: skip
        (entry / name).write_bytes(data)
    plan_file = _write(tmp_path, small_plan)
    args = [a.format(plan=plan_file, root=root) for a in argv]
    code, out, err = run(capsys, *args)
    assert code == 2, (out, err)
    (line,) = err.strip().splitlines()
    assert B280 in line and B282 in line
    assert entry.is_dir()  # nothing pruned, nothing shipped on a guess
    assert not (root / "b.tgz").exists()


def test_a_plan_made_here_records_this_build(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], site_282: Path
) -> None:
    out_file = tmp_path / "p.json"
    code, _, err = run(
        capsys, "plan", "--model", "deepseek-v3", "--tp", "8", "--output", str(out_file)
    )
    assert code == 0, err
    assert Plan.load(out_file).build == B282


def test_a_bundle_of_one_build_is_refused_by_another() -> None:
    made = Provenance(deepgemm_build=B280, layout=Layout.DEEPJIT)
    here = Provenance(deepgemm_build=B282, layout=Layout.DEEPJIT)
    mismatches, _ = compare_provenance(made, here)
    assert any(B280 in m and B282 in m for m in mismatches)
    err = ProvenanceMismatchError(mismatches)
    assert "\n" not in str(err) and "--force" in str(err)
    assert compare_provenance(made, made)[0] == []


def test_without_a_validated_selection_model_every_modelled_entry_is_swept(
    small_plan: Plan,
) -> None:
    swept = small_plan.without_selection_model()
    modelled = [i for i, e in enumerate(small_plan.entries) if e.selection is Selection.EXACT]
    assert modelled
    for i in modelled:
        assert swept.entries[i].selection is Selection.SWEEP and swept.entries[i].kernels is None
        assert swept.entries[i].m_values == small_plan.entries[i].m_values
    others = [i for i in range(len(small_plan.entries)) if i not in modelled]
    assert all(swept.entries[i] == small_plan.entries[i] for i in others)


def test_warm_on_an_unknown_build_captures_instead_of_trusting_the_model(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from jitwarm.warmer import FakeBackend
    from jitwarm.warmer import _api as warm_api

    site = tmp_path / "site"
    deepgemm_site(site, "tokenspeed-deepgemm", "2.9.0.post20270101")
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setenv("JITWARM_DEEPGEMM", "")  # restored after the test, as --deepgemm sets it
    seen: list[bool] = []

    def backend(capture: bool = False) -> FakeBackend:
        seen.append(capture)
        return FakeBackend()

    monkeypatch.setattr(warm_api, "default_backend", backend)
    plan = plan_serving(
        load_model("deepseek-v3"), ServingConfig(tp=8, max_batched_tokens=64, max_running_seqs=4)
    )
    path = _write(tmp_path, plan)
    code, out, err = run(
        capsys, "warm", "--plan", str(path), "-j", "1", "--cache-dir", str(tmp_path / "c"), "--json"
    )
    assert code == 0, err
    body = json.loads(out)
    assert "selection model unvalidated for this build" in body["selection_note"]
    assert "unknown build: tokenspeed-deepgemm 2.9.0" in body["selection_note"]
    assert body["deepgemm"]["profile"] == "unknown"
    assert "selection model unvalidated" in err
    assert True in seen  # the capture (stand-in compiler) back end ran


def test_prune_compares_with_the_build_the_cache_was_warmed_with(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], site_282: Path, small_plan: Plan
) -> None:
    """warm's record at the cache root names the build that filled it; it wins over the one
    installed here (a cache built elsewhere, pruned on this host)."""
    from jitwarm.bundle import write_cache_provenance

    root = tmp_path / "root"
    (root / "cache").mkdir(parents=True)
    write_cache_provenance(root, Provenance(deepgemm_build=B280, layout=Layout.DEEPJIT))
    plan_file = _write(tmp_path, small_plan)  # made for 2.8.0, like the cache
    code, _, err = run(capsys, "cache", "prune", "--plan", str(plan_file), "--cache-dir", str(root), "--yes")  # fmt: skip
    assert code == 0, err
    other = _write(tmp_path, small_plan.model_copy(update={"build": B282}))
    code, _, err = run(capsys, "cache", "prune", "--plan", str(other), "--cache-dir", str(root), "--yes")  # fmt: skip
    (line,) = err.strip().splitlines()
    assert code == 2 and B282 in line and f"{B280} (cache {root})" in line
