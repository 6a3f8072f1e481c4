#!/usr/bin/python3
"""Golden values for package autograd's ops, computed by PyTorch.

Run from anywhere:  /usr/bin/python3 testdata/gen/autograd_ops_golden.py
It rewrites autograd/testdata/ops_golden.json.

Each case holds its inputs, a seed R shaped like the output, the output, and the
gradient of sum(out * R) with respect to every input. Inputs are drawn, rounded to
float32 (what is stored), and everything else is computed in float64 from the rounded
values, so the Go test compares float32 arithmetic against an exact-enough reference.
"""

import json
import os

import torch
import torch.nn.functional as F

torch.set_num_threads(2)
torch.set_default_dtype(torch.float64)
torch.manual_seed(20260)

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "..", "autograd", "testdata", "ops_golden.json")


def draw(*shape, scale=1.0, lo=None):
    if lo is not None:
        t = lo + (scale - lo) * torch.rand(*shape)
    else:
        t = scale * torch.randn(*shape)
    return t.float().double().requires_grad_(True)


def case(name, fn, inputs, extra=None):
    out = fn(*inputs)
    r = torch.randn(out.shape).float().double()
    (out * r).sum().backward()
    c = {
        "name": name,
        "inputs": [{"shape": list(t.shape), "data": t.detach().flatten().tolist()} for t in inputs],
        "seed": r.flatten().tolist(),
        "out_shape": list(out.shape),
        "out": out.detach().flatten().tolist(),
        "grads": [t.grad.flatten().tolist() for t in inputs],
    }
    if extra:
        c.update(extra)
    return c


def causal_softmax(x):
    l = x.shape[-1]
    mask = torch.ones(l, l, dtype=torch.bool).triu(1)
    return torch.softmax(x.masked_fill(mask, float("-inf")), dim=-1)


targets = [3, -100, 0, 6, 6, -100, 1, 2, 5, 4, 0, 6, 3, 2, 1]
ids = [4, 0, 4, 2, 6, 1]

cases = [
    case("add_bias", lambda a, b: a + b, [draw(3, 7, 5), draw(5)]),
    case("sub", lambda a, b: a - b, [draw(3, 7, 5), draw(7, 5)]),
    case("mul_broadcast", lambda a, b: a * b, [draw(3, 7, 5), draw(7, 5)]),
    case("div_broadcast", lambda a, b: a / b, [draw(3, 7, 5), draw(5, scale=2.0, lo=0.5)]),
    case("gelu", lambda x: F.gelu(x, approximate="tanh"), [draw(3, 7, 5, scale=2.0)]),
    case("silu", F.silu, [draw(3, 7, 5, scale=2.0)]),
    case("softmax", lambda x: torch.softmax(x, -1), [draw(3, 7, 5, scale=2.0)]),
    case("log_softmax", lambda x: torch.log_softmax(x, -1), [draw(3, 7, 5, scale=2.0)]),
    case("causal_softmax", causal_softmax, [draw(2, 3, 7, 7, scale=2.0)]),
    case("layer_norm", lambda x, w, b: F.layer_norm(x, (7,), w, b, 1e-5), [draw(3, 5, 7), draw(7), draw(7)]),
    case("mean_axis1", lambda x: x.mean(1), [draw(3, 7, 5)]),
    case("permute_attention", lambda x: x.permute(2, 0, 3, 1, 4), [draw(2, 5, 3, 2, 3)]),
    case("embedding", lambda t: F.embedding(torch.tensor(ids).reshape(2, 3), t), [draw(7, 5)], {"ids": ids}),
    case("cross_entropy", lambda x: F.cross_entropy(x.reshape(-1, 7), torch.tensor(targets), ignore_index=-100).reshape(1),
         [draw(3, 5, 7, scale=1.5)], {"targets": targets}),
]

with open(OUT, "w") as f:
    json.dump({"generator": "testdata/gen/autograd_ops_golden.py", "torch": torch.__version__, "cases": cases}, f)
    f.write("\n")
print("wrote", OUT)
