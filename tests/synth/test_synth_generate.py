"""Procedural generators through the real CLI: verified items, dedup, a held-out split that never
overlaps training, reproducibility, loud misconfiguration, and output that `gristmill run` reads."""
from __future__ import annotations

import json
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import pytest
import sympy
import yaml

from gristmill.synth.dataset import generate_dataset, split_of
from gristmill.synth.generators._verify import NotVerified, same_value, solves
from gristmill.synth.registry import UnknownGenerator, all_generators, resolve


def gm(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "gristmill.cli", *args], capture_output=True, text=True, cwd=cwd)


def read(p: Path):
    return [json.loads(line) for line in p.read_text().splitlines() if line.strip()]


def _independent_check(rec):
    """Re-derive the answer from the prompt's own numbers, by a route the generator did not take."""
    meta = rec["metadata"]
    if meta["generator"] == "math.linear":
        x, y = sympy.symbols("x y")
        eqs = [sympy.Eq(*(sympy.sympify(side, locals={"x": x, "y": y}) for side in e.split("="))) for e in meta["equations"]]
        sol = sympy.solve(eqs, [x, y] if "y" in rec["answer"] else [x], dict=True)
        assert len(sol) == 1
        got = ", ".join(f"{k} = {v}" for k, v in sorted(sol[0].items(), key=lambda kv: str(kv[0])))
        assert got == rec["answer"] if "y" in rec["answer"] else str(sol[0][x]) == rec["answer"]
    else:
        expr = meta["expression"]
        assert Fraction(str(sympy.Rational(sympy.sympify(expr, rational=True)))) == Fraction(rec["answer"]), (expr, rec["answer"])


def test_math_generate_cli(tmp_path):
    out = tmp_path / "math"
    p = gm("synth", "generate", "math", "--n", "120", "--seed", "7", "--difficulty", "3", "-o", str(out))
    assert p.returncode == 0, p.stderr
    train, held = read(out / "train.jsonl"), read(out / "heldout.jsonl")
    summary = json.loads((out / "summary.json").read_text())
    assert len(train) + len(held) == 120 == summary["kept"]
    assert summary["drawn"] == summary["kept"] + summary["duplicates"] + summary["surplus"] + sum(summary["rejected"].values())
    recs = train + held
    assert {r["metadata"]["generator"] for r in recs} == {"math.arithmetic", "math.word_problems", "math.fractions", "math.linear"}
    for r in recs:
        assert set(r) == {"id", "prompt", "solution", "answer", "metadata", "text"}
        assert r["solution"].rstrip().endswith(r["answer"]) or r["solution"].rstrip().endswith(r["answer"] + "%") \
            or f"{int(r['answer']):,}" in r["solution"].splitlines()[-1]
        assert len(r["solution"].splitlines()) >= 3, r["solution"]  # worked, step by step
        _independent_check(r)
    assert len({r["id"] for r in recs}) == len(recs)
    # the split is a function of the problem key: no training problem is a held-out problem
    assert not ({r["id"] for r in train} & {r["id"] for r in held})
    assert all(split_of(r["metadata"]["key"], 0.1) == "train" for r in train)
    assert all(split_of(r["metadata"]["key"], 0.1) == "heldout" for r in held) and held


def test_reproducible_and_heldout_stable_across_seeds(tmp_path):
    a = generate_dataset("math.arithmetic=1,math.fractions=1", 60, 5, 2, tmp_path / "a")
    b = generate_dataset("math.arithmetic=1,math.fractions=1", 60, 5, 2, tmp_path / "b")
    assert (tmp_path / "a" / "train.jsonl").read_text() == (tmp_path / "b" / "train.jsonl").read_text()
    assert a["kept"] == b["kept"] == 60
    # a different seed: any problem held out in one run is never in the other's training set
    generate_dataset("math.arithmetic=1,math.fractions=1", 300, 6, 1, tmp_path / "c", heldout=0.3)
    generate_dataset("math.arithmetic=1,math.fractions=1", 300, 8, 1, tmp_path / "d", heldout=0.3)
    held_c = {r["id"] for r in read(tmp_path / "c" / "heldout.jsonl")}
    train_d = {r["id"] for r in read(tmp_path / "d" / "train.jsonl")}
    overlap_all = held_c & ({r["id"] for r in read(tmp_path / "d" / "heldout.jsonl")} | train_d)
    assert overlap_all, "easy problems must recur across seeds, or this test proves nothing"
    assert not (held_c & train_d)


