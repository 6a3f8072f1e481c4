#!/usr/bin/python3
"""Golden files for the H3 model: a PyTorch reference of the H3 layer and the H3 / hybrid
language model exactly as the project specifies them, cross-checked against an independent
NumPy implementation that uses the recurrent (state-space) form instead of FFT convolutions.

Run from anywhere:  /usr/bin/python3 testdata/gen/h3_golden.py
It rewrites testdata/golden/<case>/{config.json, model.safetensors, io.safetensors}.
See README.md next to this script for the file layout.

All arithmetic is float64. Parameters and inputs are drawn, rounded to float32 (what is
stored), and the float64 computation starts from those rounded values, so a float32 or
float64 implementation reading the files computes the same function; outputs and gradients
are the float64 results rounded once to float32.
"""

import json
import math
import os
import struct
import sys

import numpy as np
import torch
import torch.nn.functional as F

torch.set_num_threads(2)
torch.set_default_dtype(torch.float64)

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "golden")

N_SHIFT = 64  # d_state of the shift SSM
N_DIAG = 32  # complex modes of the diagonal SSM (d_state / 2)
LN_EPS = 1e-5


# ---------------------------------------------------------------------------
# Minimal safetensors writer following the format description (the Python package is not
# installable here). Same layout rules as the reference: tensors ordered by descending
# dtype rank then name, compact JSON with __metadata__ first, space padding to 8 bytes.
# ---------------------------------------------------------------------------
_DTYPES = {np.dtype("<f4"): ("F32", 17), np.dtype("<i8"): ("I64", 20)}


def write_safetensors(path, tensors, metadata=None):
    entries = []
    for name, arr in tensors.items():
        arr = np.array(arr, order="C")  # ascontiguousarray would turn a 0-d scalar into shape (1,)
        if arr.dtype == np.float64 or arr.dtype == np.float32:
            arr = arr.astype("<f4")
        elif arr.dtype.kind == "i":
            arr = arr.astype("<i8")
        dtype, rank = _DTYPES[arr.dtype]
        entries.append((rank, name, dtype, arr))
    entries.sort(key=lambda e: (-e[0], e[1]))
    header = {}
    if metadata:
        header["__metadata__"] = {k: metadata[k] for k in sorted(metadata)}
    offset = 0
    blobs = []
    for _, name, dtype, arr in entries:
        b = arr.tobytes()
        header[name] = {"dtype": dtype, "shape": list(arr.shape), "data_offsets": [offset, offset + len(b)]}
        offset += len(b)
        blobs.append(b)
    h = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    h += b" " * (-len(h) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)


def read_safetensors(path):
    """Reads back what write_safetensors wrote (used to verify the files on disk)."""
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n])
    meta = header.pop("__metadata__", {})
    out = {}
    for name, info in header.items():
        b, e = info["data_offsets"]
        dt = {"F32": "<f4", "I64": "<i8"}[info["dtype"]]
        out[name] = np.frombuffer(data[8 + n + b : 8 + n + e], dtype=dt).reshape(info["shape"])
    return out, meta


# ---------------------------------------------------------------------------
# Parameters
# ---------------------------------------------------------------------------
def f32(x):
    """Round to float32 and come back to float64: the stored value is the used value."""
    return np.asarray(x, dtype=np.float32).astype(np.float64)


def linear_params(rng, prefix, d_out, d_in, P):
    bound = 1 / math.sqrt(d_in)  # PyTorch's default Linear init keeps activations O(1)
    P[prefix + ".weight"] = f32(rng.uniform(-bound, bound, (d_out, d_in)))
    P[prefix + ".bias"] = f32(rng.uniform(-bound, bound, d_out))


def norm_params(rng, prefix, d, P):
    # Perturbed away from (1, 0) so their gradients are not special-cased by accident.
    P[prefix + ".weight"] = f32(1 + 0.1 * rng.standard_normal(d))
    P[prefix + ".bias"] = f32(0.1 * rng.standard_normal(d))


