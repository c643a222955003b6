"""`gristmill lab quantize`: post-training weight quantization of the transformer's linear layers.

* RTN: round-to-nearest onto a uniform asymmetric grid (min-max per output channel, or per group of
  `group_size` input columns), the baseline of every PTQ paper.
* GPTQ (Frantar et al. 2022, "GPTQ: Accurate Post-Training Quantization for Generative Pre-trained
  Transformers", Algorithm 1 and github.com/IST-DASLab/gptq gptq.py): quantize columns in order,
  pushing each column's error onto the not-yet-quantized columns through the inverse Hessian
  H = 2XᵀX of the layer's calibration inputs. Dampening 1% of the mean diagonal and blocks of 128
  columns are the reference implementation's defaults. Calibration inputs come from the run's own
  training stream; all layers see the full-precision model's activations (one pass), a documented
  simplification of the reference's layer-by-layer pass.

`--lora-steps N` then trains rank-8 LoRA adapters (peft) on the frozen quantized weights and reports
the share of the bpb gap to full precision they recover (QLoRA-style).

The tied embedding / output head stays in full precision (as in the GPTQ reference, which leaves
embeddings and the head alone). Each quantized model is written as a run directory (dequantized
weights), so `gristmill lab eval` and `gristmill lab serve` take it unchanged.

Every bpb figure rests on the same bytes: the first `max_bytes` of each held-out file (whole documents),
by default the run's own `eval.max_bytes`, so the fp32 row is the run's final evaluation re-measured in
fp32 (a bf16-trained run's final.json was measured under bf16 autocast, hence a small difference).
results.json records the bytes and documents per file, and the run's own final figure beside it.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import torch
import torch.nn as nn

DAMP = 0.01     # GPTQ reference: percdamp=.01
BLOCK = 128     # GPTQ reference: blocksize=128


def _grid(w: torch.Tensor, bits: int):
    """Per-row asymmetric min-max scale and zero point for w (rows, cols)."""
    lo = torch.minimum(w.min(1, keepdim=True).values, torch.zeros(1))
    hi = torch.maximum(w.max(1, keepdim=True).values, torch.zeros(1))
    qmax = 2 ** bits - 1
    scale = ((hi - lo) / qmax).clamp(min=1e-8)
    return scale, torch.round(-lo / scale), qmax


def _q(w, scale, zero, qmax):
    return scale * (torch.clamp(torch.round(w / scale) + zero, 0, qmax) - zero)


def rtn(W: torch.Tensor, bits: int, group_size: int | None = None) -> torch.Tensor:
    if not group_size:
        return _q(W, *_grid(W, bits))
    out = torch.empty_like(W)
    for s in range(0, W.shape[1], group_size):
        g = W[:, s:s + group_size]
        out[:, s:s + group_size] = _q(g, *_grid(g, bits))
    return out


def gptq(W: torch.Tensor, H: torch.Tensor, bits: int, group_size: int | None = None) -> torch.Tensor:
    W = W.clone().double()
    H = H.clone().double()
    ncol = W.shape[1]
    dead = torch.diag(H) == 0  # inputs never active: any value is exact, fix them to 0
    H[dead, dead] = 1
    W[:, dead] = 0
    H += DAMP * torch.mean(torch.diag(H)) * torch.eye(ncol, dtype=H.dtype)
    Hinv = torch.linalg.cholesky(torch.cholesky_inverse(torch.linalg.cholesky(H)), upper=True)
    block = BLOCK if not group_size else max(group_size, BLOCK // group_size * group_size)
    Q = torch.zeros_like(W)
    grid = None if group_size else _grid(W, bits)
    for i1 in range(0, ncol, block):
        i2 = min(i1 + block, ncol)
        W1, Q1, E1, Hi = W[:, i1:i2].clone(), torch.zeros_like(W[:, i1:i2]), torch.zeros_like(W[:, i1:i2]), Hinv[i1:i2, i1:i2]
        for i in range(i2 - i1):
            if group_size and (i1 + i) % group_size == 0:  # group grid from the error-updated weights
                grid = _grid(W1[:, i:i + group_size], bits)
            w = W1[:, i]
            q = _q(w[:, None], *grid)[:, 0]
            Q1[:, i] = q
            err = (w - q) / Hi[i, i]
            W1[:, i:] -= err[:, None] @ Hi[i, i:][None, :]
            E1[:, i] = err
        Q[:, i1:i2] = Q1
        W[:, i2:] -= E1 @ Hinv[i1:i2, i2:]
    return Q.float()


def linear_layers(model) -> dict[str, nn.Linear]:
    return {n: m for n, m in model.named_modules() if isinstance(m, nn.Linear) and n.startswith("blocks.")}


@torch.no_grad()
def calibrate(model, batches: list[torch.Tensor]) -> dict[str, torch.Tensor]:
    """H = 2/n Σ xxᵀ per linear layer, from the full-precision model's inputs to it."""
    layers = linear_layers(model)
    H = {n: torch.zeros(m.in_features, m.in_features, dtype=torch.float64) for n, m in layers.items()}
    count = {n: 0 for n in layers}

    def hook(name):
        def f(_m, inp, _out):
            x = inp[0].reshape(-1, inp[0].shape[-1]).double()
            k = x.shape[0]
            H[name] *= count[name] / (count[name] + k)
            count[name] += k
            H[name] += 2 / count[name] * x.T @ x
        return f

    hs = [m.register_forward_hook(hook(n)) for n, m in layers.items()]
    try:
        for b in batches:
            model(b)
    finally:
        for h in hs:
            h.remove()
    return H


