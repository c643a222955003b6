"""`gristmill lab curriculum`: learn a new domain after pre-training, and measure what is forgotten.

Phase 1 trains once per seed on `phase1.data` (web-like text). Three arms then continue from that
checkpoint for the same `phase2.tokens` (fresh optimizer, re-warmed and re-decayed learning rate, as
in continual pre-training, Ibrahim et al. 2024, "Simple and Scalable Strategies to Continually
Pre-train Large Language Models", Sec. 4):

* **alone**: the new domain (`phase2.data`) only;
* **replay**: the new domain mixed with phase-1 data, a `replay` share of the sequences (the
  stratified weighted draw of `gristmill.stream.MixtureDataset`, so every prefix of the stream is
  within one sequence of the share);
* **control**: phase-1 data only (what the same extra tokens do without a new domain).

Along phase 2 every evaluation logs (the trainer's `on_eval` hook):

* **forgetting**: the rise of phase-1 held-out bits per byte over its value at the end of phase 1
  (mean over the phase-1 held-out sets; > 0 = forgot);
* **gain**: the fall of new-domain held-out bits per byte below its value at the end of phase 1, and
  the accuracy on verifiable problems: `eval.tasks` (gristmill.lab.tasks) and `eval.phase2_items`,
  held-out worked solutions (`gristmill synth generate` heldout.jsonl) scored on each intermediate
  result `= N` and on the final answer, each predicted greedily from everything before it.

Forgetting, gain and new-domain bpb of `replay` and `control` are compared with `alone`'s over seeds
(paired by seed): a confidence interval and a verdict, "better", "worse" or "within noise", with the
seeds needed to resolve a difference within noise (`vs_alone`; gristmill.lab.significance).

Each arm's phase-2 stream is re-read after training and counted by source (`audit`), so the replay
share reported is the share the arm consumed. Every run is a `gristmill lab train` run directory:
a killed experiment resumes from the checkpoints, and a seed gives the same numbers every time.
"""
from __future__ import annotations

import glob
import json
import random
import re
import statistics
from pathlib import Path
from typing import Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, model_validator

from gristmill.lab.ablate import _resolve, _spread, pm, unigram_flag
from gristmill.lab.evaluate import not_below_unigram
from gristmill.lab.config import ConfigError, load_config

ARMS = ("alone", "replay", "control")
ARM_HELP = {"alone": "new domain only", "replay": "new domain + phase-1 replay", "control": "phase-1 data only"}


class PhaseData(BaseModel):
    model_config = ConfigDict(extra="forbid")
    data: list[str] = Field(min_length=1)   # jsonl/parquet files, globs or gristmill output dirs
    tokens: int = Field(..., ge=1)
    lr: Optional[float] = Field(None, gt=0)  # default: the top-level lr (phase 2 re-warms to it)


class CurriculumEval(BaseModel):
    """`max_bytes` is `lab train`'s (a bpb stable to ~0.01 on the tiny preset); `points: 8` and
    `problems: 50` were chosen on CPU time: every evaluation scores each problem by greedy generation
    and a 4-way ranking, and 50 problems give an accuracy to about ±7 points (binomial standard error)."""
    model_config = ConfigDict(extra="forbid")
    phase1_heldout: list[str] = Field(min_length=1)  # held-out phase-1 text: forgetting
    phase2_heldout: list[str] = []   # held-out new-domain text: gain in bpb
    phase2_items: list[str] = []     # held-out worked-solution items (jsonl with text + answer): step/answer accuracy
    tasks: list[str] = []            # verifiable tasks of gristmill.lab.tasks
    problems: int = Field(50, ge=1)  # items (and task problems) scored at each evaluation
    max_bytes: int = Field(100_000, ge=1000)
    points: int = Field(8, ge=2)     # evaluations along phase 2: the curve's resolution

    @model_validator(mode="after")
    def _some_gain(self):
        if not (self.phase2_heldout or self.phase2_items or self.tasks):
            raise ValueError("name how the new domain is measured: phase2_heldout (files), phase2_items (held-out "
                             "worked solutions) and/or tasks")
        return self


