"""`gristmill lab ablate`: train one model per arm and seed at an equal token budget, evaluate on
held-out clean text, and write results.json, plots and a table.

token_efficiency (OpenELM / DCLM style "tokens to reach a target loss"): for each arm, per seed, the
fraction of the budget it needs to reach the first arm's final held-out bpb (mean over eval sets),
read off its held-out curve with linear interpolation; > 1 is reported as null ("did not reach").

vs_first: every other arm's difference in final held-out bpb against the first arm, with a confidence
interval over seeds and a verdict ("better", "worse", "within noise"; gristmill.lab.significance).

Tokenizer per arm (OpenELM's "tokenizer as a hyperparameter", Mehta et al. 2024): an arm may be
`{data: FILES, tokenizer: T}` with T `bytes`, `bpe:N` (a byte-level BPE trained on that arm's data), a
tokenizers file, or `{train: {vocab_size: N, from: ARM}}`. Every figure is held-out bits per byte of
UTF-8 text (lab.data.EvalSet counts bytes, not tokens), so arms with different tokenizers compare.
`bytes: B` instead of `tokens:` gives every arm the same text budget: each arm trains for B over its
tokenizer's bytes per token on its own training data, and curves and token efficiency are on bytes seen.
"""
from __future__ import annotations

import glob
import json
import statistics
from pathlib import Path
from typing import Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, model_validator

from gristmill.lab.config import ConfigError, load_config
from gristmill.lab.data import EvalSet