def recon_error(W, Q, H) -> float:
    """Layer-wise output error on the calibration inputs, relative: tr((W-Q) H (W-Q)ᵀ) / tr(W H Wᵀ)."""
    D = (W - Q).double()
    return float(torch.einsum("ij,jk,ik->", D, H, D) / torch.einsum("ij,jk,ik->", W.double(), H, W.double()))


def quantize_model(model, method: str, bits: int, group_size: int | None, H: dict) -> tuple[object, float]:
    import copy

    qm = copy.deepcopy(model)
    errs = []
    for name, m in linear_layers(qm).items():
        W = m.weight.data
        Q = rtn(W, bits, group_size) if method == "rtn" else gptq(W, H[name], bits, group_size)
        errs.append(recon_error(W, Q, H[name]))
        m.weight.data = Q
    return qm, sum(errs) / len(errs)


def calibration_batches(run: Path, n_seq: int = 64, batch: int = 8) -> list[torch.Tensor]:
    """The first sequences of the run's own training stream (GPTQ calibrates on training-like text)."""
    from gristmill.lab.data import open_stream
    from gristmill.lab.train import load_run

    _, tok, cfg, state = load_run(run)
    stream = open_stream(cfg, tok, Path(state["config"].get("_base", ".")), tokens_needed=n_seq * cfg.seq_len)
    it = iter(stream)
    seqs = [next(it)["input_ids"][:-1] for _ in range(n_seq)]
    return [torch.stack(seqs[i:i + batch]).long() for i in range(0, n_seq, batch)]


LORA_RANK, LORA_ALPHA, LORA_LR = 8, 16, 2e-3  # LoRA paper (Hu et al. 2021) r=8, alpha=2r; lr for a tiny model


def lora_recover(qm, run: Path, steps: int):
    """QLoRA-style recovery (Dettmers et al. 2023): low-rank adapters (peft) on every linear layer of
    the frozen quantized model, trained on the run's own stream; returns the merged model."""
    from peft import LoraConfig, get_peft_model

    from gristmill.lab.data import open_stream
    from gristmill.lab.train import load_run

    _, tok, cfg, state = load_run(run)
    targets = sorted({n.rsplit(".", 1)[-1] for n in linear_layers(qm)})
    pm = get_peft_model(qm, LoraConfig(r=LORA_RANK, lora_alpha=LORA_ALPHA, target_modules=targets, lora_dropout=0.0))
    opt = torch.optim.AdamW([p for p in pm.parameters() if p.requires_grad], lr=LORA_LR, weight_decay=0.0)
    stream = open_stream(cfg, tok, Path(state["config"].get("_base", ".")), tokens_needed=steps * cfg.batch_size * cfg.seq_len)
    stream.load_state_dict(state["stream"])  # fresh data: continue where pre-training stopped
    it = iter(stream)
    torch.manual_seed(cfg.seed)
    pm.train()
    for _ in range(steps):
        b = torch.stack([next(it)["input_ids"] for _ in range(cfg.batch_size)]).long()
        _, loss = pm(b[:, :-1], b[:, 1:])
        opt.zero_grad()
        loss.backward()
        opt.step()
    merged = pm.merge_and_unload()
    merged.eval()
    return merged