class CurriculumConfig(BaseModel):
    """`seq_len`, `batch_size`, `lr` default to `lab train`'s (nanoGPT's small-model settings).
    `replay: 0.25`: Ibrahim et al. 2024 (Sec. 5) find 5% replay enough for a weak distribution shift and
    25% needed for a strong one (English -> German); web text -> arithmetic is a strong shift.
    `tokenizer`: byte-level BPE trained on both phases' training data, so neither domain is split into
    more tokens than the other by construction; MixtureDataset streams tokenizers JSON files only."""
    model_config = ConfigDict(extra="forbid")
    model: Union[str, dict] = "tiny"
    tokenizer: Union[str, dict] = {"train": {"vocab_size": 4096}}
    seeds: list[int] = Field([0], min_length=1)
    phase1: PhaseData
    phase2: PhaseData
    replay: float = Field(0.25, gt=0, lt=1)  # share of phase-2 sequences drawn from phase-1 data (replay arm)
    eval: CurriculumEval
    seq_len: int = Field(256, ge=8)
    batch_size: int = Field(16, ge=1)
    lr: Optional[float] = Field(None, gt=0)
    threads: Optional[int] = None
    precision: Literal["auto", "bf16", "fp32"] = "auto"  # as in `lab train` (gristmill.lab.precision)
    compile: bool = False
    # confidence intervals over seeds: paired Student t (default) or a bootstrap (lab/significance.py)
    significance: Literal["t", "bootstrap"] = "t"


# ---------------------------------------------------------------- verifiable items of the new domain

# a plain integer result; "= 7,768" (thousands separators) is skipped: the scorer reads plain integers
_STEP = re.compile(r"=\s*(-?\d+)(?!\d|,\d)")


def item_problems(path: str, n: int, exclude: set[str] = frozenset()):
    """Problems from held-out worked solutions: each intermediate `= N` and the final answer, with the
    text before it as the prompt. Items whose answer is not an integer at the end of `text` are skipped;
    so are items whose `prompt` is in `exclude` (seen in training)."""
    from gristmill.lab.tasks import Problem

    steps, answers, used = [], [], 0
    for ln in Path(path).read_text(encoding="utf-8").splitlines():
        if used >= n:
            break
        if not ln.strip():
            continue
        it = json.loads(ln)
        text, ans = it.get("text"), str(it.get("answer", "")).strip()
        if not isinstance(text, str) or not re.fullmatch(r"-?\d+", ans) or not text.rstrip().endswith(ans):
            continue
        if it.get("prompt") in exclude:
            continue
        used += 1
        rng = random.Random(text)
        cut = text.rstrip()[: -len(ans)].rstrip()
        answers.append(Problem(cut, int(ans), _choices(rng, int(ans))))
        for m in _STEP.finditer(cut):
            steps.append(Problem(cut[: m.start() + 1], int(m.group(1)), _choices(rng, int(m.group(1)))))
    return steps, answers


def _choices(rng: random.Random, ans: int) -> tuple[int, ...]:
    # near misses (a wrong carry, an off-by-one, a dropped digit); negatives allowed, unlike lab.tasks
    return (ans, *[ans + d for d in rng.sample([1, -1, 10, -10, 2, -2, 100, -100, 11, -9], 3)])


class Scorer:
    """The `on_eval` hook: accuracy on the new domain's verifiable problems, at every evaluation."""

    def __init__(self, tok, items: dict[str, tuple], tasks: dict[str, list], precision: str = "fp32"):
        self.tok, self.items, self.tasks, self.precision = tok, items, tasks, precision

    def __call__(self, model) -> dict:
        from gristmill.lab.tasks import score

        was = model.training
        out: dict = {}
        for name, (steps, answers) in self.items.items():
            s, a = (score(model, self.tok, ps, precision=self.precision) for ps in (steps, answers))
            out[f"{name}:steps"] = {"n": s["n"], "generate_acc": s["generate_acc"], "rank_acc": s["rank_acc"]}
            out[f"{name}:answer"] = {"n": a["n"], "generate_acc": a["generate_acc"], "rank_acc": a["rank_acc"]}
        for name, probs in self.tasks.items():
            r = score(model, self.tok, probs, precision=self.precision)
            out[name] = {"n": r["n"], "generate_acc": r["generate_acc"], "rank_acc": r["rank_acc"]}
        model.train(was)
        return {"tasks": out} if out else {}


