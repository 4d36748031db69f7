#!/usr/bin/python3
"""Forward-pass reference for ganc's conformance tests (tests/test_conformance.c).

Run from the repository root with Debian's Python, which has torch and numpy:

    /usr/bin/python3 tests/reference/forward.py [MODEL ...]

For every model in models/*.gan and tests/models/*.gan (or only the models
named) it writes tests/fixtures/forward/<model>.txt. Each model's equivalent
nn.Sequential pair is written out by hand below (the comment above it names
the .gan file); this script never runs ganc. Everything is computed in
float64.

Parameters and inputs are not stored: both this script and the C test derive
them from one formula, with values exactly representable in float32 so that
float and double models see the same numbers:

    splitmix64(x):  x += 0x9E3779B97F4A7C15; z = x;
                    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9;
                    z = (z ^ (z >> 27)) * 0x94D049BB133111EB;
                    return z ^ (z >> 31)                      (all mod 2^64)
    u(stream, k) = (splitmix64(stream * 2^32 + k) >> 40) / 2^24   in [0, 1)

    parameter k of the flat array (docs/DESIGN.md §3), stream 1:
        (2u - 1) * 2^-e,  e = floor(log2(fan_in) / 2), fan_in = size of
        dimension 1 of the parameter's tensor times the receptive field
        (for a bias: the fan_in of its layer's weight); PyTorch's rule, so
        in*k*k for conv2d's [out, in, k, k], out*k*k for conv_transpose2d's
        [in, out, k, k]; batch_norm's weight [C], the one weight of rank 1,
        is 1/2 + |2u - 1| instead, in [1/2, 3/2] around its initial 1, and
        its bias counts fan_in 1, in [-1, 1)
    running statistic k of the flat statistics array (docs/DESIGN.md §3;
    models with batch_norm), stream 6:
        running_mean  (2u - 1) / 8       in [-1/8, 1/8)
        running_var   1/2 + |2u - 1|     in [1/2, 3/2]
        (not the initial 0 and 1, so that eval() mode shows which it uses)
    latent z, stream 2: input_scale * (2u - 1), k over the whole batch
        (sample after sample)
    real observation x, stream 3: input_scale * (2u - 1), likewise
    labels of a conditional model (`classes N`), one per sample i of the
    batch: those of the real samples (labels_real) stream 7, those of the
    latents (labels_fake) stream 8:
        floor(u(stream, i) * N), in [0, N): in integers, the top 24 bits
        of splitmix64 times N, shifted right by 24
    The parameter formula above covers label's embedding [N, dim] too,
    with fan_in dim (the size of dimension 1), and projection's three
    tensors on n features: weight [1, n] and embedding [N, n] have fan_in
    n (dimension 1 again, not N for the embedding), and so has its bias
    [1], as any bias has its layer's weight's.

input_scale is a power of two (so still exact): 1 except for the models
that must drive sigmoid and tanh far into their tails.

Every value here is computed in eval() mode: batch_norm normalizes with the
running statistics above, each sample on its own (backward.py has the
train() mode).

A conditional model's twin passes each sample's label to its Label and
Projection layers (Stack below): G(z) and the fake samples' scores take
labels_fake, the real samples' scores labels_real, as the emitted
functions' label arguments do (docs/DESIGN.md §4: generate(z, label),
real_score(x, label), discriminator_loss(x_real, label_real, z,
label_fake)).

Fixture format (text; a value is %.17g of a float64):

    # comment lines
    KEY VALUE                 header: model, file, scalar (float|double),
                              batch, input_scale, latent_size, obs_size,
                              g_param_count, param_count, and loss (only
                              for a loss other than lsgan), pack (only
                              for a packed model), stats_count (only
                              for a model with batch_norm) and classes
                              (only for a conditional model)
    section NAME COUNT        followed by COUNT lines

Sections, in this order:
    tensors          NAME OFFSET FAN_IN RANK D1 .. DRANK  (parameter layout)
    stats_tensors    NAME OFFSET RANK D1 .. DRANK  (statistics layout; only
                     with batch_norm)
    params_check     K VALUE  for K = 0..7 and param_count-1
    stats_check      K VALUE  for K = 0..7 and stats_count-1 (only with
                     batch_norm)
    z_check, x_check K VALUE  for the first 4 and the last input element
    labels_real, labels_fake  batch labels, one a line (only for a
                              conditional model)
    generate                  batch * obs_size values, G(z_i) row-major
                              (G(z_i, labels_fake[i]) for a conditional
                              model, and likewise below)
    real_score                D(x_i), one per sample (per pack of a packed
                              model: D judges packed(x) of forward.py;
                              D(x_i, labels_real[i]) for a conditional one)
    fake_score                D(G(z_i))
    discriminator_loss        real(D(x_i)) + fake(D(G(z_i)))
    generator_loss            gen(D(G(z_i)))
    discriminator_loss_batch  one value: real(D(x)) + fake(D(G(z)))
    generator_loss_batch      one value: gen(D(G(z)))
with each loss's terms as PyTorch computes them (LOSSES below), as means
over the [batch, 1] score tensor (or the one score):
    lsgan     MSELoss against 1, against 0; the generator's against 1
    logistic  BCEWithLogitsLoss against 1, against 0; the generator's
              against 1 (the non-saturating loss)
    hinge     relu(1 - s).mean(), relu(1 + s).mean(); the generator's -s.mean()
"""

import glob
import math
import os
import re
import sys

import numpy as np
import torch
from torch import nn

BATCH = 4
OUT_DIR = "tests/fixtures/forward"
STREAM_STATS = 6
STREAM_LABELS_REAL = 7
STREAM_LABELS_FAKE = 8


