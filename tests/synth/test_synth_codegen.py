"""The code generator (issue 20 item 1): one specification per item renders the function name, prose,
reference, oracle and tests; the prose says the operation and none of its opposites; the tests tell the
named mutants apart; variety at 1,000 draws; the held-out split holds out whole specifications."""
from __future__ import annotations

import json
import random
import subprocess
import sys
from collections import Counter
from dataclasses import replace
from pathlib import Path

import pytest

from gristmill.synth.dataset import split_of
from gristmill.synth.generators import code
from gristmill.synth.generators._verify import NotVerified
from gristmill.synth.generators.code_spec import (Spec, build_cases, check_words, make_spec, ordinal, rename,
                                                  assert_source)
from gristmill.synth.items import normalize_key
from gristmill.synth.registry import Composite, resolve
from gristmill.synth.sandbox import run_python


def _family(name):
    return next(f for f in code.FAMILIES if f.name == name)


def _read(p: Path):
    return [json.loads(line) for line in p.read_text().splitlines() if line.strip()]


def test_families_cover_four_areas():
    names = [f.name for f in code.FAMILIES]
    assert len(names) == len(set(names)) >= 25
    areas = Counter(f.area for f in code.FAMILIES)
    assert set(areas) == {"lists", "strings", "numbers", "dicts"} and min(areas.values()) >= 3
    assert f"({len(names)} families" in code.functions.__doc__  # what `synth generators` prints stays true


def test_ordinals():
    assert [ordinal(n) for n in (1, 2, 3, 4, 11, 12, 13, 21, 22, 23, 101, 111, 112)] == \
        ["1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd", "23rd", "101st", "111th", "112th"]


def _spec(fname, prose, must=(), must_not=()):
    return Spec("t", (), fname, [("xs", "list[int]")], "int", prose, f"def {fname}(xs):\n    return 0\n", lambda xs: 0,
                list(must), list(must_not))


def test_word_check_rejects_what_the_old_generator_wrote():
    """The newcomer's examples: a name that contradicts the prose, '3-th' and '1-th', a wrong suffix."""
    check_words(_spec("second_largest", "Return the 2nd largest distinct value in xs.", ["largest"]))
    with pytest.raises(NotVerified, match="does not say 'largest'"):  # the operation is largest, the prose is not
        check_words(_spec("second_largest", "Return the second smallest distinct value in xs.", ["largest"]))
    with pytest.raises(NotVerified, match="says 'largest' but the operation is 'smallest'"):  # the name contradicts
        check_words(_spec("second_largest", "Return the 2nd smallest distinct value in xs.", ["smallest"]))
    with pytest.raises(NotVerified, match="the name second_largest says 'largest', the prose does not"):
        check_words(_spec("second_largest", "Return the second smallest distinct value in xs."))
    with pytest.raises(NotVerified, match="says 'smallest' but the operation is 'largest'"):
        check_words(_spec("second_largest", "Return the 2nd largest value, not the smallest.", ["largest"]))
    for bad in ("the 3-th powers", "the 1-th powers", "the 2st value", "the 11st value", "the 3th value"):
        with pytest.raises(NotVerified, match="wrong ordinal"):
            check_words(_spec("f", f"Return the sum of {bad} of xs."))
    with pytest.raises(NotVerified, match="does not say"):
        check_words(_spec("f", "Return the sum of xs.", ["product"]))
    with pytest.raises(NotVerified, match="contradicts"):
        check_words(_spec("f", "Return how many elements are not divisible by 3.", ["divisible by 3"], ["not divisible"]))


def test_every_family_words_tell_its_mutants_apart():
    """Per family: the prose of a mutant (the opposite operation) fails the specification's word check for at
    least one mutant, so the check would catch prose rendered from the wrong parameters."""
    rng = random.Random(4)
    for fam in code.FAMILIES:
        caught = 0
        for _ in range(6):
            spec, _ = make_spec(fam, rng, 2, n_tests=5)
            for mp in fam.mutants(spec.params):
                m = fam.build(mp)
                if m.prose == spec.prose:
                    continue
                try:
                    check_words(replace(spec, prose=m.prose))
                except NotVerified:
                    caught += 1
        assert caught, fam.name


def test_degenerate_parameters_are_redrawn():
    """'multiples of 6 or 2': every multiple of 6 is a multiple of 2, so the 'multiples of 2' variant passes
    the same tests; such parameters are rejected, and the generator never emits them."""
    fam = _family("multiples")
    rng = random.Random(0)
    p = (2, 6, "or", "sum", False)
    spec = fam.build(p)
    muts = [fam.build(m) for m in fam.mutants(p)]
    with pytest.raises(NotVerified, match="degenerate"):
        build_cases(spec, muts, [fam.inputs(rng, 2, p) for _ in range(60)], 5, rng)
    for d in range(1, 6):
        for _ in range(80):
            s, _ = make_spec(fam, rng, d, n_tests=3 + d)
            a, b = s.params[:2]
            assert b % a, s.params


