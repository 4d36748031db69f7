#!/usr/bin/python3
"""PyTorch side of bench/run.sh: the models of models/fashion_mlp.gan,
models/fashion_dcgan.gan and models/fashion_dcgan_bn.gan as nn.Sequential
pairs, with ganc's weights (and running statistics), timed in float32 on one
thread or several.

    /usr/bin/python3 bench/torch_bench.py [--threads N] MODEL=WEIGHTS
        [MODEL=WEIGHTS ...] [--check MODEL=SAMPLES.f32]

--threads N (default 1) is torch.set_num_threads(N). OpenBLAS takes its
thread count and its kernels (OPENBLAS_NUM_THREADS, OPENBLAS_CORETYPE) from
the environment when it is loaded, so the caller sets those; the script asks
the OpenBLAS this process loaded what it got (openblas_get_corename,
openblas_get_num_threads), reports it on every line, and stops if the thread
counts differ from N or the kernels from OPENBLAS_CORETYPE.

WEIGHTS is the weights.safetensors that `ganc train MODEL.gan --steps 0`
writes (ganc's initialization, seed 1). With --check, SAMPLES.f32 is the
output of `ganc sample MODEL.gan --weights WEIGHTS -n 4 --seed 1 -o
SAMPLES.f32`; the script draws the same latent noise as ganc (xoshiro256**,
Box-Muller, README "Random numbers") and reports how far PyTorch's G(z) is
from ganc's, as evidence that both run the same network with the same weights.

Timed, for each model (each figure the best of 5 runs of at least 0.1 s,
after warm-up, as `ganc bench` times its calls):
  generate, batch 1 and 64       G(z) under torch.no_grad()
  discriminator loss, batch 64   MSELoss(D(x), 1) + MSELoss(D(G(z)), 0), no_grad
  training step, batch 64        LSGAN as `ganc train` takes a step: D step
                                 (loss on a real batch and G(z).detach(),
                                 backward, Adam on D), then G step
                                 (MSELoss(D(G(z)), 1), backward, Adam on G);
                                 Adam lr 2e-4, betas (0.5, 0.999). D's
                                 parameters do not require grad during the G
                                 step, so PyTorch, like ganc, computes only
                                 the gradients the step uses.
The latent and real batches are fixed tensors (standard normal), as in
`ganc bench`; drawing them is not timed on either side. The inference
operations run in eval() mode (batch normalization by the running
statistics), the training step in train() mode (by the batch's, updating
the running ones), as ganc's functions do.

One JSON object per line on standard output.
"""

import ctypes
import json
import math
import os
import platform
import struct
import sys
import time

import numpy as np
import torch
from torch import nn

RUNS = 5
MIN_SECONDS = 0.1


class Reshape(nn.Module):
    """ganc's reshape(SHAPE): per sample, so the batch dimension stays."""

    def __init__(self, *shape):
        super().__init__()
        self.shape = shape

    def forward(self, x):
        return x.reshape(x.shape[0], *self.shape)


def fashion_mlp():
    """models/fashion_mlp.gan"""
    G = nn.Sequential(nn.Linear(64, 256), nn.ReLU(),
                      nn.Linear(256, 512), nn.ReLU(),
                      nn.Linear(512, 784), nn.Tanh(),
                      Reshape(1, 28, 28))
    D = nn.Sequential(nn.Flatten(),
                      nn.Linear(784, 512), nn.LeakyReLU(0.2),
                      nn.Linear(512, 256), nn.LeakyReLU(0.2),
                      nn.Linear(256, 1))
    return G, D


def fashion_dcgan():
    """models/fashion_dcgan.gan"""
    G = nn.Sequential(nn.Linear(64, 3136), nn.ReLU(),
                      Reshape(64, 7, 7),
                      nn.ConvTranspose2d(64, 32, 4, stride=2, padding=1), nn.ReLU(),
                      nn.ConvTranspose2d(32, 1, 4, stride=2, padding=1), nn.Tanh())
    D = nn.Sequential(nn.Conv2d(1, 32, 4, stride=2, padding=1), nn.LeakyReLU(0.2),
                      nn.Conv2d(32, 64, 4, stride=2, padding=1), nn.LeakyReLU(0.2),
                      nn.Flatten(),
                      nn.Linear(3136, 1))
    return G, D


