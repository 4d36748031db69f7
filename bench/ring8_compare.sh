#!/usr/bin/env bash
# ganc against PyTorch on ring8: the same LSGAN (models/ring8.gan), the same
# hyperparameters and number of steps, five seeds each; PacGAN's mode
# coverage and wall-clock time, one table each, run one after the other.
#
#   bash bench/ring8_compare.sh [STEPS] [BATCH] [LR]
set -euo pipefail
cd "$(dirname "$0")/.."
steps=${1:-5000} batch=${2:-256} lr=${3:-1e-3}
make -s build/ganc
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

echo "ganc, ring8: steps $steps, batch $batch, lr $lr, betas (0.5, 0.999), float32, 1 thread"
echo
echo "| seed | modes (of 8) | high quality | seconds |"
echo "|---:|---:|---:|---:|"
for seed in 1 2 3 4 5; do
  start=$(date +%s.%N)
  line=$(build/ganc train models/ring8.gan --data ring8 --steps "$steps" --batch "$batch" --lr "$lr" \
           --seed "$seed" --every "$steps" -o "$out/$seed" 2>/dev/null | grep 'modes covered')
  end=$(date +%s.%N)
  modes=$(echo "$line" | sed -E 's/.*: ([0-9]+) of 8.*/\1/')
  hq=$(echo "$line" | sed -E 's/.* ([0-9.]+)% high-quality.*/\1/')
  awk -v s="$seed" -v m="$modes" -v q="$hq" -v a="$start" -v b="$end" \
    'BEGIN { printf "| %d | %d | %.4f | %.2f |\n", s, m, q / 100, b - a }'
done | tee "$out/ganc.md"
awk -F'|' 'NF > 4 { m += $3; q += $4; s += $5; n++ }
  END { printf "| mean | %.2f | %.4f | %.2f |\n", m / n, q / n, s / n }' "$out/ganc.md"
echo
/usr/bin/python3 bench/lsgan_ring8.py --steps "$steps" --batch "$batch" --lr "$lr"