def _target(s, value):
    return torch.full_like(s, value)


# loss -> (real-sample term, fake-sample term, generator term) of a score tensor
LOSSES = {
    "lsgan": (lambda s: nn.MSELoss()(s, _target(s, 1)),
              lambda s: nn.MSELoss()(s, _target(s, 0)),
              lambda s: nn.MSELoss()(s, _target(s, 1))),
    "logistic": (lambda s: nn.BCEWithLogitsLoss()(s, _target(s, 1)),
                 lambda s: nn.BCEWithLogitsLoss()(s, _target(s, 0)),
                 lambda s: nn.BCEWithLogitsLoss()(s, _target(s, 1))),
    "hinge": (lambda s: torch.relu(1 - s).mean(),
              lambda s: torch.relu(1 + s).mean(),
              lambda s: (-s).mean()),
}

MASK64 = (1 << 64) - 1


def splitmix64_int(x):
    """The scalar form, to check the vectorized one against."""
    x = (x + 0x9E3779B97F4A7C15) & MASK64
    z = x
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
    return z ^ (z >> 31)


def splitmix64(x):
    """splitmix64 of a uint64 array; numpy's uint64 arithmetic wraps mod 2^64."""
    x = x + np.uint64(0x9E3779B97F4A7C15)
    z = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def signed_unit(stream, start, count):
    """2u(stream, k) - 1 for k = start .. start+count-1, exact float64 values."""
    k = np.arange(start, start + count, dtype=np.uint64)
    h = splitmix64(np.uint64(stream << 32) + k)
    top = (h >> np.uint64(40)).astype(np.int64)  # 24 bits: u = top / 2^24
    return np.ldexp((top - (1 << 23)).astype(np.float64), -23)


def labels(stream, count, classes):
    """floor(u(stream, i) * classes) for i < count, in integers: the top 24
    bits of splitmix64 times classes, shifted right by 24."""
    k = np.arange(count, dtype=np.uint64)
    top = (splitmix64(np.uint64(stream << 32) + k) >> np.uint64(40)).astype(np.int64)
    return (top * classes) >> 24


def check_formula():
    assert splitmix64_int(0) == 0xE220A8397B1DCDAF  # SplitMix64's known first output
    for stream in (1, 2, 3, STREAM_STATS):
        for k in (0, 1, 2, 12345, (1 << 32) - 1):
            x = (stream << 32) + k
            want = ((splitmix64_int(x) >> 40) - (1 << 23)) / 2.0**23
            got = signed_unit(stream, k, 1)[0]
            assert got == want, (stream, k, got, want)
    for stream in (STREAM_LABELS_REAL, STREAM_LABELS_FAKE):
        for classes in (2, 3, 10, 1000):
            got = labels(stream, 64, classes)
            for k in range(64):
                u = (splitmix64_int((stream << 32) + k) >> 40) / 2.0**24
                assert got[k] == math.floor(u * classes) and 0 <= got[k] < classes, (stream, k)


class Reshape(nn.Module):
    """ganc's reshape(SHAPE): per sample, so the batch dimension stays."""

    def __init__(self, *shape):
        super().__init__()
        self.shape = shape

    def forward(self, x):
        return x.reshape(x.shape[0], *self.shape)


class Label(nn.Embedding):
    """ganc's label(dim): each sample's input, then the embedding row of its
    label; on [C, H, W] row value j fills channel C + j at every position.
    Its one parameter is nn.Embedding's weight [classes, dim]."""

    def forward(self, x, labels):
        e = super().forward(labels)
        e = e.reshape(*e.shape, *[1] * (x.dim() - 2)).expand(-1, -1, *x.shape[2:])
        return torch.cat([x, e], dim=1)


class Projection(nn.Module):
    """ganc's projection on n features h: the score w.h + b + E[label].h,
    [batch, n] -> [batch, 1]. Its parameters, in ganc's order, are weight
    [1, n], bias [1] and embedding [classes, n]; they start as ganc starts
    them (Xavier-uniform weight and embedding, zero bias), though the
    fixtures overwrite them with the formula. Labels must be in range:
    ganc's kernel reads no row for one outside [0, classes), PyTorch's
    indexing raises."""

    def __init__(self, n, classes):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(1, n))
        self.bias = nn.Parameter(torch.empty(1))
        self.embedding = nn.Parameter(torch.empty(classes, n))
        nn.init.xavier_uniform_(self.weight)
        nn.init.zeros_(self.bias)
        nn.init.xavier_uniform_(self.embedding)

    def forward(self, h, labels):
        return h @ self.weight.t() + self.bias + (h * self.embedding[labels]).sum(1, keepdim=True)


class Stack(nn.Sequential):
    """nn.Sequential whose Label and Projection layers see the batch's
    labels: a conditional model's network, called as net(x, labels)."""

    def forward(self, x, labels=None):
        for layer in self:
            x = layer(x, labels) if isinstance(layer, (Label, Projection)) else layer(x)
        return x


# name -> (file, scalar, latent shape, observation shape, input_scale, G, D)
MODELS = {}


def model(name, file, scalar, latent, obs, generator, discriminator, input_scale=1, loss="lsgan",
          pack=1, classes=0):
    MODELS[name] = dict(file=file, scalar=scalar, latent=latent, obs=obs,
                        input_scale=input_scale, loss=loss, pack=pack, classes=classes,
                        generator=generator, discriminator=discriminator)