def fashion_dcgan_bn():
    """models/fashion_dcgan_bn.gan"""
    G = nn.Sequential(nn.Linear(64, 3136), Reshape(64, 7, 7), nn.BatchNorm2d(64), nn.ReLU(),
                      nn.ConvTranspose2d(64, 32, 4, stride=2, padding=1), nn.BatchNorm2d(32), nn.ReLU(),
                      nn.ConvTranspose2d(32, 1, 4, stride=2, padding=1), nn.Tanh())
    D = nn.Sequential(nn.Conv2d(1, 32, 4, stride=2, padding=1), nn.LeakyReLU(0.2),
                      nn.Conv2d(32, 64, 4, stride=2, padding=1), nn.BatchNorm2d(64), nn.LeakyReLU(0.2),
                      nn.Flatten(),
                      nn.Linear(3136, 1))
    return G, D


MODELS = {"fashion_mlp": (fashion_mlp, [64], [1, 28, 28]),
          "fashion_dcgan": (fashion_dcgan, [64], [1, 28, 28]),
          "fashion_dcgan_bn": (fashion_dcgan_bn, [64], [1, 28, 28])}


def read_safetensors(path):
    """{name: numpy array}, floats as float32 and integers (a batch_norm's
    num_batches_tracked) as int64; the format is 8-byte little-endian header
    length, JSON header, raw little-endian data."""
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + n])
    data = memoryview(blob)[8 + n:]
    out = {}
    for name, t in header.items():
        if name == "__metadata__":
            continue
        dtype = {"F32": "<f4", "F64": "<f8", "I64": "<i8"}[t["dtype"]]
        begin, end = t["data_offsets"]
        a = np.frombuffer(data[begin:end], dtype=dtype).reshape(t["shape"])
        out[name] = a.astype(np.int64 if t["dtype"] == "I64" else np.float32)
    return out


def load(name, weights):
    make, latent, obs = MODELS[name]
    G, D = make()
    pair = nn.Module()
    pair.generator, pair.discriminator = G, D
    tensors = read_safetensors(weights)
    pair.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in tensors.items()}, strict=True)
    G, D = G.float(), D.float()
    G.eval()
    D.eval()
    return G, D, latent, obs


# ---- ganc's latent noise (runtime/rng.c; `ganc sample` seeds with seed ^ 0x5a3c96e1d2b4f708) ----

M64 = (1 << 64) - 1


def _splitmix64(x):
    x = (x + 0x9E3779B97F4A7C15) & M64
    z = x
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return x, z ^ (z >> 31)


def _rotl(x, k):
    return ((x << k) | (x >> (64 - k))) & M64


def ganc_normals(seed, n):
    s, x = [], seed
    for _ in range(4):
        x, v = _splitmix64(x)
        s.append(v)

    def nxt():
        result = (_rotl((s[1] * 5) & M64, 7) * 9) & M64
        t = (s[1] << 17) & M64
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = _rotl(s[3], 45)
        return result

    def uniform():
        return (nxt() >> 11) * 2.0 ** -53

    out = []
    for _ in range(n):
        u1 = 1.0 - uniform()
        u2 = uniform()
        out.append(math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * 3.14159265358979323846 * u2))
    return np.array(out, dtype=np.float64).astype(np.float32)


def check(name, G, latent, samples_path):
    ganc_x = np.fromfile(samples_path, dtype="<f4")
    size = int(np.prod(latent))
    obs = int(np.prod(MODELS[name][2]))
    n = ganc_x.size // obs
    z = ganc_normals(1 ^ 0x5A3C96E1D2B4F708, n * size).reshape(n, *latent)
    with torch.no_grad():
        x = G(torch.from_numpy(z)).reshape(n, obs).numpy()
    diff = float(np.max(np.abs(x - ganc_x.reshape(n, obs))))
    emit(model=name, check="generate", samples=n, max_abs_diff=diff)
    if not diff < 1e-3:
        sys.exit(f"torch_bench.py: {name}: PyTorch's G(z) differs from ganc's by {diff}: not the same model")


# ---- timing ----

def best_us(fn):
    """Best of RUNS runs of at least MIN_SECONDS each, in microseconds per call."""
    start = time.perf_counter()
    calls = 0
    while calls < 3 or time.perf_counter() - start < 0.2:  # warm-up
        fn()
        calls += 1
    best = math.inf
    for _ in range(RUNS):
        calls = 0
        start = time.perf_counter()
        while True:
            fn()
            calls += 1
            t = time.perf_counter() - start
            if t >= MIN_SECONDS:
                break
        best = min(best, t / calls)
    return best * 1e6


RUN_TAGS = {}


def emit(**fields):
    print(json.dumps({**fields, **RUN_TAGS}), flush=True)


