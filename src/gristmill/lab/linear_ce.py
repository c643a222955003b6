"""The output head and the cross-entropy loss in one pass, a chunk of rows at a time, without
materializing the (tokens x vocabulary) logits.

The fused linear cross-entropy of Liger Kernel (Hsu et al. 2024, "Liger Kernel: Efficient Triton
Kernels for LLM Training", FusedLinearCrossEntropy; also Wijmans et al. 2024, "Cut Your Losses in
Large-Vocabulary Language Models"): for each chunk of rows, logits = x W^T, the loss from the
log-sum-exp, and, while the chunk's logits are still in cache, their gradient softmax - onehot and its
two matmuls (dx = g W, dW += g^T x). The backward pass only scales what the forward stored. On CPU
the win is memory traffic: for the lab's tiny preset at 4096 tokens x 4096 vocabulary, the plain path
writes and re-reads a 64 MB fp32 logits tensor ~6 times (cast, log-softmax, its backward, the cast
back); chunked, the head + loss ran 2.4x faster in bf16 and 1.3x in fp32 (1 thread, benchmarks/RESULTS.md).

Matmuls run in the autocast dtype when autocast is on (bf16: as `nn.Linear` would), the softmax and
the loss in fp32.
"""
from __future__ import annotations

import torch

# rows per chunk: chunk x vocab fp32 logits of ~4 MB stay in the L2/L3 cache of a CPU core; 256 rows
# for a 4096 vocabulary was the fastest of 128-1024 on the benchmark machine
CHUNK_ELEMENTS = 1 << 20


class _LinearCrossEntropy(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, w, targets, sum_not_mean: bool, grad: bool):
        N = x.shape[0]
        mm = torch.get_autocast_dtype("cpu") if torch.is_autocast_enabled("cpu") else w.dtype
        xm, wm = x.to(mm), w.to(mm)
        chunk = max(64, CHUNK_ELEMENTS // w.shape[0])
        scale = 1.0 if sum_not_mean else 1.0 / N
        total = torch.zeros((), dtype=torch.float32)
        gx = torch.empty(x.shape, dtype=x.dtype) if grad else None
        gw = torch.zeros(w.shape, dtype=torch.float32) if grad else None
        for s in range(0, N, chunk):
            xc, t = xm[s:s + chunk], targets[s:s + chunk]
            logits = (xc @ wm.T).float()
            lse = torch.logsumexp(logits, -1)
            total += (lse - logits.gather(1, t[:, None])[:, 0]).sum()
            if grad:
                p = logits.sub_(lse[:, None]).exp_()          # softmax, in place of the logits
                p[torch.arange(len(t)), t] -= 1.0
                if scale != 1.0:
                    p.mul_(scale)
                pm = p.to(mm)
                gx[s:s + chunk] = pm @ wm
                gw += (pm.T @ xc).float()
        ctx.save_for_backward(gx, gw.to(w.dtype) if grad else None)
        return total * scale

    @staticmethod
    def backward(ctx, g):
        gx, gw = ctx.saved_tensors
        if gx is None:
            raise RuntimeError("linear_cross_entropy was computed without gradients (under no_grad)")
        return gx * g, gw * g, None, None, None


def linear_cross_entropy(x: torch.Tensor, weight: torch.Tensor, targets: torch.Tensor,
                         reduction: str = "mean") -> torch.Tensor:
    """cross_entropy(x @ weight.T, targets, reduction) for x (N, d), weight (V, d), targets (N,)."""
    if reduction not in ("mean", "sum"):
        raise ValueError(f"reduction {reduction!r}: linear_cross_entropy gives 'mean' or 'sum'")
    grad = torch.is_grad_enabled() and (x.requires_grad or weight.requires_grad)
    return _LinearCrossEntropy.apply(x, weight, targets, reduction == "sum", grad)