def packed(m, t):
    """Samples [n, d1, ...] as the discriminator sees them: [n / pack, pack * d1, ...],
    pack samples concatenated along the first dimension (PacGAN)."""
    p = m["pack"]
    return t.reshape(t.shape[0] // p, p * t.shape[1], *t.shape[2:])


# models/fashion_mlp.gan
model("fashion_mlp", "models/fashion_mlp.gan", "float", [64], [1, 28, 28],
      nn.Sequential(nn.Linear(64, 256), nn.ReLU(),
                    nn.Linear(256, 512), nn.ReLU(),
                    nn.Linear(512, 784), nn.Tanh(),
                    Reshape(1, 28, 28)),
      nn.Sequential(nn.Flatten(),
                    nn.Linear(784, 512), nn.LeakyReLU(0.2),
                    nn.Linear(512, 256), nn.LeakyReLU(0.2),
                    nn.Linear(256, 1)))

# models/ring8.gan
model("ring8", "models/ring8.gan", "float", [2], [2],
      nn.Sequential(nn.Linear(2, 128), nn.ReLU(),
                    nn.Linear(128, 128), nn.ReLU(),
                    nn.Linear(128, 2)),
      nn.Sequential(nn.Linear(2, 128), nn.LeakyReLU(0.2),
                    nn.Linear(128, 128), nn.LeakyReLU(0.2),
                    nn.Linear(128, 1)))

# models/ring8_pack.gan: ring8's pair, D judging two points at once
model("ring8_pack", "models/ring8_pack.gan", "float", [2], [2],
      nn.Sequential(nn.Linear(2, 128), nn.ReLU(),
                    nn.Linear(128, 128), nn.ReLU(),
                    nn.Linear(128, 2)),
      nn.Sequential(nn.Linear(4, 128), nn.LeakyReLU(0.2),
                    nn.Linear(128, 128), nn.LeakyReLU(0.2),
                    nn.Linear(128, 1)),
      pack=2)

# tests/models/mlp_basic.gan
model("mlp_basic", "tests/models/mlp_basic.gan", "float", [4], [6],
      nn.Sequential(nn.Linear(4, 8), nn.ReLU(),
                    nn.Linear(8, 6), nn.Tanh()),
      nn.Sequential(nn.Flatten(),
                    nn.Linear(6, 5), nn.LeakyReLU(),  # default slope 0.01
                    nn.Linear(5, 1)))

# tests/models/leaky_slopes.gan
model("leaky_slopes", "tests/models/leaky_slopes.gan", "float", [5], [4],
      nn.Sequential(nn.Linear(5, 6), nn.LeakyReLU(0.3),
                    nn.Linear(6, 4), nn.LeakyReLU(0.3)),
      nn.Sequential(nn.Linear(4, 6), nn.LeakyReLU(0.5),
                    nn.Linear(6, 3), nn.LeakyReLU(0.1),
                    nn.Linear(3, 1)))

# tests/models/sigmoid_wide.gan
model("sigmoid_wide", "tests/models/sigmoid_wide.gan", "float", [3], [5],
      nn.Sequential(nn.Linear(3, 5), nn.Sigmoid()),
      nn.Sequential(nn.Sigmoid(),
                    nn.Linear(5, 3), nn.Tanh(),
                    nn.Linear(3, 1), nn.Sigmoid()),
      input_scale=256)

# tests/models/sigmoid_double.gan
model("sigmoid_double", "tests/models/sigmoid_double.gan", "double", [2], [3],
      nn.Sequential(nn.Linear(2, 3), nn.Tanh()),
      nn.Sequential(nn.Sigmoid(), nn.Linear(3, 1), Reshape()),
      input_scale=1024)

# tests/models/scalar_double.gan
model("scalar_double", "tests/models/scalar_double.gan", "double", [3], [4],
      nn.Sequential(nn.Linear(3, 7), nn.ReLU(),
                    nn.Linear(7, 4), nn.Tanh()),
      nn.Sequential(nn.Linear(4, 6), nn.LeakyReLU(0.2),
                    nn.Linear(6, 1), Reshape()))

# tests/models/every_layer_double.gan
model("every_layer_double", "tests/models/every_layer_double.gan", "double", [2, 2], [3, 2],
      nn.Sequential(nn.Flatten(),
                    nn.Linear(4, 5), nn.ReLU(),
                    nn.Linear(5, 5), nn.Sigmoid(),
                    nn.Linear(5, 6), nn.LeakyReLU(),  # default slope 0.01
                    nn.Linear(6, 6), nn.Tanh(),
                    Reshape(3, 2)),
      nn.Sequential(nn.Flatten(),
                    nn.Linear(6, 5), nn.LeakyReLU(0.3),
                    nn.Linear(5, 4), nn.Sigmoid(),
                    nn.Linear(4, 4), nn.ReLU(),
                    nn.Linear(4, 3), nn.Tanh(),
                    nn.Linear(3, 1), Reshape()))

# tests/models/latent_grid.gan
model("latent_grid", "tests/models/latent_grid.gan", "float", [2, 3], [2, 2, 2],
      nn.Sequential(nn.Flatten(),
                    nn.Linear(6, 8), nn.ReLU(),
                    nn.Linear(8, 8), nn.Tanh(),
                    Reshape(2, 2, 2)),
      nn.Sequential(Reshape(8),
                    nn.Linear(8, 4), nn.LeakyReLU(),
                    nn.Linear(4, 1)))

# tests/models/two_models.gan, first model
model("pair_float", "tests/models/two_models.gan", "float", [2], [5],
      nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 5)),
      nn.Sequential(nn.Linear(5, 4), nn.ReLU(), nn.Linear(4, 1), Reshape()))

# tests/models/two_models.gan, second model
model("pair_double", "tests/models/two_models.gan", "double", [3], [2, 2],
      nn.Sequential(nn.Linear(3, 4), nn.Sigmoid(), Reshape(2, 2)),
      nn.Sequential(nn.Flatten(),
                    nn.Linear(4, 3), nn.Tanh(),
                    nn.Linear(3, 1)))