def h3_params(rng, prefix, d, head_dim, P):
    H = d // head_dim
    for name in ("q_proj", "k_proj", "v_proj", "output_linear"):
        linear_params(rng, prefix + name, d, d, P)
    P[prefix + "ssm_k_D"] = f32(rng.standard_normal(d))
    P[prefix + "D"] = f32(rng.standard_normal(H))
    # Shift SSM: B starts at e1 in training; randomised here so dL/dB is non-trivial.
    e1 = np.zeros((d, N_SHIFT))
    e1[:, 0] = 1
    P[prefix + "ssm_k_kernel.kernel.B"] = f32(e1 + 0.3 * rng.standard_normal((d, N_SHIFT)))
    P[prefix + "ssm_k_kernel.kernel.C"] = f32(rng.uniform(-1 / 8, 1 / 8, (1, d, N_SHIFT)))
    # Diagonal S4D-Lin SSM, perturbed from its init so every gradient is exercised.
    n = np.arange(N_DIAG)
    P[prefix + "kernel.kernel.C"] = f32(rng.standard_normal((1, H, N_DIAG, 2)) * math.sqrt(0.5))
    P[prefix + "kernel.kernel.log_dt"] = f32(rng.uniform(math.log(1e-3), math.log(1e-1), H))
    B = np.zeros((H, N_DIAG, 2))
    B[..., 0] = 1
    P[prefix + "kernel.kernel.B"] = f32(B + 0.1 * rng.standard_normal((H, N_DIAG, 2)))
    P[prefix + "kernel.kernel.inv_A_real"] = f32(math.log(0.5) + 0.1 * rng.standard_normal((H, N_DIAG)))
    P[prefix + "kernel.kernel.A_imag"] = f32(math.pi * n + 0.1 * rng.standard_normal((H, N_DIAG)))


def lm_params(rng, cfg):
    P = {}
    d, V = cfg["d_model"], cfg["vocab_size"]
    P["backbone.embeddings.word_embeddings.weight"] = f32(0.2 * rng.standard_normal((V, d)))
    for i in range(cfg["n_layer"]):
        p = f"backbone.layers.{i}."
        norm_params(rng, p + "norm1", d, P)
        norm_params(rng, p + "norm2", d, P)
        linear_params(rng, p + "mlp.fc1", cfg["d_inner"], d, P)
        linear_params(rng, p + "mlp.fc2", d, cfg["d_inner"], P)
        if i in cfg["attn_layer_idx"]:
            linear_params(rng, p + "mixer.Wqkv", 3 * d, d, P)
            linear_params(rng, p + "mixer.out_proj", d, d, P)
        else:
            h3_params(rng, p + "mixer.", d, cfg["head_dim"], P)
    norm_params(rng, "backbone.ln_f", d, P)
    return P


# ---------------------------------------------------------------------------
# PyTorch reference (FFT convolution form, as the official code computes it)
# ---------------------------------------------------------------------------
def fft_causal_conv(u, k):
    """u (..., C, L), k (C, L): y[t] = sum_{m<=t} k[m] u[t-m], via zero-padded FFT of size 2L."""
    L = u.shape[-1]
    n = 2 * L
    return torch.fft.irfft(torch.fft.rfft(u, n=n) * torch.fft.rfft(k, n=n), n=n)[..., :L]


def shift_kernel(B, C, L):
    """k = irfft(conj(rfft(B, 2N)) * rfft(C, 2N), 2N)[:N], zero beyond N; returns (d, L)."""
    N = B.shape[-1]
    k = torch.fft.irfft(torch.conj(torch.fft.rfft(B, n=2 * N)) * torch.fft.rfft(C[0], n=2 * N), n=2 * N)[..., :N]
    if L <= N:
        return k[..., :L]  # truncating first keeps the FFT convolution free of wrap-around
    return F.pad(k, (0, L - N))


