#!/usr/bin/python3
"""batch_norm reference for ganc's batch_norm tests (tests/test_batch_norm.c).

Run from the repository root with Debian's Python, which has torch and numpy:

    /usr/bin/python3 tests/reference/batch_norm.py

For every model below it writes tests/fixtures/batch_norm/<model>.txt. The
model's source, tests/fixtures/batch_norm/<model>.gan, is written by hand, and
so is its twin nn.Sequential pair here (the comment above it names the .gan
file). This script never runs ganc. Everything is float64.

The state is given, not derived: the script draws it from a numpy generator
seeded with [SEED, the model's index], rounds every value to float32 (so
that a `scalar float` build of the same model starts from the same numbers)
and writes it into the fixture:

    parameters     U(-a, a), a = 1 / sqrt(fan_in) (PyTorch's bound for
                   linear and convolution layers); a batch_norm layer's
                   weight U(0.6, 1.4) and bias U(-0.4, 0.4)
    statistics     running_mean U(-0.5, 0.5), running_var U(0.5, 2)
    latents        standard normal
    real samples   0.8 N(0, 1) + 0.2

What it computes (docs/DESIGN.md §2 and §4), each loss's terms as forward.py's
LOSSES (batch means over the [n, 1] score tensor), packed(...) as
forward.py's (pack samples joined along the first dimension):

    eval     G.eval(), D.eval(): the inference functions, with the running
             statistics
    d step   G.train(), D.train(): fake = G(z).detach(), then
             real(D(packed(x))) + fake(D(packed(fake))), D called once on
             each, so that G's statistics move once and D's twice; the
             gradient over D's parameters
    g step   gen(D(packed(G(z)))): one pass of each network, each updating
             its statistics; the gradient over G's parameters
    loop     STEPS times: a d step and an Adam step on D's parameters, then a
             g step on fresh latents and an Adam step on G's parameters; two
             torch.optim.Adam optimizers, lr LR, betas BETAS and eps ADAM_EPS,
             and then again from the same state on the same batches with eps
             DAMPED_EPS (the damped loop)

Why two loops: some gradient entries are zero in exact arithmetic, such as
that of a bias whose channels each feed a batch_norm channel directly (the
batch mean takes it away again), that of a relu unit's bias when the unit is
active for the whole batch and a batch_norm layer follows linearly, or that
of D's last bias under the hinge loss when as many real as fake scores are
inside the margin. In practice they are rounding, different in every
implementation, and Adam with eps 1e-8 turns such an entry g into a step of
lr * g / (|g| + eps): 1e-9 for double rounding, a tenth of lr for float's.
The loop with eps ADAM_EPS is the usual one; DAMPED_EPS keeps those steps
below 1e-12 while every other entry still moves its parameter. The script
checks that every gradient it computes keeps the two kinds apart (Nulls).

Fixture format (text; a value is %.17g of a float64):

    # comment lines
    KEY VALUE               header: model, file, scalar (the .gan file's),
                            loss, pack, batch (S, samples: the discriminator
                            judges n = S / pack packs), latent_size,
                            obs_size, g_param_count, param_count,
                            g_stats_count, stats_count, min_batch (the
                            smallest n PyTorch trains on: below it some
                            batch_norm layer sees one value per channel and
                            raises), steps, lr, beta1, beta2, adam_eps,
                            damped_eps, null_gradient (the largest |entry|
                            zero in exact arithmetic, of every gradient
                            computed here)
    section NAME COUNT      followed by COUNT lines

Sections, in this order (one value per line unless said otherwise):
    tensors            NAME OFFSET COUNT: the parameter tensors, G's then D's,
                       named as state_dict() names them
    stat_tensors       NAME OFFSET COUNT: running_mean and running_var of each
                       batch_norm layer, G's first, offsets into the
                       statistics array
    bias_before_norm   NAME: each bias whose channels each feed a batch_norm
                       channel directly
    params             param_count values: the initial parameters
    stats              stats_count values: the initial running statistics
    z                  S * latent_size values: latents, sample after sample
    x                  S * obs_size values: real samples
  eval mode, from params and stats:
    generate           S * obs_size values: G(z)
    real_score         n values: D of each pack of x
    fake_score         n values: D of each pack of G(z)
    discriminator_loss n values: real(real_score) + fake(fake_score), per pack
    generator_loss     n values: gen(fake_score), per pack
    discriminator_loss_batch, generator_loss_batch   one value each
  one training call each, both from params and stats:
    d_loss             one value: the d step's loss on x and z
    d_grad             param_count - g_param_count values: its gradient
    d_stats            stats_count values: the statistics after it
    g_loss             one value: the g step's loss on z
    g_grad             g_param_count values: its gradient
    g_stats            stats_count values: the statistics after it
  the loops, both from params and stats:
    loop_x             steps * S * obs_size values: each step's real batch
    loop_z_d           steps * S * latent_size values: its d step's latents
    loop_z_g           steps * S * latent_size values: its g step's latents
    loop_d_loss        steps values: each d step's loss
    loop_g_loss        steps values: each g step's loss (after that step's
                       D update)
    loop_params        param_count values: after the loop
    loop_stats         stats_count values: after the loop
    damped_d_loss, damped_g_loss, damped_params, damped_stats
                       the same for the damped loop
"""

