#!/usr/bin/python3
"""Checkpoints for `hungry import`: small random hybrid H3 language models with the official
module names, written by torch.save exactly as users receive them, plus the logits and greedy
tokens a correct importer must reproduce.

Run from anywhere:  /usr/bin/python3 testdata/gen/h3_import.py
It rewrites testdata/import/. The model itself (parameter draw and float64 forward pass) is
h3_golden.py's, imported from beside this file; attention here adds flash-attn's rotary
embedding (GPT-NeoX layout, rotate_half, base 10000) on the first rotary_dim features of
each head's queries and keys.

Files (each well under 1 MB):
  new_f32.pt     new names, float32; every tensor is a view into one of two shared
                 storages (offsets, and transposed views for the Linear weights of
                 layer 0's MLP); lm_head.weight is the embedding tensor itself
  old_f32.pt     the first checkpoints' layout: s4seq.encoder.*, embedding.*, ln_0 and
                 post-norm LayerNorm numbering, wrapped as a training checkpoint
                 {"state_dict": {"model.<name>": ...}, "epoch": 3}
  new_f16.pt     float16 weights under a top-level "model" key
  legacy_f32.pt  new names, float32, torch's pre-1.6 (non-zip) format
  rotary_f32.pt  attention with rotary embeddings; keeps the rotary_emb.inv_freq buffer
                 old flash-attn saved
  expected.safetensors   per case: <case>.input_ids (I64, B×L), <case>.logits (F32,
                 B×L×V), <case>.greedy (I64, the first 7 tokens of input_ids' first row
                 continued greedily), <case>.greedy_logits (F32, the last position's
                 logits each greedy token was chosen from: a recurrent mode must match
                 them step by step)
  seed_*.pt      tiny checkpoints (a few views of one storage; zip, legacy, float16,
                 bfloat16) that seed the Go fuzz targets, which stall on large inputs
  rotary_op.safetensors  the rotary op alone: x (B, heads, L, head_dim), out, W, grad.x
                 (gradient of sum(out·W)), metadata rotary_dim and pos0

The fp16 case's logits are computed from the float16-rounded weights, so they test reading
half precision exactly; fp16 against fp32 is a separate, looser comparison in the Go test.
"""

import io
import json
import math
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import h3_golden as g  # noqa: E402  (sets float64 as torch's default dtype)

# H3_IMPORT_OUT redirects the output (the Go test that regenerates the files uses it).
OUT = os.environ.get("H3_IMPORT_OUT") or os.path.join(HERE, "..", "import")
SEED = 14
ROTARY_BASE = 10000.0


def rotary_cos_sin(L, rot, pos0=0):
    inv_freq = 1.0 / (ROTARY_BASE ** (torch.arange(0, rot, 2, dtype=torch.float64) / rot))
    t = torch.arange(pos0, pos0 + L, dtype=torch.float64)
    freqs = torch.outer(t, inv_freq)  # (L, rot/2)
    return torch.cos(freqs), torch.sin(freqs), inv_freq


def apply_rotary(x, rot, pos0=0):
    """x (B, heads, L, hd): flash-attn's apply_rotary_emb_torch, interleaved=False."""
    L = x.shape[-2]
    cos, sin, _ = rotary_cos_sin(L, rot, pos0)
    cos = torch.cat([cos, cos], -1)
    sin = torch.cat([sin, sin], -1)
    xr, rest = x[..., :rot], x[..., rot:]
    x1, x2 = xr[..., : rot // 2], xr[..., rot // 2 :]
    rotated = torch.cat([-x2, x1], -1)
    return torch.cat([xr * cos + rotated * sin, rest], -1)


def make_attention(rot):
    def attention(x, p, n_heads):
        Bsz, L, d = x.shape
        hd = d // n_heads
        qkv = g.linear(x, p, "Wqkv").reshape(Bsz, L, 3, n_heads, hd)
        q, k, v = (qkv[:, :, i].transpose(1, 2) for i in range(3))
        if rot:
            q, k = apply_rotary(q, rot), apply_rotary(k, rot)
        s = q @ k.transpose(-1, -2) / math.sqrt(hd)
        mask = torch.triu(torch.ones(L, L, dtype=torch.bool), diagonal=1)
        o = torch.softmax(s.masked_fill(mask, float("-inf")), dim=-1) @ v
        return g.linear(o.transpose(1, 2).reshape(Bsz, L, d), p, "out_proj")

    return attention


def logits(ids, P, cfg):
    g.attention = make_attention(cfg.get("rotary_emb_dim", 0))
    return g.lm_forward(torch.tensor(ids), {k: torch.tensor(v) for k, v in P.items()}, cfg, {}).numpy()


def greedy(prompt, P, cfg, n):
    """The greedy continuation and the logits each token was chosen from (n, V)."""
    ids, steps = list(prompt), []
    for _ in range(n):
        steps.append(logits(np.array([ids]), P, cfg)[0, -1])
        ids.append(int(np.argmax(steps[-1])))
    return ids[len(prompt) :], np.array(steps)


def shared_views(P, dtype, transposed=()):
    """The state dict as views into two flat storages (matrices in one, vectors in the
    other), in insertion order; names in transposed are stored as .t() of their
    transpose, so their strides are (1, rows)."""
    mats = [k for k, v in P.items() if v.ndim >= 2]
    vecs = [k for k, v in P.items() if v.ndim < 2]
    out = {}
    for names in (mats, vecs):
        flat = torch.zeros(sum(P[k].size for k in names) + 3, dtype=dtype)
        off = 3  # no tensor starts at offset 0
        for k in names:
            a = torch.tensor(P[k]).to(dtype)
            n = a.numel()
            if k in transposed:
                flat[off : off + n] = a.t().contiguous().reshape(-1)
                out[k] = flat[off : off + n].view(a.shape[1], a.shape[0]).t()
            else:
                flat[off : off + n] = a.reshape(-1)
                out[k] = flat[off : off + n].view(a.shape)
            off += n
    return {k: out[k] for k in P}


def old_names(sd, n_layer):
    """The inverse of the official load_state_dict mapping: pre-norm names back to the
    first checkpoints' post-norm numbering and prefixes."""
    out = {}
    for k, v in sd.items():
        name = k
        if k.startswith("backbone.layers."):
            rest = k[len("backbone.layers.") :]
            l, tail = rest.split(".", 1)
            l = int(l)
            for s in (".weight", ".bias"):
                if tail == "norm1" + s:
                    name = "backbone.ln_0" + s if l == 0 else f"backbone.layers.{l - 1}.norm2{s}"
                elif tail == "norm2" + s:
                    name = f"backbone.layers.{l}.norm1{s}"
        elif k.startswith("backbone.ln_f."):
            name = f"backbone.layers.{n_layer - 1}.norm2." + k.split(".")[-1]
        if name.startswith("backbone.embeddings.word_embeddings."):
            name = "embedding." + name[len("backbone.embeddings.word_embeddings.") :]
        elif name.startswith("backbone.ln_f"):
            name = "backbone.norm" + name[len("backbone.ln_f") :]
        elif name.startswith("backbone."):
            name = "s4seq.encoder." + name[len("backbone.") :]
        out[name] = v
    return out


def save(obj, name, **kw):
    buf = io.BytesIO()
    torch.save(obj, buf, **kw)
    data = buf.getvalue()
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)
    return len(data)


