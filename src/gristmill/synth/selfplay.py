"""Self-play: ``gristmill synth selfplay CONFIG -o OUT`` (the served loop; ``--demo`` is the in-process
loop of :mod:`gristmill.synth.selfplay_rounds`).

Round 0 trains a lab model on verified procedural seed data (``gristmill synth generate``, training
split only) and evaluates it. Each later round then

1. serves the current model with ``gristmill lab serve`` on a free 127.0.0.1 port;
2. runs the synth loop (:func:`gristmill.synth.loop.run_loop`) against it: with ``tasks.source:
   topics, topic_kind: math`` the model writes problems *and* solutions; with ``source: generator``
   it solves procedural training-split problems (sampled, several per task);
3. keeps what the verifier accepts (sympy), minus any reply that poses a held-out problem;
4. continues training the model on the kept items (``init_from`` the previous round) with
   *replay*: a seeded sample of everything trained on before (seed data and earlier rounds) makes up
   ``replay`` of the round's documents, against forgetting (the replay buffer of Rolnick et al. 2019,
   "Experience Replay for Continual Learning"; keeping only verified samples is STaR, Zelikman et al.
   2022, and the ReST/expert-iteration loop of Gulcehre et al. 2023);
5. scores the model on held-out problems with the lab's task scoring (greedy generation with exact
   answer, and likelihood ranking of 4 choices; :func:`gristmill.lab.tasks.score`). Held-out
   problems are the generator's held-out split (the key hash of ``synth generate``), never drawn
   for seed data or loop tasks, and any held-out prompt found verbatim in the training text is
   skipped and counted (:func:`gristmill.lab.tasks.contaminated`).

OUT holds ``seed/`` (the generated seed set), ``round_R/`` (``loop/`` = the synth run's rows,
``train.jsonl`` = the round's documents, ``model/`` = the lab run, ``result.json``), ``results.json``
and ``selfplay.png``. A finished round is skipped on a re-run; an interrupted one resumes (the lab
checkpoint and the loop's request cache).

Documents are rendered in the exact strings the loop sends to ``/v1/completions`` (the model is a
base model, not a chat model), so the model learns to answer the prompts it is later given:
``{math_template}\\n\\nAnswer: N`` to solve, ``{topic_math_template}\\n\\nProblem: ...\\nSolution:
...\\nExpression: ...\\nAnswer: N`` to pose.
"""
from __future__ import annotations

import difflib
import json
import random
from pathlib import Path

import yaml

from gristmill.engine.manifest import atomic_write_text
from gristmill.synth.items import normalize_key
# the served loop's parts, one concern per module (config, documents, serving); the names callers
# used before the split stay importable from here
from gristmill.synth.selfplay_config import SelfPlayConfig, SelfPlayError, load_config  # noqa: F401
from gristmill.synth.selfplay_docs import heldout_problems, pose_doc, solve_doc  # noqa: F401
from gristmill.synth.selfplay_serve import served

def _write_jsonl(path: Path, texts: list[str]) -> None:
    atomic_write_text(path, "".join(json.dumps({"id": f"{path.parent.name}-{i}", "text": t}, ensure_ascii=False) + "\n"
                                    for i, t in enumerate(texts)))


def _evaluate(run: Path, probs: list, seen_texts: list[str], max_new_tokens: int | None = None,
              samples: Path | None = None) -> dict:
    """Held-out accuracy of a run (overall and per sub-kind); `samples` gets every generation as JSONL."""
    from gristmill.lab.tasks import contaminated, score, score_worked
    from gristmill.lab.train import load_run

    model, tok, tcfg, _ = load_run(run)
    dirty = contaminated(probs, seen_texts)
    clean = [p for p in probs if p.prompt not in dirty]
    got: list = []
    prec = getattr(tcfg, "precision", "fp32")  # the run's own (bf16 where the CPU has it)
    ev = score_worked(model, tok, clean, max_new_tokens, samples=got, precision=prec) if any(p.worked for p in clean) \
        else score(model, tok, clean, max_new_tokens, precision=prec)
    res = {**ev, "contaminated_skipped": len(probs) - len(clean)}
    if samples:
        samples.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(samples, "".join(json.dumps({"prompt": p.prompt, "answer": p.answer, "tag": p.tag, "output": t,
                                                       "correct": bool(ok)}, ensure_ascii=False) + "\n" for p, t, ok in got))
    return res


def _run_texts(run: Path) -> list[str]:
    """Every document a lab run could have trained on (a `start_from` run: for the contamination check)."""
    from gristmill.lab.evaluate import training_texts
    from gristmill.lab.train import load_run

    _, _, tcfg, state = load_run(run)
    return list(training_texts(tcfg, Path(state["config"].get("_base", ".")), Path(state["config"].get("_cwd", "."))))


