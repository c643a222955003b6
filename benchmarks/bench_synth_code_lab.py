"""Code a tiny model can learn (issue 22 part 3): the lab's tiny preset trained on sandbox-verified
`code.expressions` programs against the same model trained on real text at equal tokens, scored by
pass@1 and pass@k on held-out specifications, every program judged in the sandbox.

    GRISTMILL_CORPORA=DIR python benchmarks/bench_synth_code_lab.py [--n 1500] [--tokens 400000] [--seeds 0]
        [--eval-n 100] [--k 5] [--jobs 2] [-o DIR]

Data: `generate_dataset("code.expressions", n, seed 0, difficulty 1)`: every kept item's reference
passed its tests in the sandbox; the held-out split is by specification key (held-out *combinations*
of reducer, map and condition), never trained on (checked). Code documents are `code_document(rec)`:
the specification (prose and two example calls) then `def f(xs):\\n    return <expression>`. Text
documents: Brown, State of the Union and Moby Dick from GRISTMILL_CORPORA.
Training: `gristmill lab train`, tiny preset (4 x 128, bytes), seq_len 256, batch 4, lr 3e-3 cosine, one
torch thread. Scoring (`gristmill.lab.tasks.sample_code` -> `gristmill.synth.evaluate.evaluate_programs`):
greedy pass@1 (one program, temperature 0) and pass@1 / pass@k estimated from k samples at temperature
0.8 (Chen et al. 2021's unbiased estimator), each program run against the specification's structured
tests in the sandbox.
"""
from __future__ import annotations

import argparse
import json
import random
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _common import WORK, corpora_dir, lab_train_tiny, machine, resume_results  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("-o", "--out", type=Path, default=WORK / "synth_code_lab")
    ap.add_argument("--n", type=int, default=1500, help="code.expressions items (train + held-out)")
    ap.add_argument("--tokens", type=int, default=400_000)
    ap.add_argument("--seeds", default="0")
    ap.add_argument("--eval-n", type=int, default=100)
    ap.add_argument("--k", type=int, default=5)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--workers", type=int, default=3, help="sandbox runs at once")
    a = ap.parse_args()
    from gristmill.lab.tasks import code_document
    from gristmill.synth.dataset import generate_dataset

    out = a.out
    out.mkdir(parents=True, exist_ok=True)
    items = out / "items"
    t0 = time.time()
    if not (items / "summary.json").exists():
        generate_dataset("code.expressions", a.n, 0, 1, items, workers=a.workers, force=True)
    gen_s = time.time() - t0
    train = [json.loads(x) for x in open(items / "train.jsonl")]
    held = [json.loads(x) for x in open(items / "heldout.jsonl")]
    seen = {r["metadata"]["key"] for r in train}
    if any(h["metadata"]["key"] in seen for h in held):
        raise SystemExit("a held-out specification is in the training split")
    held = random.Random(0).sample(held, min(a.eval_n, len(held)))
    docs = [code_document(r) for r in train]
    random.Random(0).shuffle(docs)
    with open(out / "code.jsonl", "w") as f:
        f.writelines(json.dumps({"text": d}) + "\n" for d in docs)
    with open(out / "text.jsonl", "w") as f:
        for name in ("brown", "sotu", "mobydick"):
            f.writelines(json.dumps({"text": json.loads(x)["text"]}) + "\n" for x in open(corpora_dir() / f"{name}.jsonl"))
    res_path = out / "results.json"
    res = resume_results(res_path, machine=machine(), tokens=a.tokens, train_items=len(train), heldout_scored=len(held),
                         generate_s=round(gen_s), k=a.k)

    def one(job):
        arm, seed = job
        name = f"{arm}_s{seed}"
        if name in res["arms"]:
            return
        t1 = time.time()
        run = lab_train_tiny(out, name, f"{arm}.jsonl", a.tokens, seed)
        wall = time.time() - t1
        import torch

        torch.set_num_threads(1)
        from gristmill.lab.tasks import sample_code
        from gristmill.lab.train import load_run
        from gristmill.synth.evaluate import evaluate_programs

        model, tok, _, _ = load_run(run)
        greedy = sample_code(model, tok, held, 1, temperature=0.0)
        sampled = sample_code(model, tok, held, a.k, temperature=0.8, seed=seed)
        g = evaluate_programs(held, greedy, ks=(1,), workers=a.workers)
        s = evaluate_programs(held, sampled, ks=(1, a.k), workers=a.workers)
        with open(run / "code_samples.jsonl", "w") as f:
            for r, gp, sp, row in zip(held, greedy, sampled, s["problems"]):
                f.write(json.dumps({"id": r["id"], "prompt": r["prompt"], "reference": r["metadata"]["expression"],
                                    "greedy": gp[0], "samples": sp, "correct_of_k": row["correct"]}) + "\n")
        res["arms"][name] = {"greedy_pass@1": g["pass@k"][1], "sampled_pass@1": s["pass@k"][1],
                             f"pass@{a.k}": s["pass@k"][a.k], "greedy_status": g["status"], "sampled_status": s["status"],
                             "wall_train_s": round(wall), "load": open("/proc/loadavg").read().split()[:3]}
        res_path.write_text(json.dumps(res, indent=1))
        print(name, json.dumps(res["arms"][name]), flush=True)

    seeds = [int(s) for s in a.seeds.split(",")]
    with ThreadPoolExecutor(a.jobs) as pool:
        list(pool.map(one, [(arm, s) for s in seeds for arm in ("code", "text")]))
    print(f"results: {res_path}")


if __name__ == "__main__":
    main()