def test_dedup_is_by_problem_not_wording(tmp_path):
    s = generate_dataset("math.arithmetic", 200, 1, 1, tmp_path / "o", max_draws=2000)
    recs = read(tmp_path / "o" / "train.jsonl") + read(tmp_path / "o" / "heldout.jsonl")
    assert s["duplicates"] > 0  # 2-digit arithmetic repeats within 200 draws
    prompts = [r["prompt"] for r in recs]
    assert len(set(prompts)) == len(prompts)


def test_code_items_pass_their_tests_in_the_sandbox(tmp_path):
    from gristmill.synth.sandbox import run_python

    out = tmp_path / "code"
    p = gm("synth", "generate", "code", "--n", "12", "--seed", "3", "--difficulty", "4", "-o", str(out))
    assert p.returncode == 0, p.stderr
    recs = read(out / "train.jsonl") + read(out / "heldout.jsonl")
    assert len(recs) == 12
    for r in recs[:4]:
        tests = r["metadata"]["tests"]
        assert r["answer"] in r["solution"] and r["metadata"]["entry_point"] in r["prompt"]
        assert run_python(r["answer"], tests=tests).status == "passed"
        # and a wrong solution fails the same tests: the tests constrain the function
        wrong = r["answer"].replace("return ", "return None or 0 and ")
        assert run_python(wrong, tests=tests).status == "failed"


def test_a_broken_reference_is_rejected_with_a_reason(tmp_path, monkeypatch):
    """A generator whose reference solution is wrong: the items go to rejected.jsonl, none are kept."""
    from gristmill.synth import registry
    from gristmill.synth.generators import code

    orig = code.functions

    def broken(rng, d):
        it = orig(rng, d)
        it.answer = it.answer.replace("return ", "return 1 + ", 1) if "return " in it.answer else it.answer
        return it
    monkeypatch.setitem(registry._REGISTRY, "code.functions",
                        registry.GeneratorInfo("code.functions", broken, "broken", "sandbox"))
    s = generate_dataset("code.functions", 3, 1, 2, tmp_path / "o", max_draws=6)
    assert s["kept"] == 0 and s["drawn"] == 6 == s["rejected"]["failing_tests"] and s["shortfall"] == 3
    rej = read(tmp_path / "o" / "rejected.jsonl")
    assert rej and all(r["reason"] == "failing_tests" and r["detail"].startswith("failed") for r in rej)


def test_duplicates_are_not_run_in_the_sandbox(tmp_path, monkeypatch):
    """A small space's draws are mostly repeats: each distinct problem is verified once (a repeat in the
    same batch shares the first copy's verdict, a broken one is rejected each time it is drawn)."""
    import random as _random

    from gristmill.synth import dataset, registry
    from gristmill.synth.generators import code_expr

    runs = []
    real = dataset._verify_code
    monkeypatch.setattr(dataset, "_verify_code", lambda it, t: runs.append(it.key) or real(it, t))
    for broken in (False, True):
        def same(rng, d, broken=broken):
            it = code_expr.expressions(_random.Random(7), 1)
            if broken:
                it.answer = it.answer.replace("return ", "return 1 + ", 1)
            return it
        monkeypatch.setitem(registry._REGISTRY, "code.expressions",
                            registry.GeneratorInfo("code.expressions", same, "same", "sandbox"))
        runs.clear()
        s = generate_dataset("code.expressions", 3, 1, 1, tmp_path / f"o{broken}", max_draws=6)
        assert s["drawn"] == 6
        if broken:
            # every draw rejected with the reason; one sandbox run per batch for the one problem
            assert s["rejected"]["failing_tests"] == 6 and s["kept"] == 0 and len(runs) == 2  # two batches of 3
        else:
            assert s["kept"] == 1 and s["duplicates"] == 5 and len(runs) == 1