def test_every_family_passes_in_the_sandbox_and_its_mutants_fail():
    """One item per family (difficulties 1..5 in turn): its reference passes its tests in the sandbox; every
    mutant's own source (the opposite operation, an off-by-one bound, ...) fails them; the structured cases
    are the test lines."""
    rng = random.Random(100)
    for i, fam in enumerate(code.FAMILIES):
        difficulty = 1 + i % 5
        spec, cases = make_spec(fam, rng, difficulty, n_tests=3 + difficulty)
        item = code._render(spec, cases, difficulty)
        assert len(item.tests.splitlines()) == len(item.cases) >= 3 + difficulty
        for line, case in zip(item.tests.splitlines(), item.cases):
            assert case["call"] == spec.fname and case["compare"] == "exact"
            assert line == f"assert {spec.fname}({', '.join(map(repr, case['args']))}) == {case['expected']!r}"
            assert spec.oracle(*json.loads(json.dumps(case["args"]))) == case["expected"]
        r = run_python(item.answer, tests=item.tests)
        assert r.status == "passed", (fam.name, r.detail, item.answer, item.tests)
        muts = [fam.build(m) for m in fam.mutants(spec.params)]
        muts = [m for m in muts if m.params != spec.params]
        assert muts, fam.name
        for m in muts:
            bad = run_python(rename(m.reference, m.fname, spec.fname), tests=item.tests)
            assert bad.status == "failed", (fam.name, m.params, bad.detail)
        assert spec.fname in item.prompt and spec.prose in item.prompt and item.answer in item.solution


def test_a_contradictory_reference_fails_in_the_sandbox():
    """The old second_largest bug, replayed: the 'smallest' reference under the 'largest' tests fails."""
    fam = _family("kth_extreme")
    spec, cases = make_spec(fam, random.Random(1), 2, n_tests=5)
    flipped = fam.build((spec.params[0], not spec.params[1], *spec.params[2:]))
    tests = assert_source(spec.fname, cases)
    assert run_python(spec.reference, tests=tests).status == "passed"
    assert run_python(rename(flipped.reference, flipped.fname, spec.fname), tests=tests).status == "failed"


def distinct_per_1000(difficulty: int, seed: int = 0) -> dict:
    comp = Composite(resolve("code.functions"), seed, difficulty)
    items = [comp.draw()[1] for _ in range(1000)]
    return {"prompt_tests": len({normalize_key(i.prompt + "\n" + i.tests) for i in items}),
            "specs": len({normalize_key(i.key) for i in items}),
            "families": Counter(i.metadata["kind"] for i in items)}


def test_variety_per_1000_draws_at_the_default_difficulty():
    """>= 95% distinct by normalized prompt + tests (the old generator: 20 of 32 at best); distinct
    specifications (the dedup key) too; families drawn uniformly."""
    r = distinct_per_1000(2)
    assert r["prompt_tests"] >= 950, r
    assert r["specs"] >= 940, r
    fams = r["families"]
    assert len(fams) == len(code.FAMILIES)
    assert max(fams.values()) <= 2.2 * 1000 / len(code.FAMILIES), fams.most_common(3)


