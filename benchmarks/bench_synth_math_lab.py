"""A tiny lab model trained with and without verified synthetic math at equal tokens, scored on
held-out problems of the generator's held-out split (the lab's task scoring); then self-play rounds.

    GRISTMILL_CORPORA=/work/corpora python benchmarks/bench_synth_math_lab.py [--tokens N] [--eval-n N]

Arms (equal token budgets, same model, same seed):
  text        general English text only (sotu + brown from GRISTMILL_CORPORA; stdlib docstrings without it)
  text+math   the same text and, as half the documents, `gristmill synth generate math.arithmetic -d 1`
              items (training split) rendered as the loop's prompt + 'Answer: N'
Writes results/synth_math_lab.md and work/synth_math_lab/results.json.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _common import RESULTS, WORK, machine  # noqa: E402

GM = [sys.executable, "-c", "from gristmill.cli import main; main()"]


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
    # paragraphs of a few hundred bytes, so a 96-token window sees whole documents as often as math items
    paras = [p.strip() for d in docs for p in d.split("\n\n") if 80 <= len(p.strip()) <= 600]
    random.Random(0).shuffle(paras)
    return paras[:n]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tokens", type=int, default=1_500_000)
    ap.add_argument("--eval-n", type=int, default=100)
    ap.add_argument("--skip-selfplay", action="store_true")
    a = ap.parse_args()
    from gristmill.synth.loop import LoopConfig
    from gristmill.synth.selfplay import _evaluate, heldout_problems, solve_doc

    w = WORK / "synth_math_lab"
    w.mkdir(parents=True, exist_ok=True)
    lcfg = LoopConfig(endpoint={"base_url": "http://x/v1", "model": "m", "api": "completions"},
                      tasks={"source": "generator", "kind": "math.arithmetic"}, math_template="Problem: {prompt}")
    if not (w / "math" / "summary.json").exists():
        subprocess.run(GM + ["synth", "generate", "math.arithmetic", "--n", "6000", "--difficulty", "1", "--seed", "0",
                             "-o", str(w / "math")], check=True)
    math = [solve_doc(lcfg, r["prompt"], r["answer"]) for r in map(json.loads, (w / "math" / "train.jsonl").read_text().splitlines())]
    text = text_docs(len(math))
    arms = {"text": text, "text+math": text[: len(text) // 2] + math[: len(math) // 2]}
    probs, _ = heldout_problems("math.arithmetic", 1, a.eval_n, 1_000_003, 0.1, lcfg)
    res = {"machine": machine(), "tokens": a.tokens, "heldout_problems": len(probs), "arms": {}}
    for name, docs in arms.items():
        d = w / name.replace("+", "_")
        d.mkdir(exist_ok=True)
        (d / "train.jsonl").write_text("".join(json.dumps({"text": t}) + "\n" for t in docs))
        (d / "train.yaml").write_text("model: {preset: tiny, n_layer: 2, d_model: 64, n_head: 2}\ndata: [train.jsonl]\n"
                                      f"seq_len: 96\nbatch_size: 32\ntokens: {a.tokens}\nlr: 0.003\nthreads: 1\n")
        t0 = time.time()
        subprocess.run(GM + ["lab", "train", str(d / "train.yaml"), "-o", str(d / "run"), "--no-progress"], check=True,
                       stdout=subprocess.DEVNULL)
        ev = _evaluate(d / "run", probs, docs)
        res["arms"][name] = {"docs": len(docs), "math_docs": sum(t.startswith("Problem:") for t in docs), **ev,
                             "seconds": round(time.time() - t0)}
        print(name, res["arms"][name], flush=True)
    if not a.skip_selfplay:
        subprocess.run(GM + ["synth", "selfplay", str(HERE / "selfplay.yaml"), "-o", str(w / "selfplay")], check=True)
        res["selfplay"] = json.loads((w / "selfplay" / "results.json").read_text())["rounds"]
    (w / "results.json").write_text(json.dumps(res, indent=2))
    lines = [f"### Synthetic math in the lab ({res['machine']}; shared 2-core box, noisy)", "",
             f"`GRISTMILL_CORPORA=/work/corpora python benchmarks/bench_synth_math_lab.py --tokens {a.tokens} --eval-n {a.eval_n}`", "",
             f"Equal budgets of {a.tokens:,} tokens, model 2 layers x 64 wide (bytes), seed 0; {len(probs)} held-out "
             "problems of `math.arithmetic` difficulty 1 (held-out split of the key hash, never in training).", "",
             "| arm | documents (math) | held-out acc, greedy answer | held-out acc, rank 1 of 4 (chance 0.25) | skipped as seen |",
             "|---|---|---|---|---|"]
    for name, v in res["arms"].items():
        lines.append(f"| {name} | {v['docs']} ({v['math_docs']}) | {v['generate_acc']:.3f} | {v['rank_acc']:.3f} | {v['contaminated_skipped']} |")
    if "selfplay" in res:
        lines += ["", "Self-play (`gristmill synth selfplay benchmarks/selfplay.yaml -o benchmarks/work/synth_math_lab/selfplay`):", "",
                  "| round | rows | acceptance | trained on (new + replay docs) | held-out acc, greedy | held-out acc, rank |", "|---|---|---|---|---|---|"]
        for r in res["selfplay"]:
            lp = r.get("loop")
            lines.append(f"| {r['round']} | {lp['rows'] if lp else '-'} | {lp['acceptance'] if lp else '-'} | "
                         f"{r['docs'].get('new', r['docs'].get('seed'))} + {r['docs'].get('replay', 0)} | "
                         f"{r['eval']['generate_acc']:.3f} | {r['eval']['rank_acc']:.3f} |")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "synth_math_lab.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
