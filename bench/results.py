#!/usr/bin/python3
"""Write bench/RESULTS.md from the measurements bench/run.sh made.

    /usr/bin/python3 bench/results.py --peak PEAK.json --ganc GANC.json
        --torch TORCH.json --memory MEMORY.json --kernels KERNELS.json
        --choice CHOICE.json --iso ISO.json --cores N [--elapsed SECONDS]
        [--load-start "LOADAVG"] [--out bench/RESULTS.md]

Each input holds one JSON object per line: PEAK from bench/peak.c, GANC from
`ganc bench --json` (every model, appended), TORCH from bench/torch_bench.py
(every kernel and thread count, appended), MEMORY from run.sh's peak-RSS
measurements, KERNELS and CHOICE from the OpenBLAS kernels run.sh tried and
the one bench/blas_kernels.py chose, ISO from bench/iso_driver.c in each
language mode. N is the number of cores the all-core rows ran on.

A line of GANC that says how many threads it ran on ("threads") counts for
that many; one that does not, for one thread.
"""

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys

MLP, DCGAN, DCGAN_BN = "fashion_mlp", "fashion_dcgan", "fashion_dcgan_bn"
MODELS = (MLP, DCGAN, DCGAN_BN)
SCALAR_BYTES = 4

# operation (torch_bench.py) -> function (ganc bench)
FUNCTION = {"generate": "generate_batch",
            "discriminator_loss": "discriminator_loss_batch",
            "training_step": "training step"}
LABEL = {"generate": "generate", "discriminator_loss": "discriminator loss",
         "training_step": "training step (D and G gradients + Adam)"}

# The targets: (model, operation, batch, build) -> minimum PyTorch ÷ ganc,
# on one thread and, against PyTorch's best, on every core.
TARGETS = [
    (MLP, "generate", 64, "AOT", 1.15),
    (MLP, "generate", 64, "JIT", 1.15),
    (MLP, "discriminator_loss", 64, "AOT", 1.15),
    (MLP, "discriminator_loss", 64, "JIT", 1.15),
    (MLP, "training_step", 64, "AOT", 2.0),
    (MLP, "training_step", 64, "JIT", 2.0),
    (DCGAN, "training_step", 64, "AOT", 1.5),
    (DCGAN, "training_step", 64, "JIT", 1.5),
    (DCGAN_BN, "training_step", 64, "AOT", 1.5),
    (DCGAN_BN, "training_step", 64, "JIT", 1.5),
]
# Each of fashion_mlp's products of at least PRODUCT_MIN_FLOPS at batch 64:
# at least this share of the FMA peak.
PRODUCT_MIN_FLOPS, PRODUCT_PCT_TARGET = 1e6, 85.0
# ganc's training step on every core over one thread, at these batches: at
# least SCALING_SHARE of the core count.
SCALING_BATCHES, SCALING_SHARE = (64, 256), 0.9
# generate at batch 1: at least this share of the bandwidth bound.
BANDWIDTH_PCT_TARGET = 90.0
JIT_MS_TARGET = 2.0
# The emitted C built in an ISO mode: at most this much slower than in GNU mode.
ISO_TARGET = 1.05
ISO_FLAGS = {"gnu": "(none: GNU mode)", "c99": "-std=c99", "c11": "-std=c11"}
ISO_FUNCTIONS = ("generate_batch", "discriminator_loss_batch")

# OpenBLAS time of the same matrix products as ganc's FLOP count (compiler/bench.c:
# a backward pass counts twice its forward), in forward products (f) and backward
# pairs (b = dX and dW products) of the generator (G) and discriminator (D).
#   generate            g       = G_f
#   discriminator loss  g + 2d  = G_f + 2 D_f
#   training step       4g + 9d = 2 G_f + G_b + 3 D_f + 3 D_b
BLAS_MIX = {"generate": {"G_f": 1},
            "discriminator_loss": {"G_f": 1, "D_f": 2},
            "training_step": {"G_f": 2, "G_b": 1, "D_f": 3, "D_b": 3}}


def read_lines(path):
    out = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line.startswith("{"):
                out.append(json.loads(line))
    return out


def best_of(lines, key, fields):
    """{key tuple: first line of that key, with each of fields the smallest over the lines}."""
    out = {}
    for line in lines:
        k = tuple(line[f] for f in key)
        if k not in out:
            out[k] = dict(line)
        else:
            for f in fields:
                if f in line and (f not in out[k] or line[f] < out[k][f]):
                    out[k][f] = line[f]
    return out