def bench(name, weights):
    G, D, latent, obs = load(name, weights)
    emit(model=name, g_params=sum(p.numel() for p in G.parameters()),
         d_params=sum(p.numel() for p in D.parameters()))
    gen = torch.Generator().manual_seed(1)
    mse = nn.MSELoss()

    for batch in (1, 64):
        z = torch.randn(batch, *latent, generator=gen)

        def generate():
            with torch.no_grad():
                G(z)

        emit(model=name, batch=batch, operation="generate", torch_us=best_us(generate))

    batch = 64
    z = torch.randn(batch, *latent, generator=gen)
    x = torch.randn(batch, *obs, generator=gen)
    ones, zeros = torch.ones(batch, 1), torch.zeros(batch, 1)

    def discriminator_loss():
        with torch.no_grad():
            return mse(D(x), ones) + mse(D(G(z)), zeros)

    emit(model=name, batch=batch, operation="discriminator_loss", torch_us=best_us(discriminator_loss))

    opt_d = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_g = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
    d_params = list(D.parameters())

    def training_step():
        G.train()
        D.train()
        opt_d.zero_grad(set_to_none=True)
        loss_d = mse(D(x), ones) + mse(D(G(z).detach()), zeros)
        loss_d.backward()
        opt_d.step()
        for p in d_params:
            p.requires_grad_(False)
        opt_g.zero_grad(set_to_none=True)
        loss_g = mse(D(G(z)), ones)
        loss_g.backward()
        opt_g.step()
        for p in d_params:
            p.requires_grad_(True)

    emit(model=name, batch=batch, operation="training_step", torch_us=best_us(training_step))


def blas_library():
    """The BLAS shared objects this process has loaded (after a matrix product)."""
    torch.ones(8, 8) @ torch.ones(8, 8)
    libs = set()
    with open("/proc/self/maps") as f:
        for line in f:
            path = line.split()[-1]
            base = os.path.basename(path)
            if path.startswith("/") and ("blas" in base or "mkl" in base):
                libs.add(os.path.realpath(path))
    return sorted(libs)


def openblas_state(libs):
    """(core name, configuration, threads) of the OpenBLAS among libs, from
    the library itself; None where no loaded library answers."""
    for path in libs:
        try:
            lib = ctypes.CDLL(path)
            corename, config, threads = (lib.openblas_get_corename, lib.openblas_get_config,
                                         lib.openblas_get_num_threads)
        except (OSError, AttributeError):
            continue
        corename.restype = config.restype = ctypes.c_char_p
        threads.restype = ctypes.c_int
        return corename().decode(), config().decode(), threads()
    return None, None, None


def cpu_capability():
    """The instruction set ATen's own kernels dispatch to, as torch reports it."""
    for line in torch.__config__.show().splitlines():
        if "CPU capability usage:" in line:
            return line.split(":", 1)[1].strip()
    return None


def main():
    args = sys.argv[1:]
    models, checks, threads = [], {}, 1
    while args:
        a = args.pop(0)
        if a == "--check":
            name, path = args.pop(0).split("=", 1)
            checks[name] = path
        elif a == "--threads":
            threads = int(args.pop(0))
        else:
            name, path = a.split("=", 1)
            if name not in MODELS:
                sys.exit(f"torch_bench.py: no PyTorch definition of {name}")
            models.append((name, path))
    if not models:
        sys.exit(__doc__)
    torch.set_num_threads(threads)
    torch.set_default_dtype(torch.float32)
    blas = blas_library()
    core, config, blas_threads = openblas_state(blas)
    requested = os.environ.get("OPENBLAS_CORETYPE") or None
    emit(torch=torch.__version__, python=platform.python_version(), numpy=np.__version__,
         threads=torch.get_num_threads(), mkldnn=torch.backends.mkldnn.is_available(),
         mkldnn_enabled=torch.backends.mkldnn.enabled, cpu_capability=cpu_capability(),
         blas=blas, openblas_core=core, openblas_config=config, openblas_threads=blas_threads,
         coretype=requested, runs=RUNS, min_seconds=MIN_SECONDS)
    if torch.get_num_threads() != threads:
        sys.exit(f"torch_bench.py: asked for {threads} threads, torch runs {torch.get_num_threads()}")
    if blas_threads is not None and blas_threads != threads:
        sys.exit(f"torch_bench.py: asked for {threads} threads, OpenBLAS runs {blas_threads} "
                 "(set OPENBLAS_NUM_THREADS)")
    if requested and (core or "").lower() != requested.lower():
        sys.exit(f"torch_bench.py: OPENBLAS_CORETYPE={requested}, but OpenBLAS runs the kernels of {core}")
    # Every timing line says which kernels and how many threads it ran on.
    global RUN_TAGS
    RUN_TAGS = dict(threads=threads, kernel=core)
    for name, path in models:
        if name in checks:
            G, _, latent, _ = load(name, path)
            check(name, G, latent, checks[name])
    for name, path in models:
        bench(name, path)


if __name__ == "__main__":
    main()
