"""In-process self-play on verifiable arithmetic: ``gristmill synth selfplay --demo -o OUT``.

A lab model first learns answer-only arithmetic (``{problem}\\nAnswer: N``, N in ``answer_format``) at difficulty 1 from
generator items (training split only). Each round then

1. draws new problems from the generator (``math.arithmetic``) at the arm's current difficulty, from
   the training side of the key-hash split (:func:`gristmill.synth.dataset.split_of`), so no held-out
   problem is ever posed;
2. samples ``k`` answers per problem at ``temperature`` (``GPT.generate``: batched, KV-cached);
3. checks every sampled answer with the generator's own check (sympy evaluates the item's expression:
   :func:`gristmill.synth.generators._verify.same_value`); the reference answer is never read by the
   verified arm, only the verdict;
4. continues training (``init_from`` the previous round) on the kept answers, mixed with replay of
   earlier rounds' kept data and some of the original data (the replay buffer of Rolnick et al. 2019,
   against forgetting);
5. scores the model greedily on a fixed held-out split that covers every difficulty level.

This is STaR (Zelikman et al. 2022, "STaR: Bootstrapping Reasoning With Reasoning") and ReST-EM
(Singh et al. 2023, "Beyond Human Data: Scaling Self-Training for Problem-Solving with Language
Models"): sample, keep what a binary verifier accepts, fine-tune, repeat. Difficulty follows the
model: when a round's acceptance reaches ``promote_at``, the next round draws problems one level
harder (a curriculum gated on the model's own success rate, as ReST-EM filters by reward).

Arms, all from the same start model and at equal training tokens per round:

* ``verified``   the self-play loop above;
* ``unverified`` control (a): every sampled answer is trained on, right or wrong;
* ``reference``  control (b): the generator's reference answers to the same posed problems (an upper
  bound: what a perfect verifier-plus-solver would give);
* ``none``       control (c): no new data; the round's tokens go to the original data;
* ``pose``       pose and solve (Absolute Zero): the model writes its own problems, kept when well formed,
  new and solved by some but not all of its k samples; it trains on its verified answers to them
  (:mod:`gristmill.synth.selfplay_pose`).

Answers are written in ``answer_format``: ``reversed`` (default) puts the least significant digit
first, the format small transformers learn addition from with far fewer samples (Lee et al. 2023,
"Teaching Arithmetic to Small Transformers"); the verifier reads it back to an integer literal first.

OUT holds ``start/`` (seed documents, the start model), ``ARM/round_R/`` (``samples.jsonl`` = every
sample with its verdict, ``train.jsonl``, ``model/``, ``result.json``), ``results.json`` and
``selfplay.png``. A finished round is skipped on a re-run.
"""
from __future__ import annotations

import json
import random
import re
from pathlib import Path
from typing import Literal, Optional

from pydantic import BaseModel, ConfigDict, Field

from gristmill.engine.atomic import atomic_write_text

ARMS = ("verified", "unverified", "reference", "none", "pose")
_ANSWER = re.compile(r"^[ \t]*(-?\d[\d,]*)[ \t]*$", re.ASCII)  # ASCII: int() would also read other scripts' digits


class StartConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    items: int = Field(8000, ge=10, description="generator draws for the start data (training split, deduplicated): "
                                                 "at difficulty 1 8,000 draws give ~4,000 distinct training problems")
    tokens: int = Field(700_000, ge=1, description="start-model budget: ~5 minutes of one core of a loaded 2-core box at "
                                                   "batch 16, and 0.05-0.06 greedy accuracy at difficulty 1 (RESULTS.md, "
                                                   "bench_selfplay); batch 64 reached 0.53 at 6M tokens (bench_synth_math_answer), "
                                                   "an hour or more here")
    lr: float = Field(3e-3, gt=0, description="the bench_synth_math_answer start lr")
    run: Optional[str] = Field(None, description="a finished `gristmill lab train` run to start from instead "
                                                 "(same answer-only format)")


