"""One-line Python expressions over a small list: a code domain a model of a few million parameters can
learn (issue 22, part 3).

Every item is ``def f(xs): return <expression>`` where the expression is a reducer over a mapped,
filtered comprehension: ``sum(x * 3 for x in xs if x % 2 == 0)``, ``sorted(abs(x) for x in xs if x > 2)``.
The specification is three parts (reducer, map, condition), and the prompt names the same three parts
in a fixed, short phrasing (``f(xs): the sum of 3*x for each x in xs that is even``), so a small model
sees a compositional mapping from words to code rather than free prose. Held-out items are held-out
*combinations* (the key is the specification): evaluating on them measures composition, the setting in
which small transformers are known to generalize when each part is seen in training (Lake and Baroni 2018,
"Generalization without systematicity", SCAN's add-primitive and length splits, are the cautionary
counterpart). Everything comes from one :class:`~gristmill.synth.generators.code_spec.Spec`, checked like
``code.functions``: words, reference against oracle, and mutants (the other reducer, the opposite
condition, another map) told apart by the tests; the dataset runs the reference in the sandbox.
"""
from __future__ import annotations

import random

from gristmill.synth.generators.code import (draw_pred, pred_expr, pred_fn, pred_forbid, pred_hot, pred_must,
                                             pred_opposites, pred_words)
from gristmill.synth.generators.code_spec import Family, Spec, call_text, make_spec, spec_key, structured_cases
from gristmill.synth.generators.code_spec import assert_source
from gristmill.synth.items import Item
from gristmill.synth.registry import register

# reducer -> (phrase before the map, phrase after the condition, how the comprehension is wrapped)
REDUCERS = {
    "sum": ("the sum of", "", "sum({g})"),
    "count": ("how many", "", "len([{l}])"),
    "largest": ("the largest", ", or 0 if there is none", "max(({g}), default=0)"),
    "smallest": ("the smallest", ", or 0 if there is none", "min(({g}), default=0)"),
    "list": ("the list of", ", in order", "[{l}]"),
    "ascending": ("the list of", ", sorted ascending", "sorted({g})"),
    "descending": ("the list of", ", sorted descending", "sorted(({g}), reverse=True)"),
}
_OTHER_REDUCER = {"sum": "count", "count": "sum", "largest": "smallest", "smallest": "largest", "list": "ascending",
                  "ascending": "descending", "descending": "ascending"}


def _maps(d):
    out = [("id",), ("neg",), ("abs",), ("square",)]
    out += [("add", k) for k in range(-3, 6) if k] + [("mul", k) for k in range(2, 5)]
    if d >= 2:
        out += [("mod", m) for m in range(2, 6)]
    return out


def map_expr(m) -> str:
    k = m[0]
    return {"id": "x", "neg": "-x", "abs": "abs(x)", "square": "x * x"}.get(k) or {
        "add": lambda: f"x + {m[1]}" if m[1] > 0 else f"x - {-m[1]}", "mul": lambda: f"{m[1]} * x",
        "mod": lambda: f"x % {m[1]}"}[k]()


def map_words(m) -> str:
    k = m[0]
    return {"id": "x", "neg": "-x", "abs": "abs(x)", "square": "x*x"}.get(k) or {
        "add": lambda: f"x+{m[1]}" if m[1] > 0 else f"x-{-m[1]}", "mul": lambda: f"{m[1]}*x",
        "mod": lambda: f"x%{m[1]}"}[k]()


def map_fn(m):
    k = m[0]
    a = m[1] if len(m) > 1 else 0
    return {"id": lambda x: x, "neg": lambda x: 0 - x, "abs": lambda x: x if x >= 0 else -x, "square": lambda x: x ** 2,
            "add": lambda x: x + a, "mul": lambda x: sum([x] * a), "mod": lambda x: divmod(x, a)[1]}[k]


