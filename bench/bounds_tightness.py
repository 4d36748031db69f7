#!/usr/bin/python3
"""How tight ganc's bounds are on trained weights (bench/bounds.sh).

    /usr/bin/python3 bench/bounds_tightness.py MODEL FILE.gan WEIGHTS [RADIUS ...]

For latent boxes [-R, R] in every element, it sets `ganc bounds`'s bounds
(CROWN where the model is a chain of linear layers and activations,
interval bounds elsewhere) against exact interval bound propagation of the
same weights (float64, through forward.py's PyTorch twin of the model) and
against the range 20000 latents of the box reach through the twin: 10000
drawn uniformly, 10000 corners. Prints a Markdown table: mean width of G's
bounds by both methods and the sampled range; the fake score's three
intervals; and the share of sampled outputs within 1% of the bound's width
of a bound (how often samples come close to ganc's bounds).
"""

import json
import os
import struct
import subprocess
import sys
import tempfile

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "reference"))
import bounds  # noqa: E402
import forward  # noqa: E402


def load_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    dtypes = {"F32": np.float32, "F64": np.float64, "I64": np.int64}
    out = {}
    for name, t in header.items():
        if name == "__metadata__":
            continue
        a, b = t["data_offsets"]
        out[name] = np.frombuffer(data[a:b], dtype=dtypes[t["dtype"]]).reshape(t["shape"])
    return out


def ganc_bounds(gan, weights, radius):
    with tempfile.TemporaryDirectory() as d:
        csv = os.path.join(d, "b.csv")
        subprocess.run(["build/ganc", "bounds", gan, "--weights", weights, "--box", f"{-radius},{radius}",
                        "-o", csv], check=True, stdout=subprocess.DEVNULL)
        rows = [line.split(",") for line in open(csv).read().split("\n")[1:] if line]
    x = np.array([[float(r[2]), float(r[3])] for r in rows if r[0] == "x"])
    s = [[float(r[2]), float(r[3])] for r in rows if r[0] == "fake_score"][0]
    return x, s


def main():
    name, gan, weights = sys.argv[1:4]
    radii = [float(r) for r in sys.argv[4:]] or [0.01, 0.1, 0.5, 1.0]
    torch.set_default_dtype(torch.float64)
    m = forward.MODELS[name]
    G, D = m["generator"].double().eval(), m["discriminator"].double().eval()
    state = load_safetensors(weights)
    for prefix, net in (("generator", G), ("discriminator", D)):
        own = {k[len(prefix) + 1:]: torch.from_numpy(v.astype(np.float64)) for k, v in state.items()
               if k.startswith(prefix + ".") and not k.startswith("adam")}
        net.load_state_dict(own, strict=True)
    latent, pack = forward.numel(m["latent"]), m["pack"]
    big = float(np.finfo(np.float32).max)
    rng = np.random.default_rng(1)
    print(f"| {name}, R | G: ganc | G: exact intervals | G: sampled | D(G(z)): ganc | exact intervals | sampled "
          f"| samples within 1% of a bound |")
    print("|---:|---:|---:|---:|---|---|---|---:|")
    for R in radii:
        gx, gs = ganc_bounds(gan, weights, R)
        lo = torch.full((pack, *m["latent"]), -R)
        hi = torch.full((pack, *m["latent"]), R)
        with torch.no_grad():
            glo, ghi, _, _ = bounds.ibp(G, lo, hi, None, big)
            flo, fhi, _, _ = bounds.ibp(D, forward.packed(m, glo), forward.packed(m, ghi), None, big)
            z = np.concatenate([rng.uniform(-R, R, (10000 * pack, latent)),
                                R * rng.choice([-1.0, 1.0], (10000 * pack, latent))])
            g = G(torch.from_numpy(z).reshape(-1, *m["latent"]))
            s = D(forward.packed(m, g)).flatten().numpy()
            g = g.reshape(g.shape[0], -1).numpy()
        ib = (ghi[0] - glo[0]).flatten().numpy()
        width = gx[:, 1] - gx[:, 0]
        sampled = g.max(0) - g.min(0)
        near = ((g - gx[:, 0] <= 0.01 * width) | (gx[:, 1] - g <= 0.01 * width)).mean()
        print(f"| {R:g} | {width.mean():.4g} | {ib.mean():.4g} | {sampled.mean():.4g} "
              f"| [{gs[0]:.4g}, {gs[1]:.4g}] | [{flo.item():.4g}, {fhi.item():.4g}] | [{s.min():.4g}, {s.max():.4g}] "
              f"| {100 * near:.2f}% |")


if __name__ == "__main__":
    main()