# models/fashion_dcgan.gan
model("fashion_dcgan", "models/fashion_dcgan.gan", "float", [64], [1, 28, 28],
      nn.Sequential(nn.Linear(64, 3136), nn.ReLU(),
                    Reshape(64, 7, 7),
                    nn.ConvTranspose2d(64, 32, 4, stride=2, padding=1), nn.ReLU(),
                    nn.ConvTranspose2d(32, 1, 4, stride=2, padding=1), nn.Tanh()),
      nn.Sequential(nn.Conv2d(1, 32, 4, stride=2, padding=1), nn.LeakyReLU(0.2),
                    nn.Conv2d(32, 64, 4, stride=2, padding=1), nn.LeakyReLU(0.2),
                    nn.Flatten(),
                    nn.Linear(3136, 1)))

# tests/models/conv_strides.gan
model("conv_strides", "tests/models/conv_strides.gan", "float", [6], [2, 8, 14],
      nn.Sequential(nn.Linear(6, 12), nn.ReLU(),
                    Reshape(2, 2, 3),
                    nn.ConvTranspose2d(2, 3, 3, stride=2, padding=1), nn.Tanh(),
                    nn.ConvTranspose2d(3, 2, 2, stride=3), nn.Tanh()),
      nn.Sequential(nn.Conv2d(2, 4, 3, stride=3, padding=1), nn.LeakyReLU(0.2),
                    nn.Conv2d(4, 3, 2, stride=2),
                    nn.Flatten(),
                    nn.Linear(6, 1)))

# tests/models/conv_padding.gan
model("conv_padding", "tests/models/conv_padding.gan", "float", [2, 5, 4], [1, 10, 8],
      nn.Sequential(nn.ConvTranspose2d(2, 4, 5, padding=2), nn.ReLU(),
                    nn.Conv2d(4, 3, 1), nn.LeakyReLU(),  # default slope 0.01
                    nn.ConvTranspose2d(3, 1, 4, stride=2, padding=1), nn.Tanh()),
      nn.Sequential(nn.Conv2d(1, 3, 3, padding=2), nn.ReLU(),
                    nn.Conv2d(3, 2, 4, stride=2), nn.LeakyReLU(0.2),
                    nn.Conv2d(2, 1, 1, padding=1),
                    nn.Flatten(),
                    nn.Linear(42, 1)))

# tests/models/conv_channels.gan
model("conv_channels", "tests/models/conv_channels.gan", "float", [16, 1, 1], [3, 6, 6],
      nn.Sequential(nn.ConvTranspose2d(16, 8, 3), nn.ReLU(),
                    nn.ConvTranspose2d(8, 6, 4, stride=2, padding=1), nn.ReLU(),
                    nn.ConvTranspose2d(6, 3, 3, padding=1), nn.Tanh()),
      nn.Sequential(nn.Conv2d(3, 8, 3, stride=2, padding=1), nn.LeakyReLU(0.2),
                    nn.Conv2d(8, 5, 1, stride=2), nn.LeakyReLU(0.2),
                    nn.Conv2d(5, 4, 2),
                    nn.Flatten(),
                    nn.Linear(4, 1)))

# tests/models/conv_double.gan
model("conv_double", "tests/models/conv_double.gan", "double", [5], [2, 6, 8],
      nn.Sequential(nn.Linear(5, 12), nn.Tanh(),
                    Reshape(2, 2, 3),
                    nn.ConvTranspose2d(2, 3, 3, stride=2), nn.Sigmoid(),
                    nn.Conv2d(3, 2, 2, padding=1), nn.Tanh()),
      nn.Sequential(nn.ConvTranspose2d(2, 2, 2, padding=1), nn.LeakyReLU(0.2),
                    nn.Conv2d(2, 3, 3, stride=2, padding=1), nn.ReLU(),
                    nn.Conv2d(3, 1, 3, stride=3),
                    nn.Flatten()))

# tests/models/conv_double_edges.gan
model("conv_double_edges", "tests/models/conv_double_edges.gan", "double", [1, 3, 4], [1, 5, 8],
      nn.Sequential(nn.ConvTranspose2d(1, 2, 1, stride=3, padding=1), nn.Tanh(),
                    nn.ConvTranspose2d(2, 1, 5, padding=2)),
      nn.Sequential(nn.Conv2d(1, 3, 2, stride=3, padding=2), nn.Sigmoid(),
                    nn.ConvTranspose2d(3, 1, 2, stride=2, padding=1),
                    nn.Flatten(),
                    nn.Linear(24, 1), Reshape()))

# tests/models/loss_logistic.gan and loss_hinge.gan: one pair, two losses
for _loss in ("logistic", "hinge"):
    model(f"loss_{_loss}", f"tests/models/loss_{_loss}.gan", "float", [3], [4],
          nn.Sequential(nn.Linear(3, 6), nn.ReLU(),
                        nn.Linear(6, 4), nn.Tanh()),
          nn.Sequential(nn.Linear(4, 5), nn.LeakyReLU(0.2),
                        nn.Linear(5, 1)),
          loss=_loss)

# tests/models/loss_logistic_conv.gan and loss_hinge_conv.gan
for _loss in ("logistic", "hinge"):
    model(f"loss_{_loss}_conv", f"tests/models/loss_{_loss}_conv.gan", "double", [4], [1, 6, 6],
          nn.Sequential(nn.Linear(4, 18), nn.ReLU(),
                        Reshape(2, 3, 3),
                        nn.ConvTranspose2d(2, 1, 4, stride=2, padding=1), nn.Tanh()),
          nn.Sequential(nn.Conv2d(1, 3, 3, stride=2, padding=1), nn.LeakyReLU(0.2),
                        nn.Flatten(),
                        nn.Linear(27, 1)),
          loss=_loss)