def diag_kernel(p, L, disc):
    """K[h, l] = 2 Re sum_n C'_n dA_n^l for the S4D-Lin kernel; returns (H, L)."""
    A = torch.complex(-torch.exp(p["kernel.kernel.inv_A_real"]), p["kernel.kernel.A_imag"])
    dt = torch.exp(p["kernel.kernel.log_dt"])[:, None]
    dtA = dt * A
    Bc = torch.view_as_complex(p["kernel.kernel.B"])
    Cc = torch.view_as_complex(p["kernel.kernel.C"])[0]
    if disc == "zoh":
        Cp = Bc * Cc * (torch.exp(dtA) - 1) / A
        log_dA = dtA
    elif disc == "bilinear":
        Cp = Bc * Cc * dt / (1 - dtA / 2)
        log_dA = torch.log(1 + dtA / 2) - torch.log(1 - dtA / 2)  # any branch: only integer powers are used
    else:
        raise ValueError(disc)
    ell = torch.arange(L, dtype=torch.float64)
    vander = torch.exp(log_dA[..., None] * ell)  # (H, N, L)
    return 2 * torch.real(torch.einsum("hn,hnl->hl", Cp, vander))


def linear(x, p, name):
    return x @ p[name + ".weight"].T + p[name + ".bias"]


def h3_layer(u, p, head_dim, disc, aux=None):
    """u (B, L, d) -> (B, L, d). p maps names without the 'backbone.layers.i.mixer.' prefix."""
    Bsz, L, d = u.shape
    dh = head_dim
    H = d // dh
    q = linear(u, p, "q_proj").transpose(1, 2)  # (B, d, L)
    k = linear(u, p, "k_proj").transpose(1, 2)
    v = linear(u, p, "v_proj").transpose(1, 2)
    ks = shift_kernel(p["ssm_k_kernel.kernel.B"], p["ssm_k_kernel.kernel.C"], L)
    k = fft_causal_conv(k, ks) + p["ssm_k_D"][:, None] * k
    kd = diag_kernel(p, L, disc)
    if aux is not None:
        aux["aux.shift_kernel"] = ks
        aux["aux.diag_kernel"] = kd
    k = k.reshape(Bsz, H, dh, 1, L)
    v = v.reshape(Bsz, H, 1, dh, L)
    z = k * v  # (B, H, i, j, L): z[h,i,j] = k~[h*dh+i] * v[h*dh+j]
    y = fft_causal_conv(z, kd[:, None, None, :]) + p["D"][:, None, None, None] * z
    o = (q.reshape(Bsz, H, dh, 1, L) * y).sum(2)  # (B, H, j, L): output channel h*dh + j
    o = o.reshape(Bsz, d, L).transpose(1, 2)
    return linear(o, p, "output_linear")


def attention(x, p, n_heads):
    Bsz, L, d = x.shape
    hd = d // n_heads
    qkv = linear(x, p, "Wqkv").reshape(Bsz, L, 3, n_heads, hd)
    q, k, v = (qkv[:, :, i].transpose(1, 2) for i in range(3))  # (B, heads, L, hd)
    s = q @ k.transpose(-1, -2) / math.sqrt(hd)
    mask = torch.triu(torch.ones(L, L, dtype=torch.bool), diagonal=1)
    s = s.masked_fill(mask, float("-inf"))
    o = torch.softmax(s, dim=-1) @ v
    return linear(o.transpose(1, 2).reshape(Bsz, L, d), p, "out_proj")


def layer_norm(x, p, name):
    return F.layer_norm(x, x.shape[-1:], p[name + ".weight"], p[name + ".bias"], eps=LN_EPS)


def sub(p, prefix):
    return {k[len(prefix) :]: v for k, v in p.items() if k.startswith(prefix)}


def lm_forward(ids, p, cfg, aux):
    """Logits (B, L, vocab); aux receives each block's outputs (h, residual) and ln_f's output
    so that a mismatching implementation can find the first layer that differs."""
    h = p["backbone.embeddings.word_embeddings.weight"][ids]
    residual = None
    for i in range(cfg["n_layer"]):
        pre = f"backbone.layers.{i}."
        residual = h if residual is None else h + residual
        h = layer_norm(residual, p, pre + "norm1")
        if i in cfg["attn_layer_idx"]:
            h = attention(h, sub(p, pre + "mixer."), cfg["attn_n_heads"])
        else:
            h = h3_layer(h, sub(p, pre + "mixer."), cfg["head_dim"], cfg["ssm_discretization"])
        residual = h + residual
        h = layer_norm(residual, p, pre + "norm2")
        h = F.gelu(linear(h, p, pre + "mlp.fc1"), approximate="tanh")
        h = linear(h, p, pre + "mlp.fc2")
        aux[f"aux.layers.{i}.h"] = h
        aux[f"aux.layers.{i}.residual"] = residual
    residual = h + residual
    h = layer_norm(residual, p, "backbone.ln_f")
    aux["aux.ln_f"] = h
    return h @ p["backbone.embeddings.word_embeddings.weight"].T