# ---------------------------------------------------------------- the experiment

def _paths(cfg_path: Path, field: str, pats: list[str], base: Path) -> list[str]:
    out = []
    for p in pats:
        r = _resolve(p, base)
        if not glob.glob(r):
            raise ConfigError(f"{cfg_path}: {field}: {p}: no such file (paths resolve against {base})")
        out += sorted(glob.glob(r)) if any(c in r for c in "*?[") else [r]
    return out


def _mixture(path: Path, sources: list[tuple[str, list[str], float]]) -> str:
    """A single-phase mixture file: repetition allowed, since phase-1 data is re-read on purpose."""
    import yaml

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump({"allow_repeat": True, "sources": [
        {"name": n, "path": p, "weight": w} for n, p, w in sources]}, sort_keys=False))
    return str(path)


def _tokenizer(cfg: CurriculumConfig, p1: list[str], p2: list[str], base: Path, out: Path, config: Path) -> str:
    if isinstance(cfg.tokenizer, str):
        if cfg.tokenizer == "bytes":
            raise ConfigError(f"{config}: tokenizer: `bytes` cannot stream a replay mixture (MixtureDataset reads "
                              "tokenizers JSON files); give a tokenizer file or train: {vocab_size: 4096}")
        t = _resolve(cfg.tokenizer, base)
        if not Path(t).is_file():
            raise ConfigError(f"{config}: tokenizer: {cfg.tokenizer}: no such file")
        return t
    from gristmill.lab.ablate import TokenizerTrain

    spec = cfg.tokenizer.get("train") if set(cfg.tokenizer) == {"train"} and isinstance(cfg.tokenizer["train"], dict) else None
    if spec is None or set(spec) - {"vocab_size"}:
        raise ConfigError(f"{config}: tokenizer: expected a tokenizers JSON file or train: {{vocab_size: N}} "
                          f"(trained on both phases' data), got {cfg.tokenizer!r}")
    vocab = TokenizerTrain.model_validate({"from": "both", **spec}).vocab_size
    target = out / "tokenizer.json"
    if not target.exists():
        from gristmill.lab.data import read_texts
        from gristmill.stream.tokenizer import train_bpe

        train_bpe(read_texts(p1) + read_texts(p2), vocab, target)
    return str(target)