import copy
import os
import sys

import numpy as np
import torch
from torch import nn

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import forward  # noqa: E402  (forward.py beside this file: Reshape, LOSSES, packed)

OUT_DIR = "tests/fixtures/batch_norm"
SEED = 20240611
STEPS = 5
LR = 1e-2  # five steps move every parameter by up to 5e-2
BETAS = (0.5, 0.999)
ADAM_EPS = 1e-8
# The second loop's: far above the rounding in a gradient, far below most
# entries (1e-3 to 1), so that every parameter still moves.
DAMPED_EPS = 1e-3
# A gradient's entries are either zero in exact arithmetic, and then at most
# NULL_SHARE of its largest |entry| (a few ulps of the sums), or at least
# REAL_SHARE of it.
NULL_SHARE, REAL_SHARE = 1e-12, 1e-5

Reshape = forward.Reshape
MODELS = {}


def model(name, latent, obs, packs, generator, discriminator, loss="lsgan", pack=1):
    MODELS[name] = dict(name=name, file=f"{OUT_DIR}/{name}.gan", latent=latent, obs=obs,
                        packs=packs, loss=loss, pack=pack,
                        generator=generator.double(), discriminator=discriminator.double())


# bn_mlp.gan: a batch of 67, more than the emitted code's tile of 64
model("bn_mlp", [4], [6], 67,
      nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(),
                    nn.Linear(8, 6), nn.Tanh()),
      nn.Sequential(nn.Linear(6, 5), nn.BatchNorm1d(5, eps=1e-3, momentum=0.2),
                    nn.LeakyReLU(0.2), nn.Linear(5, 1)))

# bn_conv.gan
model("bn_conv", [4], [1, 6, 6], 10,
      nn.Sequential(nn.Linear(4, 18), nn.ReLU(), Reshape(2, 3, 3),
                    nn.ConvTranspose2d(2, 3, 4, stride=2, padding=1), nn.BatchNorm2d(3), nn.ReLU(),
                    nn.Conv2d(3, 1, 3, padding=1), nn.Tanh()),
      nn.Sequential(nn.Conv2d(1, 4, 3, stride=2, padding=1), nn.LeakyReLU(0.2),
                    nn.Conv2d(4, 3, 3, stride=2, padding=1), nn.BatchNorm2d(3, momentum=0.3),
                    nn.LeakyReLU(0.2), nn.Flatten(), nn.Linear(12, 1)),
      loss="logistic")

# bn_seq.gan: BatchNorm1d on [n, C, L]
model("bn_seq", [6], [2, 5], 9,
      nn.Sequential(nn.Linear(6, 12), Reshape(3, 4), nn.BatchNorm1d(3, eps=1e-4), nn.ReLU(),
                    nn.Flatten(), nn.Linear(12, 10), Reshape(2, 5)),
      nn.Sequential(nn.BatchNorm1d(2, momentum=0.05), nn.Flatten(), nn.Linear(10, 6),
                    nn.LeakyReLU(0.2), Reshape(2, 3), nn.BatchNorm1d(2, eps=1e-4, momentum=0.3),
                    nn.Flatten(), nn.Linear(6, 1)),
      loss="hinge")

# bn_pack.gan: 7 packs of 2 samples. (With batch_norm right after D's first
# linear layer, a constant shift of every fake would vanish in D's batch mean,
# and the gradient of G's last bias with it.)
model("bn_pack", [3], [4], 7,
      nn.Sequential(nn.Linear(3, 6), nn.ReLU(), nn.Linear(6, 4), nn.BatchNorm1d(4)),
      nn.Sequential(nn.Linear(8, 5), nn.LeakyReLU(0.2), nn.BatchNorm1d(5, momentum=0.25),
                    nn.Linear(5, 1)),
      pack=2)