def test_composite_weights_and_errors():
    w = resolve("math.linear=3,code=1")
    assert w == pytest.approx({"math.linear": 0.75, "code.functions": 0.125, "code.expressions": 0.125})
    assert resolve("math") == pytest.approx({g: 0.25 for g in all_generators() if g.startswith("math.")})
    with pytest.raises(UnknownGenerator, match="did you mean 'math.linear'"):
        resolve("math.lineer")
    with pytest.raises(UnknownGenerator, match="not a number"):
        resolve("math.linear=x")


def test_cli_errors_are_loud(tmp_path):
    from typer.testing import CliRunner

    from gristmill.cli import app

    run = CliRunner().invoke
    r = run(app, ["synth", "generate", "maht", "--n", "3", "-o", str(tmp_path / "x")])
    assert r.exit_code == 2 and "did you mean 'math'" in r.output
    r = run(app, ["synth", "generate", "math", "--n", "3", "--difficulty", "9", "-o", str(tmp_path / "x")])
    assert r.exit_code == 2 and "1..5" in r.output
    assert run(app, ["synth", "generate", "math", "--n", "3", "-o", str(tmp_path / "y")]).exit_code == 0
    r = run(app, ["synth", "generate", "math", "--n", "3", "-o", str(tmp_path / "y")])
    assert r.exit_code == 2 and "--force" in r.output


def test_shortfall_is_reported_not_padded(tmp_path):
    p = gm("synth", "generate", "math.arithmetic", "--n", "50", "--max-draws", "20", "-o", str(tmp_path / "s"))
    s = json.loads((tmp_path / "s" / "summary.json").read_text())
    assert p.returncode == 1 and "30 short" in p.stderr
    assert s["kept"] == 20 and s["shortfall"] == 30 and len(read(tmp_path / "s" / "train.jsonl")) + len(read(tmp_path / "s" / "heldout.jsonl")) == 20


def test_verifiers_catch_wrong_answers():
    with pytest.raises(NotVerified):
        same_value("3 * 4", "13")
    same_value("(1/2) + (1/3)", "5/6")
    with pytest.raises(NotVerified):
        solves(["2*x + 2*y = 4", "x + y = 2"], {"x": "1", "y": "1"})  # true, but not the only solution
    solves(["2*x + y = 5", "x - y = 1"], {"x": "2", "y": "1"})


def test_output_runs_through_a_gristmill_recipe(tmp_path):
    out = tmp_path / "math"
    assert gm("synth", "generate", "math", "--n", "30", "--seed", "1", "-o", str(out)).returncode == 0
    recipe = tmp_path / "r.yaml"
    recipe.write_text(yaml.safe_dump({"inputs": [{"paths": [str(out / "train.jsonl")], "id_field": "id",
                                                  "fields": ["answer"]}],
                                      "steps": [{"exact_dedup": {}}], "output": {"path": str(tmp_path / "run")}}))
    p = gm("run", str(recipe))
    assert p.returncode == 0, p.stderr + p.stdout
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    n_train = len(read(out / "train.jsonl"))
    assert summary["input"] == n_train and summary["kept"] == n_train  # distinct problems: nothing deduplicated
    import pyarrow.parquet as pq

    t = pq.read_table(sorted((tmp_path / "run" / "data").glob("*.parquet"))[0])
    assert {"id", "text", "answer"} <= set(t.column_names)
