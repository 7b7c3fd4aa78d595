#!/usr/bin/env bash
# Device run: the reference server under the guard on a GPU-free cache (2.8.0, V3 TP 8 bundle),
# warm reruns on a complete DeepJIT cache (CLI start included), then the GPU-free build against warm side by side on this host's cores, then (SKIP_CONFIGS
# unset) several serving configurations built into one root, in one benchmark run.
set -uo pipefail
. benchmarks/device/setup.sh
S=$(date +%s)
export PYTHONPATH=$PWD/src:/tmp/site:/tmp/dg2.8.0
timeout ${E2E_TIMEOUT_S:-150} python3 benchmarks/e2e/run_e2e.py --device cuda --modes bundle \
  --bundle-file .whl/gpufree/v3-tp8-2.8.0.tar.gz --no-smg --requests 60 --max-batched-tokens 2048 \
  --max-running-seqs 64 --out $OUT/e2e-gpufree.json 2>&1 | tail -4 | tee $OUT/log-perf.txt
echo "e2e done at $(( $(date +%s) - S )) s" | tee -a $OUT/log-perf.txt
timeout 90 python3 benchmarks/warm_rerun_bench.py --fill stand-in --runs 5 --out $OUT/warm-rerun.json 2>&1 \
  | tail -4 | tee -a $OUT/log-perf.txt
echo "rerun done at $(( $(date +%s) - S )) s" | tee -a $OUT/log-perf.txt
configs=(); [ -z "${SKIP_CONFIGS:-}" ] && configs=(--configs "${CONFIGS:-deepseek-v3:8,deepseek-v3:4,deepseek-v3.2:8,deepseek-v4-flash:4,kimi-k2:8}")
timeout ${BENCH_TIMEOUT_S:-400} python3 benchmarks/gpu_free_bench.py --target installed --model deepseek-v3 --tp 8 \
  --warm --jobs 16 "${configs[@]}" --out $OUT/gpu-free-vs-warm.json 2>&1 | tail -40 | tee -a $OUT/log-perf.txt
echo "build vs warm (and configs) done at $(( $(date +%s) - S )) s" | tee -a $OUT/log-perf.txt