class RoundsConfig(BaseModel):
    """Defaults: the demo's budget on a shared 2-core machine; each cites where it comes from."""
    model_config = ConfigDict(extra="forbid")
    kind: str = "math.arithmetic"
    seed: int = 0
    model: str | dict = Field("tiny", description="lab preset or model spec; tiny (4 x 128) is the model of bench_synth_math_answer")
    seq_len: int = 64
    batch_size: int = Field(16, ge=1, description="small batches: more optimizer steps per token, what a few-minute "
                                                   "budget on 2 cores needs")
    threads: Optional[int] = Field(1, ge=1, description="torch threads per process: on a shared 2-core box two threads of "
                                                      "this small model ran at 125 tokens/s against ~1,000 for one (load 17); "
                                                      "None = every core")
    start: StartConfig = Field(default_factory=StartConfig)
    rounds: int = Field(3, ge=1, description="three: the minimum issue 22 asks for")
    problems: int = Field(256, ge=1, description="problems posed per round")
    k: int = Field(8, ge=1, description="samples per problem (ReST-EM samples several per problem and keeps the correct)")
    answer_format: Literal["plain", "reversed"] = Field(
        "reversed", description="how answers are written: `reversed` digits (least significant first) are learned "
                                "from far fewer samples by small transformers (Lee et al. 2023), which is what "
                                "gives the loop a start model that solves a useful share in minutes; `plain` as written")
    temperature: float = Field(0.8, gt=0, description="sampling temperature; below 1 keeps the samples near the "
                                                       "model's mode while pass@k still exceeds pass@1")
    round_tokens: int = Field(100_000, ge=1, description="tokens trained per round, the same for every arm")
    round_lr: float = Field(1e-3, gt=0, description="peak lr of the rounds: a third of the start's (re-warming to a lower "
                                                     "peak forgets less: Ibrahim et al. 2024)")
    replay: float = Field(0.25, ge=0, lt=1, description="share of a round's documents from earlier rounds' kept data")
    original: float = Field(0.25, ge=0, lt=1, description="share of a round's documents from the start data")
    promote_at: float = Field(0.4, gt=0, le=1, description="acceptance at which the next round draws one level harder: "
                                                            "0.4 lets a start model near 0.3-0.5 move up within three rounds")
    max_difficulty: int = Field(2, ge=1, le=5, description="levels posed and held out: 1 (2-digit) and 2 (3-digit, "
                                                           "mixed expressions)")
    eval_n: int = Field(150, ge=1, description="held-out problems per difficulty level: +-0.04 (1 s.e. at 50%)")
    heldout: float = Field(0.1, gt=0, lt=1, description="held-out fraction of the key hash (the `synth generate` default)")
    arms: list[Literal["verified", "unverified", "reference", "none", "pose"]] = Field(
        default_factory=lambda: ["verified", "none"], description="the demo runs self-play and control (c); "
                                                                  "benchmarks/bench_selfplay.py runs the others beside them")


def render(answer: str, fmt: str = "plain") -> str:
    """The answer as the model writes it. ``reversed``: digits least-significant first, sign in front
    (Lee et al. 2023, "Teaching Arithmetic to Small Transformers": each output digit then depends only
    on digits already seen plus a carry, and small models learn addition from far fewer samples)."""
    if fmt == "plain":
        return answer
    a = answer.replace(",", "").strip()
    return ("-" if a.startswith("-") else "") + a.lstrip("-")[::-1]


def read_answer(text: str | None, fmt: str = "plain") -> str | None:
    """Model text back to a plain integer literal, or None when it is not one (bounded: 64 chars)."""
    if text is None or len(text) > 64 or not _ANSWER.match(text):
        return None
    a = text.strip().replace(",", "")
    if fmt == "reversed":
        if "," in text:  # the reversed format has no thousands separators
            return None
        a = ("-" if a.startswith("-") else "") + a.lstrip("-")[::-1]
    return a


def _doc(prompt: str, answer: str) -> str:
    return f"{prompt}\nAnswer: {answer}"


def draw(kind: str, difficulty: int, n: int, seed: int, heldout: float, want: str, exclude: set[str] = frozenset(),
         max_draws: int | None = None) -> list:
    """Up to n distinct generator items of one side of the key-hash split (`want`: train / heldout)."""
    from gristmill.synth.dataset import split_of
    from gristmill.synth.generators._verify import NotVerified
    from gristmill.synth.items import normalize_key
    from gristmill.synth.registry import Composite, resolve

    comp, seen, out = Composite(resolve(kind), seed, difficulty), set(exclude), []
    for _ in range(max_draws or 40 * n):
        try:
            _, it = comp.draw()
        except NotVerified:
            continue
        k = normalize_key(it.key)
        if k in seen or split_of(it.key, heldout) != want or not it.metadata.get("expression"):
            continue
        seen.add(k)
        out.append(it)
        if len(out) == n:
            break
    return out


