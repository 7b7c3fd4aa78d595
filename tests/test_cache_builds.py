"""Plan-to-cache matching on every build, against the entries DeepGEMM itself wrote.

The captured 2.8.0 / 2.8.1 (vLLM) / 2.8.2 entries (tests/data/deepgemm-2.8-h200) are laid out
in a DeepJIT cache exactly as DeepGEMM publishes them; ``cache prune --plan`` must keep every
entry the plan's warm wrote and ``bundle export --plan`` must ship every one of them, on the
20-argument (2.8.0) and the 19-argument (2.8.1, 2.8.2) renderings alike. The first plan of each
file was warmed into an empty cache, so its set is known whole: everything else goes.

Those warms passed DeepGEMM's default prefill-indexer flags (cleaned, not compressed); plans
now record the engine's (TokenSpeed 0.1.1: compressed, not cleaned), so on 2.8.0 a warm of the
V4-Flash and V3.2 plans writes another ``sm90_fp8_mqa_logits`` entry than the captured one.
Both are kept: plan matching reads the indexer kernel's heads and head_dim, not its flags
(cache/_plan_match.py, rule 2), so these sets stay what the plans need. The engines' prefill
entries, captured from the engines' own calls (tests/_data.py ``ENGINE_INDEXER_CALLS``), are
checked by ``test_engine_indexer_calls_are_kept``.
"""

from __future__ import annotations

import functools
import json
import tarfile
from pathlib import Path

import pytest

from _cubin import GROUND_TRUTH, gemm_source, minimal_cubin
from _data import DEEPJIT_ENTRIES, ENGINE_INDEXER_CALLS
from jitwarm.bundle import Provenance, export_bundle
from jitwarm.cache import (
    FindingKind,
    PlanIndex,
    check_cache,
    plan_prune,
    quarantine_findings,
    scan_cache,
)
from jitwarm.dgenv import CacheRoots, Layout
from jitwarm.models._loader import load_model
from jitwarm.plan import Plan, plan_serving
from jitwarm.plan._schema import Family
from jitwarm.serving import ServingConfig

V3, V4 = "deepseek-v3 --tp 8", "deepseek-v4-flash --tp 4"
V32 = "deepseek-v3.2 --tp 8 --spec-draft-tokens 3"
_SERVING = {
    V3: ("deepseek-v3", {"tp": 8}),
    V4: ("deepseek-v4-flash", {"tp": 4}),
    V32: ("deepseek-v3.2", {"tp": 8, "spec_draft_tokens": 3}),
}


@functools.cache
def _plan(which: str) -> Plan:
    # The plans the captures were warmed from (default serving limits).
    model, serving = _SERVING[which]
    return plan_serving(load_model(model), ServingConfig(**serving))


def _captured(version: str) -> list[dict]:
    return json.loads(DEEPJIT_ENTRIES[version].read_text())["entries"]


def _whole_set(version: str, plan_name: str) -> set[str]:
    """Every entry a cold warm of the plan wrote on the H200 (the capture's ``plans``)."""
    return set(json.loads(DEEPJIT_ENTRIES[version].read_text())["plans"][plan_name])


def _write_deepjit_cache(root: Path, entries: list[dict]) -> None:
    for e in entries:
        folder = root / "cache" / e["entry"]
        folder.mkdir(parents=True)
        (folder / "kernel.cu").write_text(e["kernel_cu"])
        (folder / "kernel.cubin").write_bytes(minimal_cubin())
        (folder / "meta.json").write_text(json.dumps(e["meta"]))
        (folder / ".committed").write_text("")


CASES = [(version, plan) for version in ("2.8.0", "2.8.1", "2.8.2") for plan in (V3, V4, V32)]


@pytest.mark.parametrize(("version", "plan_name"), CASES)
def test_prune_by_plan_keeps_every_entry_the_plans_warm_wrote(
    tmp_path: Path, version: str, plan_name: str
) -> None:
    entries = _captured(version)
    _write_deepjit_cache(tmp_path, entries)
    info = scan_cache(CacheRoots(tmp_path))
    assert info.layout is Layout.DEEPJIT and len(info.ok_entries) == len(entries)
    strategy = plan_prune(info, plan=_plan(plan_name))
    pruned = {i.entry.name for i in strategy.items}
    own = {e["entry"] for e in entries if e["first_planned_by"] == plan_name}
    assert own and not (own & pruned)
    # Exactly the plan's own entries stay: what a cold warm of it wrote on the H200.
    assert pruned == {e["entry"] for e in entries} - _whole_set(version, plan_name)
    strategy.execute()
    left = {e.name for e in scan_cache(CacheRoots(tmp_path)).entries}
    assert own <= left


