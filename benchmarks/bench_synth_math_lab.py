"""A small lab model trained with and without verified synthetic math at equal tokens, scored on
held-out problems of the generator's held-out split; then self-play rounds from the model that learned.

    GRISTMILL_CORPORA=/work/corpora python benchmarks/bench_synth_math_lab.py [--tokens N] [--eval-n N]
    gristmill synth selfplay benchmarks/selfplay.yaml -o benchmarks/work/synth_math_lab/selfplay   # (run by it too)

Arms (equal token budgets, same model, same seed, same held-out problems):
  text        general English text only (sotu + brown from GRISTMILL_CORPORA; stdlib docstrings without it)
  text+math   the same kind of text as a third of the documents (--text-share), and as the rest
              `gristmill synth generate math.arithmetic -d 1` items (training split only), each rendered as
              the synth loop's prompt followed by the generator's *worked* solution (column steps with
              carries and borrows, digit-by-digit products, long division) and `Answer: N`; 1 in 4 items as
              a posed problem (`Topic: add` -> Problem/Solution/Expression/Answer), the self-play format
Model: the lab's `tiny` preset, 4 layers x 128 wide (~0.8M non-embedding parameters), byte tokens, so
every digit is one token (LLaMA 3 and GPT-4 split digits for the same reason).
Scoring: greedy decoding of the solution up to its `Answer: N` line (gristmill.lab.tasks.score_worked),
accuracy overall and per sub-kind (add, sub, mul, div). Held-out problems are the generator's held-out
key-hash split; any found verbatim in an arm's training text is skipped and counted.
Writes results/synth_math_lab.md and work/synth_math_lab/results.json.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _common import RESULTS, WORK, machine  # noqa: E402

GM = [sys.executable, "-c", "from gristmill.cli import main; main()"]
KINDS = ("add", "sub", "mul", "div")


def text_docs(n: int) -> list[str]:
    root = os.environ.get("GRISTMILL_CORPORA")
    docs: list[str] = []
    if root:
        for name in ("sotu.jsonl", "brown.jsonl"):
            p = Path(root) / name
            if p.exists():
                docs += [json.loads(x)["text"] for x in p.read_text().splitlines() if x.strip()]
    if not docs:
        sys.path.insert(0, str(HERE.parent / "tests"))
        from conftest import stdlib_docs

        docs = [d["text"] for d in stdlib_docs(2000)]
    # paragraphs of a few hundred bytes, the length of a worked solution, so both kinds fill windows alike
    paras = [p.strip() for d in docs for p in d.split("\n\n") if 80 <= len(p.strip()) <= 600]
    random.Random(0).shuffle(paras)
    return paras[:n]


def train_arm(d: Path, docs: list[str], a) -> dict:
    d.mkdir(parents=True, exist_ok=True)
    (d / "train.jsonl").write_text("".join(json.dumps({"text": t}) + "\n" for t in docs))
    cfg = (f"model: tiny\ndata: [train.jsonl]\nseq_len: {a.seq_len}\nbatch_size: {a.batch_size}\ntokens: {a.tokens}\n"
           f"lr: {a.lr}\nthreads: {a.threads}\n" + (f"precision: {a.precision}\n" if a.precision else ""))
    (d / "train.yaml").write_text(cfg)
    t0 = time.time()
    proc = subprocess.Popen(GM + ["lab", "train", str(d / "train.yaml"), "-o", str(d / "run"), "--no-progress"],
                            stdout=subprocess.DEVNULL)
    # keep every checkpoint (the lab writes one each 10% of the budget, in place) as snapshots/TOKENS/ckpt/:
    # an arm's accuracy at fewer tokens, for an equal-token comparison with a shorter arm
    meta, last = d / "run" / "ckpt" / "meta.json", None
    while True:
        done = proc.poll() is not None
        if meta.exists() and meta.stat().st_mtime != last:
            time.sleep(2)  # the lab swaps the whole ckpt/ directory in by renames: wait out a swap in progress
            try:
                last = meta.stat().st_mtime
                toks = json.loads(meta.read_text())["tokens"]
                snap = d / "snapshots" / str(toks)
                snap.mkdir(parents=True, exist_ok=True)
                shutil.copytree(meta.parent, snap / "ckpt", dirs_exist_ok=True)
            except (FileNotFoundError, ValueError):  # caught mid-swap: the next poll takes it
                last = None
        if done:
            break
        time.sleep(5)
    if proc.returncode:
        raise SystemExit(f"lab train {d / 'train.yaml'} exited with {proc.returncode}")
    final = json.loads((d / "run" / "final.json").read_text())
    log = [json.loads(x) for x in (d / "run" / "log.jsonl").read_text().splitlines() if '"train"' in x]
    tok_s = sum(r["tok_s"] for r in log) / max(1, len(log))  # the run's own rate (also when it was trained earlier)
    return {"tokens": final["tokens"], "steps": final["step"], "train_loss": final["train_loss"],
            "params_non_embedding": final["params_non_embedding"], "tok_s": round(tok_s),
            "train_minutes": round(final["tokens"] / max(tok_s, 1) / 60, 1), "wall_minutes_this_call": round((time.time() - t0) / 60, 1)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tokens", type=int, default=1_500_000)
    ap.add_argument("--eval-n", type=int, default=200)
    ap.add_argument("--seq-len", type=int, default=320, help="fits the longest difficulty-1 worked solution (~420 bytes with its prompt, rarely)")
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--lr", type=float, default=0.003)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--precision", default=None, help="the lab's training precision (e.g. bf16), if it has the option")
    ap.add_argument("--arms", default="text+math,text")
    ap.add_argument("--text-share", type=float, default=1 / 3, help="share of the text+math arm's documents that are text")
    ap.add_argument("--skip-selfplay", action="store_true")
    a = ap.parse_args()
    from gristmill.synth.loop import LoopConfig
    from gristmill.synth.selfplay import _evaluate, heldout_problems, pose_doc, solve_doc

    w = WORK / "synth_math_lab"
    w.mkdir(parents=True, exist_ok=True)
    lcfg = LoopConfig(endpoint={"base_url": "http://x/v1", "model": "m", "api": "completions"},
                      tasks={"source": "generator", "kind": "math.arithmetic"}, math_template="Problem: {prompt}",
                      topic_math_template="Topic: {topic}")
    if not (w / "math" / "summary.json").exists():
        # 12,000 asked: the difficulty-1 space holds ~10.5k distinct items, so this takes nearly all of it
        subprocess.run(GM + ["synth", "generate", "math.arithmetic", "--n", "12000", "--difficulty", "1", "--seed", "0",
                             "-o", str(w / "math")], check=False)
    rows = [json.loads(x) for x in (w / "math" / "train.jsonl").read_text().splitlines()]
    random.Random(0).shuffle(rows)
    # 3 in 4 items as a solved problem, 1 in 4 as a posed one (`Topic: add` -> problem, working, expression,
    # answer): the two formats self-play later prompts the model with
    math = [solve_doc(lcfg, r["prompt"], r["answer"], r["solution"]) if i % 4 else
            pose_doc(lcfg, r["metadata"]["kind"], r["prompt"], r["metadata"]["expression"], r["answer"], r["solution"])
            for i, r in enumerate(rows)]
    text = text_docs(len(math))
    mixed = text[: round(len(math) * a.text_share / (1 - a.text_share))] + math
    random.Random(0).shuffle(mixed)
    arms = {"text": text, "text+math": mixed}
    probs, _ = heldout_problems("math.arithmetic", 1, a.eval_n, 1_000_003, 0.1, lcfg, worked=True)
    old = json.loads((w / "results.json").read_text()) if (w / "results.json").exists() else {}
    res = {"machine": machine(), "tokens": a.tokens, "heldout_problems": len(probs),
           "by_kind": {k: sum(p.tag == k for p in probs) for k in KINDS}, "arms": old.get("arms", {})}
    for name in a.arms.split(","):
        if "@" in name:  # e.g. text+math@752840: that arm's snapshot after so many tokens, scored alone
            base, toks = name.split("@")
            d = w / base.replace("+", "_")
            run = d / "snapshots" / toks
            t0 = time.time()
            ev = _evaluate(run, probs, arms[base], samples=run / "eval_samples.jsonl")
            log = [json.loads(x) for x in (d / "run" / "log.jsonl").read_text().splitlines() if '"train"' in x]
            at = max((r for r in log if r["tokens"] <= int(toks)), key=lambda r: r["tokens"])
            res["arms"][name] = {"docs": len(arms[base]), "math_docs": sum(t.startswith(("Problem:", "Topic:")) for t in arms[base]),
                                 "tokens": int(toks), "steps": at["step"], "train_loss": at["loss"], "tok_s": at["tok_s"],
                                 **ev, "eval_minutes": round((time.time() - t0) / 60, 1)}
            print(name, json.dumps(res["arms"][name]), flush=True)
            save(w, res, name)
            continue
        docs = arms[name]
        d = w / name.replace("+", "_")
        tr = train_arm(d, docs, a)
        t0 = time.time()
        ev = _evaluate(d / "run", probs, docs, samples=d / "eval_samples.jsonl")
        res["arms"][name] = {"docs": len(docs), "math_docs": sum(t.startswith(("Problem:", "Topic:")) for t in docs), **tr, **ev,
                             "eval_minutes": round((time.time() - t0) / 60, 1)}
        print(name, json.dumps(res["arms"][name]), flush=True)
        save(w, res, name)
    if not a.skip_selfplay:
        subprocess.run(GM + ["synth", "selfplay", str(HERE / "selfplay.yaml"), "-o", str(w / "selfplay")], check=True)
        res["selfplay"] = json.loads((w / "selfplay" / "results.json").read_text())["rounds"]
    elif (w / "selfplay" / "results.json").exists():
        res["selfplay"] = json.loads((w / "selfplay" / "results.json").read_text())["rounds"]
    save(w, res, None)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "synth_math_lab.md").write_text("\n".join(report(res, a)) + "\n")
    print("\n".join(report(res, a)))


def save(w: Path, res: dict, arm: str | None) -> None:
    """results.json with this run's arm merged into whatever another invocation wrote meanwhile."""
    cur = json.loads((w / "results.json").read_text()) if (w / "results.json").exists() else {}
    arms = {**cur.get("arms", {}), **({arm: res["arms"][arm]} if arm else {})}
    res["arms"] = dict(sorted(arms.items(), key=lambda kv: (kv[0].split("@")[0] != "text+math", kv[0])))
    (w / "results.json").write_text(json.dumps(res, indent=2))


