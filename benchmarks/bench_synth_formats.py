"""Answer formats at equal tokens (issue 22 part 2): the same `math.arithmetic` problems written as
answer only, reversed answer, worked solution and compact scratchpad (gristmill.synth.formats, after
Lee et al. 2023), each trained on the lab's tiny preset for the same number of tokens under several
seeds, then scored by greedy decoding on the generator's held-out split per sub-kind and difficulty,
including a difficulty never trained on (more digits: length generalization).

    python benchmarks/bench_synth_formats.py [--tokens 1500000] [--seeds 0,1] [--formats answer,reversed,scratchpad,worked]
        [--train-difficulties 1,2] [--eval-difficulties 1,2,3] [--jobs 2] [-o DIR]

Data: `generate_dataset("math.arithmetic", ..., formats="answer,reversed,worked,scratchpad")` per
difficulty (every item's four formats parsed back and confirmed by sympy at generation); training
documents are `{prompt}\\n{completion}` of the *training* split of every train difficulty, the same
problems in every arm, shuffled with one fixed seed; the held-out split (by key hash) is never trained
on, and the script fails if a held-out prompt is in a training document. Each run: `gristmill lab train`
(tiny preset, 4 x 128, bytes, seq_len 256, batch 32, lr 3e-3 cosine, one torch thread), `--jobs` runs at
a time. Scoring: `gristmill.lab.tasks.score_format`; verdicts of each format against answer-only per
difficulty by `gristmill.lab.significance.compare` (paired by seed). Results are written after each run
(`results.json`), so a run cut short keeps every finished arm.
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
from _common import WORK, lab_train_tiny, machine, resume_results  # noqa: E402

FORMATS = "answer,reversed,worked,scratchpad"


def _items(out: Path, d: int, n: int) -> tuple[list[dict], list[dict]]:
    from gristmill.synth.dataset import generate_dataset

    dd = out / f"items_d{d}"
    if not (dd / "summary.json").exists():
        generate_dataset("math.arithmetic", n, 0, d, dd, formats=FORMATS, force=True)
    load = lambda f: [json.loads(x) for x in open(dd / f)]  # noqa: E731
    return load("train.jsonl"), load("heldout.jsonl")


def _score(run: Path, fmt: str, held: list[dict]) -> dict:
    import torch

    torch.set_num_threads(1)
    from gristmill.lab.tasks import score_format
    from gristmill.lab.train import load_run

    model, tok, _, _ = load_run(run)
    samples: list = []
    r = score_format(model, tok, held, fmt, samples=samples)
    with open(run / "format_samples.jsonl", "w") as f:
        f.writelines(json.dumps(s) + "\n" for s in samples)
    return r


def _verdicts(res: dict) -> dict:
    from gristmill.lab.significance import compare, verdict_text

    out = {}
    arms = res["arms"]
    for fmt in {k.rsplit("_s", 1)[0] for k in arms}:
        if fmt == "answer":
            continue
        for key in sorted({d for v in arms.values() for d in v["by_difficulty"]}):
            val = lambda f: {k.rsplit("_s", 1)[1]: v["by_difficulty"].get(key, {}).get("generate_acc")  # noqa: E731
                             for k, v in arms.items() if k.rsplit("_s", 1)[0] == f}
            c = compare(val(fmt), val("answer"), lower_is_better=False)
            out[f"{fmt} vs answer, difficulty {key}"] = {"verdict": c["verdict"], "text": verdict_text(c, "{:+.3f}"),
                                                         "diff": c["diff_mean"], "ci": c["ci"]}
    return out


def _d1_kinds(out: Path, arms: dict) -> None:
    """Accuracy per sub-kind at difficulty 1, from each run's format_samples.jsonl (per-item verdicts)."""
    for name, v in arms.items():
        p = out / f"run_{name}" / "format_samples.jsonl"
        if "d1_by_tag" in v or not p.exists():
            continue
        acc: dict = {}
        for line in open(p):
            s = json.loads(line)
            if s["difficulty"] == 1:
                acc.setdefault(s["kind"], []).append(s["correct"])
        v["d1_by_tag"] = {k: {"n": len(x), "generate_acc": sum(x) / len(x)} for k, x in sorted(acc.items())}


