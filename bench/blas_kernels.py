#!/usr/bin/python3
"""Which OpenBLAS kernels PyTorch runs on in bench/run.sh.

Debian's OpenBLAS is built with DYNAMIC_ARCH: it carries kernels for many
x86-64 cores and picks one at load time from the CPU's model number. A CPU
newer than the library may get a worse one than it can run (0.3.21 gives
some AVX-512 Xeons its SSE3 kernels, "Prescott"); OPENBLAS_CORETYPE=NAME
overrides the choice. run.sh times fashion_mlp's products (bench/peak.c
--sgemm) on the default and on every kernel below that this CPU can run,
each twice (all once, then all again, so that neither the first nor a
burst of other work favours one), and gives PyTorch the fastest.

    blas_kernels.py candidates
        the names to try, one a line, "default" (OPENBLAS_CORETYPE unset)
        first
    blas_kernels.py choose KERNELS.json CHOICE.json
        KERNELS.json: for each time a name was tried, {"what":
        "kernel_try", "requested": NAME} followed by what peak --sgemm
        printed with it. A name's figure is its best try.
        Writes the choice to CHOICE.json (one JSON object) and prints the
        value to give OPENBLAS_CORETYPE: an empty line if the default stays.
"""

import json
import platform
import sys

# OpenBLAS 0.3.21's x86-64 cores, best first, with the /proc/cpuinfo flags
# their kernels need ("pni" is SSE3). A name the library does not carry is
# caught when it runs: openblas_get_corename() then names another core.
KERNELS = [
    ("SapphireRapids", {"avx512f", "avx512cd", "avx512dq", "avx512bw", "avx512vl", "avx512_bf16",
                        "avx512_fp16", "amx_tile", "amx_bf16"}),
    ("Cooperlake", {"avx512f", "avx512cd", "avx512dq", "avx512bw", "avx512vl", "avx512_bf16"}),
    ("SkylakeX", {"avx512f", "avx512cd", "avx512dq", "avx512bw", "avx512vl"}),
    ("Haswell", {"avx2", "fma"}),
    ("Zen", {"avx2", "fma"}),
    ("Sandybridge", {"avx"}),
    ("Prescott", {"pni"}),
]

# Another kernel replaces the default only if fashion_mlp's products take at
# least this much less time on it in total: two names for the same code
# (Cooperlake's sgemm is SkylakeX's) differ by noise alone.
MARGIN = 0.03


def cpu_flags():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def candidates():
    names = ["default"]
    if platform.machine() in ("x86_64", "AMD64"):
        flags = cpu_flags()
        names += [name for name, needs in KERNELS if needs <= flags]
    return names


def read_tries(path):
    """[{requested, core, us, flops, products}] in the order first tried,
    each name's best try."""
    tries = []
    with open(path) as f:
        for line in f:
            if not line.startswith("{"):
                continue
            o = json.loads(line)
            if o.get("what") == "kernel_try":
                tries.append(dict(requested=o["requested"], core=None, us=0.0, flops=0.0, products=0))
            elif tries and o.get("what") == "openblas":
                tries[-1]["core"] = o["core"]
            elif tries and o.get("what") == "sgemm":
                tries[-1]["us"] += o["us"]
                tries[-1]["flops"] += o["flops"]
                tries[-1]["products"] += 1
    best = {}
    for t in tries:
        t["us"] = round(t["us"], 3)
        b = best.get(t["requested"])
        if b is None or t["us"] < b["us"]:
            best[t["requested"]] = t
    return list(best.values())


def choose(tries):
    default = next(t for t in tries if t["requested"] == "default")
    for t in tries:
        t["ran_requested"] = t["requested"] == "default" or (t["core"] or "").lower() == t["requested"].lower()
        t["gflops"] = t["flops"] / t["us"] * 1e-3 if t["us"] else None
    valid = [t for t in tries if t["ran_requested"] and t["products"] == default["products"] and t["us"] > 0]
    best = min(valid, key=lambda t: t["us"])
    if best["core"] == default["core"] or best["us"] > default["us"] * (1 - MARGIN):
        best = default
    return dict(what="kernel_choice", default=default["core"], chosen=best["core"],
                coretype="" if best is default else best["requested"], margin=MARGIN, tries=tries)


def main():
    args = sys.argv[1:]
    if args == ["candidates"]:
        print("\n".join(candidates()))
    elif len(args) == 3 and args[0] == "choose":
        choice = choose(read_tries(args[1]))
        with open(args[2], "w") as f:
            f.write(json.dumps(choice) + "\n")
        print(choice["coretype"])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
