#!/usr/bin/python3
"""Times PyTorch on the shapes of `hungry bench` and prints how much faster hungry is.

    /usr/bin/python3 scripts/torch-compare.py --hungry-json bench.json [--threads 2] [--reps 10]

scripts/torch-compare.sh builds hungry, runs `hungry bench --json` and then this script,
one after the other on the same machine: use that. Rows (names as `hungry bench` prints
them; a row hungry did not report is timed for torch alone):

  sgemm 1024³                         torch.mm of two 1024×1024 float32 matrices
  fftconv fwd+bwd B=8 H=256 L=1024    rfft/irfft causal convolution with skip term, forward
                                      and backward (seed = the output), as the H3 code does
                                      it; torch gets its natural channels-first layout
  train step h3 d=256 L=256 B=16      the H3 language model of hungry's bench (4 layers,
                                      d_inner 1024, head_dim 1, byte vocabulary, tied
                                      embeddings): forward, cross-entropy, backward,
                                      gradient clipping to 1 and AdamW
  generate h3 d=256 (recurrent step)  one token of the same model in its recurrent form
                                      (shift-SSM state, diagonal-SSM state), batch 1

Both sides report the fastest of several repetitions after a warm-up, and the median.
OpenBLAS reads OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE when torch loads it; set, they pin it
to a kernel that may not be the best for this CPU (Haswell on an AVX-512 machine), so the
script starts itself again without them. Needs python3-torch and python3-numpy (Debian:
apt-get install python3-torch python3-numpy libopenblas0-pthread).
"""

import argparse
import json
import math
import os
import statistics
import sys
import time

PINNING = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--hungry-json", help="output of `hungry bench --json` (- for stdin); without it only torch is timed")
    ap.add_argument("--threads", type=int, default=2, help="torch's intra-op threads (default 2)")
    ap.add_argument("--reps", type=int, default=10, help="timed repetitions per row (default 10)")
    ap.add_argument("--min-time", type=float, default=1.0, help="also repeat until this many seconds per row")
    ap.add_argument("--quick", action="store_true", help="the small shapes of `hungry bench --quick`")
    return ap.parse_args()


def restart_unpinned(threads):
    """Runs this script again with OpenBLAS unpinned and its thread counts set: both are
    read when the library loads, before any Python code of ours could change them."""
    env = dict(os.environ)
    want = {k: str(threads) for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}
    if not any(k in env for k in PINNING) and all(env.get(k) == v for k, v in want.items()):
        return
    for k in PINNING:
        env.pop(k, None)
    env.update(want)
    os.execve(sys.executable, [sys.executable] + sys.argv, env)


args = parse_args()
if args.threads < 1 or args.reps < 1:
    sys.exit("torch-compare: --threads and --reps must be at least 1")
restart_unpinned(args.threads)

import torch  # noqa: E402  (after the environment is settled)
import torch.nn.functional as F  # noqa: E402

torch.set_num_threads(args.threads)
torch.manual_seed(1)


def measure(f):
    """Fastest and median seconds of f after one untimed run (as hungry bench does), and
    the median process CPU seconds of a run: on a machine shared with other work the wall
    time measures the neighbours too, the CPU time much less."""
    f()
    times, cpu = [], []
    start = time.perf_counter()
    while len(times) < args.reps or (time.perf_counter() - start < args.min_time and len(times) < 1000):
        t0, c0 = time.perf_counter(), time.process_time()
        f()
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
        if len(times) >= 3 and time.perf_counter() - start > 30:
            break
    return min(times), statistics.median(times), statistics.median(cpu)


# ---------------------------------------------------------------------------
# The H3 language model of `hungry bench`, in PyTorch (float32). Same layout and formulas as
# testdata/gen/h3_golden.py, which checks hungry against it in float64.
# ---------------------------------------------------------------------------
N_SHIFT, N_DIAG, EPS = 64, 32, 1e-5


def fft_causal_conv(u, k):
    L = u.shape[-1]
    n = 2 * L
    return torch.fft.irfft(torch.fft.rfft(u, n=n) * torch.fft.rfft(k, n=n), n=n)[..., :L]