# ---------------------------------------------------------------------------
# Independent NumPy implementation: recurrent state-space form, explicit loops.
# ---------------------------------------------------------------------------
def np_linear(x, p, name):
    return x @ p[name + ".weight"].T + p[name + ".bias"]


def np_h3_layer(u, p, head_dim, disc):
    Bsz, L, d = u.shape
    dh = head_dim
    H = d // dh
    q, k, v = (np_linear(u, p, n) for n in ("q_proj", "k_proj", "v_proj"))
    # Shift SSM: state s in R^N per channel; s <- shift_right(s) + B u_t, y_t = C . s.
    Bs = p["ssm_k_kernel.kernel.B"]
    Cs = p["ssm_k_kernel.kernel.C"][0]
    s = np.zeros((Bsz, d, N_SHIFT))
    kt = np.zeros_like(k)
    for t in range(L):
        s = np.concatenate([np.zeros((Bsz, d, 1)), s[:, :, :-1]], axis=2) + Bs[None] * k[:, t, :, None]
        kt[:, t] = (s * Cs[None]).sum(-1)
    kt = kt + p["ssm_k_D"] * k
    # Diagonal SSM per head: x <- dA x + dB z_t, y_t = 2 Re(C . x) + D z_t.
    A = -np.exp(p["kernel.kernel.inv_A_real"]) + 1j * p["kernel.kernel.A_imag"]
    dt = np.exp(p["kernel.kernel.log_dt"])[:, None]
    Bc = p["kernel.kernel.B"][..., 0] + 1j * p["kernel.kernel.B"][..., 1]
    Cc = p["kernel.kernel.C"][0, ..., 0] + 1j * p["kernel.kernel.C"][0, ..., 1]
    if disc == "zoh":
        dA = np.exp(dt * A)
        dB = Bc * (np.exp(dt * A) - 1) / A
    else:
        dA = (1 + dt * A / 2) / (1 - dt * A / 2)
        dB = Bc * dt / (1 - dt * A / 2)
    z = kt.reshape(Bsz, L, H, dh, 1) * v.reshape(Bsz, L, H, 1, dh)
    x = np.zeros((Bsz, H, dh, dh, N_DIAG), dtype=complex)
    y = np.zeros_like(z)
    for t in range(L):
        x = dA[None, :, None, None, :] * x + dB[None, :, None, None, :] * z[:, t, ..., None]
        y[:, t] = 2 * np.real((Cc[None, :, None, None, :] * x).sum(-1))
    y = y + p["D"][None, None, :, None, None] * z
    o = np.einsum("blhi,blhij->blhj", q.reshape(Bsz, L, H, dh), y).reshape(Bsz, L, d)
    return np_linear(o, p, "output_linear")


def np_impulse_responses(p, disc, L):
    """Kernels as impulse responses of the two recurrences (no FFT, no closed form): the
    shift SSM per channel (d, L) and the diagonal SSM per head (H, L), without D terms."""
    Bs, Cs = p["ssm_k_kernel.kernel.B"], p["ssm_k_kernel.kernel.C"][0]
    d = Bs.shape[0]
    s = np.zeros((d, N_SHIFT))
    ks = np.zeros((d, L))
    for t in range(L):
        s = np.concatenate([np.zeros((d, 1)), s[:, :-1]], axis=1) + (Bs if t == 0 else 0)
        ks[:, t] = (s * Cs).sum(-1)
    A = -np.exp(p["kernel.kernel.inv_A_real"]) + 1j * p["kernel.kernel.A_imag"]
    dt = np.exp(p["kernel.kernel.log_dt"])[:, None]
    Bc = p["kernel.kernel.B"][..., 0] + 1j * p["kernel.kernel.B"][..., 1]
    Cc = p["kernel.kernel.C"][0, ..., 0] + 1j * p["kernel.kernel.C"][0, ..., 1]
    if disc == "zoh":
        dA, dB = np.exp(dt * A), Bc * (np.exp(dt * A) - 1) / A
    else:
        dA, dB = (1 + dt * A / 2) / (1 - dt * A / 2), Bc * dt / (1 - dt * A / 2)
    x = np.zeros_like(dA)
    kd = np.zeros((dA.shape[0], L))
    for t in range(L):
        x = dA * x + (dB if t == 0 else 0)
        kd[:, t] = 2 * np.real((Cc * x).sum(-1))
    return ks, kd