def verify(item, answer: str | None, fmt: str = "plain") -> bool:
    """The generator's check: sympy evaluates the item's expression and compares it with `answer`
    (model text in the answer format `fmt`). Only an integer literal (digits, an optional sign and, in
    the plain format, thousands commas) reaches sympy: `sympify` evaluates its input as Python, so
    model text is never handed to it as such."""
    from gristmill.synth.generators._verify import NotVerified, same_value

    lit = read_answer(answer, fmt)
    if lit is None:
        return False
    try:
        same_value(item.metadata["expression"], lit)
        return True
    except (NotVerified, ValueError, TypeError, ArithmeticError):
        return False


def continue_texts(model, tok, prompts: list[str], budget: int, temperature: float, seed: int,
                   precision: str = "fp32", batch_size: int = 256) -> list[str]:
    """Each prompt's continuation up to the newline (at most `budget` tokens), decoded; greedy at
    temperature 0 (``GPT.generate``: batched, KV-cached)."""
    import torch

    g = torch.Generator().manual_seed(seed) if temperature > 0 else None
    stop = set(tok.encode("\n")) | {tok.eos_id}
    rows = [tok.encode(p) for p in prompts]
    outs: list = []
    model.eval()
    with torch.no_grad():
        for i in range(0, len(rows), batch_size):
            outs += model.generate(rows[i:i + batch_size], budget, temperature=max(0.0, temperature), generator=g,
                                   stop_ids=stop, precision=precision)
    return [tok.decode([t for t in o if t not in stop]) for o in outs]


def sample(model, tok, prompts: list[str], k: int, temperature: float, seed: int, budget: int,
           precision: str = "fp32", batch_size: int = 256) -> list[list[Optional[str]]]:
    """k sampled answers per prompt (the digits after `Answer:` up to the newline; None if not a number)."""
    texts = continue_texts(model, tok, [p + "\nAnswer:" for p in prompts for _ in range(k)], budget, temperature,
                           seed, precision, batch_size)
    answers = [m.group(1) if (m := _ANSWER.match(t)) else None for t in texts]
    return [answers[i * k:(i + 1) * k] for i in range(len(prompts))]


def evaluate(run: Path, heldout: dict[int, list], fmt: str = "plain") -> dict:
    """Greedy held-out accuracy per difficulty, per sub-kind and overall: the greedy answer, read in
    the answer format, checked by the same verifier as the samples (sympy on the item's expression)."""
    from gristmill.lab.train import load_run

    model, tok, tcfg, _ = load_run(run)
    by_d, right, n = {}, 0, 0
    for d, items in heldout.items():
        budget = 2 * (d + 1) + 4
        got = [a[0] for a in sample(model, tok, [it.prompt for it in items], 1, 0.0, 0, budget, precision=tcfg.precision)]
        oks = [verify(it, a, fmt) for it, a in zip(items, got)]
        kinds: dict[str, list[int]] = {}
        for it, ok in zip(items, oks):
            kinds.setdefault(it.metadata["kind"], []).append(ok)
        by_d[str(d)] = {"n": len(items), "accuracy": sum(oks) / max(1, len(items)),
                        "by_kind": {k: sum(v) / len(v) for k, v in sorted(kinds.items())}}
        right += sum(oks)
        n += len(items)
    return {"accuracy": right / max(1, n), "by_difficulty": by_d}


def _write_docs(path: Path, docs: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, "".join(json.dumps({"id": f"{path.parent.name}-{i}", "text": t}) + "\n"
                                    for i, t in enumerate(docs)))


