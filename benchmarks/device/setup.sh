# Device set-up: Python deps, and one folder per DeepGEMM build (sourced by the run scripts).
export PYTHONUNBUFFERED=1
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .whl/*.whl
export PYTHONPATH=/tmp/site
for v in 2.5.0 2.8.0 2.8.2; do python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/dg$v .whl/dg/tokenspeed_deepgemm-$v*.whl; done
mkdir -p /tmp/x281 /tmp/vllm281/vllm/third_party && tar xzf .whl/dg/vllm-*.tgz -C /tmp/x281
cp -r /tmp/x281/vllm/third_party/deep_gemm /tmp/vllm281/vllm/third_party/
touch /tmp/vllm281/vllm/__init__.py /tmp/vllm281/vllm/third_party/__init__.py
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader; nproc; nvcc --version | tail -1
