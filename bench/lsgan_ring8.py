#!/usr/bin/python3
"""PyTorch reference for `ganc train models/ring8.gan --data ring8`.

Trains the same LSGAN (architecture of models/ring8.gan, Xavier-uniform
weights and zero biases, Adam for G and D, one D step then one G step per
iteration) in float32 on one CPU thread, then reports PacGAN's mode coverage:
of 2500 generated samples, those within 3 sigma of their nearest centre are
high quality, and a mode is covered when at least 20 of them have it as the
nearest centre.

The parameters live in ordinary nn.Linear modules (PyTorch's names and
layout, as in ganc's safetensors files). Debian's torch calls the reference
BLAS for matrix products, which is far slower than oneDNN, so by default the
linear layers compute their larger products with oneDNN (as 1x1 convolutions)
in a small autograd function; the result is the same product up to float32
rounding order. --plain uses F.linear and autograd as they are.

    /usr/bin/python3 bench/lsgan_ring8.py [--steps N] [--batch B] [--lr LR]
        [--beta1 B1] [--beta2 B2] [--seeds 1,2,3] [--grid25] [--pack M]
        [--csv PATH] [--plain] [--verbose]

--pack M is PacGAN's packing as models/ring8_pack.gan has it: the
discriminator's first layer takes M points one after another, each batch
of B samples becomes B/M packs, and the generator still draws B samples.
"""

import argparse
import csv
import math
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

EVAL_SAMPLES = 2500
COVER_MIN_SAMPLES = 20
HIDDEN = 128
LATENT = 2


