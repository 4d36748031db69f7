#!/usr/bin/python3
"""A conditional model's weights written by PyTorch, for ganc to load:
tests/fixtures/torch_projection.*

The twin of tests/models/projection_hinge.gan, built from forward.py's
modules (Stack, Label, Reshape, Projection):

    G: Label(4, 3), Linear(7, 18), ReLU, Reshape(2, 3, 3),
       ConvTranspose2d(2, 1, 4, stride=2, padding=1), Tanh
    D: Conv2d(1, 3, 3, stride=2, padding=1), LeakyReLU(0.2), Flatten,
       Linear(27, 8), ReLU, Projection(8, 4)

with PyTorch's own initialization (the label layer is an nn.Embedding,
standard normal) and the projection's bias drawn away from its 0. Its
state_dict is written as safetensors the way a PyTorch user would: a
ModuleDict holding `generator` and `discriminator`, float32, no ganc
metadata, by torch_weights.py's writer. The names are PyTorch's:
generator.0.weight for the label's embedding, discriminator.5.weight,
.bias and .embedding for the projection.

tests/fixtures/torch_projection.txt holds inputs, their labels and
PyTorch's float64 outputs:
    z 4 4  / x 4 36           inputs, one sample per line
    labels_real 4             x's labels
    labels_fake 4             z's labels
    generate 4 36             G(z, labels_fake)
    real_score 4              D(x, labels_real)
    fake_score 4              D(G(z, labels_fake), labels_fake)

    /usr/bin/python3 tests/reference/torch_projection.py

With --check FILE it instead loads FILE (say, weights ganc wrote for
projection_hinge) into the PyTorch pair with load_state_dict(strict=True)
and reports.
"""

import os
import sys

import torch
from torch import nn

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from forward import Label, Projection, Reshape, Stack  # noqa: E402
from torch_batch_norm import read_safetensors  # noqa: E402
from torch_weights import write_safetensors, write_text  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "fixtures")
CLASSES = 4


def pair():
    g = Stack(Label(CLASSES, 3),
              nn.Linear(7, 18), nn.ReLU(),
              Reshape(2, 3, 3),
              nn.ConvTranspose2d(2, 1, 4, stride=2, padding=1), nn.Tanh())
    d = Stack(nn.Conv2d(1, 3, 3, stride=2, padding=1), nn.LeakyReLU(0.2),
              nn.Flatten(),
              nn.Linear(27, 8), nn.ReLU(),
              Projection(8, CLASSES))
    return nn.ModuleDict({"generator": g, "discriminator": d})


def check(path):
    tensors = read_safetensors(path)
    double = any(t.dtype == torch.float64 for t in tensors.values())
    model = pair().double() if double else pair()
    try:
        model.load_state_dict(tensors, strict=True)
    except RuntimeError as e:
        print("%s: load_state_dict(strict=True) failed: %s" % (path, e))
        return 1
    print("%s: load_state_dict(strict=True) into the %s pair: OK, %d tensors, no missing or unexpected keys"
          % (path, "float64" if double else "float32", len(tensors)))
    return 0


def write_fixtures():
    torch.manual_seed(2026)
    model = pair()
    with torch.no_grad():
        model["discriminator"][5].bias.uniform_(-0.5, 0.5)
    state = model.state_dict()
    write_safetensors(os.path.join(OUT, "torch_projection.safetensors"), state)

    ref = pair().double()
    ref.load_state_dict({k: v.double() for k, v in state.items()})
    z = torch.tensor([[0.5, -1.0, 0.25, 2.0], [1.25, 0.75, -0.5, 0.0], [-2.0, 0.125, 1.0, -1.5],
                      [0.0, 0.0, 0.0, 0.0]], dtype=torch.float64)
    x = (torch.arange(4 * 36, dtype=torch.float64).reshape(4, 1, 6, 6) % 7 - 3) / 4
    labels_real = torch.tensor([3, 0, 2, 1])
    labels_fake = torch.tensor([1, 3, 0, 2])
    with torch.no_grad():
        gz = ref["generator"](z, labels_fake)
        real = ref["discriminator"](x, labels_real).reshape(-1)
        fake = ref["discriminator"](gz, labels_fake).reshape(-1)
    write_text(os.path.join(OUT, "torch_projection.txt"), "torch_projection.py: PyTorch float64 outputs",
               (("z", z), ("x", x.reshape(4, -1)), ("generate", gz.reshape(4, -1))),
               (("labels_real", labels_real.tolist()), ("labels_fake", labels_fake.tolist()),
                ("real_score", real.tolist()), ("fake_score", fake.tolist())))


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--check":
        sys.exit(check(sys.argv[2]))
    if len(sys.argv) != 1:
        sys.exit("usage: torch_projection.py [--check FILE]")
    write_fixtures()
