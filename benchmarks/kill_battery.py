"""Kill battery: kill real `gristmill run`s at random points in every way, resume, compare.

Recipe normalize -> gopher_quality -> exact_dedup -> minhash_dedup -> paragraph_dedup over 8 JSONL
inputs (one .gz, one .zst) with exact, near and paragraph duplicates and malformed lines, 2 workers.
Every combination of the four ways of killing (SIGKILL of the process group, SIGKILL of the parent,
SIGKILL of one worker, SIGINT to the group as Ctrl-C does) with the five places (the shard stage
before the first global step, inside each of the three fits, the last shard stage), each after a
random delay; optionally (``--semantic``) a second recipe ending in semantic_dedup, killed inside
its embedding. Each killed run is resumed with the same command and must equal the uninterrupted
run (kept ids and rows, rejected rows, quarantine records, the ledger, the per-step counts and
dedup reports), with no hang, no process of the killed run alive 15 s later, no traceback or
warning in its output, and no temporary file left.

    python benchmarks/kill_battery.py [--docs-per-file 400] [--seed 1] [--semantic] [--record]

``--record`` writes the figure into benchmarks/RESULTS.md (section "Kill and resume").
"""
from __future__ import annotations

import argparse
import json
import random
import re
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent / "tests"), str(HERE.parent / "tests" / "support")]  # the harness lives with the tests (its fast version runs there)
sys.path.insert(0, str(HERE))

from _common import machine  # noqa: E402
from kill_harness import PHASES, STEPS, WAYS, build_corpus, kill_and_resume, run_to_end, snapshot, write_recipe  # noqa: E402

SEMANTIC_PHASE = ("_work/fit-05-semantic_dedup/meta.json", False)  # written before embedding, which runs in the parent


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--docs-per-file", type=int, default=400)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--max-delay", type=float, default=0.3, help="random delay after the kill point is reached (s)")
    ap.add_argument("--semantic-docs-per-file", type=int, default=60, help="a smaller corpus: embedding is slow on a CPU")
    ap.add_argument("--semantic", action="store_true", help="also kill inside semantic_dedup (needs its model)")
    ap.add_argument("--record", action="store_true")
    a = ap.parse_args()
    rng = random.Random(a.seed)
    results = []
    with tempfile.TemporaryDirectory(prefix="kill-battery-") as tmp:
        d = Path(tmp)
        inputs = build_corpus(d / "in", n_files=8, docs_per_file=a.docs_per_file, seed=a.seed)
        plans = [("main", write_recipe(d / "recipe.yaml", inputs), [(w, p) for p in PHASES for w in WAYS])]
        if a.semantic:
            import kill_harness

            kill_harness.PHASES["semantic_fit"] = SEMANTIC_PHASE
            sem_inputs = build_corpus(d / "sem" / "in", n_files=8, docs_per_file=a.semantic_docs_per_file, seed=a.seed)
            sem = write_recipe(d / "sem" / "recipe.yaml", sem_inputs, steps=[*STEPS, {"semantic_dedup": {}}])
            plans.append(("semantic", sem, [(w, "semantic_fit") for w in WAYS]))
        for name, recipe, cases in plans:
            t0 = time.monotonic()
            rc, log = run_to_end(recipe, recipe.parent / "ref", timeout=900)
            assert rc == 0, log[-3000:]
            ref_seconds = time.monotonic() - t0
            ref = snapshot(recipe.parent / "ref")
            print(f"[{name}] reference run: {ref_seconds:.1f} s, {ref['ledger']['input']} records, "
                  f"{ref['ledger']['kept']} kept", flush=True)
            for i, (way, phase) in enumerate(cases):
                delay = round(rng.uniform(0, a.max_delay), 3)
                o = kill_and_resume(recipe, recipe.parent / f"k{i:02d}-{way}-{phase}", ref, way, phase, delay, timeout=600)
                results.append({"recipe": name, **{k: v for k, v in asdict(o).items() if k != "resume_log"}, "ok": o.ok})
                print(f"[{name}] {way:6s} at {phase:13s} +{delay:.2f}s  landed in {o.landed or '-':22s} "
                      f"exit {o.killed_rc} after {o.exit_seconds}s  orphans {len(o.orphans)}  temps {o.temps_before_resume}"
                      f"->{len(o.temps_after)}  {'identical' if o.identical else 'DIFFERENT ' + o.diff}"
                      f"{'  MISSED' if o.missed else ''}{'  ' + '; '.join(o.bad_output)[:300] if o.bad_output else ''}", flush=True)
    counted = [r for r in results if not r["missed"]]
    ok = sum(r["ok"] for r in counted)
    sigint = [r["exit_seconds"] for r in counted if r["way"] == "sigint" and r["exit_seconds"] is not None]
    print(f"\n{ok} of {len(counted)} killed runs resumed to an identical output with no hang, orphan, "
          f"traceback or leftover file ({len(results) - len(counted)} missed the kill point)")
    if sigint:
        print(f"SIGINT to exit: median {sorted(sigint)[len(sigint) // 2]:.2f} s, max {max(sigint):.2f} s")
    out = HERE / "results" / "kill_battery.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"machine": machine(), "args": vars(a), "runs": results}, indent=1, default=str))
    if a.record:
        record(results, counted, ok, sigint, a)