def mixture(name):
    """Centres [K,2] (float64) and sigma of a data set."""
    if name == "ring8":
        angles = [2 * math.pi * k / 8 for k in range(8)]
        centres = [[2 * math.cos(a), 2 * math.sin(a)] for a in angles]
        return torch.tensor(centres, dtype=torch.float64), 0.02
    centres = [[-4.0 + 2 * (k % 5), -4.0 + 2 * (k // 5)] for k in range(25)]
    return torch.tensor(centres, dtype=torch.float64), 0.05


def _mm_nt(a, bt):
    """a @ bt.T for a [M,K] and bt [N,K]; oneDNN when the product is large."""
    m, k = a.shape
    n = bt.shape[0]
    if m >= 16 and n >= 16 and k >= 16:
        out = F.conv2d(a.reshape(m, k, 1, 1), bt.reshape(n, k, 1, 1))
        return out.view(m, n)
    return a @ bt.t()


class _Linear(torch.autograd.Function):
    """y = x W^T + b with every product through _mm_nt."""

    @staticmethod
    def forward(ctx, x, weight, bias):
        ctx.save_for_backward(x, weight)
        return _mm_nt(x, weight).add_(bias)

    @staticmethod
    def backward(ctx, gy):
        x, weight = ctx.saved_tensors
        gx = gw = gb = None
        if ctx.needs_input_grad[0]:
            gx = _mm_nt(gy, weight.t().contiguous())
        if ctx.needs_input_grad[1]:
            gw = _mm_nt(gy.t().contiguous(), x.t().contiguous())
        if ctx.needs_input_grad[2]:
            gb = gy.sum(0)
        return gx, gw, gb


def run(net, x, plain):
    """net(x), with the linear layers through _Linear unless plain."""
    if plain:
        return net(x)
    for m in net:
        if isinstance(m, nn.Linear):
            x = _Linear.apply(x, m.weight, m.bias)
        else:
            x = m(x)
    return x


def make_models(pack=1):
    g = nn.Sequential(
        nn.Linear(LATENT, HIDDEN), nn.ReLU(),
        nn.Linear(HIDDEN, HIDDEN), nn.ReLU(),
        nn.Linear(HIDDEN, 2),
    )
    d = nn.Sequential(
        nn.Linear(2 * pack, HIDDEN), nn.LeakyReLU(0.2),
        nn.Linear(HIDDEN, HIDDEN), nn.LeakyReLU(0.2),
        nn.Linear(HIDDEN, 1),
    )
    for net in (g, d):
        for m in net:
            if isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight)
                nn.init.zeros_(m.bias)
    return g, d


def coverage(samples, centres, sigma):
    """(modes covered, high-quality share) of samples [N,2]."""
    x = samples.to(torch.float64)
    d2 = ((x[:, None, :] - centres[None, :, :]) ** 2).sum(-1)
    best_d2, best = d2.min(dim=1)
    good = best_d2 <= 9 * sigma * sigma  # False for NaN
    hits = torch.bincount(best[good], minlength=centres.shape[0])
    covered = int((hits >= COVER_MIN_SAMPLES).sum())
    return covered, float(good.sum()) / samples.shape[0]


def train(seed, args, centres, sigma):
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    g, d = make_models(args.pack)
    betas = (args.beta1, args.beta2)
    opt_g = torch.optim.Adam(g.parameters(), lr=args.lr, betas=betas, eps=1e-8)
    opt_d = torch.optim.Adam(d.parameters(), lr=args.lr, betas=betas, eps=1e-8)
    mse = nn.MSELoss()
    d_params = list(d.parameters())
    plain = args.plain

    b = args.batch
    centres32 = centres.to(torch.float32)
    k = centres.shape[0]
    packs = b // args.pack
    ones = torch.ones(packs, 1)
    zeros = torch.zeros(packs, 1)
    z = torch.empty(b, LATENT)
    noise = torch.empty(b, 2)
    idx = torch.empty(b, dtype=torch.long)

    start = time.perf_counter()
    for step in range(1, args.steps + 1):
        # Discriminator: a real batch and a fresh latent batch.
        torch.randint(k, (b,), generator=gen, out=idx)
        torch.randn(b, 2, generator=gen, out=noise)
        x_real = centres32[idx].add_(noise, alpha=sigma)
        torch.randn(b, LATENT, generator=gen, out=z)
        with torch.no_grad():
            fake = run(g, z, plain)
        d_loss = (mse(run(d, x_real.reshape(packs, -1), plain), ones)
                  + mse(run(d, fake.reshape(packs, -1), plain), zeros))
        opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        opt_d.step()

        # Generator: a fresh latent batch; D's parameters get no gradient.
        torch.randn(b, LATENT, generator=gen, out=z)
        for p in d_params:
            p.requires_grad_(False)
        g_loss = mse(run(d, run(g, z, plain).reshape(packs, -1), plain), ones)
        opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        opt_g.step()
        for p in d_params:
            p.requires_grad_(True)

        if args.verbose and step % 1000 == 0:
            print(f"  seed {seed} step {step}: d_loss {d_loss.item():.5f} "
                  f"g_loss {g_loss.item():.5f}", file=sys.stderr)
    seconds = time.perf_counter() - start

    with torch.no_grad():
        samples = g(torch.randn(EVAL_SAMPLES, LATENT, generator=gen))
    modes, hq = coverage(samples, centres, sigma)
    return modes, hq, seconds


def parse_seeds(text):
    try:
        seeds = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        seeds = []
    if not seeds:
        raise argparse.ArgumentTypeError(f"bad seed list '{text}'")
    return seeds


def main():
    ap = argparse.ArgumentParser(
        description="PyTorch LSGAN reference for ganc's ring8 (or grid25) training.")
    ap.add_argument("--steps", type=int, default=5000)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--beta1", type=float, default=0.5)
    ap.add_argument("--beta2", type=float, default=0.999)
    ap.add_argument("--seeds", type=parse_seeds, default=parse_seeds("1,2,3,4,5"))
    ap.add_argument("--grid25", action="store_true", help="train on grid25 instead of ring8")
    ap.add_argument("--pack", type=int, default=1, help="points per discriminator input (PacGAN)")
    ap.add_argument("--csv", metavar="PATH", help="also write the per-seed table as CSV")
    ap.add_argument("--plain", action="store_true",
                    help="F.linear and autograd as they are (slow with the reference BLAS)")
    ap.add_argument("--verbose", action="store_true", help="losses every 1000 steps (stderr)")
    args = ap.parse_args()
    if args.steps < 1 or args.batch < 1:
        ap.error("--steps and --batch must be positive")
    if args.pack < 1 or args.batch % args.pack:
        ap.error("--pack must be positive and divide --batch")

    torch.set_num_threads(1)
    if not torch.backends.mkldnn.is_available():
        args.plain = True
    data = "grid25" if args.grid25 else "ring8"
    centres, sigma = mixture(data)
    k = centres.shape[0]

    rows = []
    for seed in args.seeds:
        modes, hq, seconds = train(seed, args, centres, sigma)
        rows.append((seed, modes, hq, seconds))
        if args.verbose:
            print(f"seed {seed}: {modes}/{k} modes, high quality {hq:.4f}, "
                  f"{seconds:.2f} s", file=sys.stderr)

    def mean_sd(values):
        sd = statistics.stdev(values) if len(values) > 1 else 0.0
        return statistics.fmean(values), sd

    print(f"PyTorch {torch.__version__} LSGAN, {data}: steps {args.steps}, "
          f"batch {args.batch}, pack {args.pack}, lr {args.lr:g}, betas ({args.beta1:g}, {args.beta2:g}), "
          f"float32, 1 thread, {'F.linear' if args.plain else 'oneDNN products'}")
    print()
    print(f"| seed | modes (of {k}) | high quality | seconds |")
    print("|---:|---:|---:|---:|")
    for seed, modes, hq, seconds in rows:
        print(f"| {seed} | {modes} | {hq:.4f} | {seconds:.2f} |")
    m_mean, m_sd = mean_sd([r[1] for r in rows])
    h_mean, h_sd = mean_sd([r[2] for r in rows])
    s_mean, s_sd = mean_sd([r[3] for r in rows])
    print(f"| mean ± sd | {m_mean:.2f} ± {m_sd:.2f} | {h_mean:.4f} ± {h_sd:.4f} "
          f"| {s_mean:.2f} ± {s_sd:.2f} |")

    if args.csv:
        with open(args.csv, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["data", "seed", "steps", "batch", "lr", "beta1", "beta2",
                        "modes", "modes_total", "high_quality", "seconds"])
            for seed, modes, hq, seconds in rows:
                w.writerow([data, seed, args.steps, args.batch, args.lr, args.beta1,
                            args.beta2, modes, k, f"{hq:.6f}", f"{seconds:.4f}"])


if __name__ == "__main__":
    main()
