#!/usr/bin/env bash
# Training steps per second of one process with one thread, one process
# with two threads, and two MPI ranks with one thread each, for ring8 and
# fashion_mlp (when Fashion-MNIST is installed), and what each step passes
# to MPI's collectives; a Markdown table. Seconds are loss.csv's (training
# only, no compile or start-up).
#
#   bash bench/mpi.sh [RING8_STEPS] [FASHION_STEPS]
set -euo pipefail
cd "$(dirname "$0")/.."
ring_steps=${1:-3000} fashion_steps=${2:-300}
make -s build/ganc
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
mpirun="mpirun --allow-run-as-root --oversubscribe"

# steps/s of one configuration: NAME MODEL DATA STEPS BATCH RANKS THREADS
run() {
  local name=$1 model=$2 data=$3 steps=$4 batch=$5 ranks=$6 threads=$7 cmd=()
  [ "$ranks" -gt 1 ] && cmd=($mpirun -np "$ranks")
  "${cmd[@]}" build/ganc train "$model" --data "$data" --steps "$steps" --batch "$batch" --every "$steps" \
    --threads "$threads" -o "$out/$name" > "$out/$name.log" 2>&1
  awk -F, -v steps="$steps" 'END { printf "%.1f", steps / $4 }' "$out/$name/loss.csv"
}

echo "| model, batch | 1 process, 1 thread | 1 process, 2 threads | 2 ranks, 1 thread each | bytes a step passes to MPI |"
echo "|---|---:|---:|---:|---:|"
rows=("ring8 models/ring8.gan ring8 $ring_steps 256")
if build/ganc train models/fashion_mlp.gan --data fashion-mnist --steps 1 -o "$out/probe" >/dev/null 2>&1; then
  rows+=("fashion_mlp models/fashion_mlp.gan fashion-mnist $fashion_steps 64")
  rows+=("fashion_mlp models/fashion_mlp.gan fashion-mnist $((fashion_steps / 3)) 256")
fi
for row in "${rows[@]}"; do
  set -- $row
  a=$(run "$1-$5-1x1" "$2" "$3" "$4" "$5" 1 1)
  b=$(run "$1-$5-1x2" "$2" "$3" "$4" "$5" 1 2)
  c=$(run "$1-$5-2x1" "$2" "$3" "$4" "$5" 2 1)
  bytes=$(sed -n 's/.*each passed \([0-9]*\) bytes a step.*/\1/p' "$out/$1-$5-2x1.log")
  echo "| $1, $5 | $a | $b | $c | $bytes |"
done