def run(cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""


def cpu_info():
    fields = {}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if ":" in line:
                    k, v = line.split(":", 1)
                    fields.setdefault(k.strip(), v.strip())
                    if k.strip() == "processor":
                        fields["logical"] = int(v) + 1
    except OSError:
        pass
    flags = set(fields.get("flags", "").split())
    isa = [f for f in ("avx2", "fma", "avx512f", "avx512vl", "avx512_bf16") if f in flags]
    name = fields.get("model name", platform.processor() or "unknown")
    return dict(name=name, family=fields.get("cpu family", "?"), model=fields.get("model", "?"),
                logical=fields.get("logical", os.cpu_count()), cores=fields.get("cpu cores", "?"),
                isa=isa, hypervisor="hypervisor" in flags)


def fmt_us(v):
    if v is None:
        return "—"
    return f"{v:,.0f}" if v >= 100 else f"{v:.1f}"


def fmt_ratio(v):
    if v is None:
        return "—"
    return f"{v:,.0f}×" if v >= 100 else f"{v:.2f}×"


def fmt_pct(v):
    return "—" if v is None else (f"{v:.1f} %" if v < 10 else f"{v:.0f} %")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--peak", required=True)
    ap.add_argument("--ganc", required=True)
    ap.add_argument("--torch", required=True)
    ap.add_argument("--memory", required=True)
    ap.add_argument("--kernels", required=True)
    ap.add_argument("--choice", required=True)
    ap.add_argument("--iso", required=True)
    ap.add_argument("--cores", type=int, required=True)
    ap.add_argument("--elapsed", type=float)
    ap.add_argument("--load-start", default="")
    ap.add_argument("--out", default="bench/RESULTS.md")
    a = ap.parse_args()

    peak_lines, ganc_lines = read_lines(a.peak), read_lines(a.ganc)
    torch_lines, memory_lines = read_lines(a.torch), read_lines(a.memory)
    # mode -> (hash of the emitted object's disassembly, address of its code in the driver)
    iso_code = {i["mode"]: (i["objdump_sha256"], i["address"].lstrip("0") or "0")
                for i in read_lines(a.iso) if i["what"] == "iso_code"}
    iso_lines = [i for i in read_lines(a.iso) if i["what"] == "iso"]
    choice = read_lines(a.choice)[0]
    chosen, default_core = choice["chosen"], choice["default"]
    cores = a.cores

    fma = next(p["gflops"] for p in peak_lines if p["what"] == "fma")
    fma_line = next(p for p in peak_lines if p["what"] == "fma")
    bw_line = next(p for p in peak_lines if p["what"] == "read_bandwidth")
    bw = bw_line["gbs"]
    blas = next((p for p in peak_lines if p["what"] == "openblas"), {})
    sgemm = [p for p in peak_lines if p["what"] == "sgemm"]
    products = [p for p in peak_lines if p["what"] == "ganc_product"]

    def blas_part(net, kind, batch):
        """OpenBLAS µs of fashion_mlp's G or D products: f forward, b backward (dX and dW)."""
        passes = ["forward"] if kind == "f" else ["grad_input", "grad_weight"]
        rows = [p for p in sgemm if p["net"] == net and p["batch"] == batch and p["pass"] in passes]
        return sum(p["us"] for p in rows) if rows else None

    def blas_us(operation, batch):
        total = 0.0
        for part, count in BLAS_MIX[operation].items():
            net = "generator" if part[0] == "G" else "discriminator"
            t = blas_part(net, part[2], batch)
            if t is None:
                return None
            total += count * t
        return total

    # Several rounds may have been run: keep each figure's best (smallest).
    compile_ms = best_of([g for g in ganc_lines if "jit_compile_ms" in g], ("model",),
                         ("jit_compile_ms", "cc_O2_ms"))
    compile_ms = {k[0]: v for k, v in compile_ms.items()}
    ganc = best_of([{"threads": 1, **g} for g in ganc_lines if "function" in g],
                   ("model", "batch", "function", "threads"), ("jit_us", "aot_us"))
    ganc_cores = cores if any(k[3] == cores for k in ganc) else 1
    infos = [t for t in torch_lines if "torch" in t]
    tinfo = next((t for t in infos if t["openblas_core"] == chosen and t["threads"] == 1), infos[0])
    rounds = sum(1 for t in infos if t["openblas_core"] == chosen and t["threads"] == 1)
    torch_all = {k: v["torch_us"] for k, v in
                 best_of([t for t in torch_lines if "operation" in t],
                         ("model", "batch", "operation", "kernel", "threads"), ("torch_us",)).items()}
    # The peer: PyTorch's faster of the chosen kernels and the default ones,
    # row by row (the kernels were chosen on fashion_mlp's products alone);
    # on every core, also the faster of its 1-thread and its all-core figure.
    peer_kernels = {chosen, default_core}
    torch_us, torch_cores = {}, {}
    for k, v in torch_all.items():
        if k[3] not in peer_kernels:
            continue
        if k[4] == 1 and (k[:3] not in torch_us or v < torch_us[k[:3]]):
            torch_us[k[:3]] = v
        if k[4] in (1, cores) and (k[:3] not in torch_cores or v < torch_cores[k[:3]][0]):
            torch_cores[k[:3]] = (v, k[4])
    peer_text = (f"OpenBLAS's {chosen} kernels" if chosen == default_core else
                 f"the faster, row by row, of OpenBLAS's {chosen} kernels and its default {default_core} "
                 "ones (the table of both is above)")
    checks = list({t["model"]: t for t in torch_lines if "check" in t}.values())
    params = {t["model"]: t for t in torch_lines if "g_params" in t}

    def min_bytes(model, operation):
        """Bytes a call must move at least: every parameter it uses read once;
        a training step also streams Adam (read p, g, m, v; write p, m, v)."""
        p = params[model]
        if operation == "generate":
            n = p["g_params"]
        elif operation == "discriminator_loss":
            n = p["g_params"] + p["d_params"]
        else:
            n = 8 * (p["g_params"] + p["d_params"])
        return n * SCALAR_BYTES

    def row(model, operation, batch, build, every_core=False):
        """One row of the targets: one thread, or every core (PyTorch's faster
        of 1 and all threads, ganc on the threads its JSON reports)."""
        g = ganc.get((model, batch, FUNCTION[operation], ganc_cores if every_core else 1))
        if every_core:
            t, t_threads = torch_cores.get((model, batch, operation), (None, None))
        else:
            t, t_threads = torch_us.get((model, batch, operation)), 1
        us = None if g is None else g.get("jit_us" if build == "JIT" else "aot_us")
        flops = None if g is None else g["flops"]
        r = dict(model=model, operation=operation, batch=batch, build=build, ganc_us=us, torch_us=t,
                 torch_threads=t_threads, flops=flops)
        r["ratio"] = t / us if (t and us) else None
        r["gflops"] = flops / us * 1e-3 if (flops and us) else None
        r["fma_pct"] = 100 * r["gflops"] / fma if r["gflops"] else None
        r["torch_gflops"] = flops / t * 1e-3 if (flops and t) else None
        r["bytes"] = min_bytes(model, operation) if model in params else None
        r["bw_us"] = r["bytes"] / (bw * 1e3) if r["bytes"] else None
        r["bw_pct"] = 100 * r["bw_us"] / us if (r["bw_us"] and us) else None
        r["blas_us"] = blas_us(operation, batch) if model == MLP else None
        r["blas_pct"] = 100 * r["blas_us"] / us if (r["blas_us"] and us) else None
        return r

    md = []
    w = md.append
    cpu = cpu_info()
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    commit = run(["git", "rev-parse", "--short", "HEAD"])
    dirty = run(["git", "status", "--porcelain", "--untracked-files=no"])
    try:
        with open("/proc/loadavg") as f:
            load_end = " ".join(f.read().split()[:3])
    except OSError:
        load_end = "?"

    w("# ganc against PyTorch: fashion_mlp, fashion_dcgan and fashion_dcgan_bn, fp32, one thread and every core")
    w("")
    w("Written by `bench/run.sh` (`make bench`); every number below comes from the same run.")
    w("")
    w("## Machine and software")
    w("")
    w(f"- CPU: {cpu['name']} (family {cpu['family']}, model {cpu['model']}), "
      f"{cpu['logical']} logical CPUs, {cpu['cores']} cores"
      f"{', virtual machine' if cpu['hypervisor'] else ''}; {', '.join(cpu['isa'])}")
    w(f"- Date: {now}; kernel {platform.release()}")
    w(f"- ganc: {commit or '?'}{' (working tree modified)' if dirty else ''}; "
      "the binary run.sh was given, copied at its start; "
      f"AOT built with `cc -O3 -march=native`; C compiler: {run(['cc', '--version']).splitlines()[0] if run(['cc', '--version']) else '?'}")
    onednn = tinfo["mkldnn"] and tinfo["mkldnn_enabled"]
    w(f"- PyTorch {tinfo['torch']} (Debian), Python {tinfo['python']}, NumPy {tinfo['numpy']}; "
      f"oneDNN {'on' if onednn else 'OFF'} (`torch.backends.mkldnn.is_available()` {tinfo['mkldnn']}, "
      f"`.enabled` {tinfo['mkldnn_enabled']}); ATen's own kernels: {tinfo.get('cpu_capability') or '?'} "
      f"(`torch.__config__.show()`); BLAS loaded: "
      f"{', '.join('`' + b + '`' for b in tinfo['blas']) or 'none found'}")
    seen_threads = sorted({(t["threads"], t["openblas_threads"]) for t in infos}, key=lambda x: x[0])
    w(f"- Threads: one, and every core ({cores}, `nproc`). PyTorch runs with `torch.set_num_threads(n)` "
      "and OPENBLAS_NUM_THREADS = OMP_NUM_THREADS = n; each run checks what it got: "
      + ", ".join(f"`torch.get_num_threads()` {tt}, `openblas_get_num_threads()` {bt}" for tt, bt in seen_threads)
      + (". ganc: the thread counts its `ganc bench --json` reports." if ganc_cores > 1 else
         ". ganc: 1 thread (no threads yet)."))
    w(f"- OpenBLAS: {blas.get('config', '?')}. PyTorch runs on the kernels for core **{chosen}** "
      f"(chosen below; OpenBLAS's own choice on this CPU: {default_core}); `bench/peak.c` "
      f"ran on core {blas.get('core', '?')}, {blas.get('threads', '?')} thread")
    w(f"- Load average (1, 5, 15 min) at start: {a.load_start or '?'}; at end: {load_end}. "
      "Other work on the machine makes every figure noisier; PyTorch and ganc took "
      "turns in the same run, and every figure is a best of several runs.")
    w("")

    w("## PyTorch's OpenBLAS kernels")
    w("")
    w("Debian's OpenBLAS carries kernels for many x86-64 cores (DYNAMIC_ARCH) and picks one from the "
      "CPU's model number; a CPU it does not know gets a worse one than it can run. `bench/run.sh` "
      "timed fashion_mlp's matrix products (`bench/peak.c --sgemm`: every linear layer's forward and "
      "backward products at batch 64 and the forward ones at batch 1, one thread) with "
      "OPENBLAS_CORETYPE unset and set to each core whose kernels this CPU can run (its "
      "`/proc/cpuinfo` flags; `bench/blas_kernels.py`), and asked the library each time which "
      "kernels it ran (`openblas_get_corename()`):")
    w("")
    w("| OPENBLAS_CORETYPE | kernels run | fashion_mlp's products µs | GFLOP/s | |")
    w("|---|---|---:|---:|---|")
    for t in choice["tries"]:
        if not t["ran_requested"]:
            verdict = f"not in this build: ran {t['core']}'s"
        elif t["requested"] == (choice["coretype"] or "default"):
            verdict = "**chosen**"
        else:
            verdict = ""
        gfl = "—" if t["gflops"] is None else f"{t['gflops']:.1f}"
        w(f"| {'(unset)' if t['requested'] == 'default' else t['requested']} | {t['core'] or '?'} | "
          f"{fmt_us(t['us'])} | {gfl} | {verdict} |")
    w("")
    tried = {t["requested"]: t for t in choice["tries"]}
    d, c = tried["default"], tried[choice["coretype"] or "default"]
    w(f"Side by side: OpenBLAS's default here, **{d['core']}**, {fmt_us(d['us'])} µs "
      f"({d['gflops']:.1f} GFLOP/s); the chosen kernels, **{c['core']}** "
      f"(OPENBLAS_CORETYPE {choice['coretype'] or 'unset: the default'}), {fmt_us(c['us'])} µs "
      f"({c['gflops']:.1f} GFLOP/s), {d['us'] / c['us']:.2f}× the default's speed.")
    w("")
    if choice["coretype"]:
        w(f"PyTorch runs with OPENBLAS_CORETYPE={choice['coretype']}: at least {100 * choice['margin']:.0f} % "
          f"faster on these products than OpenBLAS's own choice, {default_core}. Every PyTorch figure "
          f"below is on {chosen}, except in this table, which sets the default's beside it:")
    else:
        w(f"OpenBLAS's own choice, {default_core}, stays: no other kernel was at least "
          f"{100 * choice['margin']:.0f} % faster on these products (two names for the same kernels "
          "differ by noise alone). "
          "PyTorch runs with OPENBLAS_CORETYPE unset, on the default kernels.")
    if any(t["openblas_core"] != chosen for t in infos if t.get("coretype") == (choice["coretype"] or None)):
        w("")
        w(f"**Warning**: a PyTorch run meant for {chosen} reported other kernels: "
          + ", ".join(sorted({t['openblas_core'] or '?' for t in infos})) + ".")
    if choice["coretype"]:
        w("")
        w("PyTorch, µs per call, on the default kernels and on the chosen ones (best over the rounds):")
        w("")
        w(f"| model | operation | batch | threads | {default_core} (default) | {chosen} (chosen) | "
          "default ÷ chosen |")
        w("|---|---|---:|---:|---:|---:|---:|")
        for k in sorted({k[:3] + (k[4],) for k in torch_all},
                        key=lambda k: (MODELS.index(k[0]), list(LABEL).index(k[2]), k[1], k[3])):
            d = torch_all.get(k[:3] + (default_core, k[3]))
            c = torch_all.get(k[:3] + (chosen, k[3]))
            w(f"| {k[0]} | {LABEL[k[2]]} | {k[1]} | {k[3]} | {fmt_us(d)} | {fmt_us(c)} | "
              f"{fmt_ratio(d / c) if d and c else '—'} |")
    w("")
    w("## Peaks measured in this run (`bench/peak.c`)")
    w("")
    w("| measurement | value |")
    w("|---|---:|")
    w(f"| fp32 FMA, {fma_line['accumulators']} independent accumulators of {fma_line['vector_bytes']}-byte "
      f"vectors, best of {fma_line['runs']} | **{fma:.1f} GFLOP/s** |")
    w(f"| read bandwidth over {bw_line['bytes']:,} bytes (fashion_mlp's generator parameters), "
      f"best of {bw_line['runs']} | **{bw:.1f} GB/s** |")
    gen64 = [p for p in sgemm if p["net"] == "generator" and p["batch"] == 64 and p["pass"] == "forward"]
    for p in gen64:
        w(f"| OpenBLAS `cblas_sgemm` M={p['M']}, N×K={p['N']}×{p['K']}, B transposed "
          f"(generator.{p['layer']}, batch 64) | {p['gflops']:.1f} GFLOP/s ({p['us']:.1f} µs) |")
    if gen64:
        fl = sum(p["flops"] for p in gen64)
        us = sum(p["us"] for p in gen64)
        w(f"| OpenBLAS, the generator's three products at batch 64 together | "
          f"**{fl / us * 1e-3:.1f} GFLOP/s** ({us:.1f} µs) |")
    gen1 = [p for p in sgemm if p["net"] == "generator" and p["batch"] == 1]
    if gen1:
        fl = sum(p["flops"] for p in gen1)
        us = sum(p["us"] for p in gen1)
        w(f"| OpenBLAS, the generator's three products at batch 1 (M=1) together | "
          f"{fl / us * 1e-3:.1f} GFLOP/s ({us:.1f} µs) |")
    w("")
    w("Every OpenBLAS product of fashion_mlp measured (forward Y = X Wᵀ; backward dX = dY W "
      f"and dW = dYᵀ X), in µs, best of several runs, on the kernels for {blas.get('core', '?')}, one thread:")
    w("")
    w("| layer | in → out | batch | forward | grad input | grad weight |")
    w("|---|---|---:|---:|---:|---:|")
    seen = []
    for p in sgemm:
        key = (p["net"], p["layer"], p["batch"])
        if key in seen:
            continue
        seen.append(key)
        cell = {q["pass"]: f"{q['us']:.1f} ({q['gflops']:.0f} GFLOP/s)" for q in sgemm
                if (q["net"], q["layer"], q["batch"]) == key}
        w(f"| {p['net']}.{p['layer']} | {p['in']} → {p['out']} | {p['batch']} | {cell.get('forward', '—')} | "
          f"{cell.get('grad_input', '—')} | {cell.get('grad_weight', '—')} |")
    w("")

    w("## Targets")
    w("")
    w("Every target is a ratio or a share from this one run. Where a row is not met, *gap* says by how "
      "much; *at the FMA peak* is the ratio ganc would reach if that call ran at the FMA peak measured "
      "above (its FLOPs ÷ the peak): a target above it cannot be met on this machine by any code that "
      "does the same arithmetic, and the gap's reason says so.")
    w("")
    met = {}  # group of targets -> [met, of]
    gaps = []  # (group, row, gap, reason)

    def count(group, ok, what=None, gap=None, reason=None):
        m = met.setdefault(group, [0, 0])
        m[0] += bool(ok)
        m[1] += 1
        if not ok and what:
            gaps.append((group, what, gap, reason))

    def ratio_gap(r, target, peak_ratio):
        if r["ratio"] is None:
            return "not measured", None
        gap = f"{r['ratio']:.2f}× of {target:g}× (ganc would have to be {target / r['ratio']:.2f}× as fast)"
        if r.get("every_core") and r["build"] == "AOT":
            reason = ("the AOT build is the standalone emitted C, single-threaded by design "
                      "(its row on one thread is above)")
        elif peak_ratio is not None and peak_ratio < target:
            reason = (f"beyond this machine: at the FMA peak ganc would reach {peak_ratio:.2f}×, "
                      f"the peer already runs at {100 * r['torch_gflops'] / (fma * r['peer_cores']):.0f} % of it")
        elif r["fma_pct"] is not None:
            reason = f"ganc runs at {r['fma_pct']:.0f} % of the FMA peak here"
        else:
            reason = None
        return gap, reason

    w("### One thread")
    w("")
    w(f"fp32, one thread; PyTorch on {peer_text}. "
      "*PyTorch ÷ ganc* is PyTorch's time divided by ganc's (above 1: ganc is "
      "faster). ganc's times are `ganc bench --json` (best of 5 runs of ≥ 0.1 s), PyTorch's are "
      "`bench/torch_bench.py` (nn.Sequential pair with ganc's weights; best of 5 runs of ≥ 0.1 s "
      f"after warm-up); the two took turns, {rounds} round{'s' if rounds != 1 else ''}, and each "
      "figure is its best over the rounds. GFLOP/s use ganc's FLOP count for both (a multiply-add is 2 FLOPs, a "
      f"backward pass twice its forward pass); *% FMA peak* is of the {fma:.1f} GFLOP/s measured above.")
    w("")
    w("| model | operation | batch | ganc | PyTorch µs | ganc µs | PyTorch ÷ ganc | ganc GFLOP/s | "
      "% FMA peak | at the FMA peak | target | result |")
    w("|---|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---|")
    rows = []
    for model, op, batch, build, target in TARGETS:
        r = row(model, op, batch, build)
        r["target"], r["peer_cores"] = target, 1
        rows.append(r)
        peak_ratio = r["torch_us"] / (r["flops"] / fma * 1e-3) if r["torch_us"] and r["flops"] else None
        ok = r["ratio"] is not None and r["ratio"] >= target
        count("one thread", ok, f"{model} {LABEL[op]}, batch {batch}, {build}, 1 thread",
              *ratio_gap(r, target, peak_ratio))
        gfl = "—" if r["gflops"] is None else f"{r['gflops']:.1f}"
        w(f"| {model} | {LABEL[op]} | {batch} | {build} | {fmt_us(r['torch_us'])} | {fmt_us(r['ganc_us'])} | "
          f"{fmt_ratio(r['ratio'])} | {gfl} | {fmt_pct(r['fma_pct'])} | {fmt_ratio(peak_ratio)} | "
          f"≥ {target:g}× | {'**met**' if ok else 'not met'} |")
    w("")

    w(f"### Every core ({cores})")
    w("")
    if ganc_cores > 1:
        ganc_note = f"ganc on {ganc_cores} threads (its `ganc bench --json` says so)"
    else:
        ganc_note = ("**ganc: 1 thread**: its figures are the one-thread ones above, "
                     "while PyTorch may use every core")
    w(f"The same rows with PyTorch at its best on this machine: the faster of its 1-thread and its "
      f"{cores}-thread figure (`torch.set_num_threads({cores})`, OPENBLAS_NUM_THREADS and "
      f"OMP_NUM_THREADS {cores}), on {peer_text}; *threads* says which won. {ganc_note}. "
      f"*At the FMA peak* counts {ganc_cores} core{'s' if ganc_cores != 1 else ''} at the one-core peak each.")
    w("")
    w("| model | operation | batch | ganc | PyTorch threads | PyTorch µs | ganc threads | ganc µs | "
      "PyTorch ÷ ganc | at the FMA peak | target | result |")
    w("|---|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---|")
    for model, op, batch, build, target in TARGETS:
        r = row(model, op, batch, build, every_core=True)
        r["peer_cores"], r["every_core"] = r["torch_threads"] or 1, True
        peak_ratio = (r["torch_us"] / (r["flops"] / (fma * ganc_cores) * 1e-3)
                      if r["torch_us"] and r["flops"] else None)
        if r["gflops"]:
            r["fma_pct"] = 100 * r["gflops"] / (fma * ganc_cores)
        ok = r["ratio"] is not None and r["ratio"] >= target
        count("every core", ok, f"{model} {LABEL[op]}, batch {batch}, {build}, every core",
              *ratio_gap(r, target, peak_ratio))
        w(f"| {model} | {LABEL[op]} | {batch} | {build} | {r['torch_threads'] or '—'} | "
          f"{fmt_us(r['torch_us'])} | {ganc_cores} | {fmt_us(r['ganc_us'])} | {fmt_ratio(r['ratio'])} | "
          f"{fmt_ratio(peak_ratio)} | ≥ {target:g}× | {'**met**' if ok else 'not met'} |")
    w("")
    w(f"PyTorch, every operation timed, µs at 1 and at {cores} threads ({chosen} kernels):")
    w("")
    w(f"| model | operation | batch | 1 thread | {cores} threads | 1 ÷ {cores} |")
    w("|---|---|---:|---:|---:|---:|")
    for k in sorted(torch_us, key=lambda k: (MODELS.index(k[0]), list(LABEL).index(k[2]), k[1])):
        one, many = torch_all.get(k + (chosen, 1)), torch_all.get(k + (chosen, cores))
        w(f"| {k[0]} | {LABEL[k[2]]} | {k[1]} | {fmt_us(one)} | {fmt_us(many)} | "
          f"{fmt_ratio(one / many) if one and many else '—'} |")
    w("")

    w("### fashion_mlp's products, one at a time")
    w("")
    tile = next((p["tile"] for p in products if p["pass"] == "forward"), None)
    train_tile = next((p["tile"] for p in products if p["pass"] != "forward"), None)
    w("Every matrix product of fashion_mlp's linear layers at batch 64, by ganc's own kernels "
      "(`bench/products.c`: the kernel table the JIT links against, called as the emitted code "
      f"calls it, a tile at a time: {tile} samples forward, as generate and the losses run it, "
      f"{train_tile} in the training passes' gradients; one thread), beside OpenBLAS's same product "
      f"(`bench/peak.c`, above). The target: every product of at least {PRODUCT_MIN_FLOPS / 1e6:g} "
      f"MFLOP at ≥ {PRODUCT_PCT_TARGET:g} % of the FMA peak ({fma:.1f} GFLOP/s).")
    w("")
    w("| layer | in → out | product | kernel | MFLOP | ganc µs | ganc GFLOP/s | % FMA peak | "
      "OpenBLAS µs | OpenBLAS % FMA peak | target | result |")
    w("|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---|")
    for p in products:
        q = next((q for q in sgemm if (q["net"], q["layer"], q["batch"], q["pass"]) ==
                  (p["net"], p["layer"], p["batch"], p["pass"])), None)
        pct = 100 * p["gflops"] / fma
        if p["flops"] >= PRODUCT_MIN_FLOPS:
            ok = pct >= PRODUCT_PCT_TARGET
            count("products", ok, f"fashion_mlp {p['net']}.{p['layer']} {p['pass']} product",
                  f"{pct:.0f} % of {PRODUCT_PCT_TARGET:g} %",
                  f"OpenBLAS runs the same product at {100 * q['gflops'] / fma:.0f} %" if q else None)
            target, result = f"≥ {PRODUCT_PCT_TARGET:g} %", "**met**" if ok else "not met"
        else:
            target, result = "(under 1 MFLOP)", "—"
        w(f"| {p['net']}.{p['layer']} | {p['in']} → {p['out']} | {p['pass'].replace('_', ' ')} | "
          f"`{p['kernel']}` | {p['flops'] / 1e6:.1f} | {fmt_us(p['us'])} | {p['gflops']:.1f} | {fmt_pct(pct)} | "
          f"{fmt_us(q['us']) if q else '—'} | {fmt_pct(100 * q['gflops'] / fma) if q else '—'} | "
          f"{target} | {result} |")
    w("")

    w("### ganc's own scaling")
    w("")
    share = SCALING_SHARE * ganc_cores
    w(f"The training step (JIT) on {ganc_cores} threads over one thread, at batch "
      + " and ".join(str(b) for b in SCALING_BATCHES)
      + f"; the target is ≥ {share:.1f}× ({SCALING_SHARE:.0%} of the threads). The result does not depend "
      "on the thread count, bit for bit (`make test`, suite threads).")
    w("")
    w(f"| model | batch | 1 thread µs | {ganc_cores} threads µs | speed-up | target | result |")
    w("|---|---:|---:|---:|---:|---:|---|")
    for model in MODELS:
        for b in SCALING_BATCHES:
            one = ganc.get((model, b, "training step", 1))
            many = ganc.get((model, b, "training step", ganc_cores)) if ganc_cores > 1 else None
            if one is None:
                continue
            u1, un = one.get("jit_us"), many.get("jit_us") if many else None
            speedup = u1 / un if u1 and un else None
            ok = speedup is not None and speedup >= share
            count("scaling", ok, f"{model} training step, batch {b}, {ganc_cores} threads over 1",
                  f"{speedup:.2f}× of {share:.1f}×" if speedup else "not measured", None)
            w(f"| {model} | {b} | {fmt_us(u1)} | {fmt_us(un)} | {fmt_ratio(speedup)} | ≥ {share:.1f}× | "
              f"{'**met**' if ok else 'not met'} |")
    w("")

    w("### generate at batch 1 against the bandwidth bound")
    w("")
    w("One sample through fashion_mlp's generator reads its parameters once: "
      "at the read bandwidth measured above, that takes the *bound*. The target: ganc within "
      f"{BANDWIDTH_PCT_TARGET:g} % of it (bound ÷ ganc's time ≥ {BANDWIDTH_PCT_TARGET:g} %), one thread.")
    w("")
    w("| build | least bytes | bound µs | ganc µs | bound ÷ ganc | PyTorch µs | target | result |")
    w("|---|---:|---:|---:|---:|---:|---:|---|")
    for build in ("AOT", "JIT"):
        r = row(MLP, "generate", 1, build)
        ok = r["bw_pct"] is not None and r["bw_pct"] >= BANDWIDTH_PCT_TARGET
        count("bandwidth", ok, f"fashion_mlp generate, batch 1, {build}",
              f"{fmt_pct(r['bw_pct'])} of {BANDWIDTH_PCT_TARGET:g} %", None)
        nbytes = "—" if r["bytes"] is None else f"{r['bytes'] / 1e6:.2f} MB"
        w(f"| {build} | {nbytes} | {fmt_us(r['bw_us'])} | {fmt_us(r['ganc_us'])} | {fmt_pct(r['bw_pct'])} | "
          f"{fmt_us(r['torch_us'])} | ≥ {BANDWIDTH_PCT_TARGET:g} % | {'**met**' if ok else 'not met'} |")
    w("")

    w("### JIT compile")
    w("")
    w("JIT compile, `.gan` file → callable functions (median of 9 in-memory compiles of the whole file, "
      "parse to symbols), beside one `cc -O2 -c` of the C that `ganc emit` writes for the same model:")
    w("")
    w("| model | JIT ms | `cc -O2 -c` ms | cc ÷ JIT | target | result |")
    w("|---|---:|---:|---:|---|---|")
    for model in MODELS:
        c = compile_ms.get(model)
        if not c:
            continue
        ms, cc = c["jit_compile_ms"], c["cc_O2_ms"]
        speedup = cc / ms if ms and cc else None
        if model == MLP:
            ok = ms <= JIT_MS_TARGET
            count("JIT compile", ok, "fashion_mlp JIT compile", f"{ms:.2f} ms of {JIT_MS_TARGET:g} ms", None)
            target, result = f"≤ {JIT_MS_TARGET:g} ms", "**met**" if ok else "not met"
        else:
            target, result = "(no target)", "—"
        w(f"| {model} | {ms:.2f} | {cc:,.0f} | {fmt_ratio(speedup)} | {target} | {result} |")
    w("")
    w("`ganc bench` reports the best compile of its 9 in one of its runs; the figure above is the best "
      "over the rounds of that.")
    w("")

    w("### The emitted C in ISO C modes")
    w("")
    iso = best_of(iso_lines, ("mode",), tuple(f + "_us" for f in ISO_FUNCTIONS))
    iso_runs = {m: sum(1 for i in iso_lines if i["mode"] == m) for m in ISO_FLAGS}
    gnu = iso.get(("gnu",))
    w("`ganc emit models/fashion_mlp.gan` built with `bench/iso_driver.c` by `cc -O3 -march=native` "
      "in GNU mode (the compiler's default) and with `-std=c99` and `-std=c11`; fashion_mlp's "
      "functions at batch 64, µs per call (each run the best of 11 runs of ≥ 0.05 s; the builds took "
      "turns, and each figure is the best of "
      + ", ".join(f"{n} runs ({m})" for m, n in iso_runs.items()) + "). *÷ GNU* is the time over GNU "
      f"mode's; the target is ≤ {ISO_TARGET:.2f} for both. *Checksum*: FNV-1a of the generated batch "
      "and the loss, from the same parameters and inputs in every build (the same bits mean the same "
      "operations, fused alike). *Machine code*: a hash of `objdump -d -r` of the emitted file's "
      "object in that mode, @ the address of its first function in the driver (linked first, and "
      "the driver's `main` kept out of `.text.startup`, so that the emitted code can lie at the "
      "same addresses in every build).")
    w("")
    w("| mode | flags | `__STDC_VERSION__` | generate_batch µs | ÷ GNU | discriminator_loss_batch µs | "
      "÷ GNU | checksum | same as GNU | machine code | same as GNU | target | result |")
    w("|---|---|---:|---:|---:|---:|---:|---|---|---|---|---|---|")
    for mode, flags in ISO_FLAGS.items():
        i = iso.get((mode,))
        code = iso_code.get(mode)
        same_code = "—" if mode == "gnu" else ("yes" if code and code == iso_code.get("gnu") else "**no**")
        code = f"`{code[0]}` @ 0x{code[1]}" if code else "?"
        if i is None:
            w(f"| {mode} | {flags} | — | — | — | — | — | — | — | {code} | {same_code} | — | not measured |")
            continue
        ratios = [i[f + "_us"] / gnu[f + "_us"] if gnu else None for f in ISO_FUNCTIONS]
        same = gnu is not None and i["checksum"] == gnu["checksum"]
        cells = " | ".join(f"{fmt_us(i[f + '_us'])} | " + ("—" if mode == "gnu" or q is None else f"{q:.3f}")
                           for f, q in zip(ISO_FUNCTIONS, ratios))
        if mode == "gnu":
            target, result = "(reference)", "—"
        else:
            ok = all(q is not None and q <= ISO_TARGET for q in ratios)
            count("ISO C", ok, f"the emitted C under {flags}",
                  " and ".join("—" if q is None else f"{q:.3f}" for q in ratios) + f" of ≤ {ISO_TARGET:.2f}", None)
            target, result = f"≤ {ISO_TARGET:.2f}", "**met**" if ok else "not met"
        w(f"| {mode} | {flags} | {i['stdc_version']} | {cells} | `{i['checksum']}` | "
          f"{'—' if mode == 'gnu' else ('yes' if same else '**NO**')} | {code} | {same_code} | "
          f"{target} | {result} |")
    checksums = {i["checksum"] for i in iso_lines}
    w("")
    w(f"Outputs: {'the same checksum in every build and every run' if len(checksums) == 1 else 'the builds DIFFER: ' + ', '.join(sorted(checksums))}"
      + (f" (loss {gnu['loss']:.9g}, sum of the generated batch {gnu['generated_sum']:.9g})." if gnu else "."))
    if len(set(iso_code.values())) == 1 and len(iso_code) == len(ISO_FLAGS):
        w("The three modes compiled the emitted file to the same machine code, at the same addresses: "
          "what separates their times is the measurement's noise, not the language mode.")
    w("")

    w("### Targets met")
    w("")
    total = [sum(m[0] for m in met.values()), sum(m[1] for m in met.values())]
    w(f"**{total[0]} of {total[1]} targets met in this run**: "
      + "; ".join(f"{g}, {m[0]} of {m[1]}" for g, m in met.items())
      + ".")
    w("")
    if gaps:
        w("Not met, with the gap measured and, where this run shows it, the reason:")
        w("")
        for group, what, gap, reason in gaps:
            w(f"- {what}: {gap}" + (f"; {reason}." if reason else "."))
        w("")

    w("## Against the peaks, every row")
    w("")
    w("For each one-thread row above: ganc's and PyTorch's GFLOP/s as shares of the FMA peak; the *bandwidth "
      f"bound*, the least data the call must move (below) at the {bw:.1f} GB/s measured, as a share "
      "of ganc's time; and the time OpenBLAS (one thread) takes for the same matrix products "
      "(the products behind ganc's FLOP count, measured above, without activations or Adam), "
      "as a share of ganc's time. A share near 100 % means ganc runs at that bound.")
    w("")
    w("Least data moved: generate reads the generator's parameters once; the discriminator "
      "loss reads both networks' parameters once; a training step reads every parameter once "
      "and Adam streams parameters, gradients and both moments (read 4, write 3): 8 × 4 bytes "
      "per parameter. OpenBLAS products per call, in forward products (f) and backward dX + dW "
      "pairs (b) of G and D: generate G_f; discriminator loss G_f + 2·D_f; training step "
      "2·G_f + G_b + 3·D_f + 3·D_b (4g + 9d, as ganc counts).")
    w("")
    w("| model | operation | batch | ganc | ganc GFLOP/s | % FMA peak | PyTorch GFLOP/s | PyTorch % FMA peak | "
      "least bytes | bandwidth bound µs | % of ganc time | OpenBLAS µs | % of ganc time |")
    w("|---|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        gfl = "—" if r["gflops"] is None else f"{r['gflops']:.1f}"
        tgfl = "—" if r["torch_gflops"] is None else f"{r['torch_gflops']:.1f}"
        tpct = fmt_pct(100 * r["torch_gflops"] / fma) if r["torch_gflops"] else "—"
        nbytes = "—" if r["bytes"] is None else f"{r['bytes'] / 1e6:.2f} MB"
        w(f"| {r['model']} | {LABEL[r['operation']]} | {r['batch']} | {r['build']} | {gfl} | "
          f"{fmt_pct(r['fma_pct'])} | {tgfl} | {tpct} | {nbytes} | {fmt_us(r['bw_us'])} | "
          f"{fmt_pct(r['bw_pct'])} | {fmt_us(r['blas_us'])} | {fmt_pct(r['blas_pct'])} |")
    w("")
    w("OpenBLAS figures exist for fashion_mlp only (fashion_dcgan's layers are convolutions). At "
      "batch 1 they are M = 1 sgemm calls, the products of one-sample nn.Linear layers.")
    w("")

    others = [(m, op, b) for m in MODELS for op in ("generate", "discriminator_loss", "training_step")
              for b in (1, 64) if (m, b, op) in torch_us
              and not any(t[:3] == (m, op, b) for t in TARGETS)]
    if others:
        w("## The other operations PyTorch was timed on (no target)")
        w("")
        w("| model | operation | batch | PyTorch µs | ganc AOT µs | PyTorch ÷ AOT | ganc JIT µs | PyTorch ÷ JIT | "
          "AOT GFLOP/s | % FMA peak |")
        w("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
        for m, op, b in others:
            ra, rj = row(m, op, b, "AOT"), row(m, op, b, "JIT")
            gfl = "—" if ra["gflops"] is None else f"{ra['gflops']:.1f}"
            w(f"| {m} | {LABEL[op]} | {b} | {fmt_us(ra['torch_us'])} | {fmt_us(ra['ganc_us'])} | "
              f"{fmt_ratio(ra['ratio'])} | {fmt_us(rj['ganc_us'])} | {fmt_ratio(rj['ratio'])} | {gfl} | "
              f"{fmt_pct(ra['fma_pct'])} |")
        w("")

    w("## Same model, same weights")
    w("")
    w("Both sides use the weights `ganc train MODEL --steps 0` writes (ganc's Xavier-uniform "
      "initialization, seed 1, the same parameters `ganc bench` times with). PyTorch loads them "
      "by name with `load_state_dict(strict=True)`, and its G(z) on ganc's own latent noise "
      "(reproduced in Python from ganc's generator) matches `ganc sample` with those weights:")
    w("")
    for c in checks:
        w(f"- {c['model']}: {c['samples']} samples, largest difference {c['max_abs_diff']:.2e}")
    w("")
    w("The PyTorch training step is the usual LSGAN loop: D step (MSELoss(D(x), 1) + "
      "MSELoss(D(G(z).detach()), 0), backward, Adam on D), then G step (MSELoss(D(G(z)), 1), "
      "backward with D's parameters not requiring grad, Adam on G); Adam lr 2e-4, betas "
      "(0.5, 0.999), `zero_grad(set_to_none=True)`. Forward-only operations run under "
      "`torch.no_grad()`.")
    w("")

    w("## Memory: peak RSS of `ganc train`")
    w("")
    floor_line = next((m for m in memory_lines if m["command"] == "floor"), None)
    method = memory_lines[0].get("method", "?") if memory_lines else "?"
    w("Peak resident set size (the kernel's `ru_maxrss` of the finished process, here from "
      f"`{method}`) of `ganc train MODEL --data fashion-mnist --batch 64 --every 50` at two step "
      "counts, and of `ganc sample MODEL -n 1` (compile in memory, initialize the parameters, one "
      "sample; no data set, no optimizer), which measures the process, libtcc and the compiled model.")
    if floor_line:
        w(f"`ru_maxrss` also counts the measuring process's own memory between fork and exec: "
          f"`/bin/true` measured the same way shows {floor_line['max_rss_kb'] / 1024:.1f} MiB, "
          "so a figure that close to it says only *at most*.")
    w("")
    w("| model | command | steps | peak RSS MiB | seconds | exit |")
    w("|---|---|---:|---:|---:|---:|")
    memory_lines = [m for m in memory_lines if m["command"] != "floor"]
    for m in memory_lines:
        steps = m.get("steps")
        w(f"| {m['model']} | {m['command']} | {'—' if steps is None else steps} | {m['max_rss_kb'] / 1024:.1f} | "
          f"{m['seconds']:.1f} | {m['exit']} |")
    w("")
    w("Expected floor: the parameters and both Adam moments (3 × parameters × 4 bytes), the "
      "data set held in memory as float32 (60000 × 784 × 4 bytes), and the process with the "
      "JIT (the `ganc sample` row, less its one copy of the parameters). The last is an "
      "estimate: what `ganc sample` allocates besides the compiled model (its output, for "
      "one) need not be what `ganc train` holds, so *above floor* can come out a few MiB "
      "either way.")
    w("")
    w("All in MiB (2²⁰ bytes), as the kernel counts RSS.")
    w("")
    w("| model | parameters | 3 × params × 4 B | data set | process + JIT | floor | peak RSS, fewer steps | "
      "peak RSS, more steps | growth | above floor | of which gradients (params × 4 B) |")
    w("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    data_mb = 60000 * 784 * 4 / 2**20
    verdicts = []
    for model in MODELS:
        mine = [m for m in memory_lines if m["model"] == model]
        base = next((m for m in mine if m["command"] == "sample"), None)
        trains = sorted((m for m in mine if m["command"] == "train"), key=lambda m: m["steps"])
        if model not in params or base is None or len(trains) < 2:
            continue
        n = params[model]["g_params"] + params[model]["d_params"]
        p_mb = 3 * n * 4 / 2**20
        jit_mb = base["max_rss_kb"] / 1024 - n * 4 / 2**20
        floor = p_mb + data_mb + jit_mb
        lo, hi = trains[0], trains[-1]
        lo_mb, hi_mb = lo["max_rss_kb"] / 1024, hi["max_rss_kb"] / 1024
        growth = hi_mb - lo_mb
        w(f"| {model} | {n:,} | {p_mb:.1f} | {data_mb:.1f} | {jit_mb:.1f} | {floor:.1f} | "
          f"{lo_mb:.1f} ({lo['steps']} steps) | {hi_mb:.1f} ({hi['steps']} steps) | "
          f"{growth:+.1f} | {hi_mb - floor:+.1f} | {n * 4 / 2**20:.1f} |")
        verdicts.append((model, lo["steps"], hi["steps"], growth, hi_mb))
    w("")
    for model, lo, hi, growth, hi_mb in verdicts:
        flat = abs(growth) <= max(1.0, 0.01 * hi_mb)
        w(f"- {model}: from {lo} to {hi} steps peak RSS changes by {growth:+.1f} MiB "
          f"({'does not grow with steps' if flat else 'GROWS with steps'}).")
    w("")
    w("Above the floor: gradients (one per parameter), the batch and its activations, the fixed "
      "noise for samples.png, and the buffers for writing checkpoints and images.")
    w("")

    w("## How to reproduce")
    w("")
    w("`make bench` (installs python3-torch, python3-numpy and libopenblas-dev if missing, builds "
      "`build/ganc`, runs `bash bench/run.sh build/ganc`). Needs the Fashion-MNIST training set "
      "(Debian's dataset-fashion-mnist, or `GANC_FASHION_MNIST`).")
    if a.elapsed is not None:
        w(f"This run took {a.elapsed:.0f} s up to writing this file.")
    w("")
    w("<details><summary>Raw measurements (JSON lines)</summary>")
    w("")
    for title, path in (("bench/peak.c", a.peak),
                        ("OpenBLAS kernels tried (bench/peak.c --sgemm)", a.kernels),
                        ("bench/blas_kernels.py choose", a.choice), ("ganc bench --json", a.ganc),
                        ("bench/torch_bench.py", a.torch), ("bench/iso_driver.c", a.iso),
                        ("peak RSS", a.memory)):
        w(f"{title}:")
        w("")
        w("```")
        with open(path) as f:
            w(f.read().rstrip())
        w("```")
        w("")
    w("</details>")

    with open(a.out, "w") as f:
        f.write("\n".join(md) + "\n")


if __name__ == "__main__":
    sys.exit(main())