class TokenizerTrain(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    vocab_size: int = Field(4096, ge=300)
    from_: str = Field(..., alias="from")  # the arm whose data trains it


class Arm(BaseModel):
    model_config = ConfigDict(extra="forbid")
    data: Union[str, list[str]]  # mixture YAML, or data files
    tokenizer: Optional[Union[str, dict]] = None  # default: the config's tokenizer


class AblateEval(BaseModel):
    model_config = ConfigDict(extra="forbid")
    heldout: list[str] = Field(min_length=1)
    tasks: list[str] = []
    max_bytes: int = 100_000
    points: int = 10  # evaluations per run: the curve's resolution


class AblateConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    model: Union[str, dict] = "tiny"
    tokens: Optional[int] = Field(None, ge=1)
    bytes: Optional[int] = Field(None, ge=1)  # equal text per arm whatever its tokenizer (instead of tokens:)
    seeds: list[int] = Field([0], min_length=1)
    tokenizer: Union[str, dict] = "bytes"
    eval: AblateEval
    arms: dict[str, Union[str, list[str], Arm]] = Field(min_length=1)  # mixture YAML, or data files, or {data, tokenizer}
    seq_len: int = 256
    batch_size: int = 16
    lr: Optional[float] = None
    threads: Optional[int] = None
    precision: Literal["auto", "bf16", "fp32"] = "auto"  # as in `lab train` (gristmill.lab.precision)
    compile: bool = False
    # confidence intervals over seeds: paired Student t (default) or a bootstrap (lab/significance.py)
    significance: Literal["t", "bootstrap"] = "t"

    @model_validator(mode="after")
    def _one_budget(self):
        if (self.tokens is None) == (self.bytes is None):
            raise ValueError("give exactly one budget: tokens: N (per arm, in its own tokens) or bytes: N "
                             "(equal text per arm, for arms with different tokenizers)")
        return self


def _resolve(p: str, base: Path) -> str:
    """Relative paths: against the config's folder when something is there, else the working dir."""
    if Path(p).is_absolute():
        return p
    cand = base / p
    return str(cand) if (cand.exists() or glob.glob(str(cand))) else str(Path.cwd() / p)


def interp_tokens(curve: list[tuple[int, float]], target: float) -> float | None:
    """First token count at which the curve reaches `target` (linear between evaluations)."""
    for (t0, b0), (t1, b1) in zip(curve, curve[1:]):
        if b1 <= target:
            return t1 if b0 == b1 else t0 + (b0 - target) / (b0 - b1) * (t1 - t0) if b0 > target else t0
    return None


def _spread(xs: list[float]) -> dict:
    """Mean and spread over seeds; one seed has no spread (std null, printed n/a), not a spread of 0."""
    xs = [x for x in xs if x is not None]
    if not xs:
        return {"mean": None, "std": None, "min": None, "max": None, "n": 0}
    return {"mean": statistics.fmean(xs), "std": statistics.stdev(xs) if len(xs) > 1 else None,
            "min": min(xs), "max": max(xs), "n": len(xs)}


def pm(s: dict, fmt: str = "{:.4f}") -> str:
    """`mean ± std` of a _spread; `± n/a` over a single seed, `-` when there is nothing."""
    if s.get("mean") is None:
        return "-"
    return fmt.format(s["mean"]) + " ± " + ("n/a" if s.get("std") is None else fmt.format(s["std"]).lstrip("+"))


def run_ablation(config: Path, out: Path, console=None, progress: bool | None = None) -> dict:
    from gristmill.lab.config import TrainConfig
    from gristmill.lab.evaluate import not_below_unigram
    from gristmill.lab.tokenizer import LabTokenizer
    from gristmill.lab.train import read_log, train

    cfg: AblateConfig = load_config(config, model=AblateConfig)
    base = config.parent.resolve()
    out.mkdir(parents=True, exist_ok=True)
    def _paths(v):
        v = v.data if isinstance(v, Arm) else v
        return [_resolve(v, base)] if isinstance(v, str) else [_resolve(x, base) for x in v]

    arms = {name: _paths(v) for name, v in cfg.arms.items()}
    for name, paths in arms.items():
        for p in paths:
            if not glob.glob(p):
                raise ConfigError(f"{config}: arms.{name}: {p}: no such file")
    own = {name: isinstance(v, Arm) and v.tokenizer is not None for name, v in cfg.arms.items()}
    arm_tok = {name: _tokenizer(v.tokenizer if own[name] else cfg.tokenizer, name, arms, base, out, config,
                                f"arms.{name}.tokenizer" if own[name] else "tokenizer")
               for name, v in cfg.arms.items()}
    heldout = [_resolve(h, base) for h in cfg.eval.heldout]
    toks = {spec: LabTokenizer(spec) for spec in dict.fromkeys(arm_tok.values())}
    # one EvalSet per tokenizer over the same files and bytes: bpb divides by bytes, so they compare
    eval_by_tok = {spec: EvalSet.from_paths(heldout, t, cfg.seq_len, cfg.eval.max_bytes) for spec, t in toks.items()}
    results: dict = {"config": cfg.model_dump(mode="json", by_alias=True),
                     "tokenizer": next(iter(toks)) if len(toks) == 1 else dict(arm_tok),
                     "budget": "tokens" if cfg.tokens else "bytes", "arms": {}}
    for arm, paths in arms.items():
        tok_spec = arm_tok[arm]
        is_mix = len(paths) == 1 and paths[0].endswith((".yaml", ".yml"))
        bpt = bytes_per_token(_data_paths(paths), toks[tok_spec])
        tokens = cfg.tokens or max(1, round(cfg.bytes / bpt))
        eval_sets = eval_by_tok[tok_spec]
        results["arms"][arm] = {"tokenizer": tok_spec, "vocab_size": toks[tok_spec].vocab_size, "tokens": tokens,
                                "bytes_per_token": bpt, "seeds": {}}
        for seed in cfg.seeds:
            tc = TrainConfig(model=cfg.model, tokens=tokens, seed=seed, tokenizer=tok_spec, seq_len=cfg.seq_len,
                             batch_size=cfg.batch_size, threads=cfg.threads, precision=cfg.precision, compile=cfg.compile,
                             **({"mixture": paths[0]} if is_mix else {"data": paths}),
                             **({"lr": cfg.lr} if cfg.lr else {}),
                             eval={"heldout": heldout, "max_bytes": cfg.eval.max_bytes,
                                   "every_tokens": max(1, tokens // cfg.eval.points)})
            if console:
                console.print(f"[bold]{arm}[/] seed {seed}: training {tokens:,} tokens ({tok_spec if tok_spec == 'bytes' else Path(tok_spec).name}, "
                              f"{bpt:.2f} bytes/token)", highlight=False)
            run = out / "runs" / arm / f"seed{seed}"
            final = train(tc, run, base=base, progress=progress, console=console, eval_sets=eval_sets)
            evs = [r for r in read_log(run) if r["kind"] == "eval"]
            entry = {"run": str(run), "final_bpb": final["bpb"], "unigram_bpb": final["unigram_bpb"],
                     "not_below_unigram": not_below_unigram(final["bpb"], final["unigram_bpb"]),
                     "final_mean_bpb": statistics.fmean(final["bpb"].values()),
                     "curve": {"tokens": [e["tokens"] for e in evs], "bytes": [round(e["tokens"] * bpt) for e in evs],
                               "bpb": {k: [e["bpb"][k] for e in evs] for k in final["bpb"]},
                               "mean_bpb": [statistics.fmean(e["bpb"].values()) for e in evs]}}
            if cfg.eval.tasks:
                from gristmill.lab.evaluate import evaluate_run

                entry["tasks"] = evaluate_run(run, [], cfg.eval.tasks)["tasks"]
            results["arms"][arm]["seeds"][str(seed)] = entry
    _summarize(results, cfg)
    (out / "results.json").write_text(json.dumps(results, indent=2))
    results["plots"] = plot_ablation(results, out)
    (out / "results.json").write_text(json.dumps(results, indent=2))
    return results


def _data_paths(paths: list[str]) -> list[str]:
    """The files behind an arm: its data files, or the sources of its mixture."""
    if len(paths) == 1 and paths[0].endswith((".yaml", ".yml")):
        from gristmill.mix.spec import load_mixture

        mix = load_mixture(paths[0])
        return [p for ph in mix.phases for s in ph.sources if s.spec and s.spec.path for p in s.spec.path]
    return paths


# bytes per token is a property of (tokenizer, text): measured on this much of the arm's training text
BPT_SAMPLE_BYTES = 2_000_000


def bytes_per_token(paths: list[str], tok) -> float:
    """UTF-8 bytes per token of the arm's training text (each document's EOS counted as one byte and one
    token, as lab.data.EvalSet counts them), on its first BPT_SAMPLE_BYTES."""
    from gristmill.lab.data import read_texts

    texts, n = [], 0
    for t in read_texts(paths):
        texts.append(t)
        n += len(t.encode("utf-8")) + 1
        if n >= BPT_SAMPLE_BYTES:
            break
    ntok = sum(len(x) + 1 for x in tok.encode_batch(texts))
    return n / ntok


def _tokenizer(spec, arm: str, arms, base: Path, out: Path, config: Path, where: str) -> str:
    """A tokenizer spec resolved to `bytes` or a file (training a BPE into OUT when asked)."""
    import re

    named = isinstance(spec, dict)  # {train: ...} given in full (not bpe:N)
    if isinstance(spec, str):
        m = re.fullmatch(r"bpe:(\d+)", spec.strip())
        if m:
            spec = {"train": {"vocab_size": int(m.group(1)), "from": arm}}
        elif spec == "bytes":
            return "bytes"
        else:
            p = _resolve(spec, base)
            if not Path(p).is_file():
                raise ConfigError(f"{config}: {where}: {spec!r}: no such file; give `bytes`, `bpe:N` (trained on the "
                                  "arm's data), a tokenizers JSON file or {train: {vocab_size: N, from: ARM}}")
            return p
    spec = spec.get("train", spec)
    try:
        tt = TokenizerTrain.model_validate(spec)
    except Exception as e:
        raise ConfigError(f"{config}: {where}: expected a file, `bytes`, `bpe:N` or train: {{vocab_size: N, from: ARM}} ({e})") from None
    if tt.from_ not in arms:
        raise ConfigError(f"{config}: {where}.train.from: {tt.from_!r} is not an arm ({', '.join(arms)})")
    # the config-wide trained tokenizer keeps its name; per-arm BPEs are keyed by size and training arm
    target = out / "tokenizer.json" if where == "tokenizer" and named else out / "tokenizers" / f"bpe-{tt.vocab_size}-{tt.from_}.json"
    if not target.exists():
        from gristmill.lab.data import read_texts
        from gristmill.stream.tokenizer import train_bpe

        train_bpe(read_texts(_data_paths(arms[tt.from_])), tt.vocab_size, target)
    return str(target.resolve())  # runs resolve relative paths against the config's folder, not OUT's


def _summarize(results: dict, cfg: AblateConfig) -> None:
    arms = list(results["arms"])
    first = results["arms"][arms[0]]["seeds"]
    for arm in arms:
        a = results["arms"][arm]
        sets = list(next(iter(a["seeds"].values()))["final_bpb"])
        a["final_bpb"] = {k: _spread([s["final_bpb"][k] for s in a["seeds"].values()]) for k in sets}
        a["final_mean_bpb"] = _spread([s["final_mean_bpb"] for s in a["seeds"].values()])
        fracs = []
        axis = "bytes" if cfg.bytes else "tokens"  # equal text budgets compare on text seen
        for seed, s in a["seeds"].items():
            ref = first.get(seed) or next(iter(first.values()))
            target = ref["final_mean_bpb"]
            t = interp_tokens(list(zip(s["curve"][axis], s["curve"]["mean_bpb"])), target)
            # the first arm against itself is 1 by definition (a noisy curve may dip below its end earlier)
            frac = 1.0 if arm == arms[0] else None if t is None else t / ref["curve"][axis][-1]
            s["tokens_to_first_arm_final"] = t
            fracs.append(frac)
        a["not_below_unigram"] = {seed: s["not_below_unigram"] for seed, s in a["seeds"].items() if s["not_below_unigram"]}
        a["token_efficiency"] = {**_spread(fracs), "per_seed": fracs,
                                 "meaning": f"fraction of {arms[0]}'s {axis} needed to reach {arms[0]}'s final held-out bpb; "
                                            "null = did not reach it within the budget"}
    from gristmill.lab.significance import compare

    method = getattr(cfg, "significance", "t")
    for arm in arms[1:]:
        a = results["arms"][arm]
        per = {k: {sd: s["final_bpb"][k] for sd, s in a["seeds"].items()} for k in a["final_bpb"]}
        ref = {k: {sd: s["final_bpb"][k] for sd, s in first.items()} for k in a["final_bpb"]}
        a["vs_first"] = {"reference": arms[0], "metric": "final held-out bpb (lower is better)",
                         "mean": compare({sd: s["final_mean_bpb"] for sd, s in a["seeds"].items()},
                                         {sd: s["final_mean_bpb"] for sd, s in first.items()}, method=method),
                         **{k: compare(per[k], ref[k], method=method) for k in per}}


def plot_ablation(results: dict, out: Path) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    arms = results["arms"]
    some = next(iter(next(iter(arms.values()))["seeds"].values()))
    sets = list(some["final_bpb"]) + (["mean"] if len(some["final_bpb"]) > 1 else [])
    paths = []
    for es in sets:
        fig, ax = plt.subplots(figsize=(7, 4.5), dpi=120)
        unis = []
        axis = "bytes" if results.get("budget") == "bytes" else "tokens"
        for i, (arm, a) in enumerate(arms.items()):
            seeds = list(a["seeds"].values())
            n = min(len(s["curve"][axis]) for s in seeds)
            scale, unit = (1e6, "millions") if seeds[0]["curve"][axis][-1] >= 1e6 else (1e3, "thousands")
            x = np.array(seeds[0]["curve"][axis][:n]) / scale
            ys = np.array([(s["curve"]["mean_bpb"] if es == "mean" else s["curve"]["bpb"][es])[:n] for s in seeds])
            col = f"C{i}"
            flagged = [k for k, v in a.get("not_below_unigram", {}).items() if es == "mean" or es in v]
            flag = f" NOT below unigram (seed {', '.join(flagged)})" if flagged else ""
            vs = a.get("vs_first", {}).get(es)
            if vs:
                flag += f"; vs {a['vs_first']['reference']}: {vs['verdict']}"
            ax.plot(x, ys.mean(0), color=col, lw=2, ls=":" if flagged else "-", marker="x" if flagged else None,
                    label=f"{arm} (final {ys[:, -1].mean():.3f}, {len(seeds)} seed{'s' if len(seeds) > 1 else ''}){flag}")
            if len(seeds) > 1:
                ax.fill_between(x, ys.min(0), ys.max(0), color=col, alpha=0.2, lw=0)
            uni = [s["unigram_bpb"][es] if es != "mean" else statistics.fmean(s["unigram_bpb"].values()) for s in seeds]
            ax.axhline(statistics.fmean(uni), color=col, ls="--", lw=1, label=f"{arm}: unigram baseline")
            unis.append(statistics.fmean(uni))
        finals = [v for a in arms.values() for s in a["seeds"].values()
                  for v in ([s["final_mean_bpb"]] if es == "mean" else [s["final_bpb"][es]])]
        lo, hi = min(finals), max(max(finals), max(unis))
        ax.set_ylim(lo - 0.15 * (hi - lo + 0.05), hi + 0.6 * (hi - lo + 0.05))  # the informative range, not step 0
        ax.set_xlabel(f"training {'bytes of text' if axis == 'bytes' else 'tokens'} ({unit})")
        ax.set_ylabel("held-out bits per byte (lower is better)")
        ax.set_title(f"held-out set {es!r}" + (" (mean over eval sets)" if es == "mean" else "")
                     + ": line = mean, band = min..max over seeds", fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        fig.tight_layout()
        p = out / f"bpb_{es}.png"
        fig.savefig(p)
        plt.close(fig)
        paths.append(str(p))
    return paths


def print_ablation(results: dict, console) -> None:
    from rich.table import Table

    from gristmill.lab.significance import verdict_text

    arms = results["arms"]
    first = next(iter(arms))
    sets = list(next(iter(arms.values()))["final_bpb"])
    bytes_budget = results.get("budget") == "bytes"
    t = Table(title=f"held-out bits per byte at {results['config']['bytes']:,} bytes of text per arm (mean ± std over seeds)"
              if bytes_budget else f"held-out bits per byte at {results['config']['tokens']:,} tokens (mean ± std over seeds)")
    t.add_column("arm")
    several = len({a.get("tokenizer") for a in arms.values()}) > 1
    if several:
        t.add_column("tokenizer")
        t.add_column("bytes/token", justify="right")
    for s in sets:
        t.add_column(s, justify="right")
    t.add_column(f"{'bytes' if bytes_budget else 'tokens'} to reach {first}'s final bpb", justify="right")
    t.add_column("vs unigram baseline")
    for arm, a in arms.items():
        te = a["token_efficiency"]
        eff = "-" if te["mean"] is None else pm(te, "{:.2f}").replace(" ±", "x ±", 1) + (f" ({te['n']} of {len(te['per_seed'])} seeds reached)" if te["n"] < len(te["per_seed"]) else "")
        tk = [("bytes" if a["tokenizer"] == "bytes" else f"{Path(a['tokenizer']).name} ({a['vocab_size']:,})"),
              f"{a['bytes_per_token']:.2f}"] if several else []
        t.add_row(arm, *tk, *[pm(a["final_bpb"][s]) for s in sets], eff, unigram_flag(a))
    console.print(t)
    others = [arm for arm in arms if "vs_first" in arms[arm]]
    if others:  # a table of its own: the intervals need the width
        v = Table(title=f"difference against {first} over seeds: arm minus {first}, 95% interval, verdict")
        v.add_column("arm")
        for s in sets + (["mean"] if len(sets) > 1 else []):
            v.add_column(f"{s} bpb")
        c0 = arms[others[0]]["vs_first"]["mean"]
        v.add_column("how")
        for arm in others:
            vs = arms[arm]["vs_first"]
            v.add_row(arm, *[verdict_text(vs[s]) for s in sets + (["mean"] if len(sets) > 1 else [])],
                      vs["mean"]["method"] or "-")
        console.print(v)
        if c0["method"] is None:
            console.print("one seed per arm: no interval (verdict n/a); run more seeds to tell a difference from noise",
                          highlight=False)
    flagged = [arm for arm, a in arms.items() if a.get("not_below_unigram")]
    if flagged:
        console.print(f"[bold yellow]warning:[/] {', '.join(flagged)}: not clearly below the unigram baseline in some runs; "
                      "their ranking and token efficiency mean little (train longer or check the data)", highlight=False)


def unigram_flag(a: dict) -> str:
    bad = a.get("not_below_unigram") or {}
    if not bad:
        return "below"
    return "NOT below: " + "; ".join(f"seed {seed} ({', '.join(sets)})" for seed, sets in bad.items())