# What the same harness found on the tree before the shared pool (2026-11-29, tests/engine/test_kill_resume.py's cases).
BEFORE = """The same harness against the tree before the shared pool (tests/engine/test_kill_resume.py's six cases):
worker killed in minhash signatures hung (>75 s, killed by the harness), parent killed in
paragraph_dedup left 3 processes alive after 15 s, worker killed in paragraph_dedup printed a
BrokenProcessPool traceback, parent killed in signatures printed BrokenPipeError and "leaked semaphore
objects", killed workers' temp files stayed after the resume, and Ctrl-C ran all 32 shard units
(13.5 s) and exited 0. The battery also found a hang in the new pool (a worker killed while idle,
during the pool's polite shutdown), fixed by killing workers once their tasks are done."""


def record(results, counted, ok, sigint, a) -> None:
    rows = "\n".join(
        f"| {r['recipe']} | {r['way']} | {r['phase']} | +{r['delay']:.2f} s | {r['landed'] or '-'} | {r['killed_rc']} | "
        f"{r['exit_seconds']} | {len(r['orphans'])} | {r['temps_before_resume']} -> {len(r['temps_after'])} | "
        f"{'yes' if r['identical'] else 'NO'} |" for r in counted)
    landed = sorted({r["landed"] for r in counted})
    text = f"""<!-- kill_battery -->
## Kill and resume (kill_battery.py)

{machine()}; shared and noisy (load average ~10 on 2 cores while this ran). Recipe normalize ->
gopher_quality -> exact_dedup -> minhash_dedup -> paragraph_dedup, 8 JSONL inputs (one .gz, one .zst), {a.docs_per_file} records each{f' (and the same + semantic_dedup on {a.semantic_docs_per_file} records per file)' if a.semantic else ''}, 2 workers; every way of killing x every place, random delay
0-{a.max_delay} s after the place is reached (seed {a.seed}). Peer: the same run uninterrupted.

**{ok} of {len(counted)} killed runs resumed to an output identical to the uninterrupted run** (kept ids and
rows, rejected rows, quarantine records, ledger, per-step counts, dedup reports), with no hang, no
process of the killed run alive afterwards, no traceback/BrokenPipeError/leaked-semaphore warning,
and no temporary file left. Kills landed in: {', '.join(landed)}.
{f'SIGINT (Ctrl-C) to the end of every process of the run: median {sorted(sigint)[len(sigint) // 2]:.2f} s, max {max(sigint):.2f} s.' if sigint else ''}

{BEFORE}

| recipe | way | place | delay | landed in | exit code | gone after (s) | orphans | temp files (before -> after resume) | identical |
|---|---|---|---|---|---|---|---|---|---|
{rows}
<!-- /kill_battery -->
"""
    path = HERE / "RESULTS.md"
    cur = path.read_text()
    m = re.search(r"<!-- kill_battery -->.*?<!-- /kill_battery -->\n?", cur, re.S)
    path.write_text(cur[: m.start()] + text + cur[m.end():] if m else cur.rstrip("\n") + "\n\n" + text)


if __name__ == "__main__":
    main()
