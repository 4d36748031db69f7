#!/usr/bin/python3
"""Interval-bound reference for ganc's bounds tests (tests/test_bounds.c).

Run from the repository root with Debian's Python, which has torch and numpy:

    /usr/bin/python3 tests/reference/bounds.py [MODEL ...]

For every model in models/*.gan and tests/models/*.gan (or only the models
named) it writes tests/fixtures/bounds/<model>.txt: interval bound
propagation done in float64 through the twins forward.py writes out by
hand, with forward.py's parameters and running statistics (the same
formula), in eval() mode. This script never runs ganc.

Each layer's rule is the exact range of the layer over a box, computed in
float64 (whose rounding is far below float's and below the rounding slack
docs/DESIGN.md section 8 allows double models):
    linear, conv2d, conv_transpose2d, projection
                    lo' = W+ lo + W- hi + b, hi' = W+ hi + W- lo + b,
                    W+ and W- the positive and negative parts of the weight
                    (projection's coefficient weight + embedding[label])
    relu, tanh, sigmoid, leaky_relu with slope >= 0
                    f(lo), f(hi) (monotone)
    leaky_relu with slope < 0
                    the least and the most of f(lo), f(hi) and, when the box
                    holds 0, f(0) = 0
    batch_norm      the affine map x scale + shift of eval() mode,
                    scale = weight / sqrt(running_var + eps)
    upsample, label, reshape, flatten
                    applied to both ends (label's embedding is a constant)

Boxes, for each radius r of RADII: the centre is the first sample's input
of the forward fixtures (times input_scale; the first pack's for a packed
model's scores), the box [c - r s, c + r s] with s = input_scale for the
small radii and s = 1 for the wide ones, each end rounded outward to the
model's scalar type and written out, so that the C side uses exactly
these boxes. Labels: the first of forward.py's labels_fake (for G and the
fake score) and labels_real (the real score).

Fixture format (text; values %.17g of a float64):

    model, file, scalar, latent_size, obs_size, pack, classes, param_count,
    g_param_count, stats_count, input_scale   header lines `KEY VALUE`
    section tensors / stats_tensors   as forward.py's
    box R                             a box follows; R its radius
    label_fake K, label_real K        (conditional models)
    overflow G,F,R                    1 where a layer's bound passes the scalar
                                      type's largest value, on the way to
                                      generate's, the fake score's and the
                                      real score's bounds: there the
                                      emitted bounds may be infinite
    section z_lo N, z_hi N            N = pack * latent_size: the latent box
                                      (generate_bounds takes the first
                                      latent_size of it, fake_score_bounds
                                      all of it)
    section x_lo M, x_hi M            M = pack * obs_size: the real box
    section generate_lo obs_size, generate_hi obs_size, generate_mag obs_size
    section fake_score 3              lower, upper, magnitude
    section real_score 3              lower, upper, magnitude
The magnitude of an output bounds the magnitudes of the terms of its sums
(magnitude_layer): the propagation of max |x| over the box through |W|,
|b| (and batch_norm's |scale|, |bias| and |mean scale|, label's
|embedding|, projection's |weight| + |embedding|); tanh and sigmoid pass
it on times their Lipschitz constants (1 and 1/4), plus 1 for their own
rounding. The emitted bounds' rounding slack is a small multiple of it.
"""

import copy
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import forward  # noqa: E402

OUT_DIR = "tests/fixtures/bounds"
RADII = [0.0, 2.0 ** -6, 2.0 ** -2, 1.0]   # times input_scale
WIDE = [2.0 ** 100, 2.0 ** 126]            # absolute: far past the data


def split(w):
    return w.clamp(min=0), w.clamp(max=0)