def np_attention(x, p, n_heads):
    Bsz, L, d = x.shape
    hd = d // n_heads
    qkv = np_linear(x, p, "Wqkv").reshape(Bsz, L, 3, n_heads, hd)
    out = np.zeros((Bsz, L, n_heads, hd))
    for b in range(Bsz):
        for h in range(n_heads):
            q, k, v = qkv[b, :, 0, h], qkv[b, :, 1, h], qkv[b, :, 2, h]
            for t in range(L):
                s = k[: t + 1] @ q[t] / math.sqrt(hd)
                w = np.exp(s - s.max())
                out[b, t, h] = (w / w.sum()) @ v[: t + 1]
    return np_linear(out.reshape(Bsz, L, d), p, "out_proj")


def np_layer_norm(x, p, name):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + LN_EPS) * p[name + ".weight"] + p[name + ".bias"]


def np_gelu_tanh(x):
    return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))


def np_lm_forward(ids, p, cfg, aux=None):
    aux = {} if aux is None else aux
    E = p["backbone.embeddings.word_embeddings.weight"]
    h, residual = E[ids], None
    for i in range(cfg["n_layer"]):
        pre = f"backbone.layers.{i}."
        residual = h if residual is None else h + residual
        h = np_layer_norm(residual, p, pre + "norm1")
        if i in cfg["attn_layer_idx"]:
            h = np_attention(h, sub(p, pre + "mixer."), cfg["attn_n_heads"])
        else:
            h = np_h3_layer(h, sub(p, pre + "mixer."), cfg["head_dim"], cfg["ssm_discretization"])
        residual = h + residual
        h = np_layer_norm(residual, p, pre + "norm2")
        h = np_linear(np_gelu_tanh(np_linear(h, p, pre + "mlp.fc1")), p, pre + "mlp.fc2")
        aux[f"aux.layers.{i}.h"] = h
        aux[f"aux.layers.{i}.residual"] = residual
    residual = h + residual
    aux["aux.ln_f"] = np_layer_norm(residual, p, "backbone.ln_f")
    return aux["aux.ln_f"] @ E.T


def np_cross_entropy(logits, targets):
    m = logits.max(-1, keepdims=True)
    lse = (m + np.log(np.exp(logits - m).sum(-1, keepdims=True)))[..., 0]
    picked = np.take_along_axis(logits, targets[..., None], -1)[..., 0]
    return (lse - picked).mean()


# ---------------------------------------------------------------------------
# Checks
# ---------------------------------------------------------------------------
# float64 throughout: the FFT and recurrent forms agree to ~1e-13 relative, so 1e-9 leaves
# ample room while still catching any real formula difference (those are O(1)).
FWD_RTOL = 1e-9
# Central differences with step 1e-5 along a unit-norm random direction have truncation
# error ~1e-10 relative; 1e-6 flags any wrong gradient. The absolute slack covers the
# rounding of the two loss values, ~eps64·|loss|/step, with a 10x margin, for directions
# where the directional derivative happens to nearly cancel.
FD_STEP = 1e-5
FD_RTOL = 1e-6
FD_ATOL_PER_LOSS = 10 * np.finfo(np.float64).eps / FD_STEP


def assert_close(name, got, want, rtol):
    got, want = np.asarray(got), np.asarray(want)
    err = np.abs(got - want).max() / max(np.abs(want).max(), 1e-30)
    if not err <= rtol:
        sys.exit(f"CHECK FAILED: {name}: relative error {err:.3e} > {rtol:.1e}")
    return err


