#!/usr/bin/env bash
# Device run C: GPU-free build vs warm side by side, warm rerun on a complete cache, the
# reference server on a GPU-free cache under the guard, concurrent warms.
set -uo pipefail
. benchmarks/device/setup.sh
S=$(date +%s)
export PYTHONPATH=$PWD/src:/tmp/site:/tmp/dg2.8.0
python3 benchmarks/gpu_free_bench.py --target installed --model deepseek-v3 --tp 8 --warm --jobs 16 --out $OUT/gpu-free-vs-warm.json 2>&1 | tail -15 | tee $OUT/logC.txt
echo "build vs warm done at $(( $(date +%s) - S )) s" | tee -a $OUT/logC.txt
python3 benchmarks/warm_rerun_bench.py --fill stand-in --runs 5 --out $OUT/warm-rerun.json 2>&1 | tail -6 | tee -a $OUT/logC.txt
echo "rerun done at $(( $(date +%s) - S )) s" | tee -a $OUT/logC.txt
python3 benchmarks/e2e/run_e2e.py --device cuda --modes bundle --bundle-file .whl/gpufree/v3-tp8-2.8.0.tar.gz --no-smg --requests 100 --max-batched-tokens 2048 --max-running-seqs 64 --out $OUT/e2e-gpufree.json 2>&1 | tail -6 | tee -a $OUT/logC.txt
echo "e2e done at $(( $(date +%s) - S )) s" | tee -a $OUT/logC.txt
export PYTHONPATH=$PWD/src:/tmp/site:/tmp/dg2.5.0
python3 benchmarks/warm_concurrent.py --out $OUT/warm-concurrent.json 2>&1 | tail -12 | tee -a $OUT/logC.txt
echo "concurrent done at $(( $(date +%s) - S )) s" | tee -a $OUT/logC.txt