def _seed(cfg: SelfPlayConfig, lcfg, out: Path, config: Path) -> tuple[list[str], set[str]]:
    """The seed documents (training split only) and the topics (generator kinds) they cover."""
    from gristmill.synth.dataset import generate_dataset

    s = cfg.seed_data
    d = out / "seed"
    if not (d / "summary.json").exists():
        generate_dataset(s.kind, s.n, s.seed, s.difficulty, d, heldout=cfg.heldout)
    docs, topics = [], set()
    for line in (d / "train.jsonl").read_text().splitlines():
        r = json.loads(line)
        sol = r["solution"] if cfg.worked else None
        docs.append(solve_doc(lcfg, r["prompt"], r["answer"], sol))
        m = r["metadata"]
        if m.get("expression") and m.get("kind"):
            topics.add(m["kind"])
            docs.append(pose_doc(lcfg, m["kind"], r["prompt"], m["expression"], r["answer"], sol))
    if lcfg.tasks.source == "topics":
        missing = [t for t in lcfg.tasks.topics if t not in topics]
        if missing:
            near = {t: difflib.get_close_matches(t, topics, n=1, cutoff=0.4) for t in missing}
            raise SelfPlayError(f"{config}: loop.tasks.topics: " + ", ".join(f"{t!r}" + (f" (did you mean {near[t][0]!r}?)" if near[t] else "")
                                                                    for t in missing)
                                + f" never appear in the seed data; the seed covers {sorted(topics)}")
    return docs, topics


def _kept_docs(lcfg, rows: list[dict], heldout_keys: set[str], pool: set[str], worked: bool = False) -> tuple[list[str], dict]:
    """Training documents from the loop's kept rows, and how many rows went where. With `worked`, the
    model's own verified working is trained on (STaR, Zelikman et al. 2022: rationales that reached the
    right answer)."""
    docs, fate = [], {"trained": 0, "heldout_problem": 0, "seen_before": 0}
    for r in rows:
        if normalize_key(r["prompt"]) in heldout_keys:
            fate["heldout_problem"] += 1  # the model posed an evaluation problem: never train on it
            continue
        sol = r.get("solution") if worked else None
        d = solve_doc(lcfg, r["prompt"], r["answer"], sol)
        if d in pool:
            fate["seen_before"] += 1
            continue
        pool.add(d)
        docs.append(d)
        m = r["metadata"]
        if m.get("kind") == "topic-math":
            docs.append(pose_doc(lcfg, m["topic"], r["prompt"], m["expression"], r["answer"], sol))
        fate["trained"] += 1
    return docs, fate


