"""Ground truth the tests read, copied from ../shared/data into tests/data so a fresh clone
runs them (see each folder's README for how it was captured)."""

from pathlib import Path

DATA = Path(__file__).resolve().parent / "data"
SM90_H100_GROUND_TRUTH = DATA / "deepgemm-sm90-h100" / "ground-truth.json"
DEEPJIT_H200 = DATA / "deepgemm-2.8-h200"
DEEPJIT_ENTRIES = {
    "2.8.0": DEEPJIT_H200 / "cache-entries-2.8.0.post20260924.json",
    "2.8.1": DEEPJIT_H200 / "cache-entries-2.8.1.json",
    "2.8.2": DEEPJIT_H200 / "cache-entries-2.8.2.post20261020.json",
}
# The H200 capture of 2.8.0's prefill indexer called with each engine's own arguments
# (benchmarks/device/engine_indexer_calls.py: plans[case] for tokenspeed-0.1.1, sglang-0.5.23,
# deepgemm-default; the files above were warmed with DeepGEMM's defaults). Same format as
# DEEPJIT_ENTRIES (the folder's README).
ENGINE_INDEXER_CALLS = {"2.8.0": DEEPJIT_H200 / "engine-calls-2.8.0.post20260924.json"}
