#!/usr/bin/env bash
# ganc against PyTorch on models/fashion_mlp.gan, models/fashion_dcgan.gan and
# models/fashion_dcgan_bn.gan, fp32 on one thread and on every core, ganc's
# own matrix products and the peaks of this machine; writes
# bench/RESULTS.md and prints it. `make bench` runs it after installing what
# it needs.
#
#   bash bench/run.sh GANC          GANC: the ganc binary (build/ganc)
#   BENCH_ROUNDS=N bash bench/run.sh GANC   steps 4 to 6 N times (default 2)
#
# Steps, one after the other:
#   1. OpenBLAS's kernels for PyTorch: bench/peak.c --sgemm (fashion_mlp's
#      products) with OPENBLAS_CORETYPE unset and set to each kernel
#      bench/blas_kernels.py finds this CPU can run; the fastest is the one
#      PyTorch runs on (and the default too, if that is another)
#   2. bench/peak.c on that kernel (cc -O3 -march=native, OpenBLAS): FMA
#      peak, read bandwidth, sgemm of fashion_mlp's products; and
#      bench/products.c: the same products by ganc's kernels, one thread
#   3. both models' initial weights: GANC train --steps 0 (and a few samples
#      from them, for torch_bench.py to check it runs the same network); the
#      C of fashion_mlp (GANC emit) built with bench/iso_driver.c in GNU
#      mode, -std=c99 and -std=c11
#   4. bench/torch_bench.py: PyTorch's times, on 1 thread and on every core
#      (nproc), on each kernel of step 1
#   5. GANC bench --json on every model, batch 1, 64 and 256
#   6. the three builds of step 3, three times each
#      (4 to 6 alternate, BENCH_ROUNDS times; RESULTS.md keeps each figure's
#      best)
#   7. peak RSS of GANC train at two step counts, and of GANC sample
#   8. bench/results.py writes bench/RESULTS.md
set -euo pipefail

