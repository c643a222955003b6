"""Procedural generator throughput, and what verification costs: items/s per generator and
difficulty, with the sympy / sandbox check on and (peer) off, in the same run.

    python benchmarks/bench_synth_generate.py [--n 300]
"""
from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine, write_fragment  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=300)
    args = ap.parse_args()
    from gristmill.synth.generators import _verify, arithmetic, fractions, linear, word_problems
    from gristmill.synth.registry import all_generators
    from gristmill.synth.sandbox import run_python

    gens = all_generators()
    mods = [arithmetic, fractions, linear, word_problems]
    real = {m: (getattr(m, "same_value", None), getattr(m, "solves", None)) for m in mods}
    rows = []
    for name in ("math.arithmetic", "math.word_problems", "math.fractions", "math.linear"):
        for d in (1, 3, 5):
            fn = gens[name].fn
            res = {}
            for verified in (True, False):
                for m in mods:
                    sv, so = real[m]
                    if sv:
                        m.same_value = sv if verified else (lambda *a: None)
                    if so:
                        m.solves = so if verified else (lambda *a: None)
                t0 = time.perf_counter()
                for i in range(args.n):
                    fn(random.Random(i), d)
                res[verified] = args.n / (time.perf_counter() - t0)
            rows.append(f"| {name} | {d} | {res[True]:,.0f} | {res[False]:,.0f} | {100 * (1 - res[True] / res[False]):.0f}% |")
    # code: the reference runs in the sandbox
    fn = gens["code.functions"].fn
    for d in (1, 3, 5):
        items = [fn(random.Random(i), d) for i in range(max(10, args.n // 15))]
        t0 = time.perf_counter()
        for it in items:
            assert run_python(it.answer, tests=it.tests).status == "passed"
        t_ver = time.perf_counter() - t0
        t0 = time.perf_counter()
        for i in range(len(items)):
            fn(random.Random(i), d)
        t_gen = time.perf_counter() - t0
        n = len(items)
        rows.append(f"| code.functions | {d} | {n / (t_gen + t_ver):,.1f} | {n / t_gen:,.0f} | {100 * t_ver / (t_gen + t_ver):.0f}% |")
    del _verify
    text = "\n".join(["## Synthetic generators (bench_synth_generate.py)", "",
                      f"Machine: {machine()}; shared and noisy. `python benchmarks/bench_synth_generate.py --n {args.n}`: "
                      f"{args.n} items per math row ({max(10, args.n // 15)} per code row), one process, sequential "
                      "(the CLI verifies code items with `--workers` sandboxes at once). The peer is the same generator "
                      "with its check switched off, in the same run.", "",
                      "| generator | difficulty | items/s verified | items/s unverified | time in verification |",
                      "|---|---|---|---|---|", *rows, "",
                      "Verification is nearly all of the cost, by design: sympy re-derives every math answer (~2 ms for "
                      "an expression, ~10 ms for a linear system with its uniqueness check) and every code item runs its "
                      "tests in the sandbox (~100 ms).", ""])
    write_fragment("synth_generate", text)


if __name__ == "__main__":
    main()