def ibp_layer(layer, lo, hi, labels):
    if isinstance(layer, nn.Linear):
        wp, wn = split(layer.weight)
        return (F.linear(lo, wp) + F.linear(hi, wn) + layer.bias,
                F.linear(hi, wp) + F.linear(lo, wn) + layer.bias)
    if isinstance(layer, nn.Conv2d):
        wp, wn = split(layer.weight)
        conv = lambda x, w: F.conv2d(x, w, None, layer.stride, layer.padding)
        b = layer.bias.reshape(1, -1, 1, 1)
        return conv(lo, wp) + conv(hi, wn) + b, conv(hi, wp) + conv(lo, wn) + b
    if isinstance(layer, nn.ConvTranspose2d):
        wp, wn = split(layer.weight)
        conv = lambda x, w: F.conv_transpose2d(x, w, None, layer.stride, layer.padding)
        b = layer.bias.reshape(1, -1, 1, 1)
        return conv(lo, wp) + conv(hi, wn) + b, conv(hi, wp) + conv(lo, wn) + b
    if isinstance(layer, forward.Projection):
        c = layer.weight[0] + layer.embedding[labels]
        cp, cn = split(c)
        return ((lo * cp + hi * cn).sum(1, keepdim=True) + layer.bias,
                (hi * cp + lo * cn).sum(1, keepdim=True) + layer.bias)
    if isinstance(layer, nn.LeakyReLU) and layer.negative_slope < 0:
        fl, fh = layer(lo), layer(hi)
        straddles = (lo < 0) & (hi > 0)
        zero = torch.zeros_like(lo)
        least = torch.minimum(fl, fh)
        most = torch.maximum(fl, fh)
        return (torch.where(straddles, torch.minimum(least, zero), least),
                torch.where(straddles, torch.maximum(most, zero), most))
    if isinstance(layer, (nn.ReLU, nn.LeakyReLU, nn.Tanh, nn.Sigmoid)):
        return layer(lo), layer(hi)
    if isinstance(layer, (nn.BatchNorm1d, nn.BatchNorm2d)):
        shape = [1, -1] + [1] * (lo.dim() - 2)
        scale = (layer.weight / torch.sqrt(layer.running_var + layer.eps)).reshape(shape)
        shift = layer.bias.reshape(shape) - layer.running_mean.reshape(shape) * scale
        a, b = lo * scale, hi * scale
        return torch.minimum(a, b) + shift, torch.maximum(a, b) + shift
    if isinstance(layer, forward.Label):
        return layer(lo, labels), layer(hi, labels)
    if isinstance(layer, (forward.Reshape, nn.Flatten, nn.Upsample)):
        return layer(lo), layer(hi)
    raise TypeError(f"no interval rule for {type(layer).__name__}")


def magnitude_layer(layer, m, labels):
    """A bound on the magnitude of each output's terms, from a bound m on
    the input's magnitudes: the scale the rounding of the layer's sums
    goes with."""
    if isinstance(layer, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d, forward.Projection)):
        lo, hi = ibp_layer(_absolute(layer), torch.zeros_like(m), m, labels)
        return hi
    if isinstance(layer, (nn.BatchNorm1d, nn.BatchNorm2d)):
        shape = [1, -1] + [1] * (m.dim() - 2)
        scale = (layer.weight / torch.sqrt(layer.running_var + layer.eps)).reshape(shape)
        return (m * scale.abs() + layer.bias.abs().reshape(shape)
                + (layer.running_mean.reshape(shape) * scale).abs())
    if isinstance(layer, nn.LeakyReLU):
        return m * max(1.0, abs(layer.negative_slope))
    if isinstance(layer, (nn.Tanh, nn.Sigmoid)):
        # what an error in the input moves the output by (Lipschitz 1 and
        # 1/4), and the rounding of the function itself, relative to |y| <= 1
        return m * (1.0 if isinstance(layer, nn.Tanh) else 0.25) + 1
    if isinstance(layer, forward.Label):
        e = layer.weight.abs()
        return forward.Label.forward(_with_weight(layer, e), m, labels)
    return ibp_layer(layer, m, m, labels)[0]  # relu, upsample, reshape, flatten


def _absolute(layer):
    """A copy of an affine layer with |weights| and |bias| (a projection's
    coefficient becomes |weight| + |embedding|)."""
    a = copy.deepcopy(layer)
    with torch.no_grad():
        for p in a.parameters():
            p.abs_()
    return a


def _with_weight(layer, w):
    a = copy.deepcopy(layer)
    with torch.no_grad():
        a.weight.copy_(w)
    return a


def ibp(net, lo, hi, labels, largest):
    """The box through every layer; the magnitude bound of its outputs'
    terms (magnitude_layer); and whether any layer's bound passes largest,
    the scalar type's largest finite value (where the emitted code's own
    values would overflow)."""
    overflow = False
    mag = torch.maximum(lo.abs(), hi.abs())
    for layer in net:
        mag = magnitude_layer(layer, mag, labels)
        lo, hi = ibp_layer(layer, lo, hi, labels)
        assert bool((lo <= hi).all()), type(layer).__name__
        overflow |= bool((lo.abs() > largest).any() or (hi.abs() > largest).any())
    return lo, hi, mag, overflow


