"""A decoder-only transformer small enough to read in one sitting.

The shape follows nanoGPT (Karpathy, github.com/karpathy/nanoGPT, model.py) with the modern
changes that LLaMA (Touvron et al. 2023) made standard: RMSNorm (Zhang & Sennrich 2019) before
each sub-layer, rotary position embeddings (Su et al. 2021, RoFormer) instead of learned ones,
no biases, and input and output embeddings tied (Press & Wolf 2017). Attention runs through
`F.scaled_dot_product_attention`, which dispatches to a fused kernel on CPU.

Documents packed into one sequence can be kept from attending to each other
(`doc_mask=True`): the segment of every position is the number of EOS tokens before it, so the
model needs nothing from the stream but the EOS id.

`GPT.generate` decodes a batch of prompts of any lengths at once with a key/value cache (as
HF transformers and nanoGPT-derived inference code do): prompts are left-padded, each row's rotary
positions start at its first real token, pad keys are masked out, and each row stops at its own stop
id. Past the context window it re-encodes the last `seq_len` tokens each step, exactly as the
uncached loop (`use_cache=False`, the reference) does, so both give the same tokens.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from gristmill.lab.linear_ce import linear_cross_entropy

# Presets chosen to train usefully on 2 CPU cores (parameter counts exclude the embedding, which
# depends on the vocabulary). Depth/width ratios follow nanoGPT's small configs (d_model/n_layer
# around 32-64); head size 32-64 as in GPT-2 small.
PRESETS: dict[str, dict] = {
    "tiny": dict(n_layer=4, n_head=4, d_model=128),    # ~0.8M non-embedding parameters
    "small": dict(n_layer=6, n_head=4, d_model=256),   # ~4.7M
    "base": dict(n_layer=8, n_head=8, d_model=448),    # ~19M
    # equal-parameter variants of `tiny` (~0.8M non-embedding parameters each) for `lab claims`'
    # data-over-architecture claim: deep-narrow, shallow-wide, and a recurrent model with no attention
    "deep": dict(n_layer=8, n_head=4, d_model=96),     # ~0.88M
    "wide": dict(n_layer=2, n_head=4, d_model=184),    # ~0.81M
    "gru": dict(n_layer=4, n_head=4, d_model=120, mixer="gru"),  # ~0.81M: 6d^2 (GRU) + 8d^2 (MLP) per layer
}


@dataclass
class GPTConfig:
    vocab_size: int
    seq_len: int = 256
    n_layer: int = 4
    n_head: int = 4
    d_model: int = 128
    mlp_ratio: int = 4          # GPT-2's 4x hidden width
    rope_base: float = 10000.0  # RoFormer's base
    eos_id: int | None = None   # needed only for doc_mask
    doc_mask: bool = False
    # token mixer of each block: causal self-attention, or a GRU (Cho et al. 2014) in its place, a
    # non-attention baseline. The GRU's state runs across packed documents (doc_mask does not apply)
    # and it generates without the key/value cache.
    mixer: str = "attention"

    @classmethod
    def preset(cls, name: str, **kw) -> "GPTConfig":
        if name not in PRESETS:
            import difflib

            near = difflib.get_close_matches(name, PRESETS, n=1)
            raise ValueError(f"unknown model preset {name!r}" + (f" (did you mean {near[0]!r}?)" if near else "")
                             + f"; choose one of {', '.join(PRESETS)}")
        return cls(**{**PRESETS[name], **kw})

    def to_dict(self) -> dict:
        return asdict(self)


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float = 1e-6):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def rotary_tables(seq_len: int, head_dim: int, base: float) -> tuple[torch.Tensor, torch.Tensor]:
    inv = 1.0 / base ** (torch.arange(0, head_dim, 2).float() / head_dim)
    ang = torch.outer(torch.arange(seq_len).float(), inv)  # (T, head_dim/2)
    return ang.cos(), ang.sin()


def apply_rotary(x, cos, sin):
    # x: (B, H, T, D); rotate each (even, odd) half-pair by the position's angle. cos/sin: (T, D/2),
    # or (B, 1, T, D/2) for per-row positions; in x's dtype (bf16 under autocast, as HF's LLaMA does)
    # so the product does not round-trip through fp32
    cos, sin = cos.to(x.dtype), sin.to(x.dtype)
    x1, x2 = x[..., ::2], x[..., 1::2]
    return torch.stack((x1 * cos - x2 * sin, x1 * sin + x2 * cos), dim=-1).flatten(-2)


class Attention(nn.Module):
    def __init__(self, c: GPTConfig):
        super().__init__()
        self.n_head = c.n_head
        self.qkv = nn.Linear(c.d_model, 3 * c.d_model, bias=False)
        self.proj = nn.Linear(c.d_model, c.d_model, bias=False)

    def forward(self, x, cos, sin, mask, cache=None):
        B, T, C = x.shape
        q, k, v = self.qkv(x).view(B, T, 3, self.n_head, C // self.n_head).permute(2, 0, 3, 1, 4)
        q, k = apply_rotary(q, cos, sin), apply_rotary(k, cos, sin)
        if cache is not None:  # (layer cache, first column): keys/values of every earlier column
            k, v = cache[0].write(cache[1], k, v)
        if mask is None:
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        else:
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        return self.proj(y.transpose(1, 2).reshape(B, T, C))


class GRUMixer(nn.Module):
    """A GRU over the sequence in place of attention: same call signature, no positions needed."""

    def __init__(self, c: GPTConfig):
        super().__init__()
        self.rnn = nn.GRU(c.d_model, c.d_model, batch_first=True, bias=False)

    def forward(self, x, cos, sin, mask, cache=None):
        if cache is not None:
            raise ValueError("the GRU mixer has no key/value cache; generate with use_cache=False")
        with torch.autocast("cpu", enabled=False):  # the fused GRU kernel has no bf16 path on CPU
            return self.rnn(x.float())[0].to(x.dtype)


class MLP(nn.Module):
    def __init__(self, c: GPTConfig):
        super().__init__()
        self.up = nn.Linear(c.d_model, c.mlp_ratio * c.d_model, bias=False)
        self.down = nn.Linear(c.mlp_ratio * c.d_model, c.d_model, bias=False)

    def forward(self, x):
        return self.down(F.gelu(self.up(x)))


class Block(nn.Module):
    def __init__(self, c: GPTConfig):
        super().__init__()
        if c.mixer not in ("attention", "gru"):
            raise ValueError(f"unknown mixer {c.mixer!r}; choose attention or gru")
        self.norm1, self.attn = RMSNorm(c.d_model), (Attention(c) if c.mixer == "attention" else GRUMixer(c))
        self.norm2, self.mlp = RMSNorm(c.d_model), MLP(c)

    def forward(self, x, cos, sin, mask, cache=None):
        x = x + self.attn(self.norm1(x), cos, sin, mask, cache)
        return x + self.mlp(self.norm2(x))


class GPT(nn.Module):
    def __init__(self, c: GPTConfig):
        super().__init__()
        self.config = c
        self.embed = nn.Embedding(c.vocab_size, c.d_model)
        self.blocks = nn.ModuleList(Block(c) for _ in range(c.n_layer))
        self.norm = RMSNorm(c.d_model)
        self.head = nn.Linear(c.d_model, c.vocab_size, bias=False)
        self.head.weight = self.embed.weight  # tied
        cos, sin = rotary_tables(c.seq_len, c.d_model // c.n_head, c.rope_base)
        self.register_buffer("cos", cos, persistent=False)
        self.register_buffer("sin", sin, persistent=False)
        self.apply(self._init)
        # GPT-2's scaled init of the residual projections: std 0.02/sqrt(2*n_layer)
        for name, p in self.named_parameters():
            if name.endswith(("proj.weight", "down.weight")):
                nn.init.normal_(p, std=0.02 / math.sqrt(2 * c.n_layer))

    @staticmethod
    def _init(m):
        if isinstance(m, (nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, std=0.02)

    def n_params(self, embedding: bool = True) -> int:
        n = sum(p.numel() for p in self.parameters())
        return n if embedding else n - self.embed.weight.numel()

    def doc_attention_mask(self, idx: torch.Tensor) -> torch.Tensor:
        """Causal mask that also blocks attention across documents: (B, 1, T, T) booleans."""
        is_eos = (idx == self.config.eos_id).long()
        seg = torch.cumsum(is_eos, dim=1) - is_eos  # the EOS closes its own document
        T = idx.shape[1]
        causal = torch.ones(T, T, dtype=torch.bool, device=idx.device).tril()
        return (causal & (seg[:, :, None] == seg[:, None, :]))[:, None]

    def forward(self, idx: torch.Tensor, targets: torch.Tensor | None = None, reduction: str = "mean"):
        T = idx.shape[1]
        if T > self.config.seq_len:
            raise ValueError(f"sequence of {T} tokens is longer than the model's seq_len {self.config.seq_len}")
        mask = self.doc_attention_mask(idx) if (self.config.doc_mask and self.config.eos_id is not None
                                                and self.config.mixer == "attention") else None
        x = self.embed(idx)
        cos, sin = self.cos[:T], self.sin[:T]
        for b in self.blocks:
            x = b(x, cos, sin, mask)
        h = self.norm(x)
        if targets is None:
            return self.head(h)
        if reduction in ("mean", "sum") and type(self.head) is nn.Linear and not torch.compiler.is_compiling():
            # head + loss fused, chunk by chunk (lab/linear_ce.py): the logits are never materialized, so
            # none are returned. Compiled, inductor fuses the plain path itself; a wrapped head (e.g. an
            # adapter) takes the plain path too.
            return None, linear_cross_entropy(h.reshape(-1, h.size(-1)), self.head.weight, targets.reshape(-1), reduction)
        logits = self.head(h)
        loss = F.cross_entropy(logits.float().view(-1, logits.size(-1)), targets.reshape(-1), reduction=reduction)
        return logits, loss

    def _forward_cached(self, idx: torch.Tensor, cache: "KVCache") -> torch.Tensor:
        """Logits of the last column for `idx` (B, t), the next t columns of the left-padded batch in `cache`."""
        B, t = idx.shape
        start = cache.len
        if start + t > cache.size:
            raise ValueError(f"{start + t} columns do not fit a cache of {cache.size}")
        cols = torch.arange(start, start + t)
        real = cols[None, :] >= cache.pad[:, None]                       # (B, t): not a pad column
        pos = (cols[None, :] - cache.pad[:, None]).clamp(min=0)          # rotary position within the row
        cos, sin = self.cos[pos][:, None], self.sin[pos][:, None]        # (B, 1, t, D/2)
        keys = torch.arange(start + t)
        allowed = (keys[None, None, :] <= cols[None, :, None]) & (keys[None, None, :] >= cache.pad[:, None, None])
        if self.config.doc_mask and self.config.eos_id is not None:
            is_eos = ((idx == self.config.eos_id) & real).long()
            seg = cache.eos_seen[:, None] + torch.cumsum(is_eos, 1) - is_eos  # the EOS closes its own document
            cache.seg[:, start:start + t] = seg
            cache.eos_seen += is_eos.sum(1)
            allowed &= cache.seg[:, None, :start + t] == seg[:, :, None]
        # a pad column attends to itself only: its output is never read, and no real column attends to it
        allowed |= keys[None, None, :] == cols[None, :, None]
        mask = allowed[:, None]                                          # (B, 1, t, start + t)
        x = self.embed(idx)
        for i, b in enumerate(self.blocks):
            x = b(x, cos, sin, mask, (cache.layers[i], start))
        cache.len = start + t
        return self.head(self.norm(x[:, -1]))

    @torch.no_grad()
    def generate(self, idx, max_new_tokens: int, temperature: float = 0.0,
                 generator: torch.Generator | None = None, stop_ids: set[int] | None = None,
                 stop_fn=None, use_cache: bool = True, precision: str = "fp32"):
        """Sample (temperature > 0) or decode greedily, every row of a batch at once.

        `idx`: a (B, T) tensor of prompts, or a list of token-id lists of any lengths (left-padded
        inside). A row stops after emitting an id in `stop_ids`, or when `stop_fn(row, new_ids)`
        returns True (e.g. a stop string in its decoded text); the others go on. Returns, for a list,
        each row's new ids (ending with the stop id when one was hit); for a tensor, prompt + new ids,
        a row that stopped early repeating its last id up to the longest row.

        `use_cache=False` is the reference loop: one row at a time, the whole window (the last
        `seq_len` tokens) through `forward` at every step. `precision` as in `gristmill.lab.precision`.
        """
        from gristmill.lab.precision import autocast

        as_tensor = isinstance(idx, torch.Tensor)
        rows = [list(map(int, r)) for r in (idx.tolist() if as_tensor else idx)]
        if any(not r for r in rows):
            raise ValueError("generate: every prompt needs at least one token")
        new: list[list[int]] = [[] for _ in rows]
        L = self.config.seq_len
        with autocast(precision):
            if use_cache and self.config.mixer == "attention":
                self._generate_cached(rows, new, max_new_tokens, temperature, generator, stop_ids, stop_fn)
            else:
                for r in range(len(rows)):
                    for _ in range(max_new_tokens):
                        logits = self(torch.tensor([(rows[r] + new[r])[-L:]]))[:, -1, :].float()
                        nxt = GPT._pick(logits, temperature, generator)  # GPT's: also the reference for other modules
                        new[r].append(int(nxt[0]))
                        if (stop_ids and new[r][-1] in stop_ids) or (stop_fn and stop_fn(r, new[r])):
                            break
        if not as_tensor:
            return new
        width = max(len(n) for n in new)
        return torch.tensor([r + n + [n[-1] if n else r[-1]] * (width - len(n)) for r, n in zip(rows, new)],
                            dtype=idx.dtype)

    @staticmethod
    def _pick(logits: torch.Tensor, temperature: float, generator) -> torch.Tensor:
        if temperature <= 0:
            return logits.argmax(-1)
        return torch.multinomial(torch.softmax(logits / temperature, dim=-1), 1, generator=generator)[:, 0]

    def _generate_cached(self, rows, new, max_new_tokens, temperature, generator, stop_ids, stop_fn):
        L = self.config.seq_len
        active = list(range(len(rows)))
        cache = None
        for _ in range(max_new_tokens):
            if not active:
                break
            if cache is not None and cache.len < cache.size:
                logits = self._forward_cached(torch.tensor([[new[r][-1]] for r in active]), cache)
            else:  # first step, or the window is full: (re-)encode each row's last L tokens
                windows = [(rows[r] + new[r])[-L:] for r in active]
                width = max(map(len, windows))
                cache = KVCache(self, len(windows), [width - len(w) for w in windows])
                logits = self._forward_cached(torch.tensor([[0] * (width - len(w)) + w for w in windows]), cache)
            nxt = self._pick(logits.float(), temperature, generator).tolist()
            keep = []
            for j, r in enumerate(active):
                new[r].append(nxt[j])
                if not ((stop_ids and nxt[j] in stop_ids) or (stop_fn and stop_fn(r, new[r]))):
                    keep.append(j)
            if len(keep) < len(active):
                active = [active[j] for j in keep]
                cache.select(torch.tensor(keep, dtype=torch.long))


class _LayerCache:
    def __init__(self):
        self.k = self.v = None

    def write(self, start: int, k: torch.Tensor, v: torch.Tensor):
        if self.k is None or self.k.dtype != k.dtype:
            B, H, _, D = k.shape
            self.k = torch.zeros(B, H, self.size, D, dtype=k.dtype)
            self.v = torch.zeros(B, H, self.size, D, dtype=v.dtype)
        t = k.shape[2]
        self.k[:, :, start:start + t] = k
        self.v[:, :, start:start + t] = v
        return self.k[:, :, :start + t], self.v[:, :, :start + t]


class KVCache:
    """Keys and values of every layer for a left-padded batch, preallocated to the context length so a
    decoding step writes one column instead of concatenating; `pad[b]` = pad columns before row b."""

    def __init__(self, model: GPT, batch: int, pad: list[int]):
        self.size, self.len = model.config.seq_len, 0
        self.pad = torch.tensor(pad, dtype=torch.long)
        self.layers = [_LayerCache() for _ in model.blocks]
        for lc in self.layers:
            lc.size = self.size
        self.seg = torch.zeros(batch, self.size, dtype=torch.long)   # document of each column (doc_mask)
        self.eos_seen = torch.zeros(batch, dtype=torch.long)

    def select(self, rows: torch.Tensor) -> None:
        """Keep only these rows (the others finished)."""
        self.pad, self.seg, self.eos_seen = self.pad[rows], self.seg[rows], self.eos_seen[rows]
        for lc in self.layers:
            if lc.k is not None:
                lc.k, lc.v = lc.k[rows], lc.v[rows]