def run_curriculum(config: Path, out: Path, console=None, progress: bool | None = None) -> dict:
    from gristmill.lab.config import TrainConfig
    from gristmill.lab.data import EvalSet, read_texts
    from gristmill.lab.tasks import contaminated, get_task, problems
    from gristmill.lab.tokenizer import LabTokenizer
    from gristmill.lab.train import read_log, train

    cfg: CurriculumConfig = load_config(config, model=CurriculumConfig)
    base = config.parent.resolve()
    for t in cfg.eval.tasks:
        try:
            get_task(t)
        except ValueError as e:
            raise ConfigError(f"{config}: eval.tasks: {e}") from None
    p1 = _paths(config, "phase1.data", cfg.phase1.data, base)
    p2 = _paths(config, "phase2.data", cfg.phase2.data, base)
    h1 = _paths(config, "eval.phase1_heldout", cfg.eval.phase1_heldout, base)
    h2 = _paths(config, "eval.phase2_heldout", cfg.eval.phase2_heldout, base)
    items = _paths(config, "eval.phase2_items", cfg.eval.phase2_items, base)
    out.mkdir(parents=True, exist_ok=True)
    tok_spec = _tokenizer(cfg, p1, p2, base, out, config)
    tok = LabTokenizer(tok_spec)
    eval_sets = EvalSet.from_paths(h1 + h2, tok, cfg.seq_len, cfg.eval.max_bytes)
    names1 = [es.name for es in eval_sets[:len(h1)]]
    names2 = [es.name for es in eval_sets[len(h1):]]

    # verifiable problems: built once, minus anything the training data contains
    p2_texts = read_texts(p2)
    seen_prompts = set()
    for f in p2:
        if f.endswith(".jsonl"):
            seen_prompts |= {json.loads(ln).get("prompt") for ln in Path(f).read_text(encoding="utf-8").splitlines() if ln.strip()}
    item_probs = {"items" if len(items) == 1 else f"{Path(f).parent.name}/{Path(f).stem}": item_problems(f, cfg.eval.problems, seen_prompts)
                  for f in items}
    for name, (steps, answers) in item_probs.items():
        if not answers:
            raise ConfigError(f"{config}: eval.phase2_items: {name}: no held-out item with an integer `answer` at the end "
                              "of its `text` (give a `gristmill synth generate` heldout.jsonl)")
    task_probs = {}
    for t in cfg.eval.tasks:
        ps = problems(t, cfg.eval.problems)
        dirty = contaminated(ps, p2_texts)
        task_probs[t] = [p for p in ps if p.prompt not in dirty]
    from gristmill.lab.precision import resolve

    scorer = Scorer(tok, item_probs, task_probs, resolve(cfg.precision)) if (item_probs or task_probs) else None

    mixtures = {"phase1": _mixture(out / "mixtures" / "phase1.yaml", [("phase1", p1, 1.0)]),
                "alone": _mixture(out / "mixtures" / "alone.yaml", [("new", p2, 1.0)]),
                "replay": _mixture(out / "mixtures" / "replay.yaml", [("new", p2, 1 - cfg.replay), ("phase1", p1, cfg.replay)]),
                "control": _mixture(out / "mixtures" / "control.yaml", [("phase1", p1, 1.0)])}
    heldout = h1 + h2

    def tconf(mixture: str, tokens: int, seed: int, lr, init_from=None) -> TrainConfig:
        return TrainConfig(model=cfg.model, mixture=mixture, tokenizer=tok_spec, seq_len=cfg.seq_len, batch_size=cfg.batch_size,
                           tokens=tokens, seed=seed, threads=cfg.threads, init_from=init_from,
                           precision=cfg.precision, compile=cfg.compile,
                           **({"lr": lr} if lr else {}),
                           eval={"heldout": heldout, "max_bytes": cfg.eval.max_bytes,
                                 "every_tokens": max(1, tokens // cfg.eval.points)})

    results: dict = {"config": cfg.model_dump(mode="json", by_alias=True), "tokenizer": tok_spec, "mixtures": mixtures,
                     "precision": resolve(cfg.precision),
                     "eval_sets": {"phase1": names1, "phase2": names2},
                     "problems": {**{f"{k}:steps": len(v[0]) for k, v in item_probs.items()},
                                  **{f"{k}:answer": len(v[1]) for k, v in item_probs.items()},
                                  **{k: len(v) for k, v in task_probs.items()}},
                     "phase1": {}, "arms": {a: {"seeds": {}} for a in ARMS}}
    lr1 = cfg.phase1.lr or cfg.lr
    lr2 = cfg.phase2.lr or cfg.lr
    for seed in cfg.seeds:
        run1 = out / "runs" / f"seed{seed}" / "phase1"
        if console:
            console.print(f"[bold]phase 1[/] seed {seed}: {cfg.phase1.tokens:,} tokens of phase-1 data")
        f1 = train(tconf(mixtures["phase1"], cfg.phase1.tokens, seed, lr1), run1, base=base, progress=progress,
                   console=console, eval_sets=eval_sets)
        results["phase1"][str(seed)] = {"run": str(run1), "tokens": f1["tokens"], "bpb": f1["bpb"], "unigram_bpb": f1["unigram_bpb"],
                                        "not_below_unigram": not_below_unigram(f1["bpb"], f1["unigram_bpb"]),
                                        "curve": _curve(read_log(run1), names1, names2)}
        for arm in ARMS:
            run = out / "runs" / f"seed{seed}" / arm
            if console:
                console.print(f"[bold]{arm}[/] ({ARM_HELP[arm]}) seed {seed}: {cfg.phase2.tokens:,} tokens from phase 1's checkpoint")
            tc = tconf(mixtures[arm], cfg.phase2.tokens, seed, lr2, init_from=str(run1.resolve()))
            final = train(tc, run, base=base, progress=progress, console=console, eval_sets=eval_sets, on_eval=scorer)
            curve = _curve(read_log(run), names1, names2)
            results["arms"][arm]["seeds"][str(seed)] = {"run": str(run), "tokens": final["tokens"], "curve": curve,
                                                        "not_below_unigram": not_below_unigram(final["bpb"], final["unigram_bpb"]),
                                                        **_deltas(curve), "audit": audit(tc, tok, base, final["step"] * cfg.batch_size)}
    _summarize(results)
    from gristmill.engine.atomic import atomic_path

    results["plots"] = plot_curriculum(results, out)
    results["summary"] = str(out / "summary.md")
    (out / "summary.md").write_text(summary_markdown(results, config, out))
    with atomic_path(out / "results.json") as tmp:
        Path(tmp).write_text(json.dumps(results, indent=2))
    return results


def _curve(log: list[dict], names1: list[str], names2: list[str]) -> dict:
    evs = [r for r in log if r["kind"] == "eval"]
    c = {"tokens": [e["tokens"] for e in evs],
         "phase1_bpb": {k: [e["bpb"][k] for e in evs] for k in names1},
         "phase1_mean_bpb": [statistics.fmean(e["bpb"][k] for k in names1) for e in evs]}
    if names2:
        c["phase2_bpb"] = {k: [e["bpb"][k] for e in evs] for k in names2}
        c["phase2_mean_bpb"] = [statistics.fmean(e["bpb"][k] for k in names2) for e in evs]
    tasks = sorted({t for e in evs for t in e.get("tasks", {})})
    if tasks:
        c["tasks"] = {t: {m: [e["tasks"][t][m] if t in e.get("tasks", {}) else None for e in evs]
                          for m in ("generate_acc", "rank_acc")} for t in tasks}
    return c


def _deltas(c: dict) -> dict:
    """forgetting = rise of phase-1 bpb; gain = fall of new-domain bpb / rise of accuracy (end - start)."""
    d = {"forgetting": c["phase1_mean_bpb"][-1] - c["phase1_mean_bpb"][0],
         "forgetting_per_set": {k: v[-1] - v[0] for k, v in c["phase1_bpb"].items()}}
    if "phase2_mean_bpb" in c:
        d["gain_bpb"] = c["phase2_mean_bpb"][0] - c["phase2_mean_bpb"][-1]
        d["phase2_bpb_start"], d["phase2_bpb_end"] = c["phase2_mean_bpb"][0], c["phase2_mean_bpb"][-1]
    d["phase1_bpb_start"], d["phase1_bpb_end"] = c["phase1_mean_bpb"][0], c["phase1_mean_bpb"][-1]
    for t, m in c.get("tasks", {}).items():
        d.setdefault("tasks", {})[t] = {k: {"start": v[0], "end": v[-1], "gain": v[-1] - v[0]} for k, v in m.items()}
    return d


def audit(tc, tok, base: Path, sequences: int) -> dict:
    """Re-read the arm's stream (deterministic for its config and seed) and count the sequences the
    trainer consumed by source: the replay share actually trained on, not the one asked for."""
    from collections import Counter

    from gristmill.lab.data import open_stream

    it = iter(open_stream(tc, tok, base, tokens_needed=sequences * tc.seq_len))
    n = Counter(next(it)["source"] for _ in range(sequences))
    return {"sequences": sequences, "by_source": dict(n), "share": {k: v / max(1, sequences) for k, v in n.items()}}


def _summarize(results: dict) -> None:
    for arm, a in results["arms"].items():
        ss = list(a["seeds"].values())
        a["forgetting"] = _spread([s["forgetting"] for s in ss])
        a["not_below_unigram"] = {seed: s["not_below_unigram"] for seed, s in a["seeds"].items() if s.get("not_below_unigram")}
        if "gain_bpb" in ss[0]:
            a["gain_bpb"] = _spread([s["gain_bpb"] for s in ss])
            a["phase2_bpb_end"] = _spread([s["phase2_bpb_end"] for s in ss])
        a["phase1_bpb_end"] = _spread([s["phase1_bpb_end"] for s in ss])
        a["tasks"] = {t: {k: {"end": _spread([s["tasks"][t][k]["end"] for s in ss]),
                              "gain": _spread([s["tasks"][t][k]["gain"] for s in ss])} for k in ("generate_acc", "rank_acc")}
                      for t in ss[0].get("tasks", {})}
        src = sorted({k for s in ss for k in s["audit"]["share"]})
        a["consumed_share"] = {k: statistics.fmean(s["audit"]["share"].get(k, 0.0) for s in ss) for k in src}
    from gristmill.lab.significance import compare

    method = results["config"].get("significance", "t")
    ref = results["arms"]["alone"]["seeds"]
    for arm in ("replay", "control"):
        a = results["arms"][arm]
        vs = {"reference": "alone"}
        # lower forgetting is better; higher gain is better; lower new-domain bpb is better
        for key, lower in (("forgetting", True), ("gain_bpb", False), ("phase2_bpb_end", True)):
            if all(key in s for s in a["seeds"].values()) and all(key in s for s in ref.values()):
                vs[key] = compare({sd: s[key] for sd, s in a["seeds"].items()}, {sd: s[key] for sd, s in ref.items()},
                                  lower_is_better=lower, method=method)
        a["vs_alone"] = vs


# ---------------------------------------------------------------- plots, table, summary

COLORS = {"alone": "C3", "replay": "C0", "control": "C7"}


def _band(ax, arm: str, seeds: list[dict], ys_of, label: str, scale: float):
    import numpy as np

    n = min(len(s["curve"]["tokens"]) for s in seeds)
    x = np.array(seeds[0]["curve"]["tokens"][:n]) / scale
    ys = np.array([ys_of(s)[:n] for s in seeds], dtype=float)
    flagged = any(s.get("not_below_unigram") for s in seeds)  # drawn dotted and named: a model that learned little
    ax.plot(x, ys.mean(0), color=COLORS[arm], lw=2, ls=":" if flagged else "-",
            label=label + ("  [NOT below unigram]" if flagged else ""))
    if len(seeds) > 1:
        ax.fill_between(x, ys.min(0), ys.max(0), color=COLORS[arm], alpha=0.18, lw=0)


def plot_curriculum(results: dict, out: Path) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    arms = results["arms"]
    cfg = results["config"]
    nseeds = len(cfg["seeds"])
    tok2 = cfg["phase2"]["tokens"]
    scale, unit = (1e6, "millions") if tok2 >= 2e6 else (1e3, "thousands")
    band = f"line = mean, band = min..max over {nseeds} seeds" if nseeds > 1 else "1 seed"
    paths = []

    # 1. forgetting against phase-2 tokens
    fig, ax = plt.subplots(figsize=(7.5, 4.6), dpi=120)
    for arm, a in arms.items():
        ss = list(a["seeds"].values())
        _band(ax, arm, ss, lambda s: [v - s["curve"]["phase1_mean_bpb"][0] for v in s["curve"]["phase1_mean_bpb"]],
              f"{arm}: {ARM_HELP[arm]}" + (f" ({cfg['replay']:.0%} replay)" if arm == "replay" else "")
              + f"  end {a['forgetting']['mean']:+.3f}"
              + (f"; vs alone: {a['vs_alone']['forgetting']['verdict']}" if "forgetting" in a.get("vs_alone", {}) else ""), scale)
    ax.axhline(0, color="k", lw=0.8, ls="--")
    ax.set_xlabel(f"phase-2 tokens ({unit})")
    ax.set_ylabel("phase-1 held-out bpb minus its end-of-phase-1 value")
    ax.set_title(f"Forgetting: rise of phase-1 held-out bits per byte (higher = more forgotten)\n{band}", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    paths.append(_save(fig, out / "forgetting_vs_tokens.png"))

    # 2. gain against phase-2 tokens: new-domain bpb and accuracy panels
    some = next(iter(next(iter(arms.values()))["seeds"].values()))
    panels = (["bpb"] if "phase2_mean_bpb" in some["curve"] else []) + list(some["curve"].get("tasks", {}))
    fig, axes = plt.subplots(1, len(panels), figsize=(5.2 * len(panels), 4.4), dpi=120, squeeze=False)
    for ax, p in zip(axes[0], panels):
        for arm, a in arms.items():
            ss = list(a["seeds"].values())
            if p == "bpb":
                _band(ax, arm, ss, lambda s: s["curve"]["phase2_mean_bpb"], f"{arm}: end {a['phase2_bpb_end']['mean']:.3f}", scale)
            else:  # greedy exact match (solid) and 4-way likelihood ranking (dotted, chance 25%)
                _band(ax, arm, ss, lambda s, p=p: s["curve"]["tasks"][p]["generate_acc"],
                      f"{arm} greedy: end {a['tasks'][p]['generate_acc']['end']['mean']:.0%}", scale)
                ys = [s["curve"]["tasks"][p]["rank_acc"] for s in ss]
                n = min(map(len, ys))
                ax.plot([t / scale for t in ss[0]["curve"]["tokens"][:n]], [statistics.fmean(y[i] for y in ys) for i in range(n)],
                        color=COLORS[arm], ls=":", lw=1.5, label=f"{arm} ranked: end {a['tasks'][p]['rank_acc']['end']['mean']:.0%}")
        if p == "bpb":
            ax.set_ylabel("new-domain held-out bpb (lower = better)")
            ax.set_title("Gain: new-domain held-out bits per byte", fontsize=10)
        else:
            ax.axhline(0.25, color="k", lw=0.8, ls="--")
            ax.set_ylabel("accuracy")
            what = (f"{p[:-6]}: each intermediate result (= N)" if p.endswith(":steps") else
                    f"{p[:-7]}: final answer after the worked steps" if p.endswith(":answer") else f"task {p}")
            ax.set_title(f"Gain: {what}\n{results['problems'].get(p, '?')} held-out problems", fontsize=10)
        ax.set_xlabel(f"phase-2 tokens ({unit}); 0 = end of phase 1")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(band + ("; accuracy: solid = greedy exact match, dotted = answer ranked first of 4 (dashed line = chance)"
                         if len(panels) > 1 or panels[:1] != ["bpb"] else ""), fontsize=9)
    fig.tight_layout()
    paths.append(_save(fig, out / "gain_vs_tokens.png"))

    # 3. the trade-off: forgetting against gain, one point per seed, mean ± std per arm
    if panels:
        key = "bpb" if panels[0] == "bpb" else panels[0]

        def gain(s):
            return s["gain_bpb"] if key == "bpb" else s["tasks"][key]["generate_acc"]["gain"]
        fig, ax = plt.subplots(figsize=(6.8, 5), dpi=120)
        for arm, a in arms.items():
            ss = list(a["seeds"].values())
            xs, ys = [gain(s) for s in ss], [s["forgetting"] for s in ss]
            ax.scatter(xs, ys, color=COLORS[arm], alpha=0.45, s=25)
            ax.errorbar([statistics.fmean(xs)], [statistics.fmean(ys)],
                        xerr=[statistics.stdev(xs) if len(xs) > 1 else 0], yerr=[statistics.stdev(ys) if len(ys) > 1 else 0],
                        fmt="o", ms=9, color=COLORS[arm], capsize=4, label=f"{arm}: {ARM_HELP[arm]}")
        ax.axhline(0, color="k", lw=0.8, ls="--")
        ax.axvline(0, color="k", lw=0.8, ls="--")
        ax.set_xlabel("gain: fall of new-domain held-out bpb" if key == "bpb" else f"gain: rise of {key} accuracy")
        ax.set_ylabel("forgetting: rise of phase-1 held-out bpb")
        ax.set_title("Forgetting against gain after phase 2 (better = right and low)\n"
                     "small dots = seeds, large = mean ± std", fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        fig.tight_layout()
        paths.append(_save(fig, out / "forgetting_vs_gain.png"))
    return paths


def _save(fig, path: Path) -> str:
    import matplotlib.pyplot as plt

    fig.savefig(path)
    plt.close(fig)
    return str(path)


def _pm(s: dict, fmt: str = "{:+.4f}") -> str:
    return pm(s, fmt)


def _rows(results: dict) -> tuple[list[str], list[list[str]]]:
    from gristmill.lab.significance import verdict_text

    cfg = results["config"]
    arms = results["arms"]
    some = next(iter(arms.values()))
    tasks = list(some["tasks"])
    cols = ["arm", "phase-2 data", "forgetting", "phase-1 bpb"]
    if "gain_bpb" in some:
        cols += ["gain", "new-domain bpb"]
    cols += [f"{t} acc (greedy / ranked)" for t in tasks]
    cols += ["forgetting vs alone (diff [95% CI])", "vs unigram baseline"]
    rows = []
    for arm, a in arms.items():
        share = a["consumed_share"]
        what = {"alone": "new", "replay": f"new {share.get('new', 0):.1%} + phase-1 {share.get('phase1', 0):.1%}",
                "control": "phase-1"}[arm]
        r = [arm, what, _pm(a["forgetting"]), _pm(a["phase1_bpb_end"], "{:.4f}")]
        if "gain_bpb" in some:
            r += [_pm(a["gain_bpb"]), _pm(a["phase2_bpb_end"], "{:.4f}")]
        r += [f"{a['tasks'][t]['generate_acc']['end']['mean']:.2f} / {a['tasks'][t]['rank_acc']['end']['mean']:.2f}" for t in tasks]
        vs = a.get("vs_alone", {}).get("forgetting")
        r += [verdict_text(vs, "{:+.3f}") if vs else "reference", unigram_flag(a)]
        rows.append(r)
    return cols, rows


def print_curriculum(results: dict, console) -> None:
    from rich.table import Table

    cfg = results["config"]
    cols, rows = _rows(results)
    t = Table(title=f"phase 2: {cfg['phase2']['tokens']:,} tokens per arm after {cfg['phase1']['tokens']:,} phase-1 tokens "
                    f"(mean ± std over {len(cfg['seeds'])} seeds)", caption="forgetting = rise of phase-1 held-out bpb over "
              "phase 2; gain = fall of new-domain held-out bpb; bpb and greedy accuracy at the end of phase 2")
    for c in cols:
        t.add_column(c, justify="left" if c in ("arm", "phase-2 data") else "right")
    for r in rows:
        t.add_row(*r)
    console.print(t)
    bad1 = [seed for seed, v in results["phase1"].items() if v.get("not_below_unigram")]
    bad = [arm for arm, a in results["arms"].items() if a.get("not_below_unigram")] + [f"phase 1 (seed {s})" for s in bad1]
    if bad:
        console.print(f"[bold yellow]warning:[/] {', '.join(bad)}: not clearly below the unigram baseline; forgetting and "
                      "gain measured on a model that learned little mean little (train longer or check the data)", highlight=False)


def summary_markdown(results: dict, config: Path, out: Path) -> str:
    cfg = results["config"]
    cols, rows = _rows(results)
    p1 = results["phase1"]
    ends = [statistics.fmean(v["bpb"][k] for k in results["eval_sets"]["phase1"]) for v in p1.values()]
    unis = [statistics.fmean(v["unigram_bpb"][k] for k in results["eval_sets"]["phase1"]) for v in p1.values()]
    lines = [f"# Curriculum and forgetting: `{config}`", "",
             f"Phase 1: {cfg['phase1']['tokens']:,} tokens of {', '.join(Path(p).name for p in cfg['phase1']['data'])}; "
             f"phase-1 held-out bpb at its end {statistics.fmean(ends):.4f} (unigram baseline {statistics.fmean(unis):.4f}). "
             f"Phase 2: {cfg['phase2']['tokens']:,} tokens per arm from that checkpoint; replay share {cfg['replay']:.0%}. "
             f"Seeds {cfg['seeds']}; model {cfg['model']}; precision {results['precision']}.", "",
             "forgetting = phase-1 held-out bpb at the end of phase 2 minus at the end of phase 1 (higher = more forgotten); "
             "gain = new-domain held-out bpb fall over phase 2 (higher = learned more); accuracies (mean over seeds) are greedy "
             "exact match / likelihood ranking of the answer among 4 choices (chance 0.25) on held-out problems. The phase-2 data column is the share of sequences each arm consumed (its stream re-read).", "",
             "| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    from gristmill.lab.significance import verdict_text

    sig = [f"- {arm} vs alone, {key}: {verdict_text(c, '{:+.4f}')}" + (f" ({c['method']})" if c.get("method") else "")
           for arm in ("replay", "control") for key, c in results["arms"][arm].get("vs_alone", {}).items() if key != "reference"]
    if sig:
        lines += ["", "Differences against `alone` over seeds (95% interval of arm minus alone; better/worse only when the "
                  "interval excludes 0; seeds to resolve: paired t-test at 80% power, Cohen 1988):", ""] + sig
    lines += ["", "Plots: " + ", ".join(f"`{Path(p).name}`" for p in results["plots"]), ""]
    return "\n".join(lines)