# tests/models/pack_mlp.gan: PacGAN packing, two samples per discriminator input
model("pack_mlp", "tests/models/pack_mlp.gan", "float", [2], [3],
      nn.Sequential(nn.Linear(2, 5), nn.ReLU(),
                    nn.Linear(5, 3)),
      nn.Sequential(nn.Linear(6, 4), nn.LeakyReLU(0.2),
                    nn.Linear(4, 1)),
      pack=2)

# tests/models/pack_conv.gan: packed images join along channels
model("pack_conv", "tests/models/pack_conv.gan", "double", [3], [1, 4, 5],
      nn.Sequential(nn.Linear(3, 20), nn.Tanh(),
                    Reshape(1, 4, 5)),
      nn.Sequential(nn.Conv2d(2, 3, 3, padding=1), nn.LeakyReLU(0.2),
                    nn.Flatten(),
                    nn.Linear(60, 1)),
      loss="hinge", pack=2)

# tests/models/upsample_float.gan
model("upsample_float", "tests/models/upsample_float.gan", "float", [6], [1, 8, 8],
      nn.Sequential(nn.Linear(6, 32), nn.ReLU(),
                    Reshape(2, 4, 4),
                    nn.Upsample(scale_factor=2, mode='nearest'),
                    nn.Conv2d(2, 1, 3, padding=1), nn.Tanh()),
      nn.Sequential(nn.Conv2d(1, 2, 3, stride=2, padding=1), nn.LeakyReLU(0.2),
                    nn.Upsample(scale_factor=3, mode='nearest'),
                    nn.Conv2d(2, 1, 4, stride=4),
                    nn.Flatten(),
                    nn.Linear(9, 1)))

# tests/models/upsample_double.gan
model("upsample_double", "tests/models/upsample_double.gan", "double", [4], [2, 6, 9],
      nn.Sequential(nn.Linear(4, 12), nn.Tanh(),
                    Reshape(2, 2, 3),
                    nn.Upsample(scale_factor=3, mode='nearest'),
                    nn.Conv2d(2, 3, 3, padding=1), nn.Sigmoid(),
                    nn.Conv2d(3, 2, 1)),
      nn.Sequential(nn.Upsample(scale_factor=2, mode='nearest'),
                    nn.Conv2d(2, 3, 3, stride=2), nn.ReLU(),
                    nn.Upsample(scale_factor=1, mode='nearest'),
                    nn.Conv2d(3, 1, 2, stride=2),
                    nn.Flatten(),
                    nn.Linear(8, 1)))

# models/fashion_dcgan_bn.gan
model("fashion_dcgan_bn", "models/fashion_dcgan_bn.gan", "float", [64], [1, 28, 28],
      nn.Sequential(nn.Linear(64, 3136),
                    Reshape(64, 7, 7),
                    nn.BatchNorm2d(64), nn.ReLU(),
                    nn.ConvTranspose2d(64, 32, 4, stride=2, padding=1),
                    nn.BatchNorm2d(32), nn.ReLU(),
                    nn.ConvTranspose2d(32, 1, 4, stride=2, padding=1), nn.Tanh()),
      nn.Sequential(nn.Conv2d(1, 32, 4, stride=2, padding=1), nn.LeakyReLU(0.2),
                    nn.Conv2d(32, 64, 4, stride=2, padding=1),
                    nn.BatchNorm2d(64), nn.LeakyReLU(0.2),
                    nn.Flatten(),
                    nn.Linear(3136, 1)))

# tests/models/bn_double.gan: batch_norm on [C], [C, L] and [C, H, W] in both stacks
model("bn_double", "tests/models/bn_double.gan", "double", [3], [2, 3, 3],
      nn.Sequential(nn.Linear(3, 6), nn.BatchNorm1d(6), nn.ReLU(),
                    nn.Linear(6, 8),
                    Reshape(2, 4),
                    nn.BatchNorm1d(2, momentum=0.3), nn.Tanh(),
                    nn.Flatten(),
                    nn.Linear(8, 18),
                    Reshape(2, 3, 3),
                    nn.ConvTranspose2d(2, 3, 2),
                    nn.BatchNorm2d(3, eps=1e-3), nn.LeakyReLU(0.2),
                    nn.Conv2d(3, 2, 2)),
      nn.Sequential(nn.Conv2d(2, 3, 2, padding=1),
                    nn.BatchNorm2d(3, momentum=0.5, eps=0.01), nn.LeakyReLU(0.2),
                    nn.Flatten(),
                    nn.Linear(48, 6),
                    nn.BatchNorm1d(6, momentum=1), nn.Tanh(),
                    Reshape(3, 2),
                    nn.BatchNorm1d(3, momentum=0), nn.Sigmoid(),
                    nn.Flatten(),
                    nn.Linear(6, 1)))

# models/ring8_cgan.gan: ring8's pair, told the mode to draw and to judge
model("ring8_cgan", "models/ring8_cgan.gan", "float", [2], [2],
      Stack(Label(8, 8),
            nn.Linear(10, 128), nn.ReLU(),
            nn.Linear(128, 128), nn.ReLU(),
            nn.Linear(128, 2)),
      Stack(Label(8, 8),
            nn.Linear(10, 128), nn.LeakyReLU(0.2),
            nn.Linear(128, 128), nn.LeakyReLU(0.2),
            nn.Linear(128, 1)),
      classes=8)

