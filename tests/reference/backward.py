#!/usr/bin/python3
"""Gradient reference for ganc's gradient tests (tests/test_gradients.c).

Run from the repository root with Debian's Python, which has torch and numpy:

    /usr/bin/python3 tests/reference/backward.py [MODEL ...]

For every model in models/*.gan and tests/models/*.gan (or only the models
named) it writes tests/fixtures/backward/<model>.txt. The models, their
parameters, running statistics and the batch (4 samples) are forward.py's,
imported from it: the same nn.Sequential pairs, the same formula and streams
(parameters stream 1, latent z stream 2, real x stream 3, statistics stream
6, a conditional model's labels_real stream 7 and labels_fake stream 8;
forward.py's docstring gives the formula), so these fixtures and the
forward ones describe one computation. Everything is float64 autograd; this
script never runs ganc.

The two losses and their gradients (docs/DESIGN.md §1 and §4), with the
model's loss terms as forward.py's LOSSES computes them (means over the
[batch, 1] score tensors; for lsgan nn.MSELoss), in train() mode:

    discriminator_loss_batch = real(D(x)) + fake(D(G(z).detach()))
        differentiated with respect to D's parameters only
    generator_loss_batch     = gen(D(G(z)))
        differentiated with respect to G's parameters only

with, for a conditional model, labels_fake for G(z) and the fakes' D,
labels_real for the real samples' D (forward.py's net_calls). Without
batch_norm train() changes nothing, and these are forward.py's batch
losses. With it, each pass through a network normalizes by its own
batch's statistics and updates the running ones, in the order the emitted
_backward functions make the passes: the discriminator's loss passes z
through G, then x through D, then the fakes through D; the generator's
passes z through G, then G(z) through D. Each of the two starts from the
formula's running statistics, and the fixture keeps the statistics it
leaves.

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
                            loss other than lsgan), pack, stats_count and
                            classes as forward.py
    section NAME COUNT      followed by COUNT lines

Sections, in this order:
    tensors                   NAME OFFSET FAN_IN RANK D1 .. DRANK, as forward.py
    stats_tensors             NAME OFFSET RANK D1 .. DRANK, as forward.py (only
                              with batch_norm)
    labels_real, labels_fake  the batch's labels, one a line, as forward.py
                              (only for a conditional model)
    discriminator_loss_batch  one value
    discriminator_grad        K VALUE: d loss / d params[K], K ascending, each a
                              discriminator parameter (K >= g_param_count;
                              grad_d[K - g_param_count] in the emitted C)
    discriminator_stats       the stats_count running statistics that the
                              discriminator's loss leaves (only with
                              batch_norm)
    generator_loss_batch      one value
    generator_grad            K VALUE: d loss / d params[K], K < g_param_count
                              (grad_g[K])
    generator_stats           the running statistics that the generator's
                              loss leaves (only with batch_norm)
    grad_max                  NAME VALUE: max |gradient entry| over the whole
                              tensor (every entry, also when sampled), one line
                              per tensor in the order of section tensors; the
                              scale of the tests' absolute tolerance. For a
                              cancelled bias (below) the size of its terms
                              instead.

A cancelled bias is one whose layer feeds a batch_norm over the bias's own
entries (a convolution's bias per channel, a linear layer's before
batch_norm on [C]): in train() mode the normalization subtracts each
channel's batch mean, so the bias changes nothing and its gradient is 0 in
exact arithmetic, PyTorch's and ganc's alike a sum of terms that cancel to
rounding noise. Its largest entry then measures nothing, and its grad_max is
the largest sum over the batch of |terms| instead: per entry, the sum of
|d loss / d output| of the layer over the samples (both of D's passes for
the discriminator's loss) and positions that share the bias, which is what
rounds.
"""

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


def cancelled_biases(prefix, net):
    """(index, name) of the layers of net whose bias a batch_norm right
    after them cancels."""
    return [(i, f"{prefix}.{i}.bias") for i, (layer, after) in enumerate(zip(net, net[1:]))
            if getattr(layer, "bias", None) is not None
            and isinstance(after, nn.modules.batchnorm._BatchNorm)
            and layer.bias.numel() == after.num_features]


