"""warm on a real GPU with DeepGEMM: argument contracts, numerics, and the proof that after a
warm every planned call over its whole M set compiles nothing. Run on the device machine."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from _gpu import require_gpu
from jitwarm.deepgemm import warm
from jitwarm.models._loader import load_model
from jitwarm.plan import Plan, plan_serving
from jitwarm.plan._schema import Family, PlanEntry, Selection
from jitwarm.serving import ServingConfig
from jitwarm.warmer._cache_entries import list_entries
from jitwarm.warmer._items import ItemMode, sweep_items
from jitwarm.warmer._pool import PoolSpec, run_pool
from jitwarm.warmer._settings import PlanSettings

pytestmark = pytest.mark.gpu


require_gpu()

import torch  # noqa: E402

from jitwarm.deepgemm._backend import DeepGEMMBackend  # noqa: E402
from jitwarm.deepgemm._calls import build_call  # noqa: E402

SMALL = {"tp": 8, "max_batched_tokens": 128, "max_running_seqs": 8}


def _dump(name: str, report: object) -> None:
    """Keep a report for the record when JITWARM_GPU_REPORTS names a folder (device runs)."""
    folder = os.environ.get("JITWARM_GPU_REPORTS")
    if folder:
        body = report.to_json(with_items=True)  # type: ignore[attr-defined]
        Path(folder, f"{name}.json").write_text(json.dumps(body, indent=1))


def _plan(model: str, **serving: object) -> Plan:
    return plan_serving(load_model(model), ServingConfig(**{**SMALL, **serving}))


@pytest.fixture(scope="module", autouse=True)
def own_cache_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # DeepGEMM reads DG_JIT_CACHE_DIR once per process, at its first compile.
    root = tmp_path_factory.mktemp("dg-cache")
    os.environ["DG_JIT_CACHE_DIR"] = str(root)
    return root


def test_every_sm90_family_passes_deepgemm_host_checks(tmp_path: Path) -> None:
    """Each family's call, at its smallest and largest planned M, reaches the compiler
    (captured by the stand-in, nothing compiled): DeepGEMM accepted every argument."""
    families: set[str] = set()
    for model in ("deepseek-v3", "deepseek-v3.2", "deepseek-v4-flash"):
        plan = _plan(model)
        items = []
        for entry in plan.entries:
            ms = sorted({entry.mset.min, entry.mset.max})
            items += sweep_items(entry, ms, parts=1, first_id=len(items), mode=ItemMode.CAPTURE)
        spec = PoolSpec(
            settings=PlanSettings.of(plan),
            env={"DG_JIT_CACHE_DIR": str(tmp_path / "unused")},
            cache_root=tmp_path / "unused",
            log_dir=tmp_path,
            backend=DeepGEMMBackend(capture=True),
        )
        outcomes = run_pool(items, spec, [None] * 4)
        for item in items:
            for call in outcomes[item.item_id].calls:
                assert call.error is None and call.source_digest, (
                    f"{item.label} m={call.m}: {call.error}"
                )
            families.add(item.family)
    assert families >= {
        f.value
        for f in (
            Family.FP8_GEMM_NT,
            Family.M_GROUPED_CONTIGUOUS,
            Family.M_GROUPED_MASKED,
            Family.FP8_EINSUM,
            Family.TF32_HC_PRENORM,
            Family.MQA_LOGITS,
            Family.PAGED_MQA_LOGITS,
            Family.PAGED_MQA_METADATA,
        )
    }


def _calc_diff(x: torch.Tensor, y: torch.Tensor) -> float:
    x, y = x.double(), y.double()
    return float(1 - 2 * (x * y).sum() / (x * x + y * y).sum())


def _deq_a(a: torch.Tensor, sfa: torch.Tensor) -> torch.Tensor:
    return a.float() * sfa.repeat_interleave(128, dim=-1)[..., : a.shape[-1]]


def _deq_b(b: torch.Tensor, sfb: torch.Tensor) -> torch.Tensor:
    s = sfb.repeat_interleave(128, dim=-2).repeat_interleave(128, dim=-1)
    return b.float() * s[..., : b.shape[-2], : b.shape[-1]]


def _gemm_entry(family: Family, n: int, k: int, groups: int = 1) -> PlanEntry:
    return PlanEntry(
        family=family,
        n=n,
        k=k,
        num_groups=groups,
        phases=["prefill"],
        m_values=[[1, 1024]],
        selection=Selection.SWEEP,
        kernels=None,
        modules=[],
    )


def test_gemm_contracts_compute_the_right_product() -> None:
    """Scales laid out as built are read as intended: results match a dequantized reference."""
    call = build_call(_gemm_entry(Family.FP8_GEMM_NT, 2112, 7168), 200, init="random")
    (a, sfa), (b, sfb), d = call.args
    start = time.perf_counter()
    call()
    torch.cuda.synchronize()
    print(
        f"first fp8_gemm_nt call (one compile, this process alone): {time.perf_counter() - start:.2f} s"
    )
    assert _calc_diff(d, _deq_a(a, sfa) @ _deq_b(b, sfb).T) < 1e-3

    call = build_call(_gemm_entry(Family.M_GROUPED_CONTIGUOUS, 512, 7168, 4), 512, init="random")
    (a, sfa), (b, sfb), d, layout = call.args
    call()
    ref = torch.empty_like(d, dtype=torch.float32)
    for g in range(4):
        rows = layout == g
        ref[rows] = _deq_a(a[rows], sfa[rows]) @ _deq_b(b[g], sfb[g]).T
    assert _calc_diff(d, ref) < 1e-3

    call = build_call(_gemm_entry(Family.M_GROUPED_MASKED, 512, 7168, 4), 5, init="random")
    (a, sfa), (b, sfb), d, _, m = call.args
    call()
    for g in range(4):
        ref = _deq_a(a[g, :m], sfa[g, :m]) @ _deq_b(b[g], sfb[g]).T
        assert _calc_diff(d[g, :m], ref) < 1e-3


def test_warm_then_every_planned_m_compiles_nothing(tmp_path: Path) -> None:
    plan = _plan("deepseek-v3")
    report = warm(plan, cache_dir=tmp_path, jobs=16)
    _dump("small_warm", report)
    assert report.ok, report.failures
    assert report.compiled == plan.num_kernels == report.new_cache_entries
    assert all(row.compiled == 1 for row in report.items)  # one call per distinct kernel
    again = warm(plan, cache_dir=tmp_path, jobs=16)
    assert again.ok and again.compiled == 0 and again.cached == plan.num_kernels
    proof = warm(plan, cache_dir=tmp_path, jobs=16, full_sweep=True)
    _dump("small_again", again)
    _dump("small_proof", proof)
    assert proof.ok and proof.compiled == 0 and proof.new_cache_entries == 0
    assert sum(f.calls for f in proof.families.values()) == sum(len(e.mset) for e in plan.entries)


def test_exact_mode_finds_the_planned_kernels(tmp_path: Path) -> None:
    """A planned entry turned into a sweep: the stand-in finds exactly its kernels, with the
    same cache keys a plain warm produced."""
    plan = _plan("deepseek-v3")
    index = next(
        i
        for i, e in enumerate(plan.entries)
        if e.family is Family.FP8_GEMM_NT and len(e.kernels or []) > 2
    )
    entry = plan.entries[index]
    one = plan.model_copy(update={"entries": [entry]})
    swept = plan.model_copy(
        update={
            "entries": [entry.model_copy(update={"selection": Selection.SWEEP, "kernels": None})]
        }
    )
    planned = warm(one, cache_dir=tmp_path / "planned", jobs=8)
    exact = warm(swept, cache_dir=tmp_path / "exact", jobs=8, exact=True)
    _dump("exact_planned", planned)
    _dump("exact_swept", exact)
    assert planned.ok and exact.ok and exact.capture is not None
    assert exact.capture.distinct_kernels == len(entry.kernels or []) == exact.compiled
    assert list_entries(tmp_path / "exact") == list_entries(tmp_path / "planned")
