#!/usr/bin/env bash
# PacGAN's packing on ring8: models/ring8.gan against models/ring8_pack.gan
# (the same pair, the discriminator judging two points at once), the same
# hyperparameters, seeds 1-10; PacGAN's mode coverage and high-quality share
# of 2500 samples at the end of each run, as a Markdown table.
#
#   bash bench/ring8_pack.sh [STEPS] [BATCH] [LR] [SEEDS]
set -euo pipefail
cd "$(dirname "$0")/.."
steps=${1:-5000} batch=${2:-256} lr=${3:-1e-3} seeds=${4:-10}
make -s build/ganc
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

echo "ring8: steps $steps, batch $batch (samples), lr $lr, betas (0.5, 0.999), LSGAN, float32"
echo
echo "| seed | unpacked modes | unpacked high quality | pack 2 modes | pack 2 high quality |"
echo "|---:|---:|---:|---:|---:|"
for seed in $(seq "$seeds"); do
  row="| $seed"
  for model in ring8 ring8_pack; do
    line=$(build/ganc train "models/$model.gan" --data ring8 --steps "$steps" --batch "$batch" --lr "$lr" \
             --seed "$seed" --every "$steps" -o "$out/$model-$seed" 2>/dev/null | grep 'modes covered')
    modes=$(echo "$line" | sed -E 's/.*: ([0-9]+) of 8.*/\1/')
    hq=$(echo "$line" | sed -E 's/.* ([0-9.]+)% high-quality.*/\1/')
    row="$row | $modes | $(awk -v q="$hq" 'BEGIN { printf "%.4f", q / 100 }')"
  done
  echo "$row |"
done | tee "$out/rows.md"
awk -F'|' 'NF > 5 { a += $3; b += $4; c += $5; d += $6; n++ }
  END { printf "| mean | %.2f | %.4f | %.2f | %.4f |\n", a / n, b / n, c / n, d / n }' "$out/rows.md"
