#!/usr/bin/env bash
# Device run B: GPU-free bundles imported + verified; the compatibility matrix (DeepSeek-V3 TP8).
set -uo pipefail
. benchmarks/device/setup.sh
S=$(date +%s)
python3 benchmarks/compat/run_matrix.py --build 2.8.0=/tmp/dg2.8.0 --build 2.8.1=/tmp/vllm281 --build 2.8.2=/tmp/dg2.8.2 \
  --bundle "2.8.0:--model deepseek-v3 --tp 8=.whl/gpufree/v3-tp8-2.8.0.tar.gz" \
  --bundle "2.8.1:--model deepseek-v3 --tp 8=.whl/gpufree/v3-tp8-2.8.1.tar.gz" \
  --bundle "2.8.2:--model deepseek-v3 --tp 8=.whl/gpufree/v3-tp8-2.8.2.tar.gz" \
  --out $OUT/gpu-free-import.json 2>&1 | tee $OUT/logB.txt
echo "import+verify done at $(( $(date +%s) - S )) s" | tee -a $OUT/logB.txt
python3 benchmarks/compat/run_matrix.py --build 2.8.0=/tmp/dg2.8.0 --build 2.8.1=/tmp/vllm281 --build 2.8.2=/tmp/dg2.8.2 --build 2.5.0=/tmp/dg2.5.0 \
  --plan "--model deepseek-v3 --tp 8" --out $OUT/compat.json 2>&1 | tee -a $OUT/logB.txt
echo "matrix done at $(( $(date +%s) - S )) s" | tee -a $OUT/logB.txt