# models/fashion_cgan.gan: fashion_dcgan_bn told the class to draw and to judge
model("fashion_cgan", "models/fashion_cgan.gan", "float", [64], [1, 28, 28],
      Stack(Label(10, 16),
            nn.Linear(80, 3136),
            Reshape(64, 7, 7),
            nn.BatchNorm2d(64), nn.ReLU(),
            nn.ConvTranspose2d(64, 32, 4, stride=2, padding=1),
            nn.BatchNorm2d(32), nn.ReLU(),
            nn.ConvTranspose2d(32, 1, 4, stride=2, padding=1), nn.Tanh()),
      Stack(nn.Conv2d(1, 32, 4, stride=2, padding=1), nn.LeakyReLU(0.2),
            Label(10, 16),
            nn.Conv2d(48, 64, 4, stride=2, padding=1),
            nn.BatchNorm2d(64), nn.LeakyReLU(0.2),
            nn.Flatten(),
            nn.Linear(3136, 1)),
      classes=10)

# tests/models/label_mlp.gan: two label layers in G, one in D
model("label_mlp", "tests/models/label_mlp.gan", "float", [3], [4],
      Stack(Label(5, 2),
            nn.Linear(5, 6), nn.ReLU(),
            Label(5, 3),
            nn.Linear(9, 4), nn.Tanh()),
      Stack(Label(5, 2),
            nn.Linear(6, 5), nn.LeakyReLU(0.2),
            nn.Linear(5, 1)),
      loss="logistic", classes=5)

# tests/models/label_conv_double.gan: labels on features and on [C, H, W], batch_norm
model("label_conv_double", "tests/models/label_conv_double.gan", "double", [4], [1, 6, 6],
      Stack(Label(3, 2),
            nn.Linear(6, 18),
            Reshape(2, 3, 3),
            Label(3, 2),
            nn.ConvTranspose2d(4, 3, 4, stride=2, padding=1),
            nn.BatchNorm2d(3), nn.ReLU(),
            nn.Conv2d(3, 1, 3, padding=1), nn.Tanh()),
      Stack(Label(3, 1),
            nn.Conv2d(2, 3, 3, stride=2, padding=1),
            nn.BatchNorm2d(3), nn.LeakyReLU(0.2),
            nn.Flatten(),
            Label(3, 2),
            nn.Linear(29, 1)),
      loss="hinge", classes=3)

# tests/models/label_grid_double.gan: the label on a latent grid, batch_norm on [C] in D
model("label_grid_double", "tests/models/label_grid_double.gan", "double", [2, 2, 2], [5],
      Stack(Label(4, 1),
            nn.Conv2d(3, 2, 2),
            nn.Flatten(),
            Label(4, 3),
            nn.Linear(5, 5), nn.Sigmoid()),
      Stack(Label(4, 4),
            nn.Linear(9, 4),
            nn.BatchNorm1d(4), nn.Tanh(),
            Label(4, 1),
            nn.Linear(5, 1)),
      classes=4)

# tests/models/projection_double.gan: a projection discriminator after batch_norm
model("projection_double", "tests/models/projection_double.gan", "double", [3], [5],
      Stack(Label(3, 2),
            nn.Linear(5, 6),
            nn.BatchNorm1d(6), nn.ReLU(),
            nn.Linear(6, 5), nn.Tanh()),
      Stack(nn.Linear(5, 6),
            nn.BatchNorm1d(6), nn.LeakyReLU(0.2),
            Projection(6, 3)),
      classes=3)

# tests/models/projection_hinge.gan: a convolutional projection discriminator, hinge loss
model("projection_hinge", "tests/models/projection_hinge.gan", "float", [4], [1, 6, 6],
      Stack(Label(4, 3),
            nn.Linear(7, 18), nn.ReLU(),
            Reshape(2, 3, 3),
            nn.ConvTranspose2d(2, 1, 4, stride=2, padding=1), nn.Tanh()),
      Stack(nn.Conv2d(1, 3, 3, stride=2, padding=1), nn.LeakyReLU(0.2),
            nn.Flatten(),
            nn.Linear(27, 8), nn.ReLU(),
            Projection(8, 4)),
      loss="hinge", classes=4)

# tests/models/projection_scalar_double.gan: projection ends both stacks
model("projection_scalar_double", "tests/models/projection_scalar_double.gan", "double", [2], [1],
      Stack(nn.Linear(2, 4), nn.Tanh(),
            Projection(4, 5)),
      Stack(nn.Linear(1, 4), nn.Sigmoid(),
            Label(5, 2),
            Projection(6, 5)),
      loss="logistic", classes=5)


def fan_in(weight):
    receptive = 1
    for d in weight.shape[2:]:
        receptive *= d
    return weight.shape[1] * receptive


def exponent(n):
    """floor(log2(n) / 2), in integers: floor(floor(log2 n) / 2)."""
    return (n.bit_length() - 1) // 2


def set_parameters(G, D):
    """Fill G's then D's parameters by the formula; return the tensor layout."""
    layout = []
    offset = 0
    for prefix, net in (("generator", G), ("discriminator", D)):
        for index, layer in enumerate(net):
            weight_fan_in = None
            for pname, p in layer.named_parameters(recurse=False):
                n = p.numel()
                u = signed_unit(1, offset, n)
                if pname == "weight" and p.dim() == 1:  # batch_norm's [C]
                    weight_fan_in = 1
                    v = 0.5 + np.abs(u)
                else:
                    if p.dim() >= 2:
                        weight_fan_in = fan_in(p)
                    assert weight_fan_in is not None, "a bias before its weight"
                    v = u * 2.0 ** -exponent(weight_fan_in)
                with torch.no_grad():
                    p.copy_(torch.from_numpy(v).reshape(p.shape))
                layout.append(dict(name=f"{prefix}.{index}.{pname}", offset=offset,
                                   fan_in=weight_fan_in, shape=list(p.shape)))
                offset += n
    return layout, offset


