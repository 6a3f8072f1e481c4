"""PyTorch cross-check of hungry's attention baseline on the induction-head task.

Builds the same data (safari's definition, re-implemented: vocabulary 20 with "=>" and
".", 30 random ordinary tokens, "=>" at pos in [0, 28), answer appended; 5,000 train and
500 test sequences, deduplicated) and the same model as synth.ModelConfig("attention"):
2 pre-norm blocks of 1-head causal attention (fused Wqkv with bias) and a GELU MLP
64→128→64, learned position embeddings, tied output head, init std 0.02 (out_proj and
fc2 scaled by 1/sqrt(2·n_layer)), embedding dropout 0.1, AdamW (decay on matrices and embeddings), 10% linear
warmup, cosine to 0.1·lr, gradient norm clipped at 1, loss at every position.

It prints the test accuracy on the final token after each epoch, to tell whether the
attention model's failure to learn the task in a short budget is the recipe's or ours.
Usage: /usr/bin/python3 testdata/gen/synth_attention_ref.py [epochs] [lr] [embed_dropout] [attn_dropout] [d_model] [clip]
Nothing it prints is committed; no Go test reads it.
"""
import math
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.set_num_threads(1)
EPOCHS = int(sys.argv[1]) if len(sys.argv) > 1 else 40
LR = float(sys.argv[2]) if len(sys.argv) > 2 else 2e-3
EMBED_DROP = float(sys.argv[3]) if len(sys.argv) > 3 else 0.1
ATTN_DROP = float(sys.argv[4]) if len(sys.argv) > 4 else 0.0
D = int(sys.argv[5]) if len(sys.argv) > 5 else 64
CLIP = float(sys.argv[6]) if len(sys.argv) > 6 else 1.0  # 0 = off, as in safari's trainer
L_IN, VOCAB, NTRAIN, NTEST, BATCH, D_INNER = 30, 20, 5000, 500, 32, 128

vocab = sorted([str(i) for i in range(VOCAB - 2)] + ["=>", "."])
ordinary = [i for i, t in enumerate(vocab) if t not in ("=>", ".")]
PREFIX = vocab.index("=>")
rng = np.random.default_rng(0)


def example():
    seq = list(rng.choice(ordinary, L_IN)) + [PREFIX]
    pos = int(rng.integers(L_IN - 2))
    seq[pos] = PREFIX
    return seq + [seq[pos + 1]]


def dataset(n, seen):
    out = []
    while len(out) < n:
        e = tuple(example())
        if e not in seen:
            seen.add(e)
            out.append(e)
    return torch.tensor(out)


seen = set()
train, test = dataset(NTRAIN, seen), dataset(NTEST, seen)
torch.manual_seed(0)


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(D), nn.LayerNorm(D)
        self.wqkv, self.out = nn.Linear(D, 3 * D), nn.Linear(D, D)
        self.fc1, self.fc2 = nn.Linear(D, D_INNER), nn.Linear(D_INNER, D)

    def forward(self, x):
        q, k, v = self.wqkv(self.ln1(x)).chunk(3, dim=-1)
        s = q @ k.transpose(-1, -2) / math.sqrt(D)
        mask = torch.ones(s.shape[-1], s.shape[-1], dtype=torch.bool).triu(1)
        p = F.dropout(s.masked_fill(mask, float("-inf")).softmax(-1), ATTN_DROP, self.training)
        x = x + self.out(p @ v)
        return x + self.fc2(F.gelu(self.fc1(self.ln2(x)), approximate="tanh"))


class LM(nn.Module):
    def __init__(self):
        super().__init__()
        self.tok, self.pos = nn.Embedding(VOCAB, D), nn.Embedding(L_IN + 1, D)
        self.blocks = nn.ModuleList([Block(), Block()])
        self.lnf = nn.LayerNorm(D)
        for name, p in self.named_parameters():
            if name.endswith("bias"):
                nn.init.zeros_(p)
            elif p.dim() > 1:
                std = 0.02 / math.sqrt(4) if name.endswith(("out.weight", "fc2.weight")) else 0.02
                nn.init.normal_(p, std=std)

    def forward(self, ids):
        h = self.tok(ids) + self.pos(torch.arange(ids.shape[1]))
        h = F.dropout(h, EMBED_DROP, self.training)
        for b in self.blocks:
            h = b(h)
        return self.lnf(h) @ self.tok.weight.T


m = LM()
decay = [p for n, p in m.named_parameters() if p.dim() > 1]
plain = [p for n, p in m.named_parameters() if p.dim() <= 1]
opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": plain, "weight_decay": 0.0}], lr=LR)
steps_per_epoch = math.ceil(NTRAIN / BATCH)
total, warm = EPOCHS * steps_per_epoch, EPOCHS * steps_per_epoch // 10


def lr_at(step):
    if step < warm:
        return LR * (step + 1) / warm
    t = (step - warm) / max(1, total - warm)
    return LR * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * t)))


step = 0
for epoch in range(EPOCHS):
    m.train()
    perm = torch.randperm(NTRAIN)
    for i in range(0, NTRAIN, BATCH):
        b = train[perm[i:i + BATCH]]
        for g in opt.param_groups:
            g["lr"] = lr_at(step)
        loss = F.cross_entropy(m(b[:, :-1]).reshape(-1, VOCAB), b[:, 1:].reshape(-1))
        opt.zero_grad()
        loss.backward()
        if CLIP > 0:
            torch.nn.utils.clip_grad_norm_(m.parameters(), CLIP)
        opt.step()
        step += 1
    m.eval()
    with torch.no_grad():
        acc = (m(test[:, :-1])[:, -1].argmax(-1) == test[:, -1]).float().mean().item()
    print(f"epoch {epoch + 1}: loss {loss.item():.4f}, test accuracy {acc:.4f}", flush=True)