def test_generate_cli_records_split_and_dedup(tmp_path):
    """Through the CLI: 32 draws give 32 distinct items (the newcomer saw 12 duplicates in 32); every record
    carries tests and the same tests as data; the held-out split is by specification."""
    out = tmp_path / "code"
    p = subprocess.run([sys.executable, "-m", "gristmill.cli", "synth", "generate", "code.functions", "--n", "32", "--seed", "5",
                        "--heldout", "0.3", "-o", str(out)], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["kept"] == 32 and summary["duplicates"] <= 1 and not summary["rejected"], summary
    train, held = _read(out / "train.jsonl"), _read(out / "heldout.jsonl")
    assert train and held
    kinds = Counter(r["metadata"]["kind"] for r in train + held)
    assert len(kinds) >= 18 and max(kinds.values()) <= 4, kinds
    for r in train + held:
        meta = r["metadata"]
        cases = meta["cases"]
        assert len(cases) == len(meta["tests"].splitlines()) and all(c["call"] == meta["entry_point"] for c in cases)
        assert {tuple(c) for c in cases} == {("call", "args", "expected", "compare")}
        want = "train" if r in train else "heldout"
        assert split_of(meta["key"], 0.3) == want
    assert not ({normalize_key(r["metadata"]["key"]) for r in train} & {normalize_key(r["metadata"]["key"]) for r in held})


def test_heldout_is_by_specification_not_by_inputs():
    """The key is the specification (family + parameters): the same specification with other test inputs is
    the same problem, in the same split, so a held-out specification never reaches training through new
    inputs; different parameters are different problems."""
    params = (("div", 4), False)
    a, b = _fixed("select_where", params, seed=1), _fixed("select_where", params, seed=2)
    ia, ib = code._render(*a, 2), code._render(*b, 2)
    assert ia.tests != ib.tests and ia.key == ib.key and ia.id == ib.id
    assert all(split_of(ia.key, h) == split_of(ib.key, h) for h in (0.1, 0.3, 0.5))
    other = code._render(*_fixed("select_where", (("div", 4), True)), 2)
    assert other.key != ia.key


def test_keys_survive_normalization():
    """normalize_key folds '-' and brackets: '-3' vs '3' and '()' vs '[]' must stay different items."""
    a = code._render(*_fixed("select_where", (("gt", 3), True)), 2)
    b = code._render(*_fixed("select_where", (("gt", -3), True)), 2)
    assert normalize_key(a.key) != normalize_key(b.key)
    c = code._render(*_fixed("brackets", (("()",), "balanced", False)), 2)
    e = code._render(*_fixed("brackets", (("[]",), "balanced", False)), 2)
    assert normalize_key(c.key) != normalize_key(e.key)


def _fixed(name, params, seed=0):
    fam = _family(name)
    rng = random.Random(seed)
    spec = fam.build(params)
    muts = [fam.build(m) for m in fam.mutants(params)]
    return spec, build_cases(spec, muts, [fam.inputs(rng, 2, params) for _ in range(80)], 5, rng)


# ---------------------------------------------------------------------------------------------------------
# code.expressions: one-line expressions a tiny model can learn (issue 22, part 3)

def test_expressions_are_one_line_checked_and_pass_in_the_sandbox():
    import ast

    from gristmill.synth.generators import code_expr

    rng = random.Random(9)
    seen_reducers = set()
    for i in range(10):
        d = 1 + i % 5
        it = code_expr.expressions(rng, d)
        tree = ast.parse(it.answer)
        (fn,) = tree.body
        assert fn.name == "f" and len(fn.body) == 1 and isinstance(fn.body[0], ast.Return)
        assert it.prompt.startswith("f(xs): ") and it.answer in it.solution and it.metadata["expression"] in it.answer
        red, mp, pred = eval(it.metadata["params"])  # noqa: S307 - our own repr of tuples and ints
        seen_reducers.add(red)
        before, after, _ = code_expr.REDUCERS[red]
        assert (before if red != "count" else "how many") in it.prompt and after.strip(", ") in it.prompt
        assert run_python(it.answer, tests=it.tests).status == "passed", (it.answer, it.tests)
        for mp_ in code_expr.FAMILY.mutants((red, mp, pred)):
            m = code_expr.build(mp_)
            if m.params != (red, mp, pred):
                assert run_python(m.reference, tests=it.tests).status == "failed", (it.answer, m.reference)
    assert len(seen_reducers) >= 5


def test_expressions_through_the_cli_with_heldout_combinations(tmp_path):
    out = tmp_path / "expr"
    p = subprocess.run([sys.executable, "-m", "gristmill.cli", "synth", "generate", "code.expressions", "--n", "24",
                        "--seed", "2", "--heldout", "0.25", "-o", str(out)], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    s = json.loads((out / "summary.json").read_text())
    assert s["kept"] == 24 and not s["rejected"], s
    train, held = _read(out / "train.jsonl"), _read(out / "heldout.jsonl")
    assert held and not ({r["metadata"]["key"] for r in train} & {r["metadata"]["key"] for r in held})
    for r in train + held:
        assert r["metadata"]["generator"] == "code.expressions" and r["metadata"]["cases"]
        assert r["text"].startswith("f(xs): ") and "```python\ndef f(xs):\n    return " in r["text"]


def test_code_prefix_draws_both_code_generators():
    assert resolve("code") == pytest.approx({"code.expressions": 0.5, "code.functions": 0.5})


def test_expression_variety_per_1000():
    comp = Composite(resolve("code.expressions"), 0, 2)
    items = [comp.draw()[1] for _ in range(1000)]
    assert len({normalize_key(i.prompt + "\n" + i.tests) for i in items}) >= 990
    assert len({normalize_key(i.key) for i in items}) >= 750  # one family: ~6,000 combinations at difficulty 2