STATISTICS = ("running_mean", "running_var")


def set_statistics(G, D):
    """Fill the running statistics of G's then D's batch_norm layers by the
    formula; return their layout and the flat array."""
    layout = []
    offset = 0
    for prefix, net in (("generator", G), ("discriminator", D)):
        for index, layer in enumerate(net):
            for bname, b in layer.named_buffers(recurse=False):
                if bname not in STATISTICS:
                    continue  # num_batches_tracked
                n = b.numel()
                u = signed_unit(STREAM_STATS, offset, n)
                v = u / 8 if bname == "running_mean" else 0.5 + np.abs(u)
                with torch.no_grad():
                    b.copy_(torch.from_numpy(v).reshape(b.shape))
                layout.append(dict(name=f"{prefix}.{index}.{bname}", offset=offset,
                                   shape=list(b.shape)))
                offset += n
    return layout, statistics(G, D)


def statistics(G, D):
    """The running statistics as they stand, flat, in set_statistics' order."""
    return np.concatenate([b.detach().numpy().copy() for net in (G, D) for layer in net
                           for bname, b in layer.named_buffers(recurse=False)
                           if bname in STATISTICS] or [np.zeros(0)])


def numel(shape):
    n = 1
    for d in shape:
        n *= d
    return n


def fmt(v):
    return "%.17g" % float(v)


def net_calls(m, G, D):
    """The batch's labels (None for an unconditional model) and the three
    ways the functions run the networks on samples first .. first+len-1 of
    the batch: generate(z, first), judge_real(x, first) and judge_fake(g,
    first), the discriminator's on packs; a conditional model's G and the
    fakes' D with labels_fake, the real samples' D with labels_real."""
    if not m["classes"]:
        return dict(labels_real=None, labels_fake=None,
                    generate=lambda z, first: G(z),
                    judge_real=lambda x, first: D(packed(m, x)),
                    judge_fake=lambda g, first: D(packed(m, g)))
    assert m["pack"] == 1, "a pack has no single label"
    real = labels(STREAM_LABELS_REAL, BATCH, m["classes"])
    fake = labels(STREAM_LABELS_FAKE, BATCH, m["classes"])
    of = lambda v, first, t: torch.from_numpy(v[first:first + t.shape[0]])
    return dict(labels_real=real, labels_fake=fake,
                generate=lambda z, first: G(z, of(fake, first, z)),
                judge_real=lambda x, first: D(x, of(real, first, x)),
                judge_fake=lambda g, first: D(g, of(fake, first, g)))


