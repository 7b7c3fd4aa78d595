#!/usr/bin/env bash
# Device run: bundles `jitwarm build` made on a CPU-only machine (.whl/gpufree/<plan>-<build>.tar.gz,
# plan one of v3-tp8, v4f-tp4, v32-tp8s3), each imported into an empty root and verified over
# every planned M (`run_matrix.py --bundle`), starting no cell after DEADLINE_S.
set -uo pipefail
. benchmarks/device/setup.sh
declare -A PLAN=([v3-tp8]="--model deepseek-v3 --tp 8" [v4f-tp4]="--model deepseek-v4-flash --tp 4"
                 [v32-tp8s3]="--model deepseek-v3.2 --tp 8 --spec-draft-tokens 3")
declare -A BUILD=([2.8.0]=2.8.0.post20260924 [2.8.1]=2.8.1 [2.8.2]=2.8.2.post20261020)
args=()
for f in .whl/gpufree/*.tar.gz; do
  base=$(basename $f .tar.gz); v=${base##*-}; p=${base%-*}
  args+=(--bundle "${BUILD[$v]}:${PLAN[$p]}=$f")
done
python3 benchmarks/compat/run_matrix.py \
  --build 2.8.0.post20260924=/tmp/dg2.8.0 --build 2.8.1=/tmp/vllm281 --build 2.8.2.post20261020=/tmp/dg2.8.2 \
  "${args[@]}" --parallel 2 --deadline-s "${DEADLINE_S:-300}" --out $OUT/gpu-free.json 2>&1 | tee $OUT/log-gpufree.txt