def run_selfplay(config: Path, out: Path, log=print, serve=None) -> dict:
    """``serve(run, name, log=path)``: a context manager yielding a /v1 base URL for the round's model
    (default :func:`served`, the real `gristmill lab serve`; tests may put another real server there)."""
    serve = serve or served
    from gristmill.lab.config import TrainConfig
    from gristmill.lab.train import train as lab_train
    from gristmill.synth.loop import run_loop

    cfg, tcfg, lcfg = load_config(config)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "config.lock.yaml", yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False))
    seed_docs, _ = _seed(cfg, lcfg, out, config)
    probs, heldout_keys = heldout_problems(cfg.seed_data.kind, cfg.seed_data.difficulty, cfg.eval.n, cfg.eval.seed,
                                           cfg.heldout, lcfg, worked=cfg.worked)
    _write_jsonl(out / "seed.jsonl", seed_docs)
    history: list[list[str]] = [seed_docs]  # every document trained on, per round
    pool = set(seed_docs)
    rounds = []

    r0 = out / "round_0"
    res0 = r0 / "result.json"
    if res0.exists():
        rounds.append(json.loads(res0.read_text()))
    elif cfg.start_from:
        from gristmill.lab.train import load_run

        log(f"round 0: starting from {cfg.start_from}")
        seen = _run_texts(Path(cfg.start_from))
        ev = _evaluate(Path(cfg.start_from), probs, seed_docs + seen, cfg.eval.max_new_tokens, r0 / "eval_samples.jsonl")
        tokens = json.loads((Path(cfg.start_from) / "final.json").read_text())["tokens"]
        load_run(Path(cfg.start_from))  # fails loudly now if the run cannot be served
        rounds.append({"round": 0, "eval": ev, "tokens": tokens, "loop": None, "docs": {"seed": len(seed_docs)},
                       "model": cfg.start_from, "start_from": cfg.start_from})
        atomic_write_text(res0, json.dumps(rounds[0], indent=2))
    else:
        log(f"round 0: training the base model on {len(seed_docs)} seed documents ({tcfg.tokens:,} tokens)")
        base_cfg = tcfg.model_copy(update={"data": [str((out / "seed.jsonl").resolve())]})
        lab_train(base_cfg, r0 / "model", base=out, progress=False)
        ev = _evaluate(r0 / "model", probs, seed_docs, cfg.eval.max_new_tokens, r0 / "eval_samples.jsonl")
        rounds.append({"round": 0, "eval": ev, "tokens": tcfg.tokens, "loop": None, "docs": {"seed": len(seed_docs)}})
        atomic_write_text(res0, json.dumps(rounds[0], indent=2))
    log(f"round 0: held-out accuracy {rounds[0]['eval']['generate_acc']:.3f} (rank {rounds[0]['eval']['rank_acc']:.3f})")
    model = Path(rounds[0].get("model") or r0 / "model")
    for r in range(1, cfg.rounds + 1):
        rd = out / f"round_{r}"
        res_file = rd / "result.json"
        if res_file.exists():  # finished earlier: replay its data into the pool and move on
            rec = json.loads(res_file.read_text())
            texts = [json.loads(x)["text"] for x in (rd / "train.jsonl").read_text().splitlines()] if (rd / "train.jsonl").exists() else []
            history.append(texts)
            pool.update(texts)
            rounds.append(rec)
            model = Path(rec["model"])
            continue
        rd.mkdir(parents=True, exist_ok=True)
        lc = lcfg.model_copy(deep=True)
        lc.endpoint.seed = (lcfg.endpoint.seed or 0) + 1000 * r  # fresh samples every round
        lc.tasks.seed = lcfg.tasks.seed + r                      # and, for generator tasks, fresh problems
        with serve(model, "selfplay", log=rd / "serve.log") as base_url:
            lc.endpoint.base_url = base_url
            summary = run_loop(lc, rd / "loop")
        if summary["by_reason"].get("unreachable", {}).get("count", 0) == summary["rows"] and summary["rows"]:
            raise SelfPlayError(f"round {r}: the served model was never reached (see {rd / 'serve.log'})")
        kept = [json.loads(x) for x in (rd / "loop" / "train.jsonl").read_text().splitlines() if x.strip()]
        new, fate = _kept_docs(lc, kept, heldout_keys, pool, worked=cfg.worked)
        rec = {"round": r, "loop": {k: summary[k] for k in ("rows", "kept", "duplicates", "acceptance", "by_reason")},
               "kept_rows": fate}
        if new:
            earlier = [d for h in history for d in h]
            n_replay = min(len(earlier), round(len(new) * cfg.replay / (1 - cfg.replay)))
            replay = random.Random(r).sample(earlier, n_replay)
            docs = new + replay
            _write_jsonl(rd / "train.jsonl", docs)
            rcfg = TrainConfig.model_validate({**tcfg.model_dump(mode="json"), "data": [str((rd / "train.jsonl").resolve())],
                                               "tokens": cfg.round_tokens, "init_from": str(model.resolve()),
                                               "lr": cfg.round_lr or tcfg.lr / 2, "seed": tcfg.seed + r,
                                               "eval": {"heldout": [], "tasks": []}})
            log(f"round {r}: {fate['trained']} verified rows kept of {summary['rows']}; training on {len(new)} new + "
                f"{n_replay} replayed documents ({cfg.round_tokens:,} tokens)")
            lab_train(rcfg, rd / "model", base=rd, progress=False)
            model = rd / "model"
            history.append(docs)
            rec["docs"] = {"new": len(new), "replay": n_replay}
            rec["trained"] = True
        else:
            log(f"round {r}: nothing verified to learn from ({summary['rows']} rows); the model is unchanged")
            rec["docs"] = {"new": 0, "replay": 0}
            rec["trained"] = False
        rec["model"] = str(model)
        rec["tokens"] = rounds[-1]["tokens"] + (cfg.round_tokens if rec["trained"] else 0)
        rec["eval"] = _evaluate(model, probs, [d for h in history for d in h], cfg.eval.max_new_tokens,
                                rd / "eval_samples.jsonl")
        log(f"round {r}: acceptance {summary['acceptance']:.3f}, held-out accuracy {rec['eval']['generate_acc']:.3f} "
            f"(rank {rec['eval']['rank_acc']:.3f})")
        atomic_write_text(res_file, json.dumps(rec, indent=2))
        rounds.append(rec)
    results = {"config": cfg.model_dump(mode="json"), "heldout_problems": len(probs), "rounds": rounds,
               "plot": str(out / "selfplay.png")}
    plot(rounds, out / "selfplay.png", f"{cfg.seed_data.kind} (difficulty {cfg.seed_data.difficulty}), "
                                       f"{lcfg.tasks.source} tasks")
    atomic_write_text(out / "results.json", json.dumps(results, indent=2))
    return results


def plot(rounds: list[dict], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    xs = [r["round"] for r in rounds]
    fig, ax = plt.subplots(figsize=(6.4, 4))
    ax.plot(xs, [r["eval"]["generate_acc"] for r in rounds], "o-", label="held-out accuracy (greedy answer)")
    ax.plot(xs, [r["eval"]["rank_acc"] for r in rounds], "s--", label="held-out accuracy (rank 1 of 4)")
    acc = [(r["round"], r["loop"]["acceptance"]) for r in rounds if r.get("loop")]
    if acc:
        ax.plot(*zip(*acc), "^:", label="acceptance of the round's generations")
    ax.axhline(0.25, color="gray", lw=0.8, ls=":", label="chance of the rank score (1 of 4)")
    ax.set_xlabel("round (0 = trained on the seed data only)")
    ax.set_xticks(xs)
    ax.set_ylim(-0.02, 1.02)
    ax.set_ylabel("fraction")
    ax.set_title(f"self-play: {title}", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
