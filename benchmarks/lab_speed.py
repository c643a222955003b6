"""Training and generation tokens/s of the lab's GPT against a plain eager PyTorch GPT of the same
shape (nn.MultiheadAttention, LayerNorm, learned positions, fp32, no fusion), in the same process.

    python benchmarks/lab_speed.py [--presets tiny,small,base] [--rounds 5] [--steps 2] [--threads N]
                                   [--compile] [--batch 16] [--seq 256] [--gen]

Training: full steps (forward, backward, AdamW) on random tokens. Contenders:
  reference  eager fp32, nn.MultiheadAttention (how a GPT is written from the PyTorch docs)
  lab fp32   the lab's GPT (SDPA, rotary, RMSNorm), eager fp32
  lab bf16   the same under `precision: bf16` (autocast; fp32 master weights and loss), what
             `precision: auto` trains with on a CPU with native bf16
  lab bf16 + compile   `compile: true` as well (--compile; compiling takes minutes on a loaded machine)
Every step is timed on its own and the contenders take turns step by step (round robin), so load on a
shared machine hits them alike; figures are medians over all timed steps. Two clocks: wall tokens/s
(what a user waits for) and tokens per CPU-second of the process (steadier under load; with several
threads it also counts their spin-waiting).

--quality: bf16 against fp32 at equal tokens on real text (GRISTMILL_CORPORA: brown, sotu, mobydick;
every 10th document of each held out), `lab train` with the tiny preset, byte tokenizer, both seeds
of --seeds: final held-out bits per byte per corpus.

--gen: generation tokens/s (new tokens per second) of a tiny model, greedy, prompt 32 tokens, 192 new:
the uncached loop (every step re-runs the whole window; `use_cache=False`) against the KV cache, at
batch 1 and 8.
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

from gristmill.lab.model import GPT, GPTConfig
from gristmill.lab.precision import autocast, native_bf16
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


def trainer(model, fwd, precision: str, x: torch.Tensor):
    """One full training step of `model` (as gristmill.lab.train runs it), as a closure."""
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)

    def step():
        with autocast(precision):
            _, loss = fwd(x[:, :-1], x[:, 1:])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
    return step


def race(contenders: dict, tokens_per_call: int, rounds: int, steps: int, warmup: int = 2) -> dict:
    """Median wall and CPU tokens/s of each closure, taking turns call by call."""
    for f in contenders.values():
        for _ in range(warmup):  # warm-up (and compilation)
            f()
    wall = {k: [] for k in contenders}
    cpu = {k: [] for k in contenders}
    for _ in range(rounds):
        for _ in range(steps):
            for k, f in contenders.items():
                w, c = time.perf_counter(), time.process_time()
                f()
                wall[k].append(tokens_per_call / (time.perf_counter() - w))
                cpu[k].append(tokens_per_call / max(time.process_time() - c, 1e-9))
    return {k: (statistics.median(wall[k]), statistics.median(cpu[k]), len(wall[k])) for k in contenders}


def show(title: str, res: dict, ref: str) -> None:
    w0, c0, _ = res[ref]
    print(title)
    for k, (w, c, n) in res.items():
        print(f"  {k:34s} wall {w:9,.0f} tok/s {w / w0:5.2f}x   cpu {c:9,.0f} tok/cpu-s {c / c0:5.2f}x   ({n} timed)")


def train_speed(a) -> None:
    for name in a.presets.split(","):
        c = GPTConfig.preset(name, vocab_size=a.vocab, seq_len=a.seq)
        torch.manual_seed(0)
        x = torch.randint(0, a.vocab, (a.batch, a.seq + 1), generator=torch.Generator().manual_seed(0))
        ref, ours32, ours16 = RefGPT(c), GPT(c), GPT(c)
        contenders = {"reference eager fp32 (nn.MHA)": trainer(ref, ref, "fp32", x),
                      "lab eager fp32": trainer(ours32, ours32, "fp32", x),
                      "lab bf16": trainer(ours16, ours16, "bf16", x)}
        if a.compile:
            oc = GPT(c)
            contenders["lab bf16 + torch.compile"] = trainer(oc, torch.compile(oc), "bf16", x)
        t0 = time.perf_counter()
        res = race(contenders, a.batch * a.seq, a.rounds, a.steps)
        show(f"\ntrain {name}: {ours32.n_params():,} parameters ({ours32.n_params(False):,} non-embedding), "
             f"batch {a.batch} x seq {a.seq} ({time.perf_counter() - t0:.0f} s)", res, "reference eager fp32 (nn.MHA)")


def gen_speed(a) -> None:
    c = GPTConfig.preset("tiny", vocab_size=a.vocab, seq_len=a.seq, eos_id=0, doc_mask=True)
    torch.manual_seed(0)
    m = GPT(c).eval()
    new = min(192, a.seq - 32)
    for batch in (1, 8):
        g = torch.Generator().manual_seed(batch)
        prompts = torch.randint(1, a.vocab, (batch, 32), generator=g).tolist()
        contenders = {"uncached loop fp32": lambda: m.generate(prompts, new, use_cache=False),
                      "KV cache fp32": lambda: m.generate(prompts, new),
                      "KV cache bf16": lambda: m.generate(prompts, new, precision="bf16")}
        res = race(contenders, batch * new, a.rounds, 1, warmup=1)
        show(f"\ngenerate tiny, greedy, batch {batch}, prompt 32 + {new} new tokens (new tokens/s)", res, "uncached loop fp32")


def quality(a) -> None:
    import json
    import os
    import tempfile
    from pathlib import Path

    from gristmill.lab.config import TrainConfig
    from gristmill.lab.train import train

    root = Path(os.environ.get("GRISTMILL_CORPORA", "/work/corpora"))
    tmp = Path(tempfile.mkdtemp(prefix="lab_precision_"))
    train_docs, held = [], []
    for name in ("brown", "sotu", "mobydick"):
        docs = [json.loads(x)["text"] for x in open(root / f"{name}.jsonl", encoding="utf-8")]
        train_docs += [d for i, d in enumerate(docs) if i % 10]
        (tmp / f"{name}.jsonl").write_text("".join(json.dumps({"text": d}) + "\n" for i, d in enumerate(docs) if i % 10 == 0))
        held.append(str(tmp / f"{name}.jsonl"))
    (tmp / "train.jsonl").write_text("".join(json.dumps({"text": d}) + "\n" for d in train_docs))
    print(f"\nquality: tiny, bytes, {a.quality_tokens:,} tokens, {len(train_docs):,} training documents, held out: "
          f"{', '.join(Path(h).stem for h in held)} ({tmp})")
    for seed in map(int, a.seeds.split(",")):
        for prec in ("fp32", "bf16"):
            cfg = TrainConfig(model="tiny", data=[str(tmp / "train.jsonl")], tokens=a.quality_tokens, seed=seed,
                              seq_len=256, batch_size=16, precision=prec, threads=a.threads,
                              eval={"heldout": held, "max_bytes": a.quality_bytes, "every_tokens": a.quality_tokens})
            t = time.perf_counter()
            f = train(cfg, tmp / f"run_{prec}_{seed}", progress=False)
            print(f"  seed {seed} {prec}: held-out bpb " + ", ".join(f"{k} {v:.4f}" for k, v in f["bpb"].items())
                  + f"  (mean {statistics.fmean(f['bpb'].values()):.4f}; unigram "
                  + ", ".join(f"{v:.3f}" for v in f["unigram_bpb"].values()) + f"; {time.perf_counter() - t:.0f} s)", flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--presets", default="tiny,small,base")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--steps", type=int, default=2, help="timed steps per contender per round")
    ap.add_argument("--vocab", type=int, default=4096)
    ap.add_argument("--seq", type=int, default=256)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: every core)")
    ap.add_argument("--compile", action="store_true", help="also time bf16 + torch.compile")
    ap.add_argument("--gen", action="store_true", help="also time generation (uncached against the KV cache)")
    ap.add_argument("--no-train", action="store_true")
    ap.add_argument("--quality", action="store_true", help="also compare held-out bpb of bf16 and fp32 training")
    ap.add_argument("--quality-tokens", type=int, default=300_000)
    ap.add_argument("--quality-bytes", type=int, default=100_000, help="held-out bytes per corpus")
    ap.add_argument("--seeds", default="0,1")
    a = ap.parse_args()
    threads = use_all_cores(a.threads)
    print(f"torch {torch.__version__}, {threads} threads, cpu capability {torch.backends.cpu.get_cpu_capability()}, "
          f"native bf16 {native_bf16()}, vocab {a.vocab}")
    if not a.no_train:
        train_speed(a)
    if a.gen:
        gen_speed(a)
    if a.quality:
        quality(a)


if __name__ == "__main__":
    main()