def config(**kw):
    c = g.lm_config(n_layer=3, d_model=32, d_inner=64, vocab_size=264, attn_layer_idx=[1], attn_n_heads=2)
    c.update(kw)
    return c


def main():
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(SEED)
    expected = {}
    B, L, NGEN = 2, 19, 6

    def case(name, P, cfg):
        ids = rng.integers(0, cfg["vocab_size"], (B, L))
        expected[name + ".input_ids"] = ids
        expected[name + ".logits"] = logits(ids, P, cfg)
        tokens, steps = greedy(ids[0, :7], P, cfg, NGEN)
        expected[name + ".greedy"] = np.array(tokens)
        expected[name + ".greedy_logits"] = steps

    cfg = config()
    P = g.lm_params(rng, cfg)
    emb = "backbone.embeddings.word_embeddings.weight"

    sd = shared_views(P, torch.float32, transposed={"backbone.layers.0.mlp.fc1.weight", "backbone.layers.0.mlp.fc2.weight"})
    sd["lm_head.weight"] = sd[emb]
    assert not sd["backbone.layers.0.mlp.fc1.weight"].is_contiguous()
    sizes = {"new_f32.pt": save(sd, "new_f32.pt")}
    case("new_f32", P, cfg)

    old = {"model." + k: v for k, v in old_names(sd, cfg["n_layer"]).items()}
    sizes["old_f32.pt"] = save({"state_dict": old, "epoch": 3}, "old_f32.pt")
    case("old_f32", P, cfg)

    sizes["legacy_f32.pt"] = save(sd, "legacy_f32.pt", _use_new_zipfile_serialization=False)
    case("legacy_f32", P, cfg)

    P16 = {k: v.astype(np.float16).astype(np.float64) for k, v in P.items()}
    sd16 = {k: torch.tensor(v).to(torch.float16) for k, v in P.items()}
    sizes["new_f16.pt"] = save({"model": sd16}, "new_f16.pt")
    case("new_f16", P16, cfg)

    rcfg = config(rotary_emb_dim=8)
    R = g.lm_params(rng, rcfg)
    rsd = {k: torch.tensor(v).to(torch.float32) for k, v in R.items()}
    rsd["backbone.layers.1.mixer.rotary_emb.inv_freq"] = rotary_cos_sin(1, 8)[2].to(torch.float32)
    sizes["rotary_f32.pt"] = save(rsd, "rotary_f32.pt")
    case("rotary_f32", R, rcfg)

    g.write_safetensors(os.path.join(OUT, "expected.safetensors"), expected, {"seed": str(SEED)})

    # The rotary op alone, with its gradient, at a non-zero starting position.
    x = torch.tensor(g.f32(rng.standard_normal((2, 3, 11, 10))), requires_grad=True)
    W = torch.tensor(g.f32(rng.standard_normal((2, 3, 11, 10))))
    out = apply_rotary(x, 6, pos0=5)
    (out * W).sum().backward()
    g.write_safetensors(
        os.path.join(OUT, "rotary_op.safetensors"),
        {"x": x.detach().numpy(), "out": out.detach().numpy(), "W": W.numpy(), "grad.x": x.grad.numpy()},
        {"rotary_dim": "6", "pos0": "5", "base": "10000"},
    )
    base = torch.arange(1, 25, dtype=torch.float32) / 8
    views = {"a": base[2:8].view(2, 3), "b": base[2:8].view(2, 3).t(), "c": base[20:24], "d": base}
    sizes["seed_zip.pt"] = save(views, "seed_zip.pt")
    sizes["seed_legacy.pt"] = save(views, "seed_legacy.pt", _use_new_zipfile_serialization=False)
    sizes["seed_f16.pt"] = save({"model": {k: v.half() for k, v in views.items()}}, "seed_f16.pt")
    sizes["seed_bf16.pt"] = save({"state_dict": {k: v.bfloat16() for k, v in views.items()}}, "seed_bf16.pt")

    for k, v in sorted(sizes.items()):
        assert v < 1 << 20, (k, v)
        print(f"{k}: {v} bytes")


if __name__ == "__main__":
    main()