class H3(torch.nn.Module):
    def __init__(self, d):
        super().__init__()
        self.q_proj, self.k_proj, self.v_proj, self.output_linear = (torch.nn.Linear(d, d) for _ in range(4))
        self.ssm_k_D = torch.nn.Parameter(torch.randn(d))
        self.D = torch.nn.Parameter(torch.randn(d))
        b = torch.zeros(d, N_SHIFT)
        b[:, 0] = 1
        self.shift_B = torch.nn.Parameter(b)
        self.shift_C = torch.nn.Parameter(torch.empty(1, d, N_SHIFT).uniform_(-1 / 8, 1 / 8))
        self.C = torch.nn.Parameter(torch.randn(1, d, N_DIAG, 2) * math.sqrt(0.5))
        self.log_dt = torch.nn.Parameter(torch.empty(d).uniform_(math.log(1e-3), math.log(1e-1)))
        bb = torch.zeros(d, N_DIAG, 2)
        bb[..., 0] = 1
        self.B = torch.nn.Parameter(bb)
        self.inv_A_real = torch.nn.Parameter(torch.full((d, N_DIAG), math.log(0.5)))
        self.A_imag = torch.nn.Parameter(math.pi * torch.arange(N_DIAG, dtype=torch.float32).repeat(d, 1))

    def shift_kernel(self, L):
        n = 2 * N_SHIFT
        k = torch.fft.irfft(torch.conj(torch.fft.rfft(self.shift_B, n=n)) * torch.fft.rfft(self.shift_C[0], n=n), n=n)
        k = k[..., :N_SHIFT]
        return k[..., :L] if L <= N_SHIFT else F.pad(k, (0, L - N_SHIFT))

    def discrete(self):
        A = torch.complex(-torch.exp(self.inv_A_real), self.A_imag)
        dt = torch.exp(self.log_dt)[:, None]
        dtA = dt * A
        Bc, Cc = torch.view_as_complex(self.B), torch.view_as_complex(self.C)[0]
        dA = torch.exp(dtA)
        return dA, Bc * (dA - 1) / A, Cc  # zero-order hold

    def diag_kernel(self, L):
        A = torch.complex(-torch.exp(self.inv_A_real), self.A_imag)
        dtA = torch.exp(self.log_dt)[:, None] * A
        Bc, Cc = torch.view_as_complex(self.B), torch.view_as_complex(self.C)[0]
        Cp = Bc * Cc * (torch.exp(dtA) - 1) / A
        vander = torch.exp(dtA[..., None] * torch.arange(L, dtype=torch.float32))
        return 2 * torch.real(torch.einsum("hn,hnl->hl", Cp, vander))

    def forward(self, u):
        L = u.shape[1]
        q = self.q_proj(u).transpose(1, 2)
        k = self.k_proj(u).transpose(1, 2)
        v = self.v_proj(u).transpose(1, 2)
        k = fft_causal_conv(k, self.shift_kernel(L)) + self.ssm_k_D[:, None] * k
        z = k * v  # head_dim 1
        y = fft_causal_conv(z, self.diag_kernel(L)) + self.D[:, None] * z
        return self.output_linear((q * y).transpose(1, 2))

    def step(self, u, st):
        """One token u (1, d); st holds the shift state (d, N_SHIFT) and the diagonal
        state (d, N_DIAG) complex, and the discretised matrices."""
        q, k, v = self.q_proj(u)[0], self.k_proj(u)[0], self.v_proj(u)[0]
        s = torch.roll(st["shift"], 1, dims=1)
        s[:, 0] = 0
        s += self.shift_B * k[:, None]
        st["shift"] = s
        kt = (s * self.shift_C[0]).sum(-1) + self.ssm_k_D * k
        z = kt * v
        x = st["dA"] * st["x"] + st["dB"] * z[:, None]
        st["x"] = x
        y = 2 * torch.real((st["C"] * x).sum(-1)) + self.D * z
        return self.output_linear((q * y)[None])


class Block(torch.nn.Module):
    def __init__(self, d, inner):
        super().__init__()
        self.norm1, self.norm2 = torch.nn.LayerNorm(d, eps=EPS), torch.nn.LayerNorm(d, eps=EPS)
        self.mixer = H3(d)
        self.fc1, self.fc2 = torch.nn.Linear(d, inner), torch.nn.Linear(inner, d)

    def forward(self, h, residual, mix):
        residual = h if residual is None else h + residual
        h = mix(self.norm1(residual))
        residual = h + residual
        h = self.fc2(F.gelu(self.fc1(self.norm2(residual)), approximate="tanh"))
        return h, residual


class LM(torch.nn.Module):
    def __init__(self, vocab, d, layers, inner):
        super().__init__()
        self.emb = torch.nn.Embedding(vocab, d)
        torch.nn.init.normal_(self.emb.weight, std=0.02)
        self.layers = torch.nn.ModuleList(Block(d, inner) for _ in range(layers))
        self.ln_f = torch.nn.LayerNorm(d, eps=EPS)

    def forward(self, ids):
        h, residual = self.emb(ids), None
        for b in self.layers:
            h, residual = b(h, residual, b.mixer)
        return self.ln_f(h + residual) @ self.emb.weight.T

    def new_state(self):
        d = self.emb.weight.shape[1]
        states = []
        for b in self.layers:
            dA, dB, C = b.mixer.discrete()
            states.append({"shift": torch.zeros(d, N_SHIFT), "x": torch.zeros(d, N_DIAG, dtype=torch.complex64),
                           "dA": dA, "dB": dB, "C": C})
        return states

    def step(self, tok, states):
        h, residual = self.emb(tok), None
        for b, st in zip(self.layers, states):
            h, residual = b(h, residual, lambda x, b=b, st=st: b.mixer.step(x, st))
        return self.ln_f(h + residual) @ self.emb.weight.T