def _train_cfg(cfg: RoundsConfig, data: Path, tokens: int, lr: float, seed: int, init_from: Path | None):
    from gristmill.lab.config import TrainConfig

    return TrainConfig.model_validate({
        "model": cfg.model, "data": [str(data.resolve())], "seq_len": cfg.seq_len, "batch_size": cfg.batch_size,
        "tokens": tokens, "lr": lr, "seed": seed, "log_every": 20, "threads": cfg.threads,
        **({"init_from": str(init_from.resolve())} if init_from else {}),
        # a round is a few dozen steps: warm up over 10% of them, not the 5% default of a long run
        **({"warmup_tokens": max(1, tokens // 10)} if init_from else {})})


def _mix(rng: random.Random, new: list[str], earlier: list[str], original: list[str], cfg: RoundsConfig) -> dict:
    """The round's documents: new + replay of earlier rounds' kept data + original data. There are at
    least as many as the round's tokens read once (bytes per document as the token estimate: exact for
    the byte tokenizer, an overestimate for BPE), so no document is repeated within a round: a round
    that kept a handful trains on them once, beside replay and original data, instead of a few
    documents repeated for the whole budget. Replay and original split the rest by their shares (at
    most `replay` and `original` of the total each when there is much new data); replay falls back to
    original data while the buffer is small."""
    pool = new + earlier + original
    per_doc = sum(len(d.encode()) + 1 for d in pool) / max(1, len(pool))
    total = max(round(len(new) / max(1e-9, 1 - cfg.replay - cfg.original)), round(cfg.round_tokens / per_doc), 1)
    rest = total - len(new)
    n_rep = min(len(earlier), round(rest * cfg.replay / max(1e-9, cfg.replay + cfg.original)))
    n_orig = min(len(original), rest - n_rep)
    return {"new": new, "replay": rng.sample(earlier, n_rep), "original": rng.sample(original, n_orig)}


def run_rounds(cfg: RoundsConfig, out: Path, log=print) -> dict:
    from gristmill.lab.train import load_run
    from gristmill.lab.train import train as lab_train
    from gristmill.synth.items import normalize_key

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "config.json", json.dumps(cfg.model_dump(mode="json"), indent=2))
    # the fixed held-out split: every level, the same problems for every arm and round
    heldout = {d: draw(cfg.kind, d, cfg.eval_n, 1_000_003 + d, cfg.heldout, "heldout") for d in range(1, cfg.max_difficulty + 1)}
    held_keys = {normalize_key(it.key) for items in heldout.values() for it in items}

    # ---- the start model
    sd = out / "start"
    start_items = draw(cfg.kind, 1, cfg.start.items, cfg.seed, cfg.heldout, "train", held_keys, max_draws=cfg.start.items)
    original = [_doc(it.prompt, render(it.answer, cfg.answer_format)) for it in start_items]
    _write_docs(sd / "train.jsonl", original)
    if cfg.start.run:
        start_run = Path(cfg.start.run)
        load_run(start_run)  # fails loudly now, before any round
        start_tokens = json.loads((start_run / "final.json").read_text())["tokens"]
    else:
        start_run = sd / "model"
        log(f"start: training {cfg.model} on {len(original)} difficulty-1 problems ({cfg.start.tokens:,} tokens)")
        start_tokens = lab_train(_train_cfg(cfg, sd / "train.jsonl", cfg.start.tokens, cfg.start.lr, cfg.seed, None),
                                 start_run, base=sd, progress=False)["tokens"]
    start_file = sd / "result.json"
    if start_file.exists():
        start = json.loads(start_file.read_text())
    else:
        start = {"round": 0, "tokens": start_tokens, "model": str(start_run), "heldout": evaluate(start_run, heldout, cfg.answer_format)}
        atomic_write_text(start_file, json.dumps(start, indent=2))
    log(f"start: held-out accuracy {start['heldout']['accuracy']:.3f} "
        + " ".join(f"d{d} {v['accuracy']:.3f}" for d, v in start["heldout"]["by_difficulty"].items()))

    arms = {}
    for arm in cfg.arms:
        arms[arm] = _run_arm(cfg, arm, out / arm, start_run, start_tokens, original, heldout, held_keys, log,
                             frozenset(normalize_key(it.key) for it in start_items))
    res = {"config": cfg.model_dump(mode="json"), "heldout_n": {str(d): len(v) for d, v in heldout.items()},
           "start": start, "arms": arms,
           # the verified arm is *the* self-play loop; the controls sit beside it under arms
           "rounds": arms.get("verified", next(iter(arms.values()), [])), "plot": str(out / "selfplay.png")}
    plot(res, out / "selfplay.png")
    atomic_write_text(out / "results.json", json.dumps(res, indent=2))
    return res


def _run_arm(cfg, arm, ad: Path, start_run: Path, start_tokens: int, original: list[str], heldout, held_keys, log,
             start_keys: frozenset = frozenset()) -> list:
    from gristmill.lab.train import load_run
    from gristmill.lab.train import train as lab_train

    from gristmill.synth.items import normalize_key
    from gristmill.synth.selfplay_pose import learnable, pose

    model_run, difficulty, earlier, rounds = start_run, 1, [], []
    posed_keys = set(held_keys) | set(start_keys)  # the pose arm never keeps these
    total = start_tokens
    for r in range(1, cfg.rounds + 1):
        rd = ad / f"round_{r}"
        if (rd / "result.json").exists():
            rec = json.loads((rd / "result.json").read_text())
            earlier += [json.loads(x)["text"] for x in (rd / "new.jsonl").read_text().splitlines()]
            model_run, difficulty, total = Path(rec["model"]), rec["next_difficulty"], rec["tokens_total"]
            if arm == "pose" and (rd / "samples.jsonl").exists():
                posed_keys |= {json.loads(x)["key"] for x in (rd / "samples.jsonl").read_text().splitlines()}
            rounds.append(rec)
            continue
        rd.mkdir(parents=True, exist_ok=True)
        rec = {"round": r, "arm": arm, "difficulty": difficulty if arm != "none" else None}
        new: list[str] = []
        if arm == "none":
            rec.update(posed=0, sampled=0, accepted=0, acceptance=None)
        elif arm == "pose":  # the model poses its own problems, then solves them (selfplay_pose)
            model, tok, tcfg, _ = load_run(model_run)
            posed = pose(model, tok, cfg.problems, cfg.seed * 1_000 + 500 + r, posed_keys, cfg.heldout, tcfg.precision)
            items = posed.items
            answers = sample(model, tok, [it.prompt for it in items], cfg.k, cfg.temperature, cfg.seed * 1_000 + r,
                             2 * (max([it.difficulty for it in items], default=1) + 1) + 4, precision=tcfg.precision)
            verdicts = [[verify(it, a, cfg.answer_format) for a in ans] for it, ans in zip(items, answers)]
            fates = [learnable(v) for v in verdicts]
            posed_keys |= {normalize_key(it.key) for it in items}
            atomic_write_text(rd / "samples.jsonl", "".join(
                json.dumps({"prompt": it.prompt, "key": normalize_key(it.key), "difficulty": it.difficulty,
                            "kind": it.metadata["kind"], "samples": ans, "verified": v, "fate": f}) + "\n"
                for it, ans, v, f in zip(items, answers, verdicts, fates)))
            new = list(dict.fromkeys(_doc(it.prompt, a) for it, ans, v, f in zip(items, answers, verdicts, fates)
                                     if f == "kept" for a, ok in zip(ans, v) if ok))
            n_ok = sum(map(sum, verdicts))
            kept = fates.count("kept")
            rec.update(difficulty=None, posed=posed.attempts, well_formed_new=len(items), posed_dropped=posed.reasons,
                       trivial=fates.count("trivial"), unsolved=fates.count("unsolved"), kept_problems=kept,
                       kept_share=kept / max(1, posed.attempts), sampled=len(items) * cfg.k, accepted=n_ok,
                       solved=sum(any(v) for v in verdicts), acceptance=n_ok / max(1, len(items) * cfg.k),
                       posed_levels={str(d): sum(it.difficulty == d for it in items)
                                     for d in sorted({it.difficulty for it in items})})
        else:
            # the same problems for every arm at the same (round, difficulty): arms differ only in what they keep
            items = draw(cfg.kind, difficulty, cfg.problems, cfg.seed * 1_000 + 100 * r + difficulty, cfg.heldout, "train", held_keys)
            model, tok, tcfg, _ = load_run(model_run)
            budget = 2 * (difficulty + 1) + 4  # digits of the largest answer at this level, its sign and the newline
            answers = sample(model, tok, [it.prompt for it in items], cfg.k, cfg.temperature,
                             cfg.seed * 1_000 + r, budget, precision=tcfg.precision)
            verdicts = [[verify(it, a, cfg.answer_format) for a in ans] for it, ans in zip(items, answers)]
            n_ok = sum(map(sum, verdicts))
            solved = sum(any(v) for v in verdicts)
            atomic_write_text(rd / "samples.jsonl", "".join(
                json.dumps({"prompt": it.prompt, "difficulty": difficulty, "kind": it.metadata["kind"],
                            "samples": ans, "verified": v}) + "\n" for it, ans, v in zip(items, answers, verdicts)))
            if arm == "verified":  # one document per verified (problem, answer): only the verdict decides
                new = list(dict.fromkeys(_doc(it.prompt, a) for it, ans, v in zip(items, answers, verdicts)
                                         for a, ok in zip(ans, v) if ok))
            elif arm == "unverified":  # control (a): every well-formed sample, right or wrong
                new = [_doc(it.prompt, a) for it, ans in zip(items, answers) for a in ans if a is not None]
            else:  # control (b): the generator's reference answers (the upper bound)
                new = [_doc(it.prompt, render(it.answer, cfg.answer_format)) for it in items]
            rec.update(posed=len(items), sampled=len(items) * cfg.k, accepted=n_ok, solved=solved,
                       acceptance=n_ok / max(1, len(items) * cfg.k), pass_at_k=solved / max(1, len(items)))
        mix = _mix(random.Random(cfg.seed * 1_000 + r), new, earlier, original, cfg)
        docs = mix["new"] + mix["replay"] + mix["original"]
        if new:
            _write_docs(rd / "new.jsonl", new)
        else:
            atomic_write_text(rd / "new.jsonl", "")
        _write_docs(rd / "train.jsonl", docs)
        final = lab_train(_train_cfg(cfg, rd / "train.jsonl", cfg.round_tokens, cfg.round_lr, cfg.seed * 1_000 + r, model_run),
                          rd / "model", base=rd, progress=False)
        model_run = rd / "model"
        earlier += new
        total += final["tokens"]
        ev = evaluate(model_run, heldout, cfg.answer_format)
        nxt = difficulty + 1 if (rec["acceptance"] or 0) >= cfg.promote_at and difficulty < cfg.max_difficulty else difficulty
        rec.update(docs={k: len(v) for k, v in mix.items()}, tokens=final["tokens"], step=final["step"],
                   tokens_total=total, heldout_accuracy=ev["accuracy"], heldout=ev, next_difficulty=nxt,
                   model=str(model_run))
        log(f"{arm} round {r}: difficulty {difficulty}, posed {rec['posed']}, accepted {rec['accepted']} "
            f"(acceptance {rec['acceptance'] if rec['acceptance'] is None else round(rec['acceptance'], 3)}), "
            f"trained {final['tokens']:,} tokens on {len(docs)} docs -> held-out {ev['accuracy']:.3f} "
            + " ".join(f"d{d} {v['accuracy']:.3f}" for d, v in ev["by_difficulty"].items()))
        atomic_write_text(rd / "result.json", json.dumps(rec, indent=2))
        rounds.append(rec)
        difficulty = nxt
    return rounds


def plot(res: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    start = res["start"]
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4))
    for arm, rounds in res["arms"].items():
        xs = [0] + [r["round"] for r in rounds]
        a1.plot(xs, [start["heldout"]["accuracy"]] + [r["heldout_accuracy"] for r in rounds], "o-", label=arm)
    v = res["arms"].get("verified")
    if v:
        a1.plot([r["round"] for r in v], [r["acceptance"] for r in v], "k^:", label="acceptance (verified arm)")
        for d in res["heldout_n"]:
            a2.plot([0] + [r["round"] for r in v],
                    [start["heldout"]["by_difficulty"][d]["accuracy"]] + [r["heldout"]["by_difficulty"][d]["accuracy"] for r in v],
                    "o-", label=f"difficulty {d}")
    a1.set_title("held-out accuracy (greedy), all levels", fontsize=9)
    a2.set_title("verified arm: held-out accuracy per difficulty", fontsize=9)
    for a in (a1, a2):
        a.set_xlabel("round (0 = start model)")
        a.set_xticks(range(res["config"]["rounds"] + 1))
        a.set_ylim(-0.02, 1.02)
        a.grid(alpha=0.3)
        if a.get_legend_handles_labels()[0]:
            a.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