def run_quantize(run: Path, out: Path, bits: list[int], methods: list[str], group_size: int | None,
                 data: list[str], tasks: list[str], n_problems: int = 100, console=None, lora_steps: int = 0,
                 max_bytes: int | None = None) -> dict:
    from gristmill.lab import checkpoint
    from gristmill.lab.evaluate import evaluate_model
    from gristmill.lab.train import load_run

    model, tok, cfg, state = load_run(run)
    data = data or [str(Path(state["config"].get("_base", ".")) / h) if not Path(h).is_absolute() else h for h in cfg.eval.heldout]
    if not data:
        raise ValueError(f"{run}: the run has no eval.heldout; give --data FILES")
    H = calibrate(model, calibration_batches(run))
    out.mkdir(parents=True, exist_ok=True)

    fp32 = cfg.model_copy(update={"precision": "fp32"})  # bf16 would round the weights again: measure quantization alone
    max_bytes = max_bytes or cfg.eval.max_bytes
    measured: dict = {}

    def ev(m):
        r = evaluate_model(m, tok, fp32, state["counts"], data, tasks, n_problems, max_bytes=max_bytes, check_training=False)
        measured.update(r["bytes"])
        return {"bpb": r["bpb"], "mean_bpb": sum(r["bpb"].values()) / len(r["bpb"]), "tasks": r["tasks"]}

    rows = [{"method": "fp32", "bits": 32, "group_size": None, "recon_error": 0.0, **ev(model)}]
    for method in methods:
        for b in bits:
            if console:
                console.print(f"{method} {b}-bit" + (f", groups of {group_size}" if group_size else ", per channel"))
            qm, err = quantize_model(model, method, b, group_size, H)
            d = out / f"{method}-{b}bit"
            d.mkdir(exist_ok=True)
            keep = ("config", "model_config", "tokenizer", "step", "tokens", "stream", "rng", "schedule")
            checkpoint.save(d, qm, {**{k: state[k] for k in keep if k in state}, "config": {**state["config"], "precision": "fp32"},
                                    "quantization": {"method": method, "bits": b, "group_size": group_size}},
                            counts=state["counts"])
            shutil.copy(run / "config.json", d / "config.json")
            row = {"method": method, "bits": b, "group_size": group_size, "recon_error": err, "run": str(d), **ev(qm)}
            if lora_steps:
                lo = ev(lora_recover(qm, run, lora_steps))
                gap = row["mean_bpb"] - rows[0]["mean_bpb"]
                row["lora"] = {"steps": lora_steps, **lo,
                               "gap_recovered": None if gap <= 1e-6 else (row["mean_bpb"] - lo["mean_bpb"]) / gap}
            rows.append(row)
    final_file = Path(run) / "final.json"
    res = {"run": str(run), "eval": data, "rows": rows,
           "bytes": {"max_bytes_per_file": max_bytes, "per_file": measured,
                     "meaning": "every bpb above is over these bytes: the first max_bytes of each held-out file, whole documents"},
           "run_final": {"bpb": json.loads(final_file.read_text()).get("bpb") if final_file.exists() else None,
                         "max_bytes_per_file": cfg.eval.max_bytes, "precision": state["config"].get("_precision"),
                         "meaning": "the run's own last evaluation (final.json), over its eval.max_bytes, in its training precision"}}
    res["plot"] = plot_quantize(res, out)
    (out / "results.json").write_text(json.dumps(res, indent=2))
    return res


def plot_quantize(res: dict, out: Path) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4.2), dpi=120)
    fp = next(r for r in res["rows"] if r["method"] == "fp32")
    for i, method in enumerate(sorted({r["method"] for r in res["rows"]} - {"fp32"})):
        rs = sorted((r for r in res["rows"] if r["method"] == method), key=lambda r: r["bits"])
        ax.plot([r["bits"] for r in rs], [r["mean_bpb"] for r in rs], "o-", color=f"C{i}", label=method.upper())
        if all("lora" in r for r in rs):
            ax.plot([r["bits"] for r in rs], [r["lora"]["mean_bpb"] for r in rs], "s:", color=f"C{i}",
                    label=f"{method.upper()} + LoRA ({rs[0]['lora']['steps']} steps)")
    ax.axhline(fp["mean_bpb"], color="k", ls="--", lw=1, label=f"full precision ({fp['mean_bpb']:.3f})")
    ax.set_xlabel("weight bits (linear layers)")
    ax.set_ylabel("held-out bits per byte (lower is better)")
    ax.set_xticks(sorted({r["bits"] for r in res["rows"] if r["method"] != "fp32"}))
    gs = next((r["group_size"] for r in res["rows"] if r["method"] != "fp32"), None)
    ax.set_title("post-training quantization: held-out bpb against bit width\n"
                 + (f"one scale per {gs} input columns" if gs else "one scale per output channel")
                 + "; embedding/head kept in full precision", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    p = out / "bpb_vs_bits.png"
    fig.savefig(p)
    plt.close(fig)
    return str(p)
