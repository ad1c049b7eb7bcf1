#!/usr/bin/env bash
# The engine on a GPU machine without TensorFlow or a package registry: JAX and PyTorch, one table.
#
#   OUT=log-folder bash scripts/gpu_check.sh            (wheels of what the machine lacks in .whl/)
#
# .whl holds Python 3.12 wheels the GPU image lacks; they are installed into /tmp/site.  Made here with
#   echo /.whl/ >> .git/info/exclude
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#     --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 -d .whl \
#     keras namex optree pyfaidx pybigwig tangermeme==1.6.0 memelite biopython
# (carry .whl with the call).  Per backend (JAX, PyTorch), for the BPNet-like model at
# L = 2114, a ChromBPNet-size model and the full Basset, in float32 and bfloat16: engine pairs/s, max
# |delta| / (1 + |dt|), the backend's strict floor, peak GPU memory at N and 4N, and (PyTorch) tangermeme
# 1.6 on the same GPU; then the host side of `genolift score` on the machine's cores (null engine).
# Sized to finish in one 8-minute call; every log goes to $OUT, the table to $OUT/table.txt.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/gpu-check}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 TF_CPP_MIN_LOG_LEVEL=2
if [ -d .whl ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
    || exit 1
  export PYTHONPATH=/tmp/site:$PWD
else
  export PYTHONPATH=$PWD
fi
{
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
  echo "cores: $(nproc)"; python3 --version
  python3 -c "import tensorflow" 2>&1 | tail -1
} 2>&1 | tee "$OUT/machine.txt"
N=${N:-1000}
timeout 230 python3 scripts/gpu_backends.py --backend jax --n "$N" 2>&1 | tee "$OUT/jax.txt"
timeout 230 python3 scripts/gpu_backends.py --backend torch --n "$N" 2>&1 | tee "$OUT/torch.txt"
KERAS_BACKEND=jax JAX_PLATFORMS=cpu timeout 40 python3 scripts/bench.py --host-only --model bpnet --n 2000 \
  --backend jax 2>&1 | tee "$OUT/host.txt"
{
  cat "$OUT/machine.txt"
  grep -h -E "^(backend|jax |torch )" "$OUT/jax.txt" "$OUT/torch.txt" | awk '!seen[$0]++'
  grep -h -E "regions/s|stage" "$OUT/host.txt"
} | tee "$OUT/table.txt"
