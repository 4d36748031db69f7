#!/usr/bin/env bash
# How tight ganc's bounds are on trained weights: ring8 trained for 3000
# steps and fashion_mlp for two minutes (when Fashion-MNIST is installed),
# each over latent boxes [-R, R] of several radii, against exact interval
# bounds and sampled ranges (bench/bounds_tightness.py), as Markdown tables.
#
#   bash bench/bounds.sh [FASHION_SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-120}
make -s build/ganc
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

build/ganc train models/ring8.gan --data ring8 --steps 3000 -o "$out/ring8" 2>/dev/null | grep 'modes covered'
echo
/usr/bin/python3 bench/bounds_tightness.py ring8 models/ring8.gan "$out/ring8/weights.safetensors" 0.01 0.1 0.5 1
echo
if build/ganc train models/fashion_mlp.gan --data fashion-mnist --steps 1 -o "$out/probe" >/dev/null 2>&1; then
  timeout -s INT "$seconds" build/ganc train models/fashion_mlp.gan --data fashion-mnist --steps 1000000 \
    -o "$out/mlp" >/dev/null 2>&1 || true
  echo "fashion_mlp: $(tail -n 1 "$out/mlp/loss.csv" | cut -d, -f1) steps"
  echo
  /usr/bin/python3 bench/bounds_tightness.py fashion_mlp models/fashion_mlp.gan "$out/mlp/weights.safetensors" \
    0.01 0.1 0.5 1
fi
