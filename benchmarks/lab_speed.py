"""Training tokens/s of the lab's GPT against a plain eager PyTorch GPT of the same shape
(nn.MultiheadAttention, LayerNorm, learned positions, no fusion), in the same process.

    python benchmarks/lab_speed.py [--presets tiny,small,base] [--repeat 5] [--steps 6]

Each measurement is full training steps (forward, backward, AdamW) on random tokens; the median of
`--repeat` rounds, interleaving the contenders so load on a shared machine hits them alike.
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

from gristmill.lab.model import GPT, GPTConfig
from gristmill.lab.train import use_all_cores


class RefBlock(nn.Module):
    def __init__(self, d, h):
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.attn = nn.MultiheadAttention(d, h, batch_first=True)
        self.mlp = nn.Sequential(nn.Linear(d, 4 * d), nn.GELU(), nn.Linear(4 * d, d))

    def forward(self, x, mask):
        h = self.ln1(x)
        x = x + self.attn(h, h, h, attn_mask=mask, need_weights=False)[0]
        return x + self.mlp(self.ln2(x))


class RefGPT(nn.Module):
    """The reference: how a GPT is written from the PyTorch docs, eager."""

    def __init__(self, c: GPTConfig):
        super().__init__()
        self.tok = nn.Embedding(c.vocab_size, c.d_model)
        self.pos = nn.Embedding(c.seq_len, c.d_model)
        self.blocks = nn.ModuleList(RefBlock(c.d_model, c.n_head) for _ in range(c.n_layer))
        self.ln = nn.LayerNorm(c.d_model)
        self.head = nn.Linear(c.d_model, c.vocab_size, bias=False)
        self.head.weight = self.tok.weight

    def forward(self, idx, targets):
        T = idx.shape[1]
        mask = torch.triu(torch.full((T, T), float("-inf")), diagonal=1)
        x = self.tok(idx) + self.pos(torch.arange(T))
        for b in self.blocks:
            x = b(x, mask)
        logits = self.head(self.ln(x))
        return logits, F.cross_entropy(logits.view(-1, logits.size(-1)), targets.reshape(-1))


def rate(model, fwd, batch, seq, vocab, steps):
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, vocab, (batch, seq + 1), generator=g)
    for _ in range(2):  # warm-up (and compilation)
        _, loss = fwd(x[:, :-1], x[:, 1:])
        loss.backward()
        opt.step()
        opt.zero_grad()
    t = time.perf_counter()
    for _ in range(steps):
        _, loss = fwd(x[:, :-1], x[:, 1:])
        loss.backward()
        opt.step()
        opt.zero_grad()
    return batch * seq * steps / (time.perf_counter() - t)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--presets", default="tiny,small,base")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--vocab", type=int, default=4096)
    ap.add_argument("--seq", type=int, default=256)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: every core)")
    ap.add_argument("--compile", action="store_true", help="also time torch.compile (compiling takes minutes on a loaded machine)")
    a = ap.parse_args()
    threads = use_all_cores(a.threads)
    print(f"torch {torch.__version__}, {threads} threads, batch {a.batch} x seq {a.seq}, vocab {a.vocab}")
    for name in a.presets.split(","):
        c = GPTConfig.preset(name, vocab_size=a.vocab, seq_len=a.seq)
        torch.manual_seed(0)
        ours, ref = GPT(c), RefGPT(c)
        contenders = {"reference eager (nn.MultiheadAttention)": (ref, ref), "lab eager (SDPA)": (ours, ours)}
        if a.compile:
            comp = torch.compile(GPT(c))
            contenders["lab compiled"] = (comp, comp)
        res = {k: [] for k in contenders}
        for _ in range(a.repeat):
            for k, (m, f) in contenders.items():
                res[k].append(rate(m, f, a.batch, a.seq, a.vocab, a.steps))
        base = statistics.median(res["reference eager (nn.MultiheadAttention)"])
        print(f"\n{name}: {ours.n_params():,} parameters ({ours.n_params(False):,} non-embedding)")
        for k, v in res.items():
            m = statistics.median(v)
            print(f"  {k:42s} {m:10,.0f} tokens/s  {m / base:5.2f}x  (runs: {', '.join(f'{x:,.0f}' for x in v)})")


if __name__ == "__main__":
    main()