def outward(v, scalar, down):
    """v rounded to the scalar type toward -inf (down) or +inf."""
    if scalar == "double":
        return v
    f = v.astype(np.float32).astype(np.float64)
    step = np.nextafter(f.astype(np.float32), np.float32(-np.inf if down else np.inf)).astype(np.float64)
    return np.where((f > v) if down else (f < v), step, f)


def fmt(v):
    return "%.17g" % float(v)


def write_fixture(name):
    r = forward.reference(name)  # sets the parameters and statistics of the twins
    m = r["m"]
    G, D = m["generator"], m["discriminator"]
    G.eval()
    D.eval()
    latent, obs, pack = r["latent_size"], r["obs_size"], m["pack"]
    classes = m["classes"]
    lf = torch.tensor([int(r["labels_fake"][0])]) if classes else None
    lr = torch.tensor([int(r["labels_real"][0])]) if classes else None
    lines = [
        "# ganc bounds fixture: written by tests/reference/bounds.py, do not edit",
        f"model {name}",
        f"file {m['file']}",
        f"scalar {m['scalar']}",
        f"input_scale {m['input_scale']}",
        f"latent_size {latent}",
        f"obs_size {obs}",
        f"g_param_count {r['g_param_count']}",
        f"param_count {r['param_count']}",
    ]
    if pack != 1:
        lines.append(f"pack {pack}")
    if len(r["stats"]):
        lines.append(f"stats_count {len(r['stats'])}")
    if classes:
        lines.append(f"classes {classes}")

    def section(key, values):
        lines.append(f"section {key} {len(values)}")
        lines.extend(fmt(v) for v in values)

    lines.append(f"section tensors {len(r['layout'])}")
    lines.extend(forward.tensor_lines(r["layout"]))
    if len(r["stats"]):
        lines.append(f"section stats_tensors {len(r['stats_layout'])}")
        lines.extend(forward.tensor_lines(r["stats_layout"]))

    zc, xc = r["z"][:pack * latent], r["x"][:pack * obs]
    boxes = [(rad, rad * m["input_scale"]) for rad in RADII] + [(rad, rad) for rad in WIDE]
    with torch.no_grad():
        for rad, width in boxes:
            lines.append(f"box {fmt(rad)}")
            if classes:
                lines.append(f"label_fake {int(lf[0])}")
                lines.append(f"label_real {int(lr[0])}")
            zl, zh = outward(zc - width, m["scalar"], 1), outward(zc + width, m["scalar"], 0)
            xl, xh = outward(xc - width, m["scalar"], 1), outward(xc + width, m["scalar"], 0)
            t = lambda v, shape: torch.from_numpy(v).reshape(-1, *shape)
            big = float(np.finfo(np.float32 if m["scalar"] == "float" else np.float64).max)
            glo, ghi, gmag, gover = ibp(G, t(zl, m["latent"]), t(zh, m["latent"]), lf, big)
            flo, fhi, _, fover = ibp(D, forward.packed(m, glo), forward.packed(m, ghi), lf, big)
            fmag = ibp(D, forward.packed(m, -gmag), forward.packed(m, gmag), lf, big)[2]
            rlo, rhi, rmag, rover = ibp(D, forward.packed(m, t(xl, m["obs"])), forward.packed(m, t(xh, m["obs"])),
                                        lr, big)
            lines.append(f"overflow {int(gover)},{int(gover or fover)},{int(rover)}")
            section("z_lo", zl)
            section("z_hi", zh)
            section("x_lo", xl)
            section("x_hi", xh)
            section("generate_lo", glo[0].flatten().tolist())
            section("generate_hi", ghi[0].flatten().tolist())
            section("generate_mag", gmag[0].flatten().tolist())
            section("fake_score", [flo.item(), fhi.item(), fmag.item()])
            section("real_score", [rlo.item(), rhi.item(), rmag.item()])

    return forward.write_lines(OUT_DIR, name, lines)


def main():
    torch.set_default_dtype(torch.float64)
    forward.check_formula()
    wanted = forward.models_to_write("bounds.py", sys.argv[1:])
    os.makedirs(OUT_DIR, exist_ok=True)
    for _, name in wanted:
        print(write_fixture(name))


if __name__ == "__main__":
    main()
