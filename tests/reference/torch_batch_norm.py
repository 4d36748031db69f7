#!/usr/bin/python3
"""Batch-norm weights written by PyTorch, for ganc to load: tests/fixtures/torch_bn.*

The nn.Sequential pair of the model bn of tests/test.h (BN_MODEL_SOURCE):

    G: Linear(4, 8), BatchNorm1d(8), ReLU, Linear(8, 6), Tanh
    D: Linear(6, 5), BatchNorm1d(5, momentum=0.2), LeakyReLU(0.2), Linear(5, 1)

with PyTorch's own initialization, the batch-norm affine parameters drawn
away from their (1, 0) start, and a few train-mode forward passes (3 through
G, 5 through D) so that the running statistics and num_batches_tracked are
not their initial values. Its state_dict is written as safetensors the way a
PyTorch user would: a ModuleDict holding `generator` and `discriminator`,
float32 except num_batches_tracked (I64, shape []), no ganc metadata, by
torch_weights.py's hand-written safetensors writer.

tests/fixtures/torch_bn.txt holds inputs and PyTorch's float64 eval-mode
outputs, and what the file's statistics must load as:
    z 4 4  / x 4 6            inputs, one sample per line
    generate 4 6              G(z)
    real_score 4 / fake_score 4
    stats 26                  the running statistics in ganc's flat order
    passes 2                  num_batches_tracked of G's layer, then D's

    /usr/bin/python3 tests/reference/torch_batch_norm.py

With --check FILE it instead loads FILE (say, weights ganc wrote for bn)
into the PyTorch pair with load_state_dict(strict=True), checks that every
tensor has the dtype of the module's own state_dict, and reports.
"""

import json
import os
import struct
import sys

import torch
from torch import nn

from torch_weights import write_safetensors, write_text

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "fixtures")

DTYPES = {"F32": torch.float32, "F64": torch.float64, "I64": torch.int64}


def pair():
    g = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 6), nn.Tanh())
    d = nn.Sequential(nn.Linear(6, 5), nn.BatchNorm1d(5, momentum=0.2), nn.LeakyReLU(0.2), nn.Linear(5, 1))
    return nn.ModuleDict({"generator": g, "discriminator": d})


def read_safetensors(path):
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + n])
    data = blob[8 + n:]
    tensors = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        begin, end = e["data_offsets"]
        values = torch.frombuffer(bytearray(data[begin:end]), dtype=DTYPES[e["dtype"]])
        tensors[name] = values.reshape(e["shape"])
    return tensors


def check(path):
    tensors = read_safetensors(path)
    double = any(t.dtype == torch.float64 for t in tensors.values())
    model = pair().double() if double else pair()
    own = model.state_dict()
    try:
        model.load_state_dict(tensors, strict=True)
    except RuntimeError as e:
        print("%s: load_state_dict(strict=True) failed: %s" % (path, e))
        return 1
    wrong = [k for k, t in tensors.items() if t.dtype != own[k].dtype]
    if wrong:
        print("%s: dtypes differ from the model's state_dict: %s" % (path, ", ".join(wrong)))
        return 1
    counts = ", ".join("%s = %d" % (k, t.item()) for k, t in tensors.items() if k.endswith("num_batches_tracked"))
    print("%s: load_state_dict(strict=True) into the %s pair: OK, %d tensors, no missing or unexpected keys,"
          " every dtype as the model's own; %s" % (path, "float64" if double else "float32", len(tensors), counts))
    return 0


def write_fixtures():
    torch.manual_seed(2025)
    model = pair()
    with torch.no_grad():
        for bn in (model["generator"][1], model["discriminator"][1]):
            bn.weight.uniform_(0.5, 1.5)
            bn.bias.uniform_(-0.5, 0.5)
        model.train()
        for _ in range(3):
            model["generator"](torch.randn(16, 4))
        for i in range(5):
            model["discriminator"](torch.randn(16, 6) * 0.7 + 0.1 * i)
    state = model.state_dict()
    write_safetensors(os.path.join(OUT, "torch_bn.safetensors"), state)

    ref = pair().double()
    ref.load_state_dict({k: v.double() if v.is_floating_point() else v for k, v in state.items()})
    ref.eval()
    z = torch.tensor([[0.5, -1.0, 0.25, 2.0], [1.25, 0.75, -0.5, 0.0], [-2.0, 0.125, 1.0, -1.5],
                      [0.0, 0.0, 0.0, 0.0]], dtype=torch.float64)
    x = torch.tensor([[0.5, -0.25, 0.75, 0.0, -1.0, 0.3], [-0.6, 0.9, 0.1, 0.2, 0.4, -0.8],
                      [1.0, 1.0, -1.0, -1.0, 0.5, 0.5], [0.0, 0.0, 0.0, 0.0, 0.0, 0.0]], dtype=torch.float64)
    with torch.no_grad():
        gz = ref["generator"](z)
        real = ref["discriminator"](x).reshape(-1)
        fake = ref["discriminator"](gz).reshape(-1)
    g_bn, d_bn = model["generator"][1], model["discriminator"][1]
    stats = torch.cat([g_bn.running_mean, g_bn.running_var, d_bn.running_mean, d_bn.running_var]).double()
    passes = [g_bn.num_batches_tracked.item(), d_bn.num_batches_tracked.item()]
    write_text(os.path.join(OUT, "torch_bn.txt"), "torch_batch_norm.py: PyTorch float64 eval-mode outputs",
               (("z", z), ("x", x), ("generate", gz)),
               (("real_score", real.tolist()), ("fake_score", fake.tolist()), ("stats", stats.tolist()),
                ("passes", passes)))

if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--check":
        sys.exit(check(sys.argv[2]))
    if len(sys.argv) != 1:
        sys.exit("usage: torch_batch_norm.py [--check FILE]")
    write_fixtures()