def _kinds(ev: dict) -> str:
    bt = ev.get("by_tag", {})
    return " | ".join(f"{bt[k]['generate_acc']:.2f} ({bt[k]['n']})" if k in bt else "-" for k in KINDS)


def report(res: dict, a) -> list[str]:
    lines = [f"### Synthetic math in the lab ({res['machine']}; shared 2-core box, noisy)", "",
             f"`GRISTMILL_CORPORA=/work/corpora python benchmarks/bench_synth_math_lab.py --tokens {a.tokens} --eval-n {a.eval_n}`", "",
             "Arms at equal tokens (column `tokens`; `arm@N` = that arm's checkpoint after N tokens of its run), "
             f"lab preset `tiny` (4 layers x 128, byte tokens), seq_len {a.seq_len}, "
             f"batch {a.batch_size}, lr {a.lr}, seed 0; {res['heldout_problems']} held-out problems of `math.arithmetic` "
             f"difficulty 1 ({', '.join(f'{k} {n}' for k, n in res['by_kind'].items())}), held-out split of the key hash, "
             "never in training; greedy decoding of the worked solution to its `Answer: N` line.", "",
             "| arm | documents (math) | tokens | steps | final train loss | tok/s | held-out acc (greedy, worked) | "
             "add (n) | sub (n) | mul (n) | div (n) | rank 1 of 4 after own working (chance 0.25) | skipped as seen |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for name, v in res["arms"].items():
        lines.append(f"| {name} | {v['docs']} ({v['math_docs']}) | {v['tokens']:,} | {v['steps']} | {v['train_loss']} | "
                     f"{v['tok_s']} | {v['generate_acc']:.3f} | {_kinds(v)} | {v['rank_acc']:.3f} | {v['contaminated_skipped']} |")
    if "selfplay" in res:
        lines += ["", "Self-play (`gristmill synth selfplay benchmarks/selfplay.yaml -o benchmarks/work/synth_math_lab/selfplay`):", "",
                  "| round | rows | acceptance | kept rows trained / posed a held-out problem / seen before | trained on (new + replay docs) | "
                  "held-out acc (greedy) | add | sub | mul | div |", "|---|---|---|---|---|---|---|---|---|---|"]
        for r in res["selfplay"]:
            lp, kr = r.get("loop"), r.get("kept_rows", {})
            acc = f"{lp['acceptance']:.3f}" if lp else "-"
            lines.append(f"| {r['round']} | {lp['rows'] if lp else '-'} | {acc} | "
                         f"{'/'.join(str(kr.get(k, 0)) for k in ('trained', 'heldout_problem', 'seen_before')) if lp else '-'} | "
                         f"{r['docs'].get('new', r['docs'].get('seed'))} + {r['docs'].get('replay', 0)} | "
                         f"{r['eval']['generate_acc']:.3f} | {_kinds(r['eval'])} |")
    return lines


if __name__ == "__main__":
    main()
