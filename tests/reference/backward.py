#!/usr/bin/python3
"""Gradient reference for ganc's gradient tests (tests/test_gradients.c).

Run from the repository root with Debian's Python, which has torch and numpy:

    /usr/bin/python3 tests/reference/backward.py

For every model in models/*.gan and tests/models/*.gan it writes
tests/fixtures/backward/<model>.txt. The models, their parameters and the
batch (4 samples) are forward.py's, imported from it: the same nn.Sequential
pairs, the same formula and streams (parameters stream 1, latent z stream 2,
real x stream 3; forward.py's docstring gives the formula), so these fixtures
and the forward ones describe one computation. Everything is float64 autograd;
this script never runs ganc.

The two losses and their gradients (docs/DESIGN.md §1 and §4), with the
model's loss terms as forward.py's LOSSES computes them (means over the
[batch, 1] score tensors; for lsgan nn.MSELoss):

    discriminator_loss_batch = real(D(x)) + fake(D(G(z).detach()))
        differentiated with respect to D's parameters only
    generator_loss_batch     = gen(D(G(z)))
        differentiated with respect to G's parameters only

Models with more than SAMPLE_ABOVE parameters store a sample of each
tensor's gradient entries: the tensor's first and last entry and
SAMPLE_DRAWS draws, draw j of the model's i-th tensor (counting G's then D's
tensors from 0) being

    splitmix64((4 << 32) + SAMPLE_DRAWS * i + j) mod (elements of the tensor)

(stream 4 of the formula's generator, duplicates dropped). Smaller models
store every entry.

Fixture format (text; a value is %.17g of a float64):

    # comment lines
    KEY VALUE               header: model, file, scalar (float|double), batch,
                            input_scale, latent_size, obs_size,
                            g_param_count, param_count,
                            entries (all|sampled), and loss (only for a
                            loss other than lsgan)
    section NAME COUNT      followed by COUNT lines

Sections, in this order:
    tensors                   NAME OFFSET FAN_IN RANK D1 .. DRANK, as forward.py
    discriminator_loss_batch  one value
    discriminator_grad        K VALUE: d loss / d params[K], K ascending, each a
                              discriminator parameter (K >= g_param_count;
                              grad_d[K - g_param_count] in the emitted C)
    generator_loss_batch      one value
    generator_grad            K VALUE: d loss / d params[K], K < g_param_count
                              (grad_g[K])
    grad_max                  NAME VALUE: max |gradient entry| over the whole
                              tensor (every entry, also when sampled), one line
                              per tensor in the order of section tensors; the
                              scale of the tests' absolute tolerance
"""

import glob
import math
import os
import sys

import numpy as np
import torch
from torch import nn

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import forward  # noqa: E402  (forward.py beside this file)

BATCH = forward.BATCH
OUT_DIR = "tests/fixtures/backward"
STREAM_SAMPLE = 4
SAMPLE_ABOVE = 20000
SAMPLE_DRAWS = 64


def sample_indices(tensor_index, count):
    """The stored entries of one tensor of a large model, ascending."""
    j = np.arange(SAMPLE_DRAWS, dtype=np.uint64) + np.uint64(SAMPLE_DRAWS * tensor_index)
    draws = forward.splitmix64(np.uint64(STREAM_SAMPLE << 32) + j) % np.uint64(count)
    return sorted({0, count - 1, *(int(d) for d in draws)})


def gradients(name):
    """forward.reference(name) (which sets the parameters), then both losses
    and their gradients by autograd."""
    r = forward.reference(name)
    m = r["m"]
    G, D = m["generator"], m["discriminator"]
    z = torch.from_numpy(r["z"]).reshape(BATCH, *m["latent"])
    x = torch.from_numpy(r["x"]).reshape(BATCH, *m["obs"])
    real_term, fake_term, gen_term = forward.LOSSES[m["loss"]]
    g_params, d_params = list(G.parameters()), list(D.parameters())
    for p in g_params + d_params:
        p.requires_grad_(True)
        p.grad = None

    fake = G(z).detach()
    packs = BATCH // m["pack"]
    d_loss = (real_term(D(forward.packed(m, x)).reshape(packs, 1))
              + fake_term(D(forward.packed(m, fake)).reshape(packs, 1)))
    d_grad = torch.autograd.grad(d_loss, d_params)

    g_loss = gen_term(D(forward.packed(m, G(z))).reshape(packs, 1))
    g_grad = torch.autograd.grad(g_loss, g_params)

    # The losses are forward.py's batch losses, recomputed with grad enabled.
    assert math.isclose(d_loss.item(), r["d_loss_batch"], rel_tol=1e-15), name
    assert math.isclose(g_loss.item(), r["g_loss_batch"], rel_tol=1e-15), name

    r["d_loss"], r["g_loss"] = d_loss.item(), g_loss.item()
    r["grads"] = [g.detach().flatten().numpy() for g in (*g_grad, *d_grad)]
    return r


