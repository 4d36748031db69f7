#!/usr/bin/python3
"""Adam reference for ganc's optimizer tests (tests/test_adam.c).

Run from the repository root with Debian's Python, which has torch and numpy:

    /usr/bin/python3 tests/reference/adam.py

It writes tests/fixtures/adam.txt: torch.optim.Adam (default options:
no weight decay, no amsgrad) run for STEPS steps on a vector of N
parameters, in float32 and in float64, for two settings:

    default   lr 2e-4, betas (0.5, 0.999), eps 1e-8   (ganc's defaults)
    other     lr 1e-3, betas (0.9, 0.99),  eps 1e-6

The initial parameters and the gradient at each step come from the formula
of forward.py (splitmix64; signed_unit(stream, k) = 2u - 1, a 24-bit integer
over 2^23), so every value is exact in float32 and both types start from the
same numbers:

    parameter i          signed_unit(6, i)
    gradient at step t   0  if i == 13 or (i + t) % 7 == 0
    (t = 1 .. STEPS)     signed_unit(7, N (t - 1) + i) * 2^(10 - 3 (i % 12))
                         otherwise

The gradients do not depend on the parameters. Their scales run from 2^10
to 2^-23, so that eps dominates the denominator for some entries and not for
others; parameter 13 never gets a gradient (its moments stay 0) and every
parameter misses some steps.

Fixture format (text; a value is %.17g, exact for the inputs; one line per
vector, its N values separated by spaces):

    # comment lines
    n N
    steps STEPS
    init V0 .. V(N-1)             the initial parameters
    grad T G0 .. G(N-1)           the gradient at step T, for T = 1 .. STEPS
    run TYPE NAME LR BETA1 BETA2 EPS
                                  TYPE float32 or float64; then STEPS lines
    step T P0 .. P(N-1)           the parameters after step T
    exp_avg M0 .. M(N-1)          after the last step, Adam's first moment
    exp_avg_sq V0 .. V(N-1)       and second moment (the state ganc keeps in
                                  checkpoints as adam.m.* and adam.v.*)
"""

import os
import sys

import numpy as np
import torch

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import forward  # noqa: E402  (forward.py beside this file: the formula)

N = 50
STEPS = 10
OUT = "tests/fixtures/adam.txt"
STREAM_INIT, STREAM_GRAD = 6, 7

SETTINGS = [
    ("default", 2e-4, (0.5, 0.999), 1e-8),
    ("other", 1e-3, (0.9, 0.99), 1e-6),
]


def initial():
    return forward.signed_unit(STREAM_INIT, 0, N)


def gradient(t):
    g = forward.signed_unit(STREAM_GRAD, N * (t - 1), N)
    for i in range(N):
        g[i] = 0.0 if i == 13 or (i + t) % 7 == 0 else np.ldexp(g[i], 10 - 3 * (i % 12))
    return g


def run(dtype, lr, betas, eps):
    p = torch.nn.Parameter(torch.from_numpy(initial()).to(dtype))
    opt = torch.optim.Adam([p], lr=lr, betas=betas, eps=eps)
    after = []
    for t in range(1, STEPS + 1):
        p.grad = torch.from_numpy(gradient(t)).to(dtype)
        opt.step()
        after.append(p.detach().to(torch.float64).numpy().copy())
    state = opt.state[p]
    moments = [state[k].to(torch.float64).numpy().copy() for k in ("exp_avg", "exp_avg_sq")]
    return after, moments


def line(values):
    return " ".join(forward.fmt(v) for v in values)


def main():
    forward.check_formula()
    init = initial()
    grads = [gradient(t) for t in range(1, STEPS + 1)]
    for v in [init, *grads]:
        assert all(float(np.float32(x)) == x for x in v), "not exact in float32"
    assert all(g[13] == 0 for g in grads)

    lines = [
        "# ganc Adam fixture: written by tests/reference/adam.py, do not edit",
        f"n {N}",
        f"steps {STEPS}",
        "init " + line(init),
    ]
    lines += [f"grad {t} " + line(g) for t, g in enumerate(grads, 1)]
    for dtype, tname in ((torch.float32, "float32"), (torch.float64, "float64")):
        for name, lr, (b1, b2), eps in SETTINGS:
            after, (m, v) = run(dtype, lr, (b1, b2), eps)
            assert all(np.all(np.isfinite(a)) for a in after)
            assert after[-1][13] == init[13] and m[13] == 0 and v[13] == 0
            lines.append(f"run {tname} {name} {lr!r} {b1!r} {b2!r} {eps!r}")
            lines += [f"step {t} " + line(a) for t, a in enumerate(after, 1)]
            lines += ["exp_avg " + line(m), "exp_avg_sq " + line(v)]
    with open(OUT, "w") as f:
        f.write("\n".join(lines) + "\n")
    print(OUT)


if __name__ == "__main__":
    main()
