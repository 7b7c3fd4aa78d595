#!/usr/bin/env bash
# Device run: concurrent warms (issue 18), one call per family on a GPU-free cache against
# torch (issue 15), and the DSA-indexer matrix cells of the builds that renamed the indexer.
set -uo pipefail
. benchmarks/device/setup.sh
S=$(date +%s)
PYTHONPATH=$PWD/src:/tmp/site:/tmp/dg2.5.0 timeout 260 python3 benchmarks/warm_concurrent.py \
  --out $OUT/warm-concurrent.json 2>&1 | tail -12 | tee $OUT/log-final.txt
echo "concurrent done at $(( $(date +%s) - S )) s" | tee -a $OUT/log-final.txt
R=/tmp/gpufree-root; rm -rf $R
PYTHONPATH=$PWD/src:/tmp/site:/tmp/dg2.8.0 DG_JIT_CACHE_DIR=$R python3 -m jitwarm bundle import .whl/gpufree/v3-tp8-2.8.0.tar.gz >/dev/null
PYTHONPATH=$PWD/src:/tmp/site:/tmp/dg2.8.0 DG_JIT_CACHE_DIR=$R timeout 90 python3 benchmarks/gpu_free_numerics.py \
  --out $OUT/gpu-free-numerics.json 2>&1 | tail -5 | tee -a $OUT/log-final.txt
echo "numerics done at $(( $(date +%s) - S )) s" | tee -a $OUT/log-final.txt
DEADLINE_S=30 bash benchmarks/device/matrix.sh "--model deepseek-v3.2 --tp 8 --spec-draft-tokens 3" -- \
  --cells "2.8.2.post20261020:--model deepseek-v3.2 --tp 8 --spec-draft-tokens 3;2.8.1:--model deepseek-v3.2 --tp 8 --spec-draft-tokens 3" >/dev/null
tail -4 $OUT/log.txt; echo "all done at $(( $(date +%s) - S )) s"