def reference(name):
    m = MODELS[name]
    G, D = m["generator"].double(), m["discriminator"].double()
    layout, param_count = set_parameters(G, D)
    stats_layout, stats = set_statistics(G, D)
    G.eval()
    D.eval()
    g_param_count = sum(p.numel() for p in G.parameters())
    flat = torch.cat([p.detach().flatten() for p in [*G.parameters(), *D.parameters()]])
    assert flat.numel() == param_count

    latent_size, obs_size = numel(m["latent"]), numel(m["obs"])
    scale = m["input_scale"]
    z_flat = scale * signed_unit(2, 0, BATCH * latent_size)
    x_flat = scale * signed_unit(3, 0, BATCH * obs_size)
    z = torch.from_numpy(z_flat).reshape(BATCH, *m["latent"])
    x = torch.from_numpy(x_flat).reshape(BATCH, *m["obs"])
    nets = net_calls(m, G, D)
    gen, judge_real, judge_fake = nets["generate"], nets["judge_real"], nets["judge_fake"]

    with torch.no_grad():
        per_sample = dict(generate=[], real_score=[], fake_score=[],
                          discriminator_loss=[], generator_loss=[])
        real_term, fake_term, gen_term = LOSSES[m["loss"]]
        for i in range(BATCH):
            g = gen(z[i:i + 1], i)
            assert list(g.shape) == [1, *m["obs"]], (name, g.shape)
            per_sample["generate"] += g.flatten().tolist()
        p = m["pack"]
        for i in range(BATCH // p):  # one pack of p samples at a time
            real = judge_real(x[i * p:(i + 1) * p], i * p).reshape(())
            fake = judge_fake(gen(z[i * p:(i + 1) * p], i * p), i * p).reshape(())
            per_sample["real_score"].append(real.item())
            per_sample["fake_score"].append(fake.item())
            per_sample["discriminator_loss"].append((real_term(real) + fake_term(fake)).item())
            per_sample["generator_loss"].append(gen_term(fake).item())

        real_b = judge_real(x, 0).reshape(BATCH // p, 1)
        fake_b = judge_fake(gen(z, 0), 0).reshape(BATCH // p, 1)
        d_loss_batch = (real_term(real_b) + fake_term(fake_b)).item()
        g_loss_batch = gen_term(fake_b).item()

    return dict(m=m, layout=layout, param_count=param_count,
                g_param_count=g_param_count, flat=flat.numpy(),
                stats_layout=stats_layout, stats=stats,
                latent_size=latent_size, obs_size=obs_size,
                z=z_flat, x=x_flat, per_sample=per_sample,
                labels_real=nets["labels_real"], labels_fake=nets["labels_fake"],
                d_loss_batch=d_loss_batch, g_loss_batch=g_loss_batch)


def sanity(name, r):
    """The specification's properties (docs/DESIGN.md §1), on the reference."""
    ps = r["per_sample"]
    loss = r["m"]["loss"]
    softplus = lambda t: max(t, 0) + math.log1p(math.exp(-abs(t)))
    terms = {"lsgan": (lambda s: (s - 1) ** 2, lambda s: s ** 2, lambda s: (s - 1) ** 2),
             "logistic": (lambda s: softplus(-s), softplus, lambda s: softplus(-s)),
             "hinge": (lambda s: max(1 - s, 0), lambda s: max(1 + s, 0), lambda s: -s)}[loss]
    for i in range(len(ps["real_score"])):
        real, fake = ps["real_score"][i], ps["fake_score"][i]
        d, g = ps["discriminator_loss"][i], ps["generator_loss"][i]
        assert d >= 0 and (g >= 0 or loss == "hinge"), (name, i)
        assert math.isclose(d, terms[0](real) + terms[1](fake), rel_tol=1e-15, abs_tol=1e-300), (name, i)
        assert math.isclose(g, terms[2](fake), rel_tol=1e-15, abs_tol=1e-300), (name, i)
    mean = lambda v: sum(v) / len(v)
    assert math.isclose(r["d_loss_batch"], mean(ps["discriminator_loss"]), rel_tol=1e-13), name
    assert math.isclose(r["g_loss_batch"], mean(ps["generator_loss"]), rel_tol=1e-13), name
    for v in [*r["flat"], *r["stats"], *r["z"], *r["x"]]:
        assert float(np.float32(v)) == v, (name, "not exact in float32", v)
    classes = r["m"]["classes"]
    for key in ("labels_real", "labels_fake"):
        assert (r[key] is None) == (classes == 0), (name, key)
        assert r[key] is None or all(0 <= v < classes for v in r[key]), (name, key)
    for key, values in ps.items():
        assert all(math.isfinite(v) for v in values), (name, key)


def tensor_lines(layout):
    """NAME OFFSET [FAN_IN] RANK D1 .. DRANK; statistics have no fan_in."""
    return [" ".join(str(v) for v in [t["name"], t["offset"],
                                      *([t["fan_in"]] if "fan_in" in t else []),
                                      len(t["shape"]), *t["shape"]])
            for t in layout]


def check_lines(values, indices):
    return [f"{k} {fmt(values[k])}" for k in indices]


def label_sections(section, r):
    """A conditional model's labels_real and labels_fake, one a line."""
    for key in ("labels_real", "labels_fake"):
        section(key, [str(int(v)) for v in r[key]])


def write_fixture(name, r):
    m = r["m"]
    pc = r["param_count"]
    lines = [
        "# ganc forward-conformance fixture: written by tests/reference/forward.py, do not edit",
        f"model {name}",
        f"file {m['file']}",
        f"scalar {m['scalar']}",
        f"batch {BATCH}",
        f"input_scale {m['input_scale']}",
        f"latent_size {r['latent_size']}",
        f"obs_size {r['obs_size']}",
        f"g_param_count {r['g_param_count']}",
        f"param_count {pc}",
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

    section("tensors", tensor_lines(r["layout"]))
    if sc:
        section("stats_tensors", tensor_lines(r["stats_layout"]))
    section("params_check", check_lines(r["flat"], [*range(8), pc - 1]))
    if sc:
        section("stats_check", check_lines(r["stats"], [*range(min(8, sc)), sc - 1]))
    for key, v in (("z_check", r["z"]), ("x_check", r["x"])):
        section(key, check_lines(v, [*range(min(4, len(v))), len(v) - 1]))
    if m["classes"]:
        label_sections(section, r)
    for key, values in r["per_sample"].items():
        section(key, [fmt(v) for v in values])
    section("discriminator_loss_batch", [fmt(r["d_loss_batch"])])
    section("generator_loss_batch", [fmt(r["g_loss_batch"])])

    return write_lines(OUT_DIR, name, lines)


def write_lines(out_dir, name, lines):
    """A fixture's lines to OUT_DIR/NAME.txt; its path."""
    path = os.path.join(out_dir, f"{name}.txt")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path


def model_names(path):
    """The model names a .gan file declares (a scan, not a parse)."""
    with open(path) as f:
        text = re.sub(r"#[^\n]*", "", f.read())
    return re.findall(r"\bmodel\s+([A-Za-z_][A-Za-z0-9_]*)\s*\{", text)


def models_to_write(script, names):
    """(path, name) of every model in models/*.gan and tests/models/*.gan, or
    of those named (names on the command line), each checked to have a
    reference here that names its file."""
    files = sorted(glob.glob("models/*.gan")) + sorted(glob.glob("tests/models/*.gan"))
    if not files:
        sys.exit(f"{script}: no .gan files found; run from the repository root")
    wanted = [(path, name) for path in files for name in model_names(path)]
    missing = [f"{name} ({path})" for path, name in wanted if name not in MODELS]
    if missing:
        sys.exit(f"{script}: no reference defined in forward.py for " + ", ".join(missing))
    for path, name in wanted:
        if MODELS[name]["file"] != path:
            sys.exit(f"{script}: {name} is in {path}, forward.py says {MODELS[name]['file']}")
    unknown = set(names) - {name for _, name in wanted}
    if unknown:
        sys.exit(f"{script}: no model " + ", ".join(sorted(unknown)))
    return [(path, name) for path, name in wanted if not names or name in names]


def main():
    torch.set_default_dtype(torch.float64)
    check_formula()
    wanted = models_to_write("forward.py", sys.argv[1:])
    os.makedirs(OUT_DIR, exist_ok=True)
    for path, name in wanted:
        r = reference(name)
        sanity(name, r)
        print(write_fixture(name, r), f"({r['param_count']} parameters)")


if __name__ == "__main__":
    main()
