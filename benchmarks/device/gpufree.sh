#!/usr/bin/env bash
# Device run: bundles `jitwarm build` made on a CPU-only machine (.whl/gpufree/<plan>-<build>.tar.gz,
# plan one of v3-tp8, v4f-tp4, v32-tp8s3), each imported into an empty root and verified over
# every planned M (`run_matrix.py --bundle`, no cell started after DEADLINE_S), then each
# imported again into an empty root for one call per family against torch
# (benchmarks/gpu_free_numerics.py -> $OUT/numerics/<bundle>.json).
set -uo pipefail
. benchmarks/device/setup.sh
declare -A PLAN=([v3-tp8]="--model deepseek-v3 --tp 8" [v4f-tp4]="--model deepseek-v4-flash --tp 4"
                 [v32-tp8s3]="--model deepseek-v3.2 --tp 8 --spec-draft-tokens 3")
declare -A BUILD=([2.8.0]=2.8.0.post20260924 [2.8.1]=2.8.1 [2.8.2]=2.8.2.post20261020)
declare -A DIR=([2.8.0]=/tmp/dg2.8.0 [2.8.1]=/tmp/vllm281 [2.8.2]=/tmp/dg2.8.2)
args=()
for f in .whl/gpufree/*.tar.gz; do
  base=$(basename $f .tar.gz); v=${base##*-}; p=${base%-*}
  args+=(--bundle "${BUILD[$v]}:${PLAN[$p]}=$f")
done
python3 benchmarks/compat/run_matrix.py \
  --build 2.8.0.post20260924=/tmp/dg2.8.0 --build 2.8.1=/tmp/vllm281 --build 2.8.2.post20261020=/tmp/dg2.8.2 \
  "${args[@]}" --parallel 2 --deadline-s "${DEADLINE_S:-300}" --out $OUT/gpu-free.json 2>&1 | tee $OUT/log-gpufree.txt
mkdir -p $OUT/numerics
for f in .whl/gpufree/*.tar.gz; do
  base=$(basename $f .tar.gz); v=${base##*-}; p=${base%-*}; R=/tmp/gf-num/$base; rm -rf $R
  export PYTHONPATH=$PWD/src:/tmp/site:${DIR[$v]} DG_JIT_CACHE_DIR=$R
  python3 -m jitwarm bundle import $f >/dev/null
  timeout ${NUMERICS_TIMEOUT_S:-60} python3 benchmarks/gpu_free_numerics.py ${PLAN[$p]} \
    --out $OUT/numerics/$base.json 2>&1 | tail -12 | sed "s/^/$base: /" | tee -a $OUT/log-gpufree.txt
done
unset DG_JIT_CACHE_DIR
