#!/usr/bin/python3
"""Weights written by PyTorch, for ganc to load: tests/fixtures/torch_ring8.*

The nn.Sequential pair of models/ring8.gan with PyTorch's own default
initialization (not ganc's), saved as safetensors the way a PyTorch user
would write it: the state_dict of a ModuleDict holding `generator` and
`discriminator`, float32, no ganc metadata. Debian has no safetensors
package, so the format (an 8-byte little-endian header length, a JSON header,
raw little-endian data) is written by hand.

tests/fixtures/torch_ring8.txt holds inputs and PyTorch's float64 outputs:
    z 4 2  / x 4 2            inputs, one sample per line
    generate 4 2              G(z)
    real_score 4 / fake_score 4

    /usr/bin/python3 tests/reference/torch_weights.py
"""

import json
import os
import struct

import torch
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "fixtures")


def pair():
    g = nn.Sequential(nn.Linear(2, 128), nn.ReLU(), nn.Linear(128, 128), nn.ReLU(), nn.Linear(128, 2))
    d = nn.Sequential(nn.Linear(2, 128), nn.LeakyReLU(0.2), nn.Linear(128, 128), nn.LeakyReLU(0.2),
                      nn.Linear(128, 1))
    return nn.ModuleDict({"generator": g, "discriminator": d})


def write_safetensors(path, tensors):
    """Every tensor as F32, except int64 ones (batch norm's num_batches_tracked,
    which torch_batch_norm.py writes) as I64."""
    header, blobs, offset = {}, [], 0
    for name, t in tensors.items():
        kind, np_type = ("I64", "<i8") if t.dtype == torch.int64 else ("F32", "<f4")
        data = t.detach().contiguous().numpy().astype(np_type).tobytes()
        header[name] = {"dtype": kind, "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)


def write_text(path, what, matrices, vectors):
    """A fixture text: a comment saying what made it, each (name, 2-D tensor)
    as `name rows cols` and a line per row, then each (name, list of numbers)
    as `name n` and one line."""
    with open(path, "w") as f:
        f.write("# made by tests/reference/%s\n" % what)
        for name, t in matrices:
            f.write("%s %d %d\n" % (name, t.shape[0], t.shape[1]))
            for row in t.tolist():
                f.write(" ".join("%.17g" % v for v in row) + "\n")
        for name, values in vectors:
            f.write("%s %d\n" % (name, len(values)))
            f.write(" ".join("%.17g" % v for v in values) + "\n")


def main():
    torch.manual_seed(2024)
    model = pair()
    write_safetensors(os.path.join(OUT, "torch_ring8.safetensors"), model.state_dict())

    ref = pair().double()
    ref.load_state_dict({k: v.double() for k, v in model.state_dict().items()})
    z = torch.tensor([[0.5, -1.0], [1.25, 0.75], [-2.0, 0.125], [0.0, 0.0]], dtype=torch.float64)
    x = torch.tensor([[2.0, 0.0], [-1.5, 1.5], [0.25, -0.5], [1.0, 1.0]], dtype=torch.float64)
    with torch.no_grad():
        gz = ref["generator"](z)
        real = ref["discriminator"](x).reshape(-1)
        fake = ref["discriminator"](gz).reshape(-1)
    write_text(os.path.join(OUT, "torch_ring8.txt"), "torch_weights.py: PyTorch float64 outputs",
               (("z", z), ("x", x), ("generate", gz)), (("real_score", real.tolist()), ("fake_score", fake.tolist())))


if __name__ == "__main__":
    main()