def float32(v):
    """float64 values that are exact in float32."""
    return np.asarray(v, dtype=np.float32).astype(np.float64)


def is_batch_norm(layer):
    return isinstance(layer, nn.modules.batchnorm._BatchNorm)


def stacks(m):
    return (("generator", m["generator"]), ("discriminator", m["discriminator"]))


def init_state(m, rng):
    """Draw the parameters and statistics into the modules (the docstring's rules)."""
    def fill(t, v):
        t.copy_(torch.from_numpy(float32(v)).reshape(t.shape))

    with torch.no_grad():
        for _, net in stacks(m):
            for layer in net:
                if is_batch_norm(layer):
                    c = layer.num_features
                    fill(layer.weight, rng.uniform(0.6, 1.4, c))
                    fill(layer.bias, rng.uniform(-0.4, 0.4, c))
                    fill(layer.running_mean, rng.uniform(-0.5, 0.5, c))
                    fill(layer.running_var, rng.uniform(0.5, 2, c))
                    continue
                params = list(layer.parameters(recurse=False))
                if params:
                    bound = 1 / np.sqrt(forward.fan_in(params[0]))
                    for p in params:
                        fill(p, rng.uniform(-bound, bound, p.numel()))


def layout(m):
    """The parameter and statistics tensors, as state_dict() names them."""
    tensors, stats, null = [], [], []
    for prefix, net in stacks(m):
        for index, layer in enumerate(net):
            for pname, p in layer.named_parameters(recurse=False):
                tensors.append((f"{prefix}.{index}.{pname}", p.numel()))
            if is_batch_norm(layer):
                stats += [(f"{prefix}.{index}.running_mean", layer.num_features),
                          (f"{prefix}.{index}.running_var", layer.num_features)]
                before = net[index - 1] if index > 0 else None
                if getattr(before, "bias", None) is not None and before.bias.numel() == layer.num_features:
                    null.append(f"{prefix}.{index - 1}.bias")
    return tensors, stats, null


def flat_params(m):
    return torch.cat([p.detach().flatten() for _, net in stacks(m) for p in net.parameters()])


def flat_stats(m):
    return torch.cat([t.detach().clone() for _, net in stacks(m) for l in net if is_batch_norm(l)
                      for t in (l.running_mean, l.running_var)])


def passes(m):
    """num_batches_tracked of each network's batch_norm layers (all equal)."""
    counts = []
    for _, net in stacks(m):
        seen = {int(l.num_batches_tracked) for l in net if is_batch_norm(l)}
        assert len(seen) <= 1, m["name"]
        counts.append(seen.pop() if seen else None)
    return counts


def d_loss(m, x, z):
    """The d step's loss: G on z (detached), then D on the real batch and on
    the fakes, one call each, all in training mode."""
    G, D, n = m["generator"], m["discriminator"], x.shape[0] // m["pack"]
    real_term, fake_term, _ = forward.LOSSES[m["loss"]]
    G.train()
    D.train()
    fake = G(z).detach()
    return (real_term(D(forward.packed(m, x)).reshape(n, 1))
            + fake_term(D(forward.packed(m, fake)).reshape(n, 1)))


def g_loss(m, z):
    G, D, n = m["generator"], m["discriminator"], z.shape[0] // m["pack"]
    _, _, gen_term = forward.LOSSES[m["loss"]]
    G.train()
    D.train()
    return gen_term(D(forward.packed(m, G(z))).reshape(n, 1))


def gradient(loss, net):
    return torch.cat([g.flatten() for g in torch.autograd.grad(loss, list(net.parameters()))])


def min_batch(m):
    """The smallest n (packs) on which PyTorch's d and g steps both run."""
    samples = lambda shape, n: torch.randn(n * m["pack"], *shape)
    for n in range(1, 16):
        trial = copy.deepcopy(m)
        try:
            with torch.no_grad():
                d_loss(trial, samples(m["obs"], n), samples(m["latent"], n))
                g_loss(trial, samples(m["latent"], n))
        except ValueError:  # "Expected more than 1 value per channel when training"
            continue
        return n
    sys.exit(f"batch_norm.py: {m['name']} does not train on 15 packs")