_STEP = __import__("re").compile(r"(\d+)([-+*/])(\d+)(?:([-+])(\d+))?=(-?\d+)(?: r(\d+))?")


def _step_ok(m) -> bool:
    a, op, b, op2, c, t, r = m.groups()
    a, b, t = int(a), int(b), int(t)
    if op == "/":
        return b > 0 and r is not None and a // b == t and a % b == int(r)
    v = a + b if op == "+" else a - b if op == "-" else a * b
    if op2:
        v = v + int(c) if op2 == "+" else v - int(c)
    if op == "-" and op2 == "-":  # a column of a subtraction: the digit written after borrowing
        return t == v % 10
    return v == t


def diagnose(out: Path, res: dict, held_by_id: dict) -> dict:
    """Why a format fails, from each run's per-item samples: the share of completions with no well-formed
    answer line; the ones digit right (Lee et al.'s point: the reversed format writes it first); and for
    the scratchpad at difficulty 1, the share of its arithmetic steps (``7+5+0=12``, ``32/8=4 r0``) that are true."""
    diag = {}
    for name in res.get("arms", {}):
        p = out / f"run_{name}" / "format_samples.jsonl"
        if not p.exists():
            continue
        n = malformed = ones = steps = steps_ok = 0
        fmt = name.rsplit("_s", 1)[0]
        from gristmill.synth import formats as F

        for line in open(p):
            smp = json.loads(line)
            n += 1
            got = F.parse(fmt, smp["completion"])
            want = held_by_id[smp["id"]]["answer"]
            malformed += got is None
            ones += got is not None and got[-1:] == want[-1:]
            if fmt == "scratchpad" and smp["difficulty"] == 1:  # the step pattern reads every d1 step exactly
                for m in _STEP.finditer(smp["completion"].split("Answer:")[0]):
                    steps += 1
                    steps_ok += _step_ok(m)
        diag[name] = {"malformed": malformed / max(1, n), "ones_digit_right": ones / max(1, n),
                      "scratch_steps_true": (steps_ok / steps) if steps else None, "scratch_steps": steps}
    return diag


