#!/usr/bin/env bash
# On a GPU machine without TensorFlow (and without a package registry): what can be measured there.
#
#   WHEELS=folder-of-wheels OUT=log-folder bash scripts/gpu_machine_check.sh
#
# WHEELS holds Python 3.12 wheels of what that machine lacks (keras, namex, optree,
# pyfaidx, tangermeme, memelite, figwig); they are installed into a folder of their own.
# It prints whether TensorFlow imports there, then the host side of `genolift score`
# on the machine's cores (bench.py --host-only, null engine) and the PyTorch floor and
# tangermeme on the GPU (bench_gpu.py). Logs go to $OUT.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/gpu-check}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 KERAS_BACKEND=jax JAX_PLATFORMS=cpu
{
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
  echo "cores: $(nproc)"; python3 --version
  python3 -c "import tensorflow" 2>&1 | tail -1
} 2>&1 | tee "$OUT/machine.txt"
if [ -n "${WHEELS:-}" ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site "$WHEELS"/*.whl || exit 1
  export PYTHONPATH=/tmp/site:$PWD
fi
python3 -c "import keras" 2>/dev/null || export KERAS_BACKEND=torch  # Keras on whichever backend imports
echo "keras backend: $KERAS_BACKEND" | tee -a "$OUT/machine.txt"
timeout 120 python3 scripts/bench.py --host-only --model basset --n 6000 2>&1 | tee "$OUT/host_basset.txt"
timeout 100 python3 scripts/bench.py --host-only --model bpnet --n 3000 2>&1 | tee "$OUT/host_bpnet.txt"
timeout 200 python3 scripts/bench_gpu.py --models basset,basset-small,bpnet,bpnet:1000,chrombpnet,cnn200 --n 2000 \
  2>&1 | tee "$OUT/gpu.txt"