class Nulls:
    """The entries of a gradient that are zero in exact arithmetic: at most
    NULL_SHARE of its largest |entry|, while every other entry is at least
    REAL_SHARE of it (so that a float build cannot mistake one for the
    other). Keeps the largest such |entry| seen, and checks that the
    bias_before_norm entries are among them."""

    def __init__(self, m, bias_before_norm):
        names = set(bias_before_norm)
        self.must = torch.cat([torch.full((p.numel(),), f"{prefix}.{i}.{pn}" in names)
                               for prefix, net in stacks(m) for i, l in enumerate(net)
                               for pn, p in l.named_parameters(recurse=False)])
        self.name = m["name"]
        self.largest = 0.0

    def check(self, grad, offset):
        top = float(grad.abs().max())
        for k, g in enumerate(grad.abs().tolist()):
            assert g <= NULL_SHARE * top or g >= REAL_SHARE * top, (self.name, k, g, top)
            assert g <= NULL_SHARE * top or not self.must[offset + k], (self.name, k, g, top)
            if g <= NULL_SHARE * top:
                self.largest = max(self.largest, g)


def eval_outputs(m, x, z):
    G, D, n = m["generator"], m["discriminator"], m["packs"]
    real_term, fake_term, gen_term = forward.LOSSES[m["loss"]]
    G.eval()
    D.eval()
    with torch.no_grad():
        gen = G(z)
        real = D(forward.packed(m, x)).reshape(n, 1)
        fake = D(forward.packed(m, gen)).reshape(n, 1)
        # Eval mode is per sample: a sample's result does not depend on the
        # rest of the batch (up to the rounding of another product kernel).
        assert torch.allclose(G(z[:1]), gen[:1], rtol=1e-14, atol=0), m["name"]
        return dict(generate=gen, real_score=real, fake_score=fake,
                    discriminator_loss=[real_term(real[i]) + fake_term(fake[i]) for i in range(n)],
                    generator_loss=[gen_term(fake[i]) for i in range(n)],
                    discriminator_loss_batch=real_term(real) + fake_term(fake),
                    generator_loss_batch=gen_term(fake))


def reference(m, index):
    G, D = m["generator"], m["discriminator"]
    rng = np.random.default_rng([SEED, index])
    init_state(m, rng)
    samples = m["packs"] * m["pack"]
    g_params = sum(p.numel() for p in G.parameters())

    def draw_z():
        return torch.from_numpy(float32(rng.standard_normal((samples, *m["latent"]))))

    def draw_x():
        return torch.from_numpy(float32(0.8 * rng.standard_normal((samples, *m["obs"])) + 0.2))

    z, x = draw_z(), draw_x()
    initial = [copy.deepcopy(net.state_dict()) for _, net in stacks(m)]

    def restore():
        for (_, net), s in zip(stacks(m), initial):
            net.load_state_dict(s)

    r = dict(params=flat_params(m), stats=flat_stats(m), z=z, x=x, g_param_count=g_params,
             min_batch=min_batch(m))
    r["tensors"], r["stat_tensors"], r["bias_before_norm"] = layout(m)
    nulls = Nulls(m, r["bias_before_norm"])
    r.update(eval_outputs(m, x, z))

    before = passes(m)
    loss = d_loss(m, x, z)
    r["d_loss"], r["d_grad"], r["d_stats"] = loss, gradient(loss, D), flat_stats(m)
    assert [a - b for a, b in zip(passes(m), before)] == [1, 2], m["name"]
    nulls.check(r["d_grad"], g_params)
    restore()

    before = passes(m)
    loss = g_loss(m, z)
    r["g_loss"], r["g_grad"], r["g_stats"] = loss, gradient(loss, G), flat_stats(m)
    assert [a - b for a, b in zip(passes(m), before)] == [1, 1], m["name"]
    nulls.check(r["g_grad"], 0)
    restore()

    batches = [(draw_x(), draw_z(), draw_z()) for _ in range(STEPS)]
    r["loop_x"], r["loop_z_d"], r["loop_z_g"] = (list(b) for b in zip(*batches))
    for prefix, eps in (("loop", ADAM_EPS), ("damped", DAMPED_EPS)):
        loop(m, batches, eps, nulls, r, prefix)
        restore()
    # Every parameter moved visibly but the biases before a batch_norm
    # layer, which Adam's eps holds still.
    moved = (r["loop_params"] - r["params"]).abs()
    assert float(moved[~nulls.must].min()) > 1e-6, m["name"]
    assert all(float(d) < 1e-8 for d in moved[nulls.must]), m["name"]
    r["null_gradient"] = nulls.largest
    return r