def term_sums(net, cancelled):
    """Hooks on the outputs of the cancelled biases' layers adding up, per
    bias entry, |d loss / d output| over samples and positions; the sums by
    name, and the hooks' handles."""
    sums, handles = {}, []
    for i, name in cancelled:
        def on_output(module, inputs, out, name=name):
            def on_grad(g):
                g = g.abs().transpose(0, 1).reshape(g.shape[1], -1).sum(1)
                sums[name] = sums[name] + g if name in sums else g
            out.register_hook(on_grad)
        handles.append(net[i].register_forward_hook(on_output))
    return sums, handles


def gradients(name):
    """forward.reference(name) (which sets the parameters and statistics),
    then both losses and their gradients by autograd in train() mode, and
    the running statistics after each."""
    r = forward.reference(name)
    m = r["m"]
    G, D = m["generator"], m["discriminator"]
    G.train()
    D.train()
    z = torch.from_numpy(r["z"]).reshape(BATCH, *m["latent"])
    x = torch.from_numpy(r["x"]).reshape(BATCH, *m["obs"])
    nets = forward.net_calls(m, G, D)
    gen, judge_real, judge_fake = nets["generate"], nets["judge_real"], nets["judge_fake"]
    real_term, fake_term, gen_term = forward.LOSSES[m["loss"]]
    g_params, d_params = list(G.parameters()), list(D.parameters())
    for p in g_params + d_params:
        p.requires_grad_(True)
        p.grad = None

    cancelled = {"generator": cancelled_biases("generator", G),
                 "discriminator": cancelled_biases("discriminator", D)}
    d_terms, hooks = term_sums(D, cancelled["discriminator"])
    forward.set_statistics(G, D)
    fake = gen(z, 0).detach()
    packs = BATCH // m["pack"]
    real_score = judge_real(x, 0).reshape(packs, 1)  # before the fakes' pass
    d_loss = real_term(real_score) + fake_term(judge_fake(fake, 0).reshape(packs, 1))
    d_grad = torch.autograd.grad(d_loss, d_params)
    r["d_stats"] = forward.statistics(G, D)
    for h in hooks:
        h.remove()

    g_terms, hooks = term_sums(G, cancelled["generator"])
    forward.set_statistics(G, D)
    g_loss = gen_term(judge_fake(gen(z, 0), 0).reshape(packs, 1))
    g_grad = torch.autograd.grad(g_loss, g_params)
    r["g_stats"] = forward.statistics(G, D)
    for h in hooks:
        h.remove()
    r["term_max"] = {name: t.max().item() for name, t in {**d_terms, **g_terms}.items()}
    assert len(r["term_max"]) == sum(len(c) for c in cancelled.values()), name

    # Without batch_norm the losses are forward.py's batch losses,
    # recomputed with grad enabled.
    if not len(r["stats"]):
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
    for key in ("d_stats", "g_stats"):
        assert len(r[key]) == len(r["stats"]) and np.all(np.isfinite(r[key])), (name, key)
    # A cancelled bias's gradient is rounding noise of its terms.
    for t, g in zip(layout, grads):
        if t["name"] in r["term_max"]:
            assert np.max(np.abs(g)) <= 1e-14 * r["term_max"][t["name"]], (name, t["name"])


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
    sc = len(r["stats"])
    if sc:
        lines.append(f"stats_count {sc}")
    if m["classes"]:
        lines.append(f"classes {m['classes']}")

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

    section("tensors", forward.tensor_lines(r["layout"]))
    if sc:
        section("stats_tensors", forward.tensor_lines(r["stats_layout"]))
    if m["classes"]:
        forward.label_sections(section, r)
    section("discriminator_loss_batch", [fmt(r["d_loss"])])
    section("discriminator_grad", grad_lines(gpc, pc))
    if sc:
        section("discriminator_stats", [fmt(v) for v in r["d_stats"]])
    section("generator_loss_batch", [fmt(r["g_loss"])])
    section("generator_grad", grad_lines(0, gpc))
    if sc:
        section("generator_stats", [fmt(v) for v in r["g_stats"]])
    section("grad_max", [f"{t['name']} {fmt(r['term_max'].get(t['name'], np.max(np.abs(g))))}"
                         for t, g in zip(r["layout"], r["grads"])])

    return forward.write_lines(OUT_DIR, name, lines)


def main():
    torch.set_default_dtype(torch.float64)
    forward.check_formula()
    wanted = forward.models_to_write("backward.py", sys.argv[1:])
    os.makedirs(OUT_DIR, exist_ok=True)
    for path, name in wanted:
        r = gradients(name)
        sanity(name, r)
        print(write_fixture(name, r), f"({r['param_count']} parameters)")


if __name__ == "__main__":
    main()
