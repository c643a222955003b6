"""Quantization fragility: do models trained on more tokens lose more at low bit widths?

Huang et al. 2024 ("How Good Are Low-bit Quantized LLaMA3 Models? An Empirical Study") find LLaMA3,
trained on 15T tokens, degrades more under low-bit post-training quantization than LLaMA2 (2T): the
more a model's weights carry, the less room quantization noise has. This benchmark tests that claim
at lab scale: the same model, the same data and seeds, trained on 1x and 4x tokens (each with its own
complete warmup + cosine schedule), then `gristmill lab quantize` on every run (RTN and GPTQ at each
bit width; LoRA recovery at the lowest width). It tabulates held-out bits per byte and the increase over
the run's own full-precision model per bits x method x tokens, and plots the increase.

    GRISTMILL_CORPORA=/work/corpora python benchmarks/lab_fragility.py -o /tmp/fragility \\
        --tokens 250000 --seeds 0,1 --bits 8,4,3,2 --lora-steps 10 --lora-bits 2 --lora-seeds 0 --threads 1

Data: brown, sotu and mobydick; every 20th document of each is held out (never trained on) and
its first `--heldout-bytes` bytes form that corpus's held-out set; the first `--train-bytes` of the
rest (whole documents) are the training text. Re-running resumes: finished
training runs are reused by `gristmill lab train`, finished quantizations are skipped.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

CORPORA = ("brown", "sotu", "mobydick")


def split_corpora(corpora: Path, out: Path, names=CORPORA, every: int = 20, heldout_bytes: int | None = None,
                  train_bytes: int | None = None) -> dict:
    """Per corpus: NAME_train.jsonl and NAME_heldout.jsonl (every `every`-th document, in file order,
    optionally cut to its first `heldout_bytes` bytes so evaluations stay cheap on a 2-core machine;
    the training documents optionally stop after `train_bytes`, whole documents)."""
    out.mkdir(parents=True, exist_ok=True)
    files = {}
    for n in names:
        src = corpora / f"{n}.jsonl"
        if not src.is_file():
            sys.exit(f"{src}: missing; set GRISTMILL_CORPORA to a folder built by the corpora fetch script")
        tr, ho = out / f"{n}_train.jsonl", out / f"{n}_heldout.jsonl"
        if not (tr.exists() and ho.exists()):
            rows = [json.loads(ln) for ln in src.read_text().splitlines() if ln.strip()]
            held = [r for i, r in enumerate(rows) if i % every == every - 1]
            if heldout_bytes:
                kept, size = [], 0
                for r in held:
                    if size >= heldout_bytes:
                        break
                    r = {**r, "text": r["text"][: heldout_bytes - size]}
                    kept.append(r)
                    size += len(r["text"].encode())
                held = kept
            train, size = [], 0
            for r in (r for i, r in enumerate(rows) if i % every != every - 1):
                if train_bytes and size >= train_bytes:
                    break
                train.append(r)
                size += len(r["text"].encode())
            tr.write_text("".join(json.dumps(r) + "\n" for r in train))
            ho.write_text("".join(json.dumps(r) + "\n" for r in held))
        files[n] = {"train": str(tr), "heldout": str(ho)}
    return files


def gm(*args: str) -> None:
    cmd = ["gristmill", *args]
    print("$", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-o", "--out", type=Path, required=True)
    ap.add_argument("--tokens", type=int, default=250_000, help="the 1x budget; the long run gets --mult times it")
    ap.add_argument("--mult", type=int, default=4)
    ap.add_argument("--seeds", default="0,1")
    ap.add_argument("--bits", default="8,4,3,2")
    ap.add_argument("--method", default="rtn,gptq")
    ap.add_argument("--group-size", type=int, default=None)
    ap.add_argument("--lora-steps", type=int, default=10)
    ap.add_argument("--lora-bits", default="2", help="widths that also get LoRA recovery")
    ap.add_argument("--lora-seeds", default="", help="seeds that get LoRA recovery (default: all)")
    ap.add_argument("--model", default='{"preset": "tiny", "n_layer": 2, "d_model": 96, "n_head": 3}',
                    help="a preset name or a JSON model spec (default: 2 layers, d 96: what a shared 2-core machine trains in time)")
    ap.add_argument("--seq-len", type=int, default=128)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--heldout-bytes", type=int, default=25_000)
    ap.add_argument("--train-bytes", type=int, default=1_500_000,
                    help="training text per corpus (whole documents): 3 corpora x 1.5 MB cover the 4x run (1M byte tokens) "
                         "in one epoch, and the stream GPTQ and LoRA re-read stays cheap")
    ap.add_argument("--threads", type=int, default=None)
    a = ap.parse_args()
    corpora = Path(os.environ.get("GRISTMILL_CORPORA", "/work/corpora"))
    out = a.out.resolve()
    files = split_corpora(corpora, out / "corpora", heldout_bytes=a.heldout_bytes, train_bytes=a.train_bytes)
    seeds = [int(s) for s in a.seeds.split(",")]
    lora_seeds = [int(s) for s in a.lora_seeds.split(",")] if a.lora_seeds else seeds
    budgets = {"1x": a.tokens, f"{a.mult}x": a.tokens * a.mult}
    runs: dict = {}
    jobs = [(seed, label, tokens) for seed in seeds for label, tokens in budgets.items()]
    gs = ["--group-size", str(a.group_size)] if a.group_size else []

    def dirs(label, seed):
        return (out / "runs" / f"{label}-seed{seed}", out / "quant" / f"{label}-seed{seed}",
                out / "quant-lora" / f"{label}-seed{seed}")
    # three passes (train all, quantize all, LoRA), so a run cut short still has whole tables
    for seed, label, tokens in jobs:
        cfg = out / "configs" / f"{label}.yaml"
        cfg.parent.mkdir(parents=True, exist_ok=True)
        cfg.write_text(json.dumps({  # JSON is YAML
            "model": json.loads(a.model) if a.model.startswith("{") else a.model, "tokenizer": "bytes",
            "seq_len": a.seq_len, "batch_size": a.batch_size, "tokens": tokens,
            "data": [f["train"] for f in files.values()], **({"threads": a.threads} if a.threads else {}),
            "eval": {"heldout": [f["heldout"] for f in files.values()], "every_tokens": max(1, tokens // 4),
                     "max_bytes": a.heldout_bytes}}, indent=1))
        if not (dirs(label, seed)[0] / "final.json").exists():  # `lab train` would resume it anyway; skip the startup
            gm("lab", "train", str(cfg), "-o", str(dirs(label, seed)[0]), "--seed", str(seed), "--no-progress")
    for seed, label, _ in jobs:
        run, q, _ = dirs(label, seed)
        if not (q / "results.json").exists():
            gm("lab", "quantize", str(run), "--bits", a.bits, "--method", a.method, *gs, "-o", str(q))
    # LoRA recovery at the --lora-bits widths only: LoRA steps are the expensive part on a shared
    # CPU, and 8/4 bits leave little to recover
    for seed, label, _ in jobs:
        run, q, ql = dirs(label, seed)
        lora_here = a.lora_steps and seed in lora_seeds
        if lora_here and not (ql / "results.json").exists():
            gm("lab", "quantize", str(run), "--bits", a.lora_bits, "--method", a.method, *gs,
               "--lora-steps", str(a.lora_steps), "-o", str(ql))
        quant = json.loads((q / "results.json").read_text())
        if lora_here:
            lora = {(r["method"], r["bits"]): r["lora"] for r in json.loads((ql / "results.json").read_text())["rows"] if "lora" in r}
            for r in quant["rows"]:
                if (r["method"], r["bits"]) in lora:
                    r["lora"] = lora[(r["method"], r["bits"])]
        runs[(label, seed)] = {"final": json.loads((run / "final.json").read_text()), "quant": quant}
    res = tabulate(runs, budgets, seeds, a, lora_seeds)
    (out / "results.json").write_text(json.dumps(res, indent=2))
    plot(res, out / "fragility.png")
    md = markdown(res)
    (out / "summary.md").write_text(md)
    print(md)
    print(f"results: {out / 'results.json'}; plot: {out / 'fragility.png'}; summary: {out / 'summary.md'}")


def _ms(xs):
    return {"mean": statistics.fmean(xs), "std": statistics.stdev(xs) if len(xs) > 1 else 0.0, "per_seed": xs}


def tabulate(runs: dict, budgets: dict, seeds: list[int], a, lora_seeds: list[int]) -> dict:
    rows = []
    fp = {}
    for label in budgets:
        finals = [runs[(label, s)]["final"] for s in seeds]
        fprows = [next(r for r in runs[(label, s)]["quant"]["rows"] if r["method"] == "fp32") for s in seeds]
        fp[label] = {"tokens": budgets[label], "bpb": _ms([r["mean_bpb"] for r in fprows]),
                     "unigram_bpb": _ms([statistics.fmean(f["unigram_bpb"].values()) for f in finals])}
        keys = sorted({(r["method"], r["bits"]) for r in runs[(label, seeds[0])]["quant"]["rows"] if r["method"] != "fp32"},
                      key=lambda k: (k[0], -k[1]))
        for method, bits in keys:
            per = [next(r for r in runs[(label, s)]["quant"]["rows"] if (r["method"], r["bits"]) == (method, bits)) for s in seeds]
            base = [r["mean_bpb"] for r in fprows]
            row = {"tokens": label, "method": method, "bits": bits,
                   "bpb": _ms([r["mean_bpb"] for r in per]),
                   "increase": _ms([r["mean_bpb"] - b for r, b in zip(per, base)]),
                   "rel_increase": _ms([(r["mean_bpb"] - b) / b for r, b in zip(per, base)])}
            lo = [(r, b) for r, b in zip(per, base) if "lora" in r]  # LoRA may cover fewer seeds (--lora-seeds)
            if lo:
                row["lora_bpb"] = _ms([r["lora"]["mean_bpb"] for r, _ in lo])
                row["lora_increase"] = _ms([r["lora"]["mean_bpb"] - b for r, b in lo])
                row["lora_recovered"] = _ms([r["lora"]["gap_recovered"] for r, _ in lo if r["lora"]["gap_recovered"] is not None] or [float("nan")])
            rows.append(row)
    return {"budgets": budgets, "seeds": seeds, "full_precision": fp, "rows": rows,
            "settings": {"model": a.model, "seq_len": a.seq_len, "batch_size": a.batch_size, "bits": a.bits,
                         "method": a.method, "group_size": a.group_size, "lora_steps": a.lora_steps, "lora_bits": a.lora_bits, "lora_seeds": lora_seeds,
                         "heldout_bytes_per_corpus": a.heldout_bytes, "tokenizer": "bytes"}}


def plot(res: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    methods = sorted({r["method"] for r in res["rows"]})
    fig, axes = plt.subplots(1, len(methods), figsize=(5.5 * len(methods), 4.3), dpi=120, squeeze=False)
    for ax, m in zip(axes[0], methods):
        for i, label in enumerate(res["budgets"]):
            rs = sorted((r for r in res["rows"] if r["method"] == m and r["tokens"] == label), key=lambda r: r["bits"])
            x = [r["bits"] for r in rs]
            fpb = res["full_precision"][label]["bpb"]["mean"]
            ax.errorbar(x, [r["increase"]["mean"] for r in rs], yerr=[r["increase"]["std"] for r in rs], fmt="o-",
                        color=f"C{i}", capsize=3, label=f"{label} tokens ({res['budgets'][label]:,}; fp32 bpb {fpb:.3f})")
            lo = [r for r in rs if "lora_increase" in r]
            if lo:
                ax.errorbar([r["bits"] for r in lo], [r["lora_increase"]["mean"] for r in lo], yerr=[r["lora_increase"]["std"] for r in lo],
                            fmt="s", color=f"C{i}", mfc="none", ms=8, capsize=3, label=f"{label} + LoRA ({res['settings']['lora_steps']} steps"
                            + (f", seeds {res['settings']['lora_seeds']})" if res['settings']['lora_seeds'] != res['seeds'] else ")"))
        ax.set_yscale("symlog", linthresh=0.01)
        ax.axhline(0, color="k", lw=0.8)
        ax.set_xticks(sorted({r["bits"] for r in res["rows"]}))
        ax.set_xlabel("weight bits (linear layers)")
        ax.set_ylabel("held-out bpb increase over the run's fp32 model")
        ax.set_title(f"{m.upper()}: loss from quantization\n(mean ± std over seeds {res['seeds']}; higher = more fragile)", fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def markdown(res: dict) -> str:
    labels = list(res["budgets"])
    lo, hi = labels[0], labels[-1]
    lines = ["| tokens | fp32 held-out bpb | unigram bpb |", "|---|---:|---:|"]
    for lb, f in res["full_precision"].items():
        lines.append(f"| {lb} ({f['tokens']:,}) | {f['bpb']['mean']:.4f} ± {f['bpb']['std']:.4f} | {f['unigram_bpb']['mean']:.4f} |")
    nl = len(res["settings"]["lora_seeds"])
    lines += ["", f"| method | bits | Δbpb {lo} | Δbpb {hi} | Δ{hi} − Δ{lo} | relative Δ {lo} | relative Δ {hi} "
                  f"| Δbpb {lo} + LoRA | Δbpb {hi} + LoRA |", "|---|---:|" + "---:|" * 7]
    keys = sorted({(r["method"], r["bits"]) for r in res["rows"]}, key=lambda k: (k[0], -k[1]))
    for m, b in keys:
        by = {r["tokens"]: r for r in res["rows"] if (r["method"], r["bits"]) == (m, b)}

        def f(r, k, pct=False):
            if k not in r:
                return "-"
            return f"{r[k]['mean']:+.2%}" if pct else f"{r[k]['mean']:+.4f} ± {r[k]['std']:.4f}"
        lines.append(f"| {m} | {b} | {f(by[lo], 'increase')} | {f(by[hi], 'increase')} | "
                     f"{by[hi]['increase']['mean'] - by[lo]['increase']['mean']:+.4f} | {f(by[lo], 'rel_increase', True)} | "
                     f"{f(by[hi], 'rel_increase', True)} | {f(by[lo], 'lora_increase')} | {f(by[hi], 'lora_increase')} |")
    lines += ["", f"Δ = held-out bpb of the quantized model minus its own fp32 model (mean ± std over seeds "
                  f"{res['seeds']}; LoRA columns over seeds {res['settings']['lora_seeds']}, {nl} seed(s), "
                  f"{res['settings']['lora_steps']} steps)."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