if [ $# -ne 1 ]; then
  echo "usage: bash bench/run.sh GANC" >&2
  exit 2
fi
[ -x "$1" ] || { echo "run.sh: $1 is not an executable" >&2; exit 1; }
cd "$(dirname "$0")/.."

py=/usr/bin/python3
models=(fashion_mlp fashion_dcgan fashion_dcgan_bn)
mem_steps=(100 300)
rounds=${BENCH_ROUNDS:-2}
iso_modes=(gnu c99 c11)
ncores=$(nproc)
threads=(1)
[ "$ncores" -gt 1 ] && threads+=("$ncores")
out=$(mktemp -d /tmp/ganc-bench-run.XXXXXX)
trap 'rm -rf "$out"' EXIT
# The whole run uses one binary, even if the build tree is rebuilt meanwhile.
cp "$1" "$out/ganc"
ganc=$out/ganc

# One thread everywhere, unless a command says otherwise: OpenBLAS (ours and
# the one PyTorch loads), OpenMP.
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1

# with_kernel CORETYPE COMMAND...: run COMMAND on OpenBLAS's kernels for
# CORETYPE, or on the ones it picks itself for an empty CORETYPE (unset, not
# empty: OpenBLAS reads an empty value as a name).
with_kernel() {
  local k=$1
  shift
  if [ -n "$k" ]; then OPENBLAS_CORETYPE=$k "$@"; else env -u OPENBLAS_CORETYPE "$@"; fi
}

start=$(date +%s.%N)
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
elapsed() { awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.0f", b - a }'; }
say() { printf '[%4ss] %s\n' "$(elapsed)" "$*" >&2; }

say "peaks: building bench/peak.c"
cc -O3 -march=native -o "$out/peak" bench/peak.c -lopenblas

: > "$out/kernels.json"
kernels=$("$py" bench/blas_kernels.py candidates)
for pass in 1 2; do
  for k in $kernels; do
    printf '{"what": "kernel_try", "requested": "%s"}\n' "$k" >> "$out/kernels.json"
    [ "$k" = default ] && k=
    say "OpenBLAS kernels ($pass of 2): fashion_mlp's products with OPENBLAS_CORETYPE ${k:-unset}"
    with_kernel "$k" "$out/peak" --sgemm >> "$out/kernels.json"
  done
done
coretype=$("$py" bench/blas_kernels.py choose "$out/kernels.json" "$out/choice.json")
# PyTorch runs on the chosen kernel, and on the default beside it if that is another.
peer_kernels=("$coretype")
[ -n "$coretype" ] && peer_kernels+=("")
say "OpenBLAS kernels: PyTorch runs with OPENBLAS_CORETYPE ${coretype:-unset}"

say "peaks: bench/peak.c with OPENBLAS_CORETYPE ${coretype:-unset}"
with_kernel "$coretype" "$out/peak" > "$out/peak.json"

# ganc's products run as the emitted code runs them: a tile at a time, the
# tiles fashion_mlp's memory plan chose (inference and training).
lib=$(dirname "$1")/libganc.a
plan=$("$ganc" check --dump=plan models/fashion_mlp.gan | sed -n 1p)
tile=$(sed -n 's/.*: TILE \([0-9]*\),.*/\1/p' <<< "$plan")
train_tile=$(sed -n 's/.* TRAIN_TILE \([0-9]*\),.*/\1/p' <<< "$plan")
[ -f "$lib" ] && [ -n "$tile" ] && [ -n "$train_tile" ] ||
  { echo "run.sh: no $lib beside $1, or no TILE and TRAIN_TILE in the plan" >&2; exit 1; }
say "products: bench/products.c, ganc's kernels for fashion_mlp's products (tiles $tile, $train_tile), one thread"
cc -O2 -Iruntime -o "$out/products" bench/products.c "$lib" -ltcc -lcjson -lpng -lz -lm -ldl -lpthread
"$out/products" "$tile" "$train_tile" 64 >> "$out/peak.json"

say "weights: $ganc train --steps 0"
mkdir -p "$out/w"
for m in "${models[@]}"; do
  "$ganc" train "models/$m.gan" --data fashion-mnist --steps 0 -o "$out/w/$m" --force > "$out/w-$m.log" 2>&1 ||
    { cat "$out/w-$m.log" >&2; echo "run.sh: ganc train failed for $m" >&2; exit 1; }
  "$ganc" sample "models/$m.gan" --weights "$out/w/$m/weights.safetensors" -n 4 --seed 1 -o "$out/$m.f32"
done

# The emitted file is linked first, and the driver's main kept out of
# .text.startup (which the linker puts ahead of everything), so that the
# emitted code lies at the same addresses in every build whatever the
# driver's size. The hash of its disassembly says whether the modes compiled
# it to the same machine code, the address of its first function where it
# lies.
say "ISO C: $ganc emit models/fashion_mlp.gan; bench/iso_driver.c in modes ${iso_modes[*]}"
"$ganc" emit models/fashion_mlp.gan -o "$out/emit" > /dev/null
: > "$out/iso.json"
for mode in "${iso_modes[@]}"; do
  std=()
  [ "$mode" = gnu ] || std=("-std=$mode")
  cc -O3 -march=native "${std[@]}" -Wall -Wextra -c -o "$out/iso-$mode.o" "$out/emit/fashion_mlp.c"
  cc -O3 -march=native "${std[@]}" -fno-reorder-functions -Wall -Wextra -I"$out/emit" -c \
    -o "$out/iso-driver-$mode.o" bench/iso_driver.c
  cc -o "$out/iso-$mode" "$out/iso-$mode.o" "$out/iso-driver-$mode.o" -lm
  code=$(objdump -d -r "$out/iso-$mode.o" | tail -n +3 | sha256sum | cut -c1-16)
  first=$(nm -n "$out/iso-$mode.o" | awk '$2 ~ /^[tT]$/ && !done { print $3; done = 1 }')
  addr=$(nm "$out/iso-$mode" | awk -v s="$first" '$3 == s && !done { print $1; done = 1 }')
  printf '{"what": "iso_code", "mode": "%s", "objdump_sha256": "%s", "first_function": "%s", "address": "%s"}\n' \
    "$mode" "$code" "$first" "$addr" >> "$out/iso.json"
done

# ganc bench runs on one thread (GANC_THREADS=1), and when it takes --threads
# (and says in its JSON how many it ran) on every core too.
ganc_threads=()
if [ "$ncores" -gt 1 ] && "$ganc" help bench 2>&1 | grep -- '--threads' > /dev/null; then ganc_threads=("$ncores"); fi

# PyTorch and ganc take turns, rounds times over; results.py keeps each
# figure's best, so that a burst of other work on the machine during one
# side's turn weighs less on the ratio.
args=()
for m in "${models[@]}"; do
  args+=("$m=$out/w/$m/weights.safetensors" --check "$m=$out/$m.f32")
done
: > "$out/torch.json"
: > "$out/ganc.json"
for r in $(seq "$rounds"); do
  for k in "${peer_kernels[@]}"; do
    for t in "${threads[@]}"; do
      say "round $r of $rounds, PyTorch: bench/torch_bench.py, $t thread(s), OPENBLAS_CORETYPE ${k:-unset}"
      with_kernel "$k" env OPENBLAS_NUM_THREADS="$t" OMP_NUM_THREADS="$t" MKL_NUM_THREADS="$t" \
        "$py" bench/torch_bench.py --threads "$t" "${args[@]}" >> "$out/torch.json"
    done
  done
  for m in "${models[@]}"; do
    say "round $r of $rounds, ganc: ganc bench models/$m.gan --batch 1,64,256 --json, one thread"
    GANC_THREADS=1 "$ganc" bench "models/$m.gan" --batch 1,64,256 --json >> "$out/ganc.json"
    for t in "${ganc_threads[@]}"; do
      say "round $r of $rounds, ganc: ganc bench models/$m.gan --batch 1,64,256 --threads $t --json"
      if "$ganc" bench "models/$m.gan" --batch 1,64,256 --threads "$t" --json > "$out/ganc-t.json" &&
        grep -q '"threads"' "$out/ganc-t.json"; then
        cat "$out/ganc-t.json" >> "$out/ganc.json"
      else
        say "ganc bench --threads $t failed or gave no thread count: not used"
      fi
    done
  done
  for rep in 1 2 3; do
    for mode in "${iso_modes[@]}"; do
      say "round $r of $rounds, ISO C: fashion_mlp's emitted C, $mode mode ($rep of 3)"
      "$out/iso-$mode" "$mode" >> "$out/iso.json"
    done
  done
done

# Peak RSS: the kernel's ru_maxrss of the finished child, from /usr/bin/time
# -f %M, or from Python's getrusage where /usr/bin/time is missing. Either
# counts the measuring process's own memory between fork and exec too, so its
# floor (/bin/true measured the same way) goes into the results.
if [ -x /usr/bin/time ]; then rss_method="/usr/bin/time -f %M"; else rss_method="getrusage (Python)"; fi
peak_rss() { # MODEL COMMAND STEPS -- ARGV...
  local model=$1 command=$2 steps=$3 kb secs rc=0
  shift 4
  if [ -x /usr/bin/time ]; then
    /usr/bin/time -o "$out/time.txt" -f '%M %e' "$@" > /dev/null 2>&1 || rc=$?
    read -r kb secs < <(tail -n 1 "$out/time.txt")
  else
    read -r kb secs rc < <("$py" -c '
import resource, subprocess, sys, time
t = time.perf_counter()
rc = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, round(time.perf_counter() - t, 2), rc)' "$@")
  fi
  [ "$steps" = - ] && steps=null
  printf '{"model": "%s", "command": "%s", "steps": %s, "max_rss_kb": %s, "seconds": %s, "exit": %s, "method": "%s"}\n' \
    "$model" "$command" "$steps" "$kb" "$secs" "$rc" "$rss_method" >> "$out/memory.json"
}

: > "$out/memory.json"
peak_rss - floor - -- /bin/true
for m in "${models[@]}"; do
  say "memory: $m (sample; train ${mem_steps[*]} steps)"
  peak_rss "$m" sample - -- "$ganc" sample "models/$m.gan" -n 1 -o "$out/one-$m.f32"
  for s in "${mem_steps[@]}"; do
    peak_rss "$m" train "$s" -- "$ganc" train "models/$m.gan" --data fashion-mnist --steps "$s" --every 50 \
      --batch 64 -o "$out/train-$m-$s" --force
  done
done

say "writing bench/RESULTS.md"
"$py" bench/results.py --peak "$out/peak.json" --ganc "$out/ganc.json" --torch "$out/torch.json" \
  --memory "$out/memory.json" --kernels "$out/kernels.json" --choice "$out/choice.json" --iso "$out/iso.json" \
  --cores "$ncores" --elapsed "$(elapsed)" --load-start "$load_start" --out bench/RESULTS.md
cat bench/RESULTS.md
say "done: bench/RESULTS.md"