def sanity(name, r):
    layout, grads = r["layout"], r["grads"]
    assert len(layout) == len(grads), name
    for t, g in zip(layout, grads):
        assert g.size == math.prod(t["shape"]), (name, t["name"])
        assert np.all(np.isfinite(g)), (name, t["name"])
    assert r["d_loss"] >= 0 and (r["g_loss"] >= 0 or r["m"]["loss"] == "hinge"), name


def write_fixture(name, r):
    m = r["m"]
    pc, gpc = r["param_count"], r["g_param_count"]
    sampled = pc > SAMPLE_ABOVE
    fmt = forward.fmt
    lines = [
        "# ganc gradient fixture: written by tests/reference/backward.py, do not edit",
        f"model {name}",
        f"file {m['file']}",
        f"scalar {m['scalar']}",
        f"batch {BATCH}",
        f"input_scale {m['input_scale']}",
        f"latent_size {r['latent_size']}",
        f"obs_size {r['obs_size']}",
        f"g_param_count {gpc}",
        f"param_count {pc}",
        f"entries {'sampled' if sampled else 'all'}",
    ]
    if m["loss"] != "lsgan":
        lines.append(f"loss {m['loss']}")
    if m["pack"] != 1:
        lines.append(f"pack {m['pack']}")

    def section(key, body):
        lines.append(f"section {key} {len(body)}")
        lines.extend(body)

    def grad_lines(first, last):
        body = []
        for i, (t, g) in enumerate(zip(r["layout"], r["grads"])):
            if not first <= t["offset"] < last:
                continue
            picks = sample_indices(i, g.size) if sampled else range(g.size)
            body += [f"{t['offset'] + k} {fmt(g[k])}" for k in picks]
        return body

    section("tensors", [f"{t['name']} {t['offset']} {t['fan_in']} {len(t['shape'])} "
                        + " ".join(str(d) for d in t["shape"]) for t in r["layout"]])
    section("discriminator_loss_batch", [fmt(r["d_loss"])])
    section("discriminator_grad", grad_lines(gpc, pc))
    section("generator_loss_batch", [fmt(r["g_loss"])])
    section("generator_grad", grad_lines(0, gpc))
    section("grad_max", [f"{t['name']} {fmt(np.max(np.abs(g)))}"
                         for t, g in zip(r["layout"], r["grads"])])

    path = os.path.join(OUT_DIR, f"{name}.txt")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path


def main():
    torch.set_default_dtype(torch.float64)
    forward.check_formula()
    files = sorted(glob.glob("models/*.gan")) + sorted(glob.glob("tests/models/*.gan"))
    if not files:
        sys.exit("backward.py: no .gan files found; run from the repository root")
    wanted = [(path, name) for path in files for name in forward.model_names(path)]
    missing = [f"{name} ({path})" for path, name in wanted if name not in forward.MODELS]
    if missing:
        sys.exit("backward.py: no reference defined in forward.py for " + ", ".join(missing))
    for path, name in wanted:
        if forward.MODELS[name]["file"] != path:
            sys.exit(f"backward.py: {name} is in {path}, forward.py says "
                     f"{forward.MODELS[name]['file']}")
    os.makedirs(OUT_DIR, exist_ok=True)
    for path, name in wanted:
        r = gradients(name)
        sanity(name, r)
        print(write_fixture(name, r), f"({r['param_count']} parameters)")


if __name__ == "__main__":
    main()
