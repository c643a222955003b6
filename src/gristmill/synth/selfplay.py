"""Self-play: ``gristmill synth selfplay CONFIG -o OUT``.

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
import os
import random
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Optional

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from gristmill.engine.manifest import atomic_write_text
from gristmill.synth.items import normalize_key

PLACEHOLDER_URL = "http://selfplay.invalid/v1"  # replaced each round by the served model's address


class SelfPlayError(ValueError):
    pass


class SeedConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: str = Field("math.arithmetic", description="generator (or mixture) of the seed data and the held-out problems")
    n: int = Field(2000, ge=1, description="seed items drawn (train + held-out split; only the train split "
                                           "is used); chosen for a round 0 of minutes on 2 cores, not tuned for accuracy")
    difficulty: int = 1
    seed: int = 0


class EvalConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    n: int = Field(100, ge=1, description="held-out problems scored per round: 100 gives accuracy +-0.05 (1 s.e. at 50%)")
    seed: int = Field(1_000_003, description="draws the held-out problems (the lab's EVAL_SEED); the same every round")
    max_new_tokens: Optional[int] = Field(None, ge=1, description="decoding budget per problem (default: the lab's "
                                                                   "WORKED_BUDGET for worked solutions, else the answer's length)")


class SelfPlayConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    rounds: int = Field(3, ge=1, description="three: the minimum issue 13 asks to report")
    worked: bool = Field(True, description="documents carry the generator's worked solution (column steps, carries, long "
                                           "division) before `Answer: N`, and scoring decodes the solution up to that line: a "
                                           "scratchpad makes arithmetic learnable by small transformers (Nye et al. 2021, 'Show "
                                           "Your Work'; Lee et al. 2023, 'Teaching Arithmetic to Small Transformers'); false: "
                                           "`Answer: N` alone")
    start_from: Optional[str] = Field(None, description="a finished `gristmill lab train` run (relative to this file) used as "
                                                        "round 0 instead of training one on the seed data")
    seed_data: SeedConfig = Field(default_factory=SeedConfig)
    train: dict = Field(description="the lab training config of round 0 (gristmill lab train fields; `data:` is the seed)")
    round_tokens: int = Field(200_000, ge=1, description="tokens trained per self-play round; about a "
                                                                     "minute at the ~5k tokens/s of the tiny preset on a shared 2-core box")
    round_lr: Optional[float] = Field(None, gt=0, description="peak lr of the rounds (default: train.lr / 2: re-warming to a "
                                                               "lower peak forgets less, Ibrahim et al. 2024, 'Simple and Scalable "
                                                               "Strategies to Continually Pre-train LLMs')")
    replay: float = Field(0.5, ge=0, lt=1, description="share of each round's documents drawn from earlier data; 0.5 "
                                                        "is the 1:1 new:old ratio of Rolnick et al. 2019")
    heldout: float = Field(0.1, gt=0, lt=1, description="held-out fraction of the key hash (the `synth generate` default)")
    loop: dict = Field(description="a `synth run` config; endpoint.base_url and model are filled in each round")
    eval: EvalConfig = Field(default_factory=EvalConfig)


def load_config(path: Path):
    """(SelfPlayConfig, the round-0 TrainConfig, the LoopConfig template); every error names the line."""
    from gristmill.lab.config import TrainConfig
    from gristmill.config import line_index
    from gristmill.synth.loop import EndpointConfig, LoopConfig, SandboxConfig, TasksConfig, format_errors

    path = Path(path)
    from gristmill.config import load_yaml, read_yaml_text  # the one bounded YAML loader

    data, node = load_yaml(read_yaml_text(path, SelfPlayError, "config"), str(path), SelfPlayError)
    if not isinstance(data, dict):
        raise SelfPlayError(f"{path}: the config is a mapping with rounds, train, loop, ...")
    lines = line_index(node) if node is not None else {}
    try:
        cfg = SelfPlayConfig(**data)
    except ValidationError as e:
        raise SelfPlayError(format_errors(path, e, lines, {(): SelfPlayConfig, ("seed_data",): SeedConfig,
                                                             ("eval",): EvalConfig})) from None
    train = dict(cfg.train)
    if train.get("data") or train.get("mixture"):
        raise SelfPlayError(f"{path} line {line_index(node).get(('train',), '?')}: train: leave out data/mixture: "
                            "round 0 trains on the seed data (seed_data:), later rounds on what the model earned")
    if cfg.start_from:
        run = Path(cfg.start_from) if Path(cfg.start_from).is_absolute() else path.parent / cfg.start_from
        from gristmill.lab.train import has_checkpoint

        if not has_checkpoint(run):
            raise SelfPlayError(f"{path} line {lines.get(('start_from',), '?')}: start_from: {run} is not a finished lab run "
                                "(no ckpt/); train it first or leave start_from out to train round 0 on the seed data")
        cfg.start_from = str(run.resolve())
    train["data"] = ["seed.jsonl"]
    try:
        tcfg = TrainConfig.model_validate(train)
    except ValidationError as e:
        raise SelfPlayError(format_errors(path, e, lines, {("train",): TrainConfig}, ("train",))) from None
    loop = json.loads(json.dumps(cfg.loop))
    ep = loop.setdefault("endpoint", {})
    for k in ("base_url", "model"):
        if k in ep:
            raise SelfPlayError(f"{path} line {lines.get(('loop', 'endpoint', k), '?')}: loop.endpoint.{k}: leave it out; "
                                "self-play serves each round's model itself")
    if ep.get("api", "completions") != "completions":
        raise SelfPlayError(f"{path} line {lines.get(('loop', 'endpoint', 'api'), '?')}: loop.endpoint.api: the lab "
                            "model is a base model: use `completions` (the default here)")
    ep.update(base_url=PLACEHOLDER_URL, model="selfplay", api="completions")
    try:
        lcfg = LoopConfig(**loop)
    except ValidationError as e:
        raise SelfPlayError(format_errors(path, e, lines, {("loop",): LoopConfig, ("loop", "endpoint"): EndpointConfig,
                                                            ("loop", "tasks"): TasksConfig, ("loop", "sandbox"): SandboxConfig},
                                           ("loop",))) from None
    if lcfg.tasks.source == "file":
        raise SelfPlayError(f"{path}: loop.tasks.source: use `topics` (topic_kind: math: the model poses problems) or "
                            "`generator` (the model solves training-split problems)")
    if lcfg.tasks.source == "topics" and lcfg.tasks.topic_kind != "math":
        raise SelfPlayError(f"{path}: loop.tasks.topic_kind: self-play scores math; use topic_kind: math")
    return cfg, tcfg, lcfg


# ---------------------------------------------------------------- documents in the loop's prompt format

def _prompt(lcfg, kind: str, prompt: str) -> str:
    """The exact prompt the synth loop sends to /v1/completions for this task (ChatClient, api=completions)."""
    from gristmill.synth.loop import Task, _messages

    return "\n\n".join(m["content"] for m in _messages(lcfg, Task("-", kind, prompt))) + "\n\n"


def _working(solution: str) -> str:
    """A worked solution without its final `Answer:` line (and anything after it)."""
    lines = solution.rstrip().splitlines()
    last = max((i for i, ln in enumerate(lines) if ln.lstrip().lower().startswith("answer:")), default=len(lines))
    return "\n".join(lines[:last]).rstrip()


def solve_doc(lcfg, problem: str, answer: str, solution: str | None = None) -> str:
    """The solve prompt, then (with `solution`) its working, then `Answer: N`."""
    work = _working(solution) if solution else ""
    return f"{_prompt(lcfg, 'math', problem)}{work + chr(10) if work else ''}Answer: {answer}"


def pose_doc(lcfg, topic: str, problem: str, expression: str, answer: str, solution: str | None = None) -> str:
    work = _working(solution) if solution else f"{expression} = {answer}"
    return (f"{_prompt(lcfg, 'topic-math', topic)}Problem: {problem}\nSolution: {work}\n"
            f"Expression: {expression}\nAnswer: {answer}")


def heldout_problems(kind: str, difficulty: int, n: int, seed: int, heldout: float, lcfg,
                     worked: bool = False) -> tuple[list, set[str]]:
    """n distinct problems of the generator's held-out split, as lab task problems in the loop's format
    (tagged with the item's sub-kind, e.g. add/sub/mul/div), and their normalized problem texts (a
    model-posed problem equal to one of them is never trained on)."""
    from gristmill.lab.tasks import Problem, distractors
    from gristmill.synth.dataset import split_of
    from gristmill.synth.generators._verify import NotVerified
    from gristmill.synth.registry import Composite, resolve

    comp, rng, seen, out, keys = Composite(resolve(kind), seed, difficulty), random.Random(seed), set(), [], set()
    for _ in range(400 * n):  # 1 draw in 10 is held out; the rest of the bound covers a small space
        try:
            _, item = comp.draw()
        except NotVerified:
            continue
        k = normalize_key(item.key)
        if k in seen or split_of(item.key, heldout) != "heldout":
            continue
        seen.add(k)
        try:
            ans = int(item.answer)
        except ValueError:  # the lab's scoring compares integers: fractions and systems are left out
            continue
        prompt = _prompt(lcfg, "math", item.prompt) if worked else solve_doc(lcfg, item.prompt, "").removesuffix(" ")
        out.append(Problem(prompt, ans, distractors(rng, ans), tag=str(item.metadata.get("kind", "")), worked=worked))
        keys.add(normalize_key(item.prompt))
        if len(out) == n:
            return out, keys
    raise SelfPlayError(f"seed_data.kind {kind!r} at difficulty {difficulty} gave only {len(out)} integer held-out "
                        f"problems (eval.n = {n}); lower eval.n or raise the difficulty")


# ---------------------------------------------------------------- serving a run

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def served(run: Path, name: str = "selfplay", log: Path | None = None, ready_timeout_s: float = 300.0):
    """`gristmill lab serve RUN` on a free 127.0.0.1 port; yields the /v1 base URL; always stopped."""
    import httpx

    import gristmill

    port = free_port()
    src = str(Path(gristmill.__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)}
    logf = open(log, "ab") if log else subprocess.DEVNULL
    p = subprocess.Popen([sys.executable, "-c", "from gristmill.cli import main; main()", "lab", "serve", str(run),
                          "--port", str(port), "--name", name], env=env, stdout=logf, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + ready_timeout_s
        while True:
            if p.poll() is not None:
                tail = Path(log).read_text()[-2000:] if log else ""
                raise SelfPlayError(f"`gristmill lab serve {run}` exited with {p.returncode} before answering\n{tail}")
            try:
                if httpx.get(base + "/models", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise SelfPlayError(f"`gristmill lab serve {run}` did not answer on {base} within {ready_timeout_s:.0f} s")
            time.sleep(0.2)
        yield base
    finally:
        p.terminate()
        try:
            p.wait(15)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
        if log:
            logf.close()


# ---------------------------------------------------------------- the rounds

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
