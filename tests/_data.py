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
# Hook for a capture of 2.8.0 warms made with the engine's prefill-indexer flags (TokenSpeed
# 0.1.1: compressed, not cleaned); the files above were warmed with DeepGEMM's defaults. Same
# format as DEEPJIT_ENTRIES (README of the folder); tests that read it skip until it exists.
DEEPJIT_ENGINE_PREFILL = {
    "2.8.0": DEEPJIT_H200 / "cache-entries-2.8.0.post20260924-engine-prefill.json",
}
