"""A decoder-only transformer small enough to read in one sitting.

The shape follows nanoGPT (Karpathy, github.com/karpathy/nanoGPT, model.py) with the modern
changes that LLaMA (Touvron et al. 2023) made standard: RMSNorm (Zhang & Sennrich 2019) before
each sub-layer, rotary position embeddings (Su et al. 2021, RoFormer) instead of learned ones,
no biases, and input and output embeddings tied (Press & Wolf 2017). Attention runs through
`F.scaled_dot_product_attention`, which dispatches to a fused kernel on CPU.

Documents packed into one sequence can be kept from attending to each other
(`doc_mask=True`): the segment of every position is the number of EOS tokens before it, so the
model needs nothing from the stream but the EOS id.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

# Presets chosen to train usefully on 2 CPU cores (parameter counts exclude the embedding, which
# depends on the vocabulary). Depth/width ratios follow nanoGPT's small configs (d_model/n_layer
# around 32-64); head size 32-64 as in GPT-2 small.
PRESETS: dict[str, dict] = {
    "tiny": dict(n_layer=4, n_head=4, d_model=128),    # ~0.8M non-embedding parameters
    "small": dict(n_layer=6, n_head=4, d_model=256),   # ~4.7M
    "base": dict(n_layer=8, n_head=8, d_model=448),    # ~19M
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
    # x: (B, H, T, D); rotate each (even, odd) half-pair by the position's angle
    x1, x2 = x[..., ::2], x[..., 1::2]
    return torch.stack((x1 * cos - x2 * sin, x1 * sin + x2 * cos), dim=-1).flatten(-2)


class Attention(nn.Module):
    def __init__(self, c: GPTConfig):
        super().__init__()
        self.n_head = c.n_head
        self.qkv = nn.Linear(c.d_model, 3 * c.d_model, bias=False)
        self.proj = nn.Linear(c.d_model, c.d_model, bias=False)

    def forward(self, x, cos, sin, mask):
        B, T, C = x.shape
        q, k, v = self.qkv(x).view(B, T, 3, self.n_head, C // self.n_head).permute(2, 0, 3, 1, 4)
        q, k = apply_rotary(q, cos, sin), apply_rotary(k, cos, sin)
        if mask is None:
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        else:
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        return self.proj(y.transpose(1, 2).reshape(B, T, C))


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
        self.norm1, self.attn = RMSNorm(c.d_model), Attention(c)
        self.norm2, self.mlp = RMSNorm(c.d_model), MLP(c)

    def forward(self, x, cos, sin, mask):
        x = x + self.attn(self.norm1(x), cos, sin, mask)
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
        mask = self.doc_attention_mask(idx) if self.config.doc_mask and self.config.eos_id is not None else None
        x = self.embed(idx)
        cos, sin = self.cos[:T], self.sin[:T]
        for b in self.blocks:
            x = b(x, cos, sin, mask)
        logits = self.head(self.norm(x))
        if targets is None:
            return logits
        loss = F.cross_entropy(logits.float().view(-1, logits.size(-1)), targets.reshape(-1), reduction=reduction)
        return logits, loss

    @torch.no_grad()
    def generate(self, idx: torch.Tensor, max_new_tokens: int, temperature: float = 0.0,
                 generator: torch.Generator | None = None, stop_ids: set[int] | None = None) -> torch.Tensor:
        """Sample (temperature > 0) or decode greedily; stops early at any id in `stop_ids`."""
        for _ in range(max_new_tokens):
            ctx = idx[:, -self.config.seq_len:]
            logits = self(ctx)[:, -1, :].float()
            if temperature <= 0:
                nxt = logits.argmax(-1, keepdim=True)
            else:
                probs = torch.softmax(logits / temperature, dim=-1)
                nxt = torch.multinomial(probs, 1, generator=generator)
            idx = torch.cat([idx, nxt], dim=1)
            if stop_ids and idx.shape[0] == 1 and int(nxt) in stop_ids:
                break
        return idx