def check_gradients(case, np_loss, params, grads, inputs_grad=None, rng=None):
    """Directional central differences of the independent NumPy loss against the torch
    gradients, one random direction per tensor."""
    worst = 0.0
    items = list(params.items())
    if inputs_grad is not None:
        items.append(inputs_grad)
    for name, value in items:
        direction = rng.standard_normal(value.shape)
        direction /= np.linalg.norm(direction)
        plus = dict(params)
        minus = dict(params)
        if inputs_grad is not None and name == inputs_grad[0]:
            lp, lm = np_loss(None, value + FD_STEP * direction), np_loss(None, value - FD_STEP * direction)
        else:
            plus[name] = value + FD_STEP * direction
            minus[name] = value - FD_STEP * direction
            lp, lm = np_loss(plus, None), np_loss(minus, None)
        fd = (lp - lm) / (2 * FD_STEP)
        an = float((grads[name] * direction).sum())
        tol = FD_RTOL * max(abs(an), abs(fd)) + FD_ATOL_PER_LOSS * max(abs(lp), abs(lm))
        if not abs(fd - an) <= tol:
            sys.exit(f"CHECK FAILED: {case}: gradient of {name}: finite difference {fd:.10e}, autograd {an:.10e}")
        if np.linalg.norm(grads[name]) == 0:
            sys.exit(f"CHECK FAILED: {case}: gradient of {name} is zero; the golden file would not test it")
        worst = max(worst, abs(fd - an) / tol)
    return worst  # as a fraction of the tolerance


def to_torch(P):
    return {k: torch.tensor(v, requires_grad=True) for k, v in P.items()}


def write_case(name, config, params, io, meta):
    d = os.path.join(OUT, name)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(config, f, indent=2, sort_keys=True)
        f.write("\n")
    write_safetensors(os.path.join(d, "model.safetensors"), params)
    write_safetensors(os.path.join(d, "io.safetensors"), io, meta)
    # Read the files back: what is on disk must be exactly what was checked.
    for fname, want in (("model.safetensors", params), ("io.safetensors", io)):
        got, _ = read_safetensors(os.path.join(d, fname))
        assert sorted(got) == sorted(want), fname
        for k in want:
            assert np.array_equal(got[k], np.asarray(want[k]).astype(got[k].dtype)), (fname, k)


def layer_case(name, seed, d, head_dim, disc, Bsz, L):
    rng = np.random.default_rng(seed)
    P = {}
    h3_params(rng, "", d, head_dim, P)
    u = f32(rng.standard_normal((Bsz, L, d)))
    W = f32(rng.standard_normal((Bsz, L, d)))

    tp = to_torch(P)
    tu = torch.tensor(u, requires_grad=True)
    aux = {}
    out = h3_layer(tu, tp, head_dim, disc, aux)
    loss = (out * torch.tensor(W)).sum()
    loss.backward()
    grads = {k: v.grad.numpy() for k, v in tp.items()}
    grads["u"] = tu.grad.numpy()

    ks_ref, kd_ref = np_impulse_responses(P, disc, L)
    assert_close(name + " shift kernel", aux["aux.shift_kernel"].detach().numpy(), ks_ref, FWD_RTOL)
    assert_close(name + " diagonal kernel", aux["aux.diag_kernel"].detach().numpy(), kd_ref, FWD_RTOL)
    ref = np_h3_layer(u, P, head_dim, disc)
    fwd_err = assert_close(name + " output", out.detach().numpy(), ref, FWD_RTOL)

    def np_loss(params, uu):
        return float((np_h3_layer(u if uu is None else uu, P if params is None else params, head_dim, disc) * W).sum())

    grad_err = check_gradients(name, np_loss, P, grads, ("u", u), np.random.default_rng(seed + 1000))

    io = {"u": u, "W": W, "out": out.detach().numpy(), "loss": np.array(loss.item())}
    io.update({k: v.detach().numpy() for k, v in aux.items()})
    io.update({"grad." + k: v for k, v in grads.items()})
    # Only the checkpoint-config keys that describe a single layer.
    config = {
        "model_type": "h3",
        "d_model": d,
        "d_state": N_SHIFT,
        "head_dim": head_dim,
        "ssm_discretization": disc,
    }
    meta = {"case": "h3_layer", "loss": "sum(out * W)", "seed": str(seed)}
    write_case(name, config, P, io, meta)
    print(f"{name}: loss {loss.item():.6f}  forward rel err {fwd_err:.1e}  worst gradient error {grad_err:.2f} of tolerance")


