#!/usr/bin/env bash
# Device run: the compatibility matrix for the given plans over every build, two cells at a time
# (8 compile jobs each), starting no cell after DEADLINE_S; DeepJIT entries the warms write are
# appended to copies of tests/data/deepgemm-2.8-h200/ under $OUT/captures.
#   bash benchmarks/device/matrix.sh "--model deepseek-v3 --tp 8" ... [-- run_matrix args]
set -uo pipefail
. benchmarks/device/setup.sh
plans=(); while [ $# -gt 0 ] && [ "$1" != "--" ]; do plans+=(--plan "$1"); shift; done; shift || true
mkdir -p $OUT/captures && cp tests/data/deepgemm-2.8-h200/cache-entries-*.json $OUT/captures/
python3 benchmarks/compat/run_matrix.py \
  --build 2.8.0.post20260924=/tmp/dg2.8.0 --build 2.8.1=/tmp/vllm281 \
  --build 2.8.2.post20261020=/tmp/dg2.8.2 --build 2.5.0=/tmp/dg2.5.0 \
  "${plans[@]}" --parallel 2 --jobs 8 --deadline-s "${DEADLINE_S:-400}" \
  --capture-dir $OUT/captures --skip-capture 2.5.0 --out $OUT/compat.json "$@" 2>&1 | tee $OUT/log.txt