def _draw(rng, d):
    red = rng.choice(sorted(REDUCERS))
    mp = ("id",) if red == "count" else rng.choice(_maps(d))
    pred = None if (d == 1 and mp != ("id",) and rng.random() < 0.5) else draw_pred(rng, d, simple=d < 3)
    if red != "count" and d >= 2 and rng.random() < 0.15:
        pred = None
    return red, mp, pred


def _mutants(p):
    red, mp, pred = p
    out = [(_OTHER_REDUCER[red], ("id",) if _OTHER_REDUCER[red] == "count" else mp, pred)]
    if red != "count":
        out.append((red, ("id",) if mp != ("id",) else ("neg",), pred))
        if mp[0] in ("add", "mul", "mod"):
            out.append((red, (mp[0], mp[1] + 1), pred))
    if pred:
        out += [(red, mp, o) for o in pred_opposites(pred)] + ([(red, mp, None)] if red != "count" else [])
    return out


def _inputs(rng, d, p):
    hot = pred_hot(p[2]) if p[2] else [0, 1, -1]
    return ([rng.choice(hot) if rng.random() < 0.4 else rng.randint(-9, 9) for _ in range(rng.randint(0, 3 + d))],)


def build(p) -> Spec:
    red, mp, pred = p
    before, after, wrap = REDUCERS[red]
    cond = f" if {pred_expr(pred)}" if pred else ""
    gen = f"{map_expr(mp)} for x in xs{cond}"
    expr = wrap.format(g=gen, l=gen)
    who = f" that is {pred_words(pred)}" if pred else ""
    if red == "count":
        words = f"how many x in xs are {pred_words(pred)}" if pred else "how many elements xs has"
    else:
        words = f"{before} {map_words(mp)} for each x in xs{who}{after}"
    prose = f"f(xs): {words}."
    ref = f"def f(xs):\n    return {expr}\n"
    g, f = map_fn(mp), (pred_fn(pred) if pred else (lambda x: True))

    def oracle(xs):
        vals = []
        for x in xs:
            if f(x):
                vals.append(g(x))
        if red == "sum":
            return sum(vals)
        if red == "count":
            return len(vals)
        if red in ("largest", "smallest"):
            if not vals:
                return 0
            return sorted(vals)[-1 if red == "largest" else 0]
        if red == "list":
            return vals
        return sorted(vals, reverse=red == "descending")
    must = [words] + (pred_must(pred) if pred else [])
    return Spec("expression", p, "f", [("xs", "list[int]")], {"sum": "int", "count": "int", "largest": "int",
                                                           "smallest": "int"}.get(red, "list[int]"),
                prose, ref, oracle, must, pred_forbid(pred) if pred else [], f"one line: {expr}")


FAMILY = Family("expression", "expressions", _draw, build, _inputs, _mutants)


@register("code.expressions", verifier="the one-line reference must pass every unit test in the sandbox; the prompt "
          "must name the reducer, map and condition and no opposite; every mutant must fail a test")
def expressions(rng: random.Random, difficulty: int) -> Item:
    """One-line Python expressions over a small list (a reducer over a mapped, filtered comprehension:
    7 reducers x up to 19 maps x conditions), in a fixed short phrasing a small model can learn; difficulty
    adds modulo maps, compound conditions, longer lists and tests (3 + difficulty)."""
    spec, cases = make_spec(FAMILY, rng, difficulty, n_tests=3 + difficulty)
    code_line = spec.reference.splitlines()[1].strip()
    prompt = f"{spec.prose}\n" + "".join(f"{call_text('f', a)} == {e!r}\n" for a, e in cases[:2])
    solution = f"```python\n{spec.reference}```"
    return Item(prompt, solution, spec.reference, "code.expressions", difficulty, spec_key(spec),
                {"kind": "expression", "entry_point": "f", "answer_type": "code", "params": repr(spec.params),
                 "expression": code_line.removeprefix("return ")},
                tests=assert_source("f", cases), cases=structured_cases("f", cases))