@pytest.mark.parametrize(("version", "plan_name"), CASES)
def test_bundle_export_by_plan_ships_every_entry_the_plans_warm_wrote(
    tmp_path: Path, version: str, plan_name: str
) -> None:
    entries = _captured(version)
    root = tmp_path / "root"
    _write_deepjit_cache(root, entries)
    info = scan_cache(CacheRoots(root))
    out = tmp_path / "b.tar.gz"
    result = export_bundle(
        info, out, provenance=Provenance(layout=Layout.DEEPJIT), plan=_plan(plan_name)
    )
    shipped = {e.name for e in result.manifest.entries}
    own = {e["entry"] for e in entries if e["first_planned_by"] == plan_name}
    assert shipped == _whole_set(version, plan_name)
    assert result.plan_kernels_missing == 0
    with tarfile.open(out) as tar:
        members = {m.name.split("/")[1] for m in tar.getmembers() if m.name.startswith("cache/")}
    assert own <= members


def test_an_entry_of_a_shape_the_plan_lacks_is_dropped(tmp_path: Path) -> None:
    """One captured GEMM entry with N changed to a shape no plan entry has."""
    (entry,) = [e for e in _captured("2.8.2") if "0, 512, 7168," in e["kernel_cu"]][:1]
    odd = dict(entry, entry="sm90_fp8_gemm_1d2d." + "e" * 32)
    odd["kernel_cu"] = entry["kernel_cu"].replace("0, 512, 7168,", "0, 520, 7168,")
    _write_deepjit_cache(tmp_path, [entry, odd])
    strategy = plan_prune(scan_cache(CacheRoots(tmp_path)), plan=_plan(V3))
    assert [i.entry.name for i in strategy.items] == [odd["entry"]]


@pytest.mark.parametrize("count", [19, 20, 21])
def test_every_rendering_of_a_ground_truth_kernel_matches_its_prediction(count: int) -> None:
    """2.5.0's measured kernels (20 arguments), rendered as each build would render them."""
    data = json.loads(GROUND_TRUTH.read_text())
    plan = _plan(V3)
    index = PlanIndex.from_plan(plan)
    predicted = {
        kn.template_args
        for e in plan.entries
        if e.family is Family.FP8_GEMM_NT
        for kn in e.kernels or []
    }
    measured = {p["template_args"] for s in data["fp8_gemm_nt"].values() for p in s.values()}
    both = sorted(predicted & measured)
    assert both, "the V3 plan shares no kernel with the H100 captures"
    for args in both:
        parts = args.split(", ")
        assert len(parts) == 20
        rendered = {19: parts[:19], 20: parts, 21: [*parts, "128"]}[count]
        text = ", ".join(rendered)
        assert index.needs(Family.FP8_GEMM_NT, "sm90_fp8_gemm_1d2d", text), text
        src = gemm_source(text)
        assert "sm90_fp8_gemm_1d2d_impl<" in src
    other = ", ".join([*both[0].split(", ")[:19], "epilogue::transform::EpilogueIdentity", "32"])
    assert not index.needs(Family.FP8_GEMM_NT, "sm90_fp8_gemm_1d2d", other)


def test_check_quarantines_a_deepjit_folder_without_its_commit_marker(tmp_path: Path) -> None:
    entries = _captured("2.8.2")[:2]
    _write_deepjit_cache(tmp_path, entries)
    torn = tmp_path / "cache" / entries[0]["entry"]
    (torn / ".committed").unlink()
    report = check_cache(scan_cache(CacheRoots(tmp_path)))
    (finding,) = report.fixable
    assert finding.kind is FindingKind.INCOMPLETE and finding.path == torn
    ((_, moved),) = quarantine_findings(report)
    assert moved is not None and not torn.exists()
    assert (tmp_path / "cache" / entries[1]["entry"] / ".committed").exists()


def test_engine_indexer_calls_are_kept(tmp_path: Path) -> None:
    """Prune by plan on the 2.8.0 entries of the engines' own prefill indexer calls: the V3.2
    and V4-Flash plans keep every one of them (the indexer's flags are not matched)."""
    path = ENGINE_INDEXER_CALLS["2.8.0"]
    entries = json.loads(path.read_text())["entries"]
    _write_deepjit_cache(tmp_path, entries)
    info = scan_cache(CacheRoots(tmp_path))
    assert len(info.ok_entries) == len(entries)
    for plan_name in (V4, V32):
        assert not plan_prune(info, plan=_plan(plan_name)).items, plan_name