# ---------------------------------------------------------------------------
# Rows
# ---------------------------------------------------------------------------
def row_sgemm(n):
    a, b = torch.randn(n, n), torch.randn(n, n)
    c = torch.empty(n, n)
    return f"sgemm {n}³", measure(lambda: torch.mm(a, b, out=c))


def row_fftconv(bsz, h, l):
    u = torch.randn(bsz, h, l, requires_grad=True)
    k = (0.1 * torch.randn(h, l)).requires_grad_()
    d = torch.randn(h, requires_grad=True)

    def f():
        y = fft_causal_conv(u, k) + d[:, None] * u
        y.backward(y.detach())
        u.grad = k.grad = d.grad = None

    return f"fftconv fwd+bwd B={bsz} H={h} L={l}", measure(f)


def lm_rows(d, layers, inner, bsz, seqlen, vocab=256):
    m = LM(vocab, d, layers, inner)
    decay = [p for n, p in m.named_parameters() if p.dim() >= 2 and "mixer.B" not in n and "mixer.C" not in n]
    rest = [p for n, p in m.named_parameters() if not (p.dim() >= 2 and "mixer.B" not in n and "mixer.C" not in n)]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": rest, "weight_decay": 0}], lr=1e-3)
    g = torch.Generator().manual_seed(7)
    tokens = torch.randint(0, vocab, (bsz, seqlen + 1), generator=g)

    def train_step():
        logits = m(tokens[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, vocab), tokens[:, 1:].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(m.parameters(), 1.0)
        opt.step()

    rows = [(f"train step h3 d={d} L={seqlen} B={bsz}", measure(train_step))]
    gen_tokens = 64
    with torch.no_grad():
        states = m.new_state()
        toks = tokens.reshape(-1)[:gen_tokens]

        def gen():
            for i in range(gen_tokens):
                m.step(toks[i : i + 1], states)

        best, med, cpu = measure(gen)
    rows.append((f"generate h3 d={d} (recurrent step)", (best / gen_tokens, med / gen_tokens, cpu / gen_tokens)))
    return rows


def load_hungry(path):
    if not path:
        return {}, None
    with (sys.stdin if path == "-" else open(path)) as f:
        rep = json.load(f)
    rows = {}
    for r in rep.get("results", []):
        if r.get("seconds"):
            rows[r["name"]] = (r["seconds"], r.get("median_seconds") or r["seconds"])
    cpu = rep.get("cpu_model") or rep.get("cpu") or None
    return rows, cpu


def cpu_model():
    """The model name with the family and model numbers (a virtual machine may name only
    the vendor) and whether the CPU has AVX-512."""
    info = {}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if ":" in line:
                    k, v = (p.strip() for p in line.split(":", 1))
                    info.setdefault(k, v)
    except OSError:
        return "unknown CPU"
    vec = "AVX-512" if "avx512f" in info.get("flags", "").split() else "AVX2" if "avx2" in info.get("flags", "").split() else "no AVX2"
    return f"{info.get('model name', 'unknown CPU')} (family {info.get('cpu family', '?')} model {info.get('model', '?')}, {vec})"


def main():
    hungry, hcpu = load_hungry(args.hungry_json)
    if args.quick:
        torch_rows = [row_sgemm(128), row_fftconv(2, 16, 64)] + lm_rows(32, 2, 64, 2, 32)
    else:
        torch_rows = [row_sgemm(1024), row_fftconv(8, 256, 1024)] + lm_rows(256, 4, 1024, 16, 256)
    print(f"CPU: {cpu_model()}; torch {torch.__version__}, {torch.get_num_threads()} threads; "
          f"OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset" + (f"; hungry reported CPU: {hcpu}" if hcpu else ""))
    print()
    print("| workload | torch fastest (median) [CPU time] | hungry fastest (median) | hungry faster by (fastest; medians) |")
    print("|---|---|---|---|")

    def ms(s):
        return f"{s * 1e3:.3f} ms"

    for name, (best, med, cpu) in torch_rows:
        h = hungry.get(name)
        if h is None:
            print(f"| {name} | {ms(best)} ({ms(med)}) [{ms(cpu)}] | not reported | |")
            continue
        hb, hm = h
        print(f"| {name} | {ms(best)} ({ms(med)}) [{ms(cpu)}] | {ms(hb)} ({ms(hm)}) | {best / hb:.2f}x; {med / hm:.2f}x |")


main()