def table(res: dict, out: Path) -> str:
    """Markdown: per format, mean over seeds (and each seed) per difficulty and per sub-kind at difficulty 1."""
    import statistics

    arms = res.get("arms", {})
    _d1_kinds(out, arms)
    fmts = sorted({k.rsplit("_s", 1)[0] for k in arms}, key=lambda f: ["answer", "reversed", "scratchpad", "worked"].index(f))
    diffs = sorted({d for v in arms.values() for d in v["by_difficulty"]})
    kinds = sorted({k for v in arms.values() for k in v.get("d1_by_tag", {})})
    rows = ["| format | seeds | " + " | ".join(f"difficulty {d}" for d in diffs) + " | "
            + " | ".join(f"d1 {k}" for k in kinds) + " |",
            "|---|---|" + "---:|" * (len(diffs) + len(kinds))]
    for f in fmts:
        runs = {k.rsplit("_s", 1)[1]: v for k, v in arms.items() if k.rsplit("_s", 1)[0] == f}

        def cell(get):
            vals = [get(v) for v in runs.values()]
            vals = [x for x in vals if x is not None]
            return (f"{statistics.fmean(vals):.3f} (" + " / ".join(f"{x:.3f}" for x in vals) + ")") if vals else "-"
        rows.append(f"| {f} | {','.join(sorted(runs))} | "
                    + " | ".join(cell(lambda v, d=d: v["by_difficulty"].get(d, {}).get("generate_acc")) for d in diffs) + " | "
                    + " | ".join(cell(lambda v, k=k: v.get("d1_by_tag", {}).get(k, {}).get("generate_acc")) for k in kinds) + " |")
    rows += ["", "| comparison | verdict (paired by seed, 95%) |", "|---|---|"]
    rows += [f"| {k} | {v['text']} |" for k, v in sorted(res.get("verdicts", {}).items())]
    return "\n".join(rows)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("-o", "--out", type=Path, default=WORK / "synth_formats")
    ap.add_argument("--tokens", type=int, default=1_500_000)
    ap.add_argument("--seeds", default="0,1")
    ap.add_argument("--formats", default="answer,reversed,scratchpad,worked")
    ap.add_argument("--train-difficulties", default="1,2")
    ap.add_argument("--eval-difficulties", default="1,2,3")
    ap.add_argument("--eval-n", type=int, default=300, help="held-out problems per difficulty (a fixed sample)")
    ap.add_argument("--seq-len", type=int, default=256)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--table", action="store_true", help="print the markdown table of OUT/results.json and stop")
    a = ap.parse_args()
    if a.table:
        res = json.loads((a.out / "results.json").read_text())
        held = {json.loads(x)["id"]: json.loads(x) for d in (1, 2, 3, 4, 5) if (a.out / f"items_d{d}").exists()
                for x in open(a.out / f"items_d{d}" / "heldout.jsonl")}
        print(table(res, a.out))
        print(json.dumps(diagnose(a.out, res, held), indent=1))
        return
    from gristmill.synth import formats as F

    out = a.out
    out.mkdir(parents=True, exist_ok=True)
    fmts = [F.check_format(f) for f in a.formats.split(",")]
    seeds = [int(s) for s in a.seeds.split(",")]
    tr_d = [int(d) for d in a.train_difficulties.split(",")]
    ev_d = [int(d) for d in a.eval_difficulties.split(",")]
    train, held = [], []
    for d in sorted(set(tr_d) | set(ev_d)):
        t, h = _items(out, d, 10_000 if d in tr_d else 2_000)
        if d in tr_d:
            train += t
        if d in ev_d:
            held += random.Random(d).sample(h, min(a.eval_n, len(h)))
    seen = {r["prompt"] for r in train}
    leaked = [h["prompt"] for h in held if h["prompt"] in seen]
    if leaked:
        raise SystemExit(f"held-out problems in the training split: {leaked[:3]}")
    random.Random(0).shuffle(train)
    for fmt in fmts:
        with open(out / f"docs_{fmt}.jsonl", "w") as f:
            f.writelines(json.dumps({"text": F.document(r, fmt)}) + "\n" for r in train)
    res_path = out / "results.json"
    res = resume_results(res_path, machine=machine(), tokens=a.tokens, train_items=len(train), train_difficulties=tr_d,
                         heldout={str(d): sum(h["metadata"]["difficulty"] == d for h in held) for d in ev_d},
                         doc_bytes_mean={fmt: sum(len(F.document(r, fmt)) for r in train) / len(train) for fmt in fmts})

    def one(job):
        fmt, seed = job
        name = f"{fmt}_s{seed}"
        if name in res["arms"]:
            return
        t0 = time.time()
        run = lab_train_tiny(out, name, f"docs_{fmt}.jsonl", a.tokens, seed, a.seq_len, a.batch)
        wall = time.time() - t0
        r = _score(run, fmt, held)
        r.update(wall_train_s=round(wall), load=open("/proc/loadavg").read().split()[:3])
        res["arms"][name] = r
        res["verdicts"] = _verdicts(res)
        res_path.write_text(json.dumps(res, indent=1))
        print(name, f"acc {r['generate_acc']:.3f}", {k: round(v["generate_acc"], 3) for k, v in r["by_difficulty"].items()},
              {k: round(v["generate_acc"], 3) for k, v in r["by_tag"].items()}, flush=True)

    jobs = [(fmt, s) for s in seeds for fmt in fmts]
    with ThreadPoolExecutor(a.jobs) as pool:
        list(pool.map(one, jobs))
    print(table(res, out))
    print(f"results: {res_path}")


if __name__ == "__main__":
    main()