def loop(m, batches, eps, nulls, r, prefix):
    """The training loop from the current state: for each step's batches a
    d step and D's Adam step, then a g step and G's."""
    G, D = m["generator"], m["discriminator"]
    g_params = sum(p.numel() for p in G.parameters())
    opt_d = torch.optim.Adam(D.parameters(), lr=LR, betas=BETAS, eps=eps)
    opt_g = torch.optim.Adam(G.parameters(), lr=LR, betas=BETAS, eps=eps)
    r[prefix + "_d_loss"], r[prefix + "_g_loss"] = [], []
    for x, zd, zg in batches:
        opt_d.zero_grad()
        loss = d_loss(m, x, zd)
        loss.backward()
        nulls.check(torch.cat([p.grad.flatten() for p in D.parameters()]), g_params)
        opt_d.step()
        r[prefix + "_d_loss"].append(loss.detach())
        opt_g.zero_grad()
        loss = g_loss(m, zg)
        loss.backward()
        nulls.check(torch.cat([p.grad.flatten() for p in G.parameters()]), 0)
        opt_g.step()
        r[prefix + "_g_loss"].append(loss.detach())
    r[prefix + "_params"], r[prefix + "_stats"] = flat_params(m), flat_stats(m)


def fixture_lines(m, r):
    fmt = forward.fmt
    lines = [
        "# ganc batch_norm fixture: written by tests/reference/batch_norm.py, do not edit",
        f"model {m['name']}",
        f"file {m['file']}",
        "scalar double",
        f"loss {m['loss']}",
        f"pack {m['pack']}",
        f"batch {m['packs'] * m['pack']}",
        f"latent_size {forward.numel(m['latent'])}",
        f"obs_size {forward.numel(m['obs'])}",
        f"g_param_count {r['g_param_count']}",
        f"param_count {r['params'].numel()}",
        f"g_stats_count {sum(2 * l.num_features for l in m['generator'] if is_batch_norm(l))}",
        f"stats_count {r['stats'].numel()}",
        f"min_batch {r['min_batch']}",
        f"steps {STEPS}",
        f"lr {fmt(LR)}",
        f"beta1 {fmt(BETAS[0])}",
        f"beta2 {fmt(BETAS[1])}",
        f"adam_eps {fmt(ADAM_EPS)}",
        f"damped_eps {fmt(DAMPED_EPS)}",
        f"null_gradient {fmt(r['null_gradient'])}",
    ]

    def section(key, body):
        lines.append(f"section {key} {len(body)}")
        lines.extend(body)

    for key in ("tensors", "stat_tensors"):
        offset, body = 0, []
        for name, count in r[key]:
            body.append(f"{name} {offset} {count}")
            offset += count
        section(key, body)
    section("bias_before_norm", r["bias_before_norm"])
    for key in ("params", "stats", "z", "x", "generate", "real_score", "fake_score",
                "discriminator_loss", "generator_loss", "discriminator_loss_batch",
                "generator_loss_batch", "d_loss", "d_grad", "d_stats", "g_loss", "g_grad",
                "g_stats", "loop_x", "loop_z_d", "loop_z_g", "loop_d_loss", "loop_g_loss",
                "loop_params", "loop_stats", "damped_d_loss", "damped_g_loss", "damped_params",
                "damped_stats"):
        v = r[key]
        flat = torch.cat([t.flatten() for t in v]) if isinstance(v, list) else v.flatten()
        section(key, [fmt(e) for e in flat])
    return lines


def main():
    torch.set_default_dtype(torch.float64)
    for index, m in enumerate(MODELS.values()):
        if not os.path.exists(m["file"]):
            sys.exit(f"batch_norm.py: no {m['file']}; run from the repository root")
        r = reference(m, index)
        for key in ("params", "stats", "z", "x", "loop_x", "loop_z_d", "loop_z_g"):
            for t in r[key] if isinstance(r[key], list) else [r[key]]:
                assert torch.equal(t, t.float().double()), (m["name"], key, "not exact in float32")
        path = os.path.join(OUT_DIR, f"{m['name']}.txt")
        with open(path, "w") as f:
            f.write("\n".join(fixture_lines(m, r)) + "\n")
        print(path, f"(min_batch {r['min_batch']})")


if __name__ == "__main__":
    main()
