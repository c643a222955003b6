"""Variety and soundness of the code generator (``code.functions``): distinct items per 1,000 draws at
each difficulty, against the generator it replaced (read from git, measured in the same run), and a
sandbox pass over a sample: every reference passes its tests, every named mutant fails them.

    python benchmarks/bench_synth_codegen.py [--draws 1000] [--seeds 3] [--sandbox-per-family 2]
"""
from __future__ import annotations

import argparse
import random
import statistics
import subprocess
import sys
import time
import types
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine, write_fragment  # noqa: E402

OLD_COMMIT = "ca61690"  # the last commit with the template generator the newcomer issue (20, item 1) describes


def _old_generator():
    """The replaced generator, from git, with its registration switched off; None outside a git checkout."""
    root = Path(__file__).resolve().parent.parent
    try:
        src = subprocess.run(["git", "-C", str(root), "show", f"{OLD_COMMIT}:src/gristmill/synth/generators/code.py"],
                             capture_output=True, text=True, check=True).stdout
    except (subprocess.CalledProcessError, FileNotFoundError):
        return None
    mod = types.ModuleType("gristmill_old_code")
    sys.modules[mod.__name__] = mod  # dataclasses look their module up
    src = src.replace("from gristmill.synth.registry import register", "register = lambda *a, **k: (lambda f: f)")
    exec(compile(src, "old_code.py", "exec"), mod.__dict__)  # noqa: S102 - this repository's own history
    return mod.functions


def variety(fn, difficulty: int, draws: int, seed: int) -> dict:
    from gristmill.synth.items import normalize_key

    master = random.Random(seed)  # the same per-draw RNG derivation as registry.Composite
    items = []
    t0 = time.perf_counter()
    for _ in range(draws):
        try:
            items.append(fn(random.Random(master.getrandbits(64)), difficulty))
        except AssertionError:
            pass
    dt = time.perf_counter() - t0
    kinds = Counter(i.metadata["kind"] for i in items)
    return {"prompt_tests": len({normalize_key(i.prompt + "\n" + (i.tests or "")) for i in items}),
            "keys": len({normalize_key(i.key) for i in items}), "kinds": len(kinds),
            "top_share": max(kinds.values()) / max(1, len(items)), "per_s": len(items) / dt}


def sandbox_pass(per_family: int, seed: int) -> tuple[int, int, int, int, float]:
    from gristmill.synth.generators import code
    from gristmill.synth.generators.code_spec import make_spec, rename
    from gristmill.synth.sandbox import run_python

    rng = random.Random(seed)
    refs = ref_ok = muts = mut_failed = 0
    t0 = time.perf_counter()
    for fam in code.FAMILIES:
        for j in range(per_family):
            d = 1 + (j + len(fam.name)) % 5
            spec, cases = make_spec(fam, rng, d, n_tests=3 + d)
            item = code._render(spec, cases, d)
            refs += 1
            ref_ok += run_python(item.answer, tests=item.tests).status == "passed"
            for mp in fam.mutants(spec.params):
                m = fam.build(mp)
                if m.params == spec.params:
                    continue
                muts += 1
                mut_failed += run_python(rename(m.reference, m.fname, spec.fname), tests=item.tests).status == "failed"
    return refs, ref_ok, muts, mut_failed, time.perf_counter() - t0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--draws", type=int, default=1000)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--sandbox-per-family", type=int, default=2)
    args = ap.parse_args()
    from gristmill.synth.generators import code

    old = _old_generator()
    rows = []
    for d in range(1, 6):
        new = [variety(code.functions, d, args.draws, s) for s in range(args.seeds)]
        prev = [variety(old, d, args.draws, s) for s in range(args.seeds)] if old else None

        def med(rs, k):
            return statistics.median(r[k] for r in rs)
        rows.append(f"| {d}{' (default)' if d == 2 else ''} | {med(new, 'prompt_tests'):,.0f} | {med(new, 'keys'):,.0f} | "
                    f"{med(new, 'kinds'):.0f} | {100 * med(new, 'top_share'):.1f}% | {med(new, 'per_s'):,.0f} | "
                    + (f"{med(prev, 'prompt_tests'):,.0f} | {med(prev, 'keys'):,.0f} | {med(prev, 'kinds'):.0f} | "
                       f"{100 * med(prev, 'top_share'):.1f}% |" if prev else "n/a | n/a | n/a | n/a |"))
    from gristmill.synth.generators import code_expr

    expr_rows = []
    for d in range(1, 6):
        e = [variety(code_expr.expressions, d, args.draws, s) for s in range(args.seeds)]
        expr_rows.append(f"| {d} | {statistics.median(r['prompt_tests'] for r in e):,.0f} | "
                         f"{statistics.median(r['keys'] for r in e):,.0f} |")
    refs, ref_ok, muts, mut_failed, dt = sandbox_pass(args.sandbox_per_family, 7)
    text = "\n".join([
        "## Code generator variety and soundness (bench_synth_codegen.py)", "",
        f"Machine: {machine()}; shared. `python benchmarks/bench_synth_codegen.py --draws {args.draws} --seeds {args.seeds} "
        f"--sandbox-per-family {args.sandbox_per_family}`. {len(code.FAMILIES)} families "
        f"({', '.join(f'{n} {a}' for a, n in sorted(Counter(f.area for f in code.FAMILIES).items()))}), drawn uniformly. "
        f"Per difficulty, the median over {args.seeds} seeds of {args.draws:,} draws; the peer is the generator it "
        f"replaced (commit {OLD_COMMIT}, 17 template families), measured in the same run with the same seeds. "
        "*prompt+tests*: distinct by normalized prompt and tests; *specs*: distinct item keys (family and parameters: "
        "what the dataset deduplicates and splits on, so this is the share `synth generate` keeps).", "",
        "| difficulty | distinct prompt+tests / 1,000 | distinct specs / 1,000 | families seen | largest family share | "
        "items/s (unverified) | old: prompt+tests | old: specs | old: kinds | old: largest share |",
        "|---|---|---|---|---|---|---|---|---|---|", *rows, "",
        f"Sandbox pass ({args.sandbox_per_family} items per family, difficulties 1-5 in turn, {dt:.0f} s): "
        f"{ref_ok}/{refs} references pass their tests; {mut_failed}/{muts} mutants (the opposite operation, an "
        "off-by-one bound, the other tie-break, a dropped condition; each is the same family with other parameters) "
        "fail them. Every item also passes the word check (the prose names the operation, no antonym of it appears "
        "in the prose or the name, ordinals are spelled 1st/2nd/3rd) before it leaves the generator.", "",
        "`code.expressions` (one-line `def f(xs): return <reducer over a mapped, filtered comprehension>`, the domain "
        "for a small model, issue 22 part 3), same seeds and draws; one family, so its distinct specifications are "
        "bounded by its combinations (7 reducers x up to 19 maps x the conditions):", "",
        "| difficulty | distinct prompt+tests / 1,000 | distinct specs / 1,000 |", "|---|---|---|", *expr_rows, ""])
    write_fragment("synth_codegen", text)


if __name__ == "__main__":
    main()
