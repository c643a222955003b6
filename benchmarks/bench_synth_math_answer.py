"""Verified synthetic math in the lab, answer-only format: the tiny preset trained on
`gristmill synth generate math.arithmetic -d 1` items against the same model trained on real text, at
equal tokens, scored by greedy generation on the generator's held-out split.

    GRISTMILL_CORPORA=/work/corpora python benchmarks/bench_synth_math_answer.py [--tokens 6000000] [--more-tokens 9000000] [-o DIR]

Arms (same model, seed, budget, schedule; `gristmill lab train`, precision auto = bf16 here):
  math   every training-split item as `{prompt}\\nAnswer: {answer}` (the items' answers are sympy-verified)
  text   real English prose (Brown, State of the Union, Moby Dick from GRISTMILL_CORPORA)
Stage 2 (`--more-tokens`): each arm continues from its own stage-1 weights (`init_from:`, a fresh
optimizer and schedule, lr 2e-3, data seed 1), so both arms stay at equal tokens.
Scoring: `gristmill.lab.tasks.score` on every held-out item (`{prompt}\\nAnswer:` -> greedy digits),
per sub-kind; a held-out prompt found in the training items fails the benchmark.
The worked-solution format (bench_synth_math_lab.py) is the same data with the textbook working in
between; at these budgets it scored lower (RESULTS.md), which is why this benchmark exists.
"""
from __future__ import annotations

import argparse
import collections
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _common import WORK, machine  # noqa: E402

GM = [sys.executable, "-c", "from gristmill.cli import main; main()"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("-o", "--out", type=Path, default=WORK / "synth_math_answer")
    ap.add_argument("--tokens", type=int, default=6_000_000)
    ap.add_argument("--more-tokens", type=int, default=9_000_000, help="stage 2 per arm (0: none)")
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    from gristmill.lab.tasks import Problem, score
    from gristmill.lab.train import load_run

    out = a.out
    out.mkdir(parents=True, exist_ok=True)
    if not (out / "items" / "summary.json").exists():
        subprocess.run(GM + ["synth", "generate", "math.arithmetic", "--n", "20000", "--difficulty", "1", "--seed", "0",
                             "-o", str(out / "items")], check=True)
    train = [json.loads(x) for x in open(out / "items" / "train.jsonl")]
    held = [json.loads(x) for x in open(out / "items" / "heldout.jsonl")]
    seen = {r["prompt"] for r in train}
    leaked = [h["prompt"] for h in held if h["prompt"] in seen]
    if leaked:
        raise SystemExit(f"held-out problems in the training split: {leaked[:3]}")
    with open(out / "math.jsonl", "w") as f:
        f.writelines(json.dumps({"text": f"{r['prompt']}\nAnswer: {r['answer']}"}) + "\n" for r in train)
    corp = Path(os.environ.get("GRISTMILL_CORPORA", "/work/corpora"))
    with open(out / "text.jsonl", "w") as f:
        for name in ("brown", "sotu", "mobydick"):
            f.writelines(json.dumps({"text": json.loads(x)["text"]}) + "\n" for x in open(corp / f"{name}.jsonl"))
    res = {"machine": machine(), "tokens": a.tokens, "train_items": len(train), "heldout_items": len(held), "arms": {}}
    stages = [("", a.tokens, "lr: 0.003\n")]
    if a.more_tokens:
        stages.append(("2", a.more_tokens, "lr: 0.002\nseed: 1\ninit_from: run_{arm}\n"))
    for arm in ("math", "text"):
        for suffix, tokens, extra in stages:
            name = f"{arm}{suffix}"
            cfg = out / f"{name}.yaml"
            cfg.write_text(f"model: tiny\ndata: [{arm}.jsonl]\nseq_len: 64\nbatch_size: 64\ntokens: {tokens}\n"
                           f"threads: {a.threads}\nlog_every: 20\n" + extra.format(arm=arm))
            t0 = time.time()
            subprocess.run(GM + ["lab", "train", str(cfg), "-o", str(out / f"run_{name}"), "--no-progress"], check=True,
                           stdout=subprocess.DEVNULL)
            wall = time.time() - t0
            model, tok, _, _ = load_run(out / f"run_{name}")
            by = collections.defaultdict(list)
            for h in held:
                by[h["metadata"]["kind"]].append(Problem(f"{h['prompt']}\nAnswer:", int(h["answer"]), (int(h["answer"]),)))
            kinds = {k: score(model, tok, ps) for k, ps in sorted(by.items())}
            right = sum(r["generate_acc"] * r["n"] for r in kinds.values())
            total = sum(t for _, t, _ in stages[: 1 + bool(suffix)])
            res["arms"][name] = {"tokens_total": total, "wall_s": round(wall), "accuracy": right / len(held),
                                 "per_kind": {k: {"n": r["n"], "accuracy": r["generate_acc"]} for k, r in kinds.items()}}
            print(name, json.dumps(res["arms"][name]))
    (out / "results.json").write_text(json.dumps(res, indent=1))
    print(f"results: {out / 'results.json'}")


if __name__ == "__main__":
    main()
