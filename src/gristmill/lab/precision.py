"""Numeric precision of the lab's matmuls: bfloat16 mixed precision where the CPU multiplies bf16
natively, fp32 elsewhere.

`bf16` is torch autocast on CPU (`torch.autocast("cpu", dtype=torch.bfloat16)`): the weights, the
optimizer state and the gradients stay fp32 (master weights), matmuls and attention run in bf16, and
the loss (log-softmax + cross-entropy) is computed in fp32, as nanoGPT trains with bf16 on GPUs
(github.com/karpathy/nanoGPT train.py, `dtype = 'bfloat16'` + `torch.amp.autocast`). bf16 keeps fp32's
exponent range, so no loss scaling is needed (Kalamkar et al. 2019, "A Study of BFLOAT16 for Deep
Learning Training").

`auto` picks bf16 only where the CPU has bf16 dot-product instructions (x86 AVX512_BF16 or AMX, arm
BF16): there a bf16 GEMM runs ~8x an fp32 one (measured on the 2-core AVX512_BF16 benchmark machine,
benchmarks/RESULTS.md "The lab"); without them oneDNN emulates bf16 and it is slower than fp32.
"""
from __future__ import annotations

import contextlib
import platform
from functools import lru_cache

import torch

PRECISIONS = ("auto", "bf16", "fp32")


@lru_cache(maxsize=1)
def native_bf16() -> bool:
    """Does this CPU multiply bf16 in hardware? (torch's own probes, else /proc/cpuinfo flags)."""
    try:
        if torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported():
            return True
    except AttributeError:  # private probes: gone in some torch version, read the flags instead
        pass
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            flags = set()
            for line in f:
                if line.lower().startswith(("flags", "features")):
                    flags |= set(line.split(":", 1)[1].split())
    except OSError:
        return False
    if platform.machine().lower() in ("aarch64", "arm64"):
        return "bf16" in flags
    return bool({"avx512_bf16", "amx_bf16"} & flags)


def resolve(precision: str) -> str:
    """`auto` -> `bf16` or `fp32` for this machine; `bf16`/`fp32` as given."""
    if precision not in PRECISIONS:
        import difflib

        near = difflib.get_close_matches(str(precision), PRECISIONS, n=1)
        raise ValueError(f"unknown precision {precision!r}" + (f" (did you mean {near[0]!r}?)" if near else "")
                         + f"; choose one of {', '.join(PRECISIONS)}")
    if precision == "auto":
        return "bf16" if native_bf16() else "fp32"
    return precision


def autocast(precision: str):
    """The context that runs a forward pass at `precision` (resolved or `auto`)."""
    if resolve(precision) == "bf16":
        return torch.autocast("cpu", dtype=torch.bfloat16)
    return contextlib.nullcontext()