def lm_case(name, seed, cfg, Bsz, L):
    rng = np.random.default_rng(seed)
    P = lm_params(rng, cfg)
    ids = rng.integers(0, cfg["vocab_size"], (Bsz, L))
    targets = rng.integers(0, cfg["vocab_size"], (Bsz, L))

    tp = to_torch(P)
    aux = {}
    logits = lm_forward(torch.tensor(ids), tp, cfg, aux)
    loss = F.cross_entropy(logits.reshape(-1, cfg["vocab_size"]), torch.tensor(targets).reshape(-1))
    loss.backward()
    grads = {k: v.grad.numpy() for k, v in tp.items()}

    ref_aux = {}
    ref = np_lm_forward(ids, P, cfg, ref_aux)
    fwd_err = assert_close(name + " logits", logits.detach().numpy(), ref, FWD_RTOL)
    assert sorted(aux) == sorted(ref_aux)
    for k in aux:
        assert_close(f"{name} {k}", aux[k].detach().numpy(), ref_aux[k], FWD_RTOL)
    assert_close(name + " loss", loss.item(), np_cross_entropy(ref, targets), FWD_RTOL)

    def np_loss(params, _):
        return float(np_cross_entropy(np_lm_forward(ids, params, cfg), targets))

    grad_err = check_gradients(name, np_loss, P, grads, None, np.random.default_rng(seed + 1000))

    io = {"input_ids": ids, "targets": targets, "logits": logits.detach().numpy(), "loss": np.array(loss.item())}
    io.update({k: v.detach().numpy() for k, v in aux.items()})
    io.update({"grad." + k: v for k, v in grads.items()})
    meta = {"case": "lm", "loss": "mean cross-entropy of logits vs targets over all B*L positions", "seed": str(seed)}
    write_case(name, cfg, P, io, meta)
    print(f"{name}: loss {loss.item():.6f}  forward rel err {fwd_err:.1e}  worst gradient error {grad_err:.2f} of tolerance")


def lm_config(**kw):
    cfg = {
        "model_type": "h3",
        "d_model": 32,
        "n_layer": 2,
        "d_inner": 128,
        "vocab_size": 256,
        "attn_layer_idx": [],
        "attn_n_heads": 4,
        "d_state": N_SHIFT,
        "head_dim": 1,
        "ssm_discretization": "bilinear",
        "layer_norm_epsilon": LN_EPS,
        "max_position_embeddings": 0,
        "tie_word_embeddings": True,
        "tokenizer": "byte",
    }
    cfg.update(kw)
    return cfg


def main():
    # Sequence lengths straddle the shift kernel's 64 taps (37 < 64 < 70) and are odd or
    # not powers of two so that FFT padding and kernel truncation are both exercised.
    layer_case("h3_layer_zoh_hd1", 1, d=16, head_dim=1, disc="zoh", Bsz=2, L=37)
    layer_case("h3_layer_zoh_hd8", 2, d=16, head_dim=8, disc="zoh", Bsz=2, L=70)
    layer_case("h3_layer_bilinear_hd1", 3, d=16, head_dim=1, disc="bilinear", Bsz=2, L=70)
    layer_case("h3_layer_bilinear_hd8", 4, d=16, head_dim=8, disc="bilinear", Bsz=2, L=37)
    lm_case("lm_hybrid", 5, lm_config(n_layer=3, attn_layer_idx=[1]), Bsz=2, L=40)
    lm_case("lm_h3_hd8", 6, lm_config(n_layer=2, head_dim=8, ssm_discretization="zoh"), Bsz=2, L=48)


if __name__ == "__main__":
    main()
