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

One concern per file: the config in `curriculum_config`, the new domain's verifiable problems and
their scorer in `curriculum_items`, plots, table and summary.md in `curriculum_report`; this module
runs the experiment (its public names are re-exported here).
"""
from __future__ import annotations

import glob
import json
import statistics
from pathlib import Path

from gristmill.lab.ablate import _resolve, _spread
from gristmill.lab.config import ConfigError, load_config
from gristmill.lab.curriculum_config import ARM_HELP, ARMS, CurriculumConfig, CurriculumEval, PhaseData  # noqa: F401
from gristmill.lab.curriculum_items import Scorer, item_problems  # noqa: F401
from gristmill.lab.curriculum_report import _save, plot_curriculum, print_curriculum, summary_markdown  # noqa: F401  (_save: lab.search)
from gristmill.lab.evaluate import not_below_unigram


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
