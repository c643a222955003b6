"""Python function exercises: one specification per item renders the name, prose, reference and tests.

Each family (:data:`FAMILIES`, over lists, strings, numbers and dicts) draws parameters that change the
task itself, not only its inputs; :mod:`gristmill.synth.generators.code_spec` turns them into a
:class:`~gristmill.synth.generators.code_spec.Spec` and checks it: the prose says the operation and
none of its opposites, the reference (loops) agrees with an independent oracle (builtins), and the tests
tell every named mutant apart. The item is kept by the dataset only if the reference also passes the
tests in the sandbox (:func:`gristmill.synth.sandbox.run_python`), as Llama 3 kept only code that passed
its unit tests (Llama 3 paper, section 4.3.1); the tests' expected values are literals, so the verdict
is unforgeable (:mod:`gristmill.synth.verdict`).

Families are drawn uniformly; difficulty widens the parameter space (compound conditions, larger
constants), lengthens inputs and adds tests (``3 + difficulty``). The item's key is the family and its
parameters, so the held-out split holds out whole specifications, never only their test inputs.
"""
from __future__ import annotations

import heapq
import itertools
import math
import random
import string
from collections import Counter

from gristmill.synth.generators.code_spec import (ORDINAL_WORDS, Family, Spec, call_text, make_spec, ordinal, spec_key,
                                                  structured_cases, assert_source)
from gristmill.synth.items import Item
from gristmill.synth.registry import register

FAMILIES: list[Family] = []


def family(name, area, draw, inputs, mutants):
    def deco(build):
        FAMILIES.append(Family(name, area, draw, build, inputs, mutants))
        return build
    return deco


def _num(t: int) -> str:
    return f"minus_{-t}" if t < 0 else str(t)


def _ints(rng, n, lo, hi, hot=()):
    return [rng.choice(hot) if hot and rng.random() < 0.4 else rng.randint(lo, hi) for _ in range(n)]


def _default_text(v) -> str:
    return "len(xs)" if v == "len" else repr(v)


# ---------------------------------------------------------------------------------------------------------
# conditions on integers, shared by the list and dict families: ("even",), ("gt", t), ("and", a, b), ...

def draw_pred(rng, d, simple=False):
    lim = 5 if d == 1 else 9
    # kinds weighted by how many conditions each holds, so the conditions are about equally likely
    kind = rng.choices(["even", "odd", "pos", "neg", "gt", "lt", "div", "ndiv"], [1, 1, 1, 1, 2 * lim + 1, 2 * lim + 1, 2 + d, 2 + d])[0]
    if kind in ("gt", "lt"):
        p = (kind, rng.randint(-lim, lim))
    elif kind in ("div", "ndiv"):
        p = (kind, rng.randint(3, 4 + d))
    else:
        p = (kind,)
    if d >= 2 and not simple and rng.random() < 0.5:
        a = rng.choice([("even",), ("odd",), ("div", rng.randint(3, 4 + d)), ("ndiv", rng.randint(3, 4 + d))])
        b = (rng.choice(["gt", "lt"]), rng.randint(-lim, lim))
        p = ("and", a, b)
    return p


def pred_words(p) -> str:
    k = p[0]
    return {"even": "even", "odd": "odd", "pos": "positive", "neg": "negative"}.get(k) or {
        "gt": lambda: f"greater than {p[1]}", "lt": lambda: f"less than {p[1]}",
        "ge": lambda: f"at least {p[1]}", "le": lambda: f"at most {p[1]}",
        "div": lambda: f"divisible by {p[1]}", "ndiv": lambda: f"not divisible by {p[1]}",
        "and": lambda: f"{pred_words(p[1])} and {pred_words(p[2])}"}[k]()


def pred_name(p) -> str:
    k = p[0]
    return {"even": "even", "odd": "odd", "pos": "positive", "neg": "negative"}.get(k) or {
        "gt": lambda: f"greater_than_{_num(p[1])}", "lt": lambda: f"less_than_{_num(p[1])}",
        "ge": lambda: f"at_least_{_num(p[1])}", "le": lambda: f"at_most_{_num(p[1])}",
        "div": lambda: f"divisible_by_{p[1]}", "ndiv": lambda: f"not_divisible_by_{p[1]}",
        "and": lambda: f"{pred_name(p[1])}_and_{pred_name(p[2])}"}[k]()


def pred_expr(p, v="x") -> str:
    k = p[0]
    return {"even": f"{v} % 2 == 0", "odd": f"{v} % 2 == 1", "pos": f"{v} > 0", "neg": f"{v} < 0"}.get(k) or {
        "gt": lambda: f"{v} > {p[1]}", "lt": lambda: f"{v} < {p[1]}", "ge": lambda: f"{v} >= {p[1]}",
        "le": lambda: f"{v} <= {p[1]}", "div": lambda: f"{v} % {p[1]} == 0", "ndiv": lambda: f"{v} % {p[1]} != 0",
        "and": lambda: f"{pred_expr(p[1], v)} and {pred_expr(p[2], v)}"}[k]()


def pred_fn(p):
    """The oracle's version of the condition, written without the reference's expressions."""
    k = p[0]
    if k == "and":
        f, g = pred_fn(p[1]), pred_fn(p[2])
        return lambda x: f(x) and g(x)
    t = p[1] if len(p) > 1 else 0
    return {"even": lambda x: not x & 1, "odd": lambda x: bool(x & 1), "pos": lambda x: x >= 1, "neg": lambda x: x <= -1,
            "gt": lambda x: x >= t + 1, "lt": lambda x: x <= t - 1, "ge": lambda x: x > t - 1, "le": lambda x: x < t + 1,
            "div": lambda x: divmod(x, t)[1] == 0, "ndiv": lambda x: divmod(x, t)[1] != 0}[k]


_PRED_FORBID = {"even": ["odd"], "odd": ["even"], "pos": ["negative"], "neg": ["positive"],
                "gt": ["less than", "at least", "at most"], "lt": ["greater than", "at least", "at most"],
                "div": ["not divisible"], "ndiv": [], "ge": ["less than", "greater than", "at most"],
                "le": ["less than", "greater than", "at least"]}


def pred_must(p) -> list[str]:
    return pred_must(p[1]) + pred_must(p[2]) if p[0] == "and" else [pred_words(p)]


def pred_forbid(p) -> list[str]:
    if p[0] == "and":
        return [w for w in pred_forbid(p[1]) + pred_forbid(p[2]) if w not in " ".join(pred_must(p))]
    return _PRED_FORBID[p[0]]


def pred_opposites(p) -> list:
    k = p[0]
    if k == "and":
        a, b = p[1], p[2]
        return [a, b, ("and", pred_opposites(a)[0], b), ("and", a, pred_opposites(b)[0])]
    t = p[1] if len(p) > 1 else 0
    return {"even": [("odd",)], "odd": [("even",)], "pos": [("neg",), ("ge", 0)], "neg": [("pos",), ("le", 0)],
            "gt": [("lt", t), ("ge", t)], "lt": [("gt", t), ("le", t)], "ge": [("lt", t)], "le": [("gt", t)],
            "div": [("ndiv", t), ("div", t + 1)], "ndiv": [("div", t)]}[k]


def pred_hot(p) -> list[int]:
    k = p[0]
    if k == "and":
        return pred_hot(p[1]) + pred_hot(p[2])
    t = p[1] if len(p) > 1 else 0
    if k in ("gt", "lt", "ge", "le"):
        return [t - 1, t, t + 1]
    if k in ("div", "ndiv"):
        return [t, 2 * t, -t, t + 1, 3 * t]
    return [0, 1, -1, 2, -2]


def _int_list(rng, d, p, lo=-12, hi=12, min_len=0):
    return _ints(rng, rng.randint(min_len, 3 + 2 * d), lo, hi, pred_hot(p) if p else ())


# ---------------------------------------------------------------------------------------------------------
# lists of integers

@family("count_where", "lists", lambda rng, d: (draw_pred(rng, d), rng.random() < 0.35),
        lambda rng, d, p: (_ints(rng, rng.randint(0, 3 + 2 * d), -6, 6, pred_hot(p[0]) * 2),),
        lambda p: [(o, p[1]) for o in pred_opposites(p[0])] + [(p[0], not p[1])])
def count_where(p):
    pred, distinct = p
    what = "distinct values" if distinct else "elements"
    fname = f"count_{'distinct_' if distinct else ''}{pred_name(pred)}"
    if distinct:
        ref = (f"def {fname}(xs):\n    seen = set()\n    for x in xs:\n        if {pred_expr(pred)}:\n"
               "            seen.add(x)\n    return len(seen)\n")
    else:
        ref = f"def {fname}(xs):\n    n = 0\n    for x in xs:\n        if {pred_expr(pred)}:\n            n += 1\n    return n\n"
    f = pred_fn(pred)
    oracle = (lambda xs: len({x for x in xs if f(x)})) if distinct else (lambda xs: sum(map(f, xs)))
    prose = (f"Return how many {what} of xs are {pred_words(pred)}"
             + (" (a value that occurs several times counts once)." if distinct else " (count repeated values every time)."))
    return Spec("count_where", p, fname, [("xs", "list[int]")], "int", prose, ref, oracle,
                pred_must(pred) + [what], pred_forbid(pred) + ([] if distinct else ["distinct"]),
                "Test each element once against the condition" + (" and collect the matching values in a set, whose size "
                "counts each value once." if distinct else " and add one for every match."))


@family("select_where", "lists", lambda rng, d: (draw_pred(rng, d), rng.random() < 0.5),
        lambda rng, d, p: (_int_list(rng, d, p[0]),),
        lambda p: [(p[0], not p[1])] + [(o, p[1]) for o in pred_opposites(p[0])])
def select_where(p):
    pred, keep = p
    fname = f"{'keep' if keep else 'remove'}_{pred_name(pred)}"
    w = pred_words(pred)
    if keep:
        prose = f"Keep only the elements of xs that are {w}: return them in a new list, in their original order."
        cond = pred_expr(pred)
    else:
        prose = f"Remove every element of xs that is {w}: return the others in a new list, in their original order."
        cond = f"not ({pred_expr(pred)})"
    ref = f"def {fname}(xs):\n    out = []\n    for x in xs:\n        if {cond}:\n            out.append(x)\n    return out\n"
    f = pred_fn(pred)
    oracle = (lambda xs: list(filter(f, xs))) if keep else (lambda xs: list(itertools.filterfalse(f, xs)))
    return Spec("select_where", p, fname, [("xs", "list[int]")], "list[int]", prose, ref, oracle,
                pred_must(pred) + ["keep" if keep else "remove"], pred_forbid(pred),
                "One pass: append each element whose test comes out the right way; appending keeps the order.")


_AGG_WORD = {"sum": "sum", "product": "product", "largest": "largest", "smallest": "smallest"}


def _draw_agg(rng, d):
    agg = rng.choice(["sum", "product", "largest", "smallest"])
    default = {"sum": 0, "product": 1}.get(agg, rng.choice([None, 0, -1]))
    return agg, draw_pred(rng, d), default


@family("aggregate_where", "lists", _draw_agg, lambda rng, d, p: (_int_list(rng, d, p[1], -9, 9),),
        lambda p: [({"sum": "product", "product": "sum", "largest": "smallest", "smallest": "largest"}[p[0]],
                    p[1], {"sum": 1, "product": 0}.get(p[0], p[2]))] + [(p[0], o, p[2]) for o in pred_opposites(p[1])])
def aggregate_where(p):
    agg, pred, default = p
    fname = f"{agg}_of_{pred_name(pred)}"
    w = pred_words(pred)
    if agg in ("sum", "product"):
        prose = f"Return the {agg} of the elements of xs that are {w} ({default} if there are none)."
        op = "+" if agg == "sum" else "*"
        ref = (f"def {fname}(xs):\n    acc = {default}\n    for x in xs:\n        if {pred_expr(pred)}:\n"
               f"            acc = acc {op} x\n    return acc\n")
    else:
        prose = f"Return the {agg} element of xs that is {w}, or {default!r} if no element is."
        cmp = ">" if agg == "largest" else "<"
        ref = (f"def {fname}(xs):\n    best = None\n    for x in xs:\n        if {pred_expr(pred)} and (best is None or x {cmp} best):\n"
               f"            best = x\n    return {default!r} if best is None else best\n")
    f = pred_fn(pred)
    red = {"sum": sum, "product": math.prod, "largest": lambda v: max(v, default=default),
           "smallest": lambda v: min(v, default=default)}[agg]
    return Spec("aggregate_where", p, fname, [("xs", "list[int]")], "int" if default is not None else "int | None",
                prose, ref, lambda xs: red([x for x in xs if f(x)]), pred_must(pred) + [agg], pred_forbid(pred),
                f"Keep a running {agg} over the elements that pass the test, starting from the value for an empty "
                "selection.")


@family("index_where", "lists", lambda rng, d: (rng.choice(["first", "last"]), draw_pred(rng, d), rng.choice([-1, None, "len"])),
        lambda rng, d, p: (_int_list(rng, d, p[1], -9, 9),),
        lambda p: [("last" if p[0] == "first" else "first", p[1], p[2])] + [(p[0], o, p[2]) for o in pred_opposites(p[1])])
def index_where(p):
    which, pred, default = p
    fname = f"{which}_{pred_name(pred)}_index"
    prose = (f"Return the index of the {which} element of xs that is {pred_words(pred)}, "
             f"or {_default_text(default)} if there is no such element.")
    dflt = "len(xs)" if default == "len" else repr(default)
    rng_expr = "range(len(xs))" if which == "first" else "range(len(xs) - 1, -1, -1)"
    ref = (f"def {fname}(xs):\n    for i in {rng_expr}:\n        x = xs[i]\n        if {pred_expr(pred)}:\n"
           f"            return i\n    return {dflt}\n")
    f = pred_fn(pred)

    def oracle(xs):
        hits = [i for i, x in enumerate(xs) if f(x)]
        if not hits:
            return len(xs) if default == "len" else default
        return hits[0] if which == "first" else hits[-1]
    return Spec("index_where", p, fname, [("xs", "list[int]")], "int" if default != None else "int | None",  # noqa: E711
                prose, ref, oracle, pred_must(pred) + [which], pred_forbid(pred),
                f"Scan the indices {'from the front' if which == 'first' else 'from the back'} and return at the first "
                "hit; falling out of the loop means there is none.")


@family("quantifier", "lists", lambda rng, d: (rng.choice(["all", "any", "none"]), draw_pred(rng, d)),
        lambda rng, d, p: (_ints(rng, rng.randint(0, 2 + d), -6, 6, pred_hot(p[1]) * 3),),
        lambda p: [(q, p[1]) for q in ("all", "any", "none") if q != p[0]] + [(p[0], o) for o in pred_opposites(p[1])])
def quantifier(p):
    q, pred = p
    w = pred_words(pred)
    fname = f"{q}_{pred_name(pred)}"
    prose = {"all": f"Return True if every element of xs is {w}, and False otherwise (True for an empty list).",
             "any": f"Return True if some element of xs is {w}, and False otherwise (False for an empty list).",
             "none": f"Return True if no element of xs is {w}, and False otherwise (True for an empty list)."}[q]
    hit, miss = {"all": ("False", "True"), "any": ("True", "False"), "none": ("False", "True")}[q]
    cond = f"not ({pred_expr(pred)})" if q == "all" else pred_expr(pred)
    ref = f"def {fname}(xs):\n    for x in xs:\n        if {cond}:\n            return {hit}\n    return {miss}\n"
    f = pred_fn(pred)
    oracle = {"all": lambda xs: all(map(f, xs)), "any": lambda xs: any(map(f, xs)),
              "none": lambda xs: not any(map(f, xs))}[q]
    return Spec("quantifier", p, fname, [("xs", "list[int]")], "bool", prose, ref, oracle,
                pred_must(pred) + [{"all": "every", "any": "some", "none": "no element"}[q]], pred_forbid(pred),
                "Return as soon as one element decides the answer; the empty list decides nothing, so the loop's "
                "fall-through value is the answer for it.")


def _draw_kth(rng, d):
    return (rng.randint(2, 3 + d), rng.random() < 0.5, rng.random() < 0.5, rng.choice([None, 0, -1]),
            draw_pred(rng, d, simple=True) if d >= 2 and rng.random() < 0.7 else None)


@family("kth_extreme", "lists", _draw_kth,
        lambda rng, d, p: (_ints(rng, rng.randint(0, 4 + 2 * d), -5, 5, pred_hot(p[4]) if p[4] else ()),),
        lambda p: [(p[0], not p[1], *p[2:]), (p[0], p[1], not p[2], *p[3:]), (p[0] + 1, *p[1:]), (p[0] - 1, *p[1:])]
        + ([(*p[:4], o) for o in pred_opposites(p[4])] + [(*p[:4], None)] if p[4] else []))
def kth_extreme(p):
    k, big, distinct, default, pred = p
    side = "largest" if big else "smallest"
    thing = "distinct value" if distinct else "element"
    fname = f"{ORDINAL_WORDS[k]}_{side}" + ("_distinct" if distinct else "") + (f"_{pred_name(pred)}" if pred else "")
    among = f" among the elements that are {pred_words(pred)}" if pred else ""
    prose = (f"Return the {ordinal(k)} {side} {thing} of xs{among} "
             + ("(equal values count once)" if distinct else "(equal values count separately, as in sorted order)")
             + f", or {default!r} if there are not {k} such {thing}s.")
    src = "set(xs)" if distinct else "xs"
    filt = f"[x for x in {src} if {pred_expr(pred)}]" if pred else f"list({src})"
    ref = (f"def {fname}(xs):\n    vals = sorted({filt}, reverse={big})\n"
           f"    return vals[{k - 1}] if len(vals) >= {k} else {default!r}\n")
    f = pred_fn(pred) if pred else (lambda x: True)

    def oracle(xs):
        vals = [x for x in (dict.fromkeys(xs) if distinct else xs) if f(x)]
        if len(vals) < k:
            return default
        return (heapq.nlargest if big else heapq.nsmallest)(k, vals)[-1]
    return Spec("kth_extreme", p, fname, [("xs", "list[int]")], "int | None" if default is None else "int", prose, ref, oracle,
                [ordinal(k), side, thing] + (pred_must(pred) if pred else []),
                (pred_forbid(pred) if pred else []) + ([] if distinct else ["distinct"]),
                f"Sort the {'set of values' if distinct else 'values'} {'from largest down' if big else 'from smallest up'}"
                f"; the answer is at index {k - 1} if the list is long enough.")


def _draw_replace(rng, d):
    r = rng.choice([("const", rng.randint(-9, 9)), ("neg",), ("square",), ("double",)])
    return draw_pred(rng, d), r


_REPL_WORDS = {"neg": ("negated (x becomes -x)", "-x", "negate"), "square": ("squared (x becomes x * x)", "x * x", "square"),
               "double": ("doubled (x becomes 2 * x)", "2 * x", "double")}


@family("replace_where", "lists", _draw_replace, lambda rng, d, p: (_int_list(rng, d, p[0], -9, 9),),
        lambda p: [(o, p[1]) for o in pred_opposites(p[0])] + [(p[0], r) for r in (("neg",), ("const", 0)) if r != p[1]])
def replace_where(p):
    pred, r = p
    w = pred_words(pred)
    if r[0] == "const":
        fname = f"replace_{pred_name(pred)}_with_{_num(r[1])}"
        what, expr, verb = f"replaced by {r[1]}", repr(r[1]), None
    else:
        what, expr, verb = _REPL_WORDS[r[0]]
        fname = f"{verb}_{pred_name(pred)}"
    prose = f"Return a copy of xs in which every element that is {w} is {what}; the other elements stay as they are."
    ref = f"def {fname}(xs):\n    out = []\n    for x in xs:\n        out.append({expr} if {pred_expr(pred)} else x)\n    return out\n"
    f = pred_fn(pred)
    g = {"const": lambda x: r[1], "neg": lambda x: 0 - x, "square": lambda x: x ** 2, "double": lambda x: x + x}[r[0]]
    return Spec("replace_where", p, fname, [("xs", "list[int]")], "list[int]", prose, ref,
                lambda xs: [g(x) if f(x) else x for x in xs], pred_must(pred) + [what.split(" (")[0]], pred_forbid(pred),
                "Build a new list element by element, choosing between the replacement and the element itself.")


def _draw_lines(rng, d):
    return rng.choice(["row", "column"]), rng.choice(["sum", "largest", "smallest", "count"]), draw_pred(rng, d)


def _matrix(rng, d, p):
    r, c = rng.randint(1, 2 + d), rng.randint(1, 2 + d)
    hot = pred_hot(p[2])
    return ([_ints(rng, c, -9, 9, hot) for _ in range(r)],)


@family("matrix_lines", "lists", _draw_lines, _matrix,
        lambda p: [("column" if p[0] == "row" else "row", p[1], p[2])] + [(p[0], p[1], o) for o in pred_opposites(p[2])]
        + [(p[0], {"sum": "count", "count": "sum", "largest": "smallest", "smallest": "largest"}[p[1]], p[2])])
def matrix_lines(p):
    line, agg, pred = p
    w = pred_words(pred)
    fname = f"{line}_{agg}_{pred_name(pred)}"
    what = {"sum": f"the sum of its elements that are {w} (0 if none are)",
            "count": f"how many of its elements are {w}",
            "largest": f"the largest of its elements that are {w} (None if none are)",
            "smallest": f"the smallest of its elements that are {w} (None if none are)"}[agg]
    prose = (f"m is a non-empty rectangular matrix given as a list of rows. Return a list with one entry per {line} of m, "
             f"in order: {what}.")
    lines = "m" if line == "row" else "[[row[j] for row in m] for j in range(len(m[0]))]"
    body = {"sum": "sum(vals)", "count": "len(vals)", "largest": "max(vals) if vals else None",
            "smallest": "min(vals) if vals else None"}[agg]
    ref = (f"def {fname}(m):\n    out = []\n    for line in {lines}:\n        vals = [x for x in line if {pred_expr(pred)}]\n"
           f"        out.append({body})\n    return out\n")
    f = pred_fn(pred)
    red = {"sum": sum, "count": len, "largest": lambda v: max(v, default=None), "smallest": lambda v: min(v, default=None)}[agg]
    oracle = lambda m: [red(list(filter(f, ln))) for ln in (m if line == "row" else map(list, zip(*m)))]  # noqa: E731
    return Spec("matrix_lines", p, fname, [("m", "list[list[int]]")], "list", prose, ref, oracle,
                pred_must(pred) + [line, "how many" if agg == "count" else agg], pred_forbid(pred),
                "zip(*m) turns columns into rows; for each line, filter by the condition and reduce what is left.")


def _draw_pairs(rng, d):
    return (rng.choice(["sum", "difference", "product"]), rng.randint(-9, 9 + 2 * d), rng.choice(["any", "adjacent"]),
            rng.choice(["==", ">", "<"]) if d >= 2 else "==")


@family("pair_count", "lists", _draw_pairs, lambda rng, d, p: (_ints(rng, rng.randint(0, 3 + 2 * d), -6, 6, [p[1], 0, 1, -1] * 2),),
        lambda p: [("product" if p[0] != "product" else "sum", *p[1:]), (p[0], p[1] + 1, *p[2:]),
                   (p[0], p[1], "adjacent" if p[2] == "any" else "any", p[3])] + [(*p[:3], r) for r in ("==", ">", "<") if r != p[3]])
def pair_count(p):
    op, target, scope, rel = p
    relw = {"==": "equal_to", ">": "greater_than", "<": "less_than"}[rel]
    fname = f"count_{'adjacent_' if scope == 'adjacent' else ''}pairs_{op}_{relw}_{_num(target)}"
    where = ("adjacent positions i and i + 1" if scope == "adjacent" else "positions i < j (any two positions, not "
             "only neighbours)")
    expr = {"sum": "xs[i] + xs[j]", "difference": "xs[i] - xs[j]", "product": "xs[i] * xs[j]"}[op]
    shown = f"{expr} {rel} {target}"
    if scope == "adjacent":
        shown = shown.replace("j]", "i + 1]")
    relp = {"==": "equals", ">": "is greater than", "<": "is less than"}[rel]
    prose = f"Return how many pairs of {where} in xs satisfy {shown} (the {op} of the pair {relp} {target})."
    cond = shown
    if scope == "adjacent":
        ref = f"def {fname}(xs):\n    n = 0\n    for i in range(len(xs) - 1):\n        if {cond}:\n            n += 1\n    return n\n"
    else:
        ref = (f"def {fname}(xs):\n    n = 0\n    for i in range(len(xs)):\n        for j in range(i + 1, len(xs)):\n"
               f"            if {cond}:\n                n += 1\n    return n\n")
    g = {"sum": lambda a, b: a + b, "difference": lambda a, b: a - b, "product": lambda a, b: a * b}[op]

    def oracle(xs):
        pairs = zip(xs, xs[1:]) if scope == "adjacent" else itertools.combinations(xs, 2)
        cmp = {"==": lambda v: v == target, ">": lambda v: v - target >= 1, "<": lambda v: target - v >= 1}[rel]
        return sum(1 for a, b in pairs if cmp(g(a, b)))
    return Spec("pair_count", p, fname, [("xs", "list[int]")], "int", prose, ref, oracle, [op, shown, relp],
                [w for w in ("sum", "product", "difference") if w != op] + [w for w in ("equals", "greater than", "less than")
                                                                           if w not in relp],
                "Visit each qualifying pair once (i < j, or neighbours) and count those that meet the equation.")


def _draw_chunks(rng, d):
    agg = rng.choice([("sum",), ("largest",), ("smallest",)]) if rng.random() < 0.3 else ("count", draw_pred(rng, d))
    return rng.choice(["chunks", "windows"]), rng.randint(2, 3 + d), agg, rng.random() < 0.5


_CHUNK_OTHER = {"sum": ("largest",), "largest": ("smallest",), "smallest": ("largest",)}


@family("chunks", "lists", _draw_chunks,
        lambda rng, d, p: (_ints(rng, rng.randint(0, 4 + 3 * d), -9, 9, pred_hot(p[2][1]) if p[2][0] == "count" else ()),),
        lambda p: [("windows" if p[0] == "chunks" else "chunks", *p[1:]), (p[0], p[1] + 1, *p[2:]), (*p[:3], not p[3])]
        + ([(p[0], p[1], ("count", o), p[3]) for o in pred_opposites(p[2][1])] if p[2][0] == "count" else
           [(p[0], p[1], _CHUNK_OTHER[p[2][0]], p[3])]))
def chunks(p):
    how, size, agg, partial = p
    if how == "chunks":
        parts = (f"Cut xs into consecutive, non-overlapping chunks of {size} elements (xs[0:{size}], xs[{size}:{2 * size}], ...)")
        tail = ("; a shorter last chunk is kept" if partial else "; a last chunk shorter than "
                f"{size} elements is dropped")
        starts, cond = f"range(0, len(xs), {size})", "True" if partial else f"i + {size} <= len(xs)"
    else:
        parts = f"Take every window of {size} consecutive elements of xs (xs[0:{size}], xs[1:{size + 1}], ...)"
        tail = ("; near the end, the windows that would run past the last element are cut short and kept" if partial else
                f"; only windows of exactly {size} elements count")
        starts, cond = "range(len(xs))", "True" if partial else f"i + {size} <= len(xs)"
    if agg[0] == "count":
        what, body = f"how many of its elements are {pred_words(agg[1])}", f"len([x for x in part if {pred_expr(agg[1])}])"
        red = (lambda f: lambda v: sum(map(f, v)))(pred_fn(agg[1]))
    else:
        what, body = f"the {agg[0]} of its elements", {"sum": "sum(part)", "largest": "max(part)", "smallest": "min(part)"}[agg[0]]
        red = {"sum": sum, "largest": max, "smallest": min}[agg[0]]
    fname = f"{how}_{size}_{agg[0]}" + (f"_{pred_name(agg[1])}" if agg[0] == "count" else "")
    prose = f"{parts}{tail}. Return a list with one entry per {how[:-1]}, in order: {what}."
    ref = (f"def {fname}(xs):\n    out = []\n    for i in {starts}:\n        part = xs[i:i + {size}]\n        if {cond}:\n"
           f"            out.append({body})\n    return out\n")

    def oracle(xs):
        step = size if how == "chunks" else 1
        pieces = [xs[i:i + size] for i in range(0, len(xs), step)]
        return [red(pc) for pc in pieces if partial or len(pc) == size]
    must = [how[:-1], f"chunks of {size} elements" if how == "chunks" else f"window of {size} consecutive elements"]
    must += pred_must(agg[1]) if agg[0] == "count" else [agg[0]]
    return Spec("chunks", p, fname, [("xs", "list[int]")], "list[int]", prose, ref, oracle, must,
                pred_forbid(agg[1]) if agg[0] == "count" else [],
                "Slice from each start position; the slice is shorter near the end, which decides whether it counts.")


def _draw_overlap(rng, d):
    return (rng.choice(["both", "only_a", "either"]), rng.choice(["first", "ascending", "descending"]),
            draw_pred(rng, d) if rng.random() < 0.85 else None)


@family("list_overlap", "lists", _draw_overlap,
        lambda rng, d, p: tuple(_ints(rng, rng.randint(0, 3 + 2 * d), -6, 6, pred_hot(p[2]) if p[2] else ()) for _ in range(2)),
        lambda p: [(o, *p[1:]) for o in ("both", "only_a", "either") if o != p[0]]
        + [(p[0], o, p[2]) for o in ("first", "ascending") if o != p[1]]
        + ([(p[0], p[1], o) for o in pred_opposites(p[2])] + [(p[0], p[1], None)] if p[2] else []))
def list_overlap(p):
    which, order, pred = p
    what = {"both": "the values that occur in both a and b", "only_a": "the values of a that do not occur in b",
            "either": "the values that occur in a or in b (or both)"}[which]
    filt = f" and are {pred_words(pred)}" if pred else ""
    ordw = {"first": "in order of first appearance (first in a, then in b), each value once",
            "ascending": "in ascending order, each value once", "descending": "in descending order, each value once"}[order]
    fname = {"both": "common", "only_a": "only_in_a", "either": "union"}[which] + (f"_{pred_name(pred)}" if pred else "")
    fname += {"first": "", "ascending": "_ascending", "descending": "_descending"}[order]
    prose = f"Return {what}{filt}, {ordw}."
    test = {"both": "x in b and x in a", "only_a": "x in a and x not in b", "either": "True"}[which]
    cond = test + (f" and {pred_expr(pred)}" if pred else "")
    sort = {"first": "", "ascending": "    out.sort()\n", "descending": "    out.sort(reverse=True)\n"}[order]
    ref = (f"def {fname}(a, b):\n    out = []\n    for x in a + b:\n        if {cond} and x not in out:\n            out.append(x)\n"
           f"{sort}    return out\n")
    f = pred_fn(pred) if pred else (lambda x: True)

    def oracle(a, b):
        sa, sb = set(a), set(b)
        keep = {"both": sa & sb, "only_a": sa - sb, "either": sa | sb}[which]
        vals = [x for x in dict.fromkeys(a + b) if x in keep and f(x)]
        return vals if order == "first" else sorted(vals, reverse=order == "descending")
    return Spec("list_overlap", p, fname, [("a", "list[int]"), ("b", "list[int]")], "list[int]", prose, ref, oracle,
                [what, ordw] + (pred_must(pred) if pred else []), pred_forbid(pred) if pred else [],
                "Walk a then b once, keeping a value the first time it qualifies; sort at the end if the order asks for it.")


# ---------------------------------------------------------------------------------------------------------
# strings

def _letters(rng, d):
    return "".join(sorted(rng.sample(string.ascii_lowercase, rng.randint(2, 3 + d))))


def _text(rng, d, letters, n=None):
    pool = letters + letters.upper() + "xyzXZ ,.!" + rng.choice(string.ascii_letters)
    return "".join(rng.choice(pool) for _ in range(rng.randint(0, 6 + 4 * d) if n is None else n))


@family("count_chars", "strings", lambda rng, d: (_letters(rng, d), rng.random() < 0.5, rng.random() < 0.7),
        lambda rng, d, p: (_text(rng, d, p[0]),), lambda p: [(p[0], not p[1], p[2]), (p[0], p[1], not p[2])])
def count_chars(p):
    letters, ignore_case, inside = p
    fname = f"count_{'' if inside else 'not_'}{letters}"
    shown = ", ".join(letters)
    case = ("ignoring case (an upper-case letter counts like its lower-case form)" if ignore_case else
            "matching case exactly (upper-case letters are different characters)")
    prose = (f"Return how many characters of s are {'' if inside else 'not '}one of the letters {shown}, {case}."
             + ("" if inside else " Spaces and punctuation count too."))
    low = "ch.lower()" if ignore_case else "ch"
    ref = (f"def {fname}(s):\n    n = 0\n    for ch in s:\n        if {low} {'in' if inside else 'not in'} {letters!r}:\n"
           "            n += 1\n    return n\n")
    chars = set(letters) | (set(letters.upper()) if ignore_case else set())
    oracle = (lambda s: sum(c in chars for c in s)) if inside else (lambda s: sum(c not in chars for c in s))
    return Spec("count_chars", p, fname, [("s", "str")], "int", prose, ref, oracle,
                [shown, "ignoring case" if ignore_case else "matching case exactly"] + ([] if inside else ["not one of"]),
                ["matching case exactly" if ignore_case else "ignoring case"] + (["not one of"] if inside else []),
                "Test every character against the letter set" + (" after lower-casing it." if ignore_case else "."))


def _draw_edit(rng, d):
    return _letters(rng, d), rng.choice([("remove",), ("keep",), ("mask", rng.choice("*#_-"))])


@family("edit_chars", "strings", _draw_edit, lambda rng, d, p: (_text(rng, d, p[0]).lower(),),
        lambda p: [(p[0], a) for a in (("remove",), ("keep",)) if a != p[1]])
def edit_chars(p):
    letters, act = p
    shown = ", ".join(letters)
    fname = {"remove": "remove", "keep": "keep_only", "mask": "mask"}[act[0]] + f"_{letters}"
    prose = {"remove": f"Remove every occurrence of the letters {shown} from s and return what is left.",
             "keep": f"Keep only the characters of s that are one of the letters {shown}, in order, and return them as a string.",
             "mask": f"Return s with every occurrence of the letters {shown} replaced by {act[-1]!r}; other characters stay."}[act[0]]
    body = {"remove": "'' if ch in L else ch", "keep": "ch if ch in L else ''", "mask": f"{act[-1]!r} if ch in L else ch"}[act[0]]
    ref = (f"def {fname}(s):\n    L = {letters!r}\n    out = []\n    for ch in s:\n        out.append({body})\n"
           "    return ''.join(out)\n")
    def oracle(s):
        if act[0] == "keep":
            return "".join(filter(set(letters).__contains__, s))
        if act[0] == "remove":
            return s.translate(str.maketrans("", "", letters))
        return s.translate(str.maketrans(letters, act[1] * len(letters)))
    return Spec("edit_chars", p, fname, [("s", "str")], "str", prose, ref, oracle,
                [shown, {"remove": "remove", "keep": "keep", "mask": "replaced by"}[act[0]]], [],
                "Decide character by character and join the pieces once at the end (repeated string '+' is quadratic).")


def _draw_caesar(rng, d):
    return rng.randint(1, 25), rng.random() < 0.5, d >= 2 and rng.random() < 0.5, rng.choice(["keep", "lower", "upper"])


@family("caesar", "strings", _draw_caesar,
        lambda rng, d, p: ("".join(rng.choice(string.ascii_letters + " 0123456789!?") for _ in range(rng.randint(0, 6 + 4 * d))),),
        lambda p: [(p[0], not p[1], *p[2:]), ((p[0] % 25) + 1, *p[1:]), (p[0], p[1], not p[2], p[3])]
        + [(*p[:3], c) for c in ("keep", "lower", "upper") if c != p[3]])
def caesar(p):
    k, fwd, digits, case = p
    direction = "forward" if fwd else "backward"
    fname = f"shift_{direction}_{k}" + ({"keep": "", "lower": "_lower", "upper": "_upper"}[case])
    wrap = "z wraps around to a" if fwd else "a wraps around to z"
    casing = {"keep": "each letter keeps its case", "lower": "then write every letter in lower case",
              "upper": "then write every letter in upper case"}[case]
    places = "1 place" if k == 1 else f"{k} places"
    dig = (f" Shift every digit {places} {direction} too, modulo 10." if digits else " Digits stay as they are.")
    prose = (f"Shift every ASCII letter of text {places} {direction} in the alphabet ({wrap}); {casing}.{dig} "
             "Every other character stays as it is.")
    s = k if fwd else -k
    fix = {"keep": "c", "lower": "c.lower()", "upper": "c.upper()"}[case]
    ref = (f"def {fname}(text):\n    out = []\n    for ch in text:\n        if 'a' <= ch <= 'z':\n"
           f"            c = chr((ord(ch) - 97 + {s}) % 26 + 97)\n        elif 'A' <= ch <= 'Z':\n"
           f"            c = chr((ord(ch) - 65 + {s}) % 26 + 65)\n"
           + (f"        elif '0' <= ch <= '9':\n            c = chr((ord(ch) - 48 + {s}) % 10 + 48)\n" if digits else "")
           + "        else:\n            out.append(ch)\n            continue\n"
           f"        out.append({fix})\n    return ''.join(out)\n")
    lo, up = string.ascii_lowercase, string.ascii_uppercase
    sl, su = lo[s % 26:] + lo[:s % 26], up[s % 26:] + up[:s % 26]
    if case == "lower":
        su = sl
    elif case == "upper":
        sl = su
    dg = string.digits
    table = str.maketrans(lo + up + (dg if digits else ""), sl + su + ((dg[s % 10:] + dg[:s % 10]) if digits else ""))
    must = [direction, places, "modulo 10" if digits else "Digits stay"]
    must += [{"keep": "keeps its case", "lower": "lower case", "upper": "upper case"}[case]]
    return Spec("caesar", p, fname, [("text", "str")], "str", prose, ref, lambda t: t.translate(table), must,
                ["modulo 10" if not digits else "Digits stay"],
                "Map a letter to 0-25, add the shift modulo 26 and map back, separately for each case; anything else is "
                "copied.")


# words: conditions on lower-case words
def draw_wpred(rng, d, alphabet, simple=False):
    def letter():
        kind = rng.choice(["starts", "ends", "has", "lacks", "starts", "ends", "has", "lacks", "vowel"])
        return (kind, rng.random() < 0.5) if kind == "vowel" else (kind, rng.choice(alphabet))

    def length():
        return rng.choice(["longer", "shorter", "len"]), rng.randint(2, 3 + d)
    if d >= 2 and not simple and rng.random() < 0.6:
        return "and", letter(), length()
    return letter() if rng.random() < 0.8 else length()


def wpred_words(p, plural=True) -> str:
    if p[0] == "and":
        return f"{wpred_words(p[1], plural)} and {wpred_words(p[2], plural)}"
    k, a = p
    if not plural:
        return {"longer": f"is longer than {a} letters", "shorter": f"is shorter than {a} letters",
                "len": f"has exactly {a} letters", "starts": f"starts with the letter {a}", "ends": f"ends with the letter {a}",
                "has": f"contains the letter {a}", "lacks": f"does not contain the letter {a}",
                "vowel": "starts with a vowel (a, e, i, o or u)" if a else "starts with a consonant (not a, e, i, o or u)"}[k]
    return {"longer": f"are longer than {a} letters", "shorter": f"are shorter than {a} letters",
            "len": f"have exactly {a} letters", "starts": f"start with the letter {a}", "ends": f"end with the letter {a}",
            "has": f"contain the letter {a}", "lacks": f"do not contain the letter {a}",
            "vowel": "start with a vowel (a, e, i, o or u)" if a else "start with a consonant (not a, e, i, o or u)"}[k]


def wpred_name(p) -> str:
    if p[0] == "and":
        return f"{wpred_name(p[1])}_and_{wpred_name(p[2])}"
    k, a = p
    return {"longer": f"longer_than_{a}", "shorter": f"shorter_than_{a}", "len": f"of_length_{a}",
            "starts": f"starting_with_{a}", "ends": f"ending_with_{a}", "has": f"containing_{a}",
            "lacks": f"without_{a}", "vowel": "starting_with_vowel" if a else "starting_with_consonant"}[k]


def wpred_expr(p, v="w") -> str:
    if p[0] == "and":
        return f"{wpred_expr(p[1], v)} and {wpred_expr(p[2], v)}"
    k, a = p
    return {"longer": f"len({v}) > {a}", "shorter": f"len({v}) < {a}", "len": f"len({v}) == {a}",
            "starts": f"{v}.startswith({a!r})", "ends": f"{v}.endswith({a!r})", "has": f"{a!r} in {v}",
            "lacks": f"{a!r} not in {v}", "vowel": f"{v}[:1] in {tuple('aeiou')!r}" if a else
            f"{v}[:1] not in {('', *'aeiou')!r}"}[k]


def wpred_fn(p):
    if p[0] == "and":
        f, g = wpred_fn(p[1]), wpred_fn(p[2])
        return lambda w: f(w) and g(w)
    k, a = p
    return {"longer": lambda w: len(w) >= a + 1, "shorter": lambda w: len(w) <= a - 1, "len": lambda w: len(w) == a,
            "starts": lambda w: w[:1] == a, "ends": lambda w: w[-1:] == a, "has": lambda w: w.find(a) >= 0,
            "lacks": lambda w: w.find(a) < 0,
            "vowel": (lambda w: bool(w) and w[0] in "aeiou") if a else (lambda w: bool(w) and w[0] not in "aeiou")}[k]


def wpred_opposites(p):
    if p[0] == "and":
        a, b = p[1], p[2]
        return [a, b, ("and", wpred_opposites(a)[0], b), ("and", a, wpred_opposites(b)[0])]
    k, a = p
    if k in ("longer", "shorter", "len"):
        return [(o, a) for o in ("longer", "shorter", "len") if o != k] + [(k, a + 1)]
    return {"starts": [("ends", a), ("has", a)], "ends": [("starts", a), ("has", a)], "has": [("lacks", a), ("starts", a)],
            "lacks": [("has", a)], "vowel": [("vowel", not a)]}[k]


_WFORBID = {"longer": ["shorter than", "exactly"], "shorter": ["longer than", "exactly"], "len": ["longer than", "shorter than"],
            "starts": ["end with", "ends with", "not contain"], "ends": ["start with", "starts with", "not contain"],
            "has": ["not contain"], "lacks": [], "vowel": []}


def _wmust(p, plural=True):
    if p[0] == "and":
        return _wmust(p[1], plural) + _wmust(p[2], plural)
    return [wpred_words(p, plural).split(" (")[0]]


def _wforbid(p):
    if p[0] == "and":
        must = " ".join(_wmust(p) + _wmust(p, False))
        return [w for w in _wforbid(p[1]) + _wforbid(p[2]) if w not in must]
    if p[0] == "vowel":
        return ["consonant"] if p[1] else ["with a vowel"]
    return _WFORBID[p[0]]


def _word_alphabet(rng):
    return "".join(rng.sample("abcdefghijklmnoprstuw", 7))


def _words_text(rng, d, p, alphabet=None):
    a = alphabet or ("aeiou" + "bcdkmst")
    extra = "".join(x[1] for x in (p[1:] if p[0] == "and" else [p]) if isinstance(x[1], str))
    pool = a + extra * 2
    words = ["".join(rng.choice(pool) for _ in range(rng.randint(1, 3 + d))) for _ in range(rng.randint(0, 3 + 2 * d))]
    return " ".join(words)


def _draw_words(rng, d, *more):
    return (draw_wpred(rng, d, "abcdeiklmnoprstu"), *(m(rng, d) for m in more))


@family("count_words", "strings", lambda rng, d: _draw_words(rng, d),
        lambda rng, d, p: (_words_text(rng, d, p[0]),), lambda p: [(o,) for o in wpred_opposites(p[0])])
def count_words(p):
    (wp,) = p
    fname = f"count_words_{wpred_name(wp)}"
    prose = (f"text is words of the letters a-z separated by single spaces. Return how many words of text {wpred_words(wp)} "
             "(an empty text has no words).")
    ref = f"def {fname}(text):\n    n = 0\n    for w in text.split():\n        if {wpred_expr(wp)}:\n            n += 1\n    return n\n"
    f = wpred_fn(wp)
    return Spec("count_words", p, fname, [("text", "str")], "int", prose, ref,
                lambda t: len([w for w in t.split(" ") if w and f(w)]), _wmust(wp), _wforbid(wp),
                "split() gives the words; count those that pass the test.")


@family("filter_words", "strings", lambda rng, d: _draw_words(rng, d, lambda r, dd: r.random() < 0.5),
        lambda rng, d, p: (_words_text(rng, d, p[0]),),
        lambda p: [(p[0], not p[1])] + [(o, p[1]) for o in wpred_opposites(p[0])])
def filter_words(p):
    wp, keep = p
    fname = f"{'keep' if keep else 'remove'}_words_{wpred_name(wp)}"
    prose = (f"text is words of the letters a-z separated by single spaces. {'Keep only' if keep else 'Remove'} the words that "
             f"{wpred_words(wp)}, and return the {'kept' if keep else 'remaining'} words in their original order, "
             "joined by single spaces.")
    cond = wpred_expr(wp) if keep else f"not ({wpred_expr(wp)})"
    ref = (f"def {fname}(text):\n    out = []\n    for w in text.split():\n        if {cond}:\n            out.append(w)\n"
           "    return ' '.join(out)\n")
    f = wpred_fn(wp)
    return Spec("filter_words", p, fname, [("text", "str")], "str", prose, ref,
                lambda t: " ".join(w for w in t.split(" ") if w and f(w) == keep), _wmust(wp) + ["keep" if keep else "remove"],
                _wforbid(wp), "Split, filter with the condition, join with ' '.")


_TF = {"upper": ("written in upper case", "w.upper()", lambda w: w.swapcase()),
       "reverse": ("reversed (its letters in the opposite order)", "w[::-1]", lambda w: "".join(reversed(w))),
       "capitalize": ("capitalized (first letter in upper case)", "w[0].upper() + w[1:]", lambda w: w[:1].swapcase() + w[1:]),
       "mask": ("replaced by as many '*' as it has letters", "'*' * len(w)", lambda w: "".join("*" for _ in w))}


@family("transform_words", "strings", lambda rng, d: _draw_words(rng, d, lambda r, dd: r.choice(sorted(_TF))),
        lambda rng, d, p: (_words_text(rng, d, p[0]),),
        lambda p: [(p[0], t) for t in ("upper", "reverse") if t != p[1]] + [(o, p[1]) for o in wpred_opposites(p[0])])
def transform_words(p):
    wp, tf = p
    what, expr, fn = _TF[tf]
    fname = f"{tf}_words_{wpred_name(wp)}"
    prose = (f"text is words of the letters a-z separated by single spaces. Return text with every word that {wpred_words(wp, False)} "
             f"{what}; the other words stay as they are, and the words stay in order, separated by single spaces.")
    ref = (f"def {fname}(text):\n    out = []\n    for w in text.split():\n        out.append({expr} if {wpred_expr(wp)} else w)\n"
           "    return ' '.join(out)\n")
    f = wpred_fn(wp)
    return Spec("transform_words", p, fname, [("text", "str")], "str", prose, ref,
                lambda t: " ".join(fn(w) if f(w) else w for w in t.split(" ") if w), _wmust(wp, False) + [what.split(" (")[0]],
                _wforbid(wp), "Map each word through the change when it passes the test, then join the words again.")


@family("longest_word", "strings",
        lambda rng, d: (rng.random() < 0.5, rng.random() < 0.5, draw_wpred(rng, d, "abcdeiklmnoprstu") if rng.random() < 0.9 else None),
        lambda rng, d, p: (_words_text(rng, d, p[2] or ("x", "")),),
        lambda p: [(not p[0], *p[1:]), (p[0], not p[1], p[2])] + ([(p[0], p[1], o) for o in wpred_opposites(p[2])] if p[2] else []))
def longest_word(p):
    longest, first, wp = p
    side = "longest" if longest else "shortest"
    tie = "first" if first else "last"
    fname = f"{side}_word" + (f"_{wpred_name(wp)}" if wp else "")
    among = f" among the words that {wpred_words(wp)}" if wp else ""
    prose = (f"text is words of the letters a-z separated by single spaces. Return the {side} word of text{among}; when several "
             f"words tie, return the {tie} of them in the text. Return '' if there is no such word.")
    cmp = (">" if longest else "<") + ("" if first else "=")
    cond = f" and {wpred_expr(wp)}" if wp else ""
    ref = (f"def {fname}(text):\n    best = None\n    for w in text.split():\n"
           f"        if (best is None or len(w) {cmp} len(best)){cond}:\n            best = w\n    return best or ''\n")
    f = wpred_fn(wp) if wp else (lambda w: True)

    def oracle(t):
        ws = [w for w in t.split(" ") if w and f(w)]
        if not ws:
            return ""
        target = (max if longest else min)(map(len, ws))
        hits = [w for w in ws if len(w) == target]
        return hits[0] if first else hits[-1]
    return Spec("longest_word", p, fname, [("text", "str")], "str", prose, ref, oracle,
                [side, f"the {tie} of them"] + (_wmust(wp) if wp else []), _wforbid(wp) if wp else [],
                "One pass keeping the best word so far; whether a tie replaces it decides first against last.")


def _draw_rle(rng, d):
    return rng.choice([(cf, sep, k, fold) for cf in (True, False) for sep in ("", ",", "-", " ", ";", "|", "/")
                       for k in range(1, 3 + d) for fold in (False, True)])


def _rle_text(rng, d, p):
    alpha = "abA" + "c" * (d > 1)
    return "".join(rng.choice(alpha) * rng.randint(1, 2 + p[2]) for _ in range(rng.randint(0, 3 + d)))


@family("run_length", "strings", _draw_rle, lambda rng, d, p: (_rle_text(rng, d, p),),
        lambda p: [(not p[0], *p[1:]), (p[0], p[1], p[2] + 1, p[3]), (p[0], p[1], max(1, p[2] - 1), p[3]), (*p[:3], not p[3])])
def run_length(p):
    count_first, sep, min_run, fold = p
    order = "the run length followed by the character" if count_first else "the character followed by the run length"
    fname = "encode_runs_count_char" if count_first else "encode_runs_char_count"
    short = (f" A run shorter than {min_run} characters is copied unchanged instead." if min_run > 1 else "")
    prose = (f"Run-length encode s: each maximal run of {'characters that are equal ignoring case' if fold else 'one character'} "
             f"becomes {order}{' (the character as written at the start of the run)' if fold else ''}.{short} "
             f"Join the pieces with {sep!r}. The empty string encodes to ''.")
    key = ".lower()" if fold else ""
    piece = "f'{n}{s[i]}'" if count_first else "f'{s[i]}{n}'"
    ref = (f"def {fname}(s):\n    out = []\n    i = 0\n    while i < len(s):\n        j = i\n"
           f"        while j < len(s) and s[j]{key} == s[i]{key}:\n            j += 1\n        n = j - i\n"
           f"        out.append({piece} if n >= {min_run} else s[i:j])\n        i = j\n    return {sep!r}.join(out)\n")

    def oracle(s):
        out = []
        for _, g in itertools.groupby(s, key=str.lower if fold else None):
            run = "".join(g)
            n = len(run)
            out.append(run if n < min_run else (f"{n}{run[0]}" if count_first else f"{run[0]}{n}"))
        return sep.join(out)
    return Spec("run_length", p, fname, [("s", "str")], "str", prose, ref, oracle,
                [order, f"Join the pieces with {sep!r}"] + ([f"shorter than {min_run}"] if min_run > 1 else []),
                [] if fold else ["ignoring case"], "Two indices: j runs to the end of the current run, so j - i is its length.")


_BRACKETS = ["()", "[]", "{}", "<>"]


def _draw_brackets(rng, d):
    return rng.choice([(pairs, op, strict) for r in range(1, min(4, 1 + d) + 1) for pairs in itertools.combinations(_BRACKETS, r)
                       for op in ("balanced", "depth", "pairs", "first_error") for strict in (False, True)])


@family("brackets", "strings", _draw_brackets,
        lambda rng, d, p: ("".join(rng.choice("".join(p[0]) * 3 + "x" + rng.choice("()[]{}<>"))
                                   for _ in range(rng.randint(0, 4 + 2 * d))),),
        lambda p: [(p[0], p[1], not p[2]), (p[0], {"balanced": "depth", "depth": "pairs", "pairs": "depth",
                                                    "first_error": "depth"}[p[1]], p[2])]
        + [(tuple(sorted(set(_BRACKETS) - set(p[0])))[:1] + p[0][1:], p[1], p[2])])
def brackets(p):
    pairs, op, strict = p
    opens, closes = "".join(x[0] for x in pairs), "".join(x[1] for x in pairs)
    shown = " ".join(pairs)
    others = ("any other character makes the string invalid" if strict else "every other character is ignored")
    if op == "balanced":
        fname = "balanced"
        ask = "Return True if the brackets in s are balanced and properly nested, else False"
        bad, ok = "False", "not stack"
    elif op == "depth":
        fname = "max_depth"
        ask = ("Return the maximum nesting depth of the brackets in s (0 when there are none), or -1 if they are not "
               "balanced and properly nested")
        bad, ok = "-1", "deepest if not stack else -1"
    elif op == "pairs":
        fname = "count_pairs"
        ask = ("Return how many matched bracket pairs s contains (an opening bracket and the closing bracket that closes it), "
               "or -1 if the brackets are not balanced and properly nested")
        bad, ok = "-1", "matched if not stack else -1"
    else:
        fname = "first_error"
        ask = ("Return the index of the first character where s goes wrong (a closing bracket that does not close the "
               "innermost open one, or closes nothing" + (", or any other character" if strict else "") + "), len(s) if "
               "every character is fine but brackets are left open at the end, or -1 if s is balanced and properly nested")
        bad, ok = "i", "-1 if not stack else len(s)"
    prose = f"The bracket pairs are {shown}; {others}. {ask}."
    ref = (f"def {fname}(s):\n    match = {dict(zip(closes, opens))!r}\n    stack = []\n    deepest = matched = 0\n"
           "    for i, ch in enumerate(s):\n"
           f"        if ch in {opens!r}:\n            stack.append(ch)\n            deepest = max(deepest, len(stack))\n"
           f"        elif ch in match:\n            if not stack or stack.pop() != match[ch]:\n                return {bad}\n"
           "            matched += 1\n"
           + (f"        else:\n            return {bad}\n" if strict else "") + f"    return {ok}\n")

    def valid_prefix(t):  # deleting innermost pairs leaves only opening brackets
        prev = None
        t = "".join(c for c in t if c in opens + closes)
        while prev != t:
            prev = t
            for a, b in pairs:
                t = t.replace(a + b, "")
        return all(c in opens for c in t), t == ""

    def oracle(s):
        if op == "first_error":
            for i in range(len(s)):
                if (strict and s[i] not in opens + closes) or not valid_prefix(s[:i + 1])[0]:
                    return i
            return -1 if valid_prefix(s)[1] else len(s)
        if strict and any(c not in opens + closes for c in s):
            return False if op == "balanced" else -1
        kept = "".join(c for c in s if c in opens + closes)
        depth = best = 0
        prev = None
        while prev != kept:  # delete innermost pairs until nothing changes; balanced iff nothing is left
            prev = kept
            for a, b in pairs:
                kept = kept.replace(a + b, "")
        if kept:
            return False if op == "balanced" else -1
        if op == "balanced":
            return True
        if op == "pairs":
            return sum(c in opens for c in s)
        for c in s:
            depth += 1 if c in opens else -1 if c in closes else 0
            best = max(best, depth)
        return best
    return Spec("brackets", p, fname, [("s", "str")], "bool" if op == "balanced" else "int", prose, ref, oracle,
                [shown, others, {"balanced": "balanced", "depth": "maximum nesting depth", "pairs": "how many matched",
                                 "first_error": "index of the first character"}[op]], [],
                "Push opening brackets; a closing one must match the top of the stack; the stack height is the depth.")


def _draw_initials(rng, d):
    return (draw_wpred(rng, d, "abcdeiklmnoprstu") if rng.random() < 0.95 else None, rng.random() < 0.5,
            rng.choice(["", ".", "-", " ", "/"]))


@family("initials", "strings", _draw_initials, lambda rng, d, p: (_words_text(rng, d, p[0] or ("x", "")),),
        lambda p: [(p[0], not p[1], p[2])] + ([(o, *p[1:]) for o in wpred_opposites(p[0])] + [(None, *p[1:])] if p[0] else []))
def initials(p):
    wp, upper, sep = p
    among = f" of every word that {wpred_words(wp, False)}" if wp else " of every word"
    fname = "initials" + (f"_{wpred_name(wp)}" if wp else "")
    prose = (f"text is words of the letters a-z separated by single spaces. Return the first letter{among}, in the "
             f"order of the words, written in {'upper' if upper else 'lower'} case and joined by {sep!r}.")
    cond = f" if {wpred_expr(wp)}" if wp else ""
    ref = (f"def {fname}(text):\n    letters = [w[0].{'upper' if upper else 'lower'}() for w in text.split(){cond}]\n"
           f"    return {sep!r}.join(letters)\n")
    f = wpred_fn(wp) if wp else (lambda w: True)
    oracle = lambda t: sep.join((w[:1].swapcase() if upper else w[:1]) for w in t.split(" ") if w and f(w))  # noqa: E731
    return Spec("initials", p, fname, [("text", "str")], "str", prose, ref, oracle,
                [f"{'upper' if upper else 'lower'} case", f"joined by {sep!r}"] + (_wmust(wp, False) if wp else []),
                _wforbid(wp) if wp else [], "A word's first letter is w[0]; collect, change the case, join.")


# ---------------------------------------------------------------------------------------------------------
# numbers

def _draw_multiples(rng, d):
    while True:
        a, b = sorted(rng.sample(range(2, 8 + 2 * d), 2))
        if b % a:
            break
    return a, b, rng.choice(["or", "and", "xor"]), rng.choice(["sum", "count"]), rng.random() < 0.5


@family("multiples", "numbers", _draw_multiples, lambda rng, d, p: (rng.randint(0, 40 * d + p[0] * p[1]),),
        lambda p: [(p[0], p[1], r, p[3], p[4]) for r in ("or", "and", "xor") if r != p[2]]
        + [(p[0], p[1], p[2], "count" if p[3] == "sum" else "sum", p[4]), (*p[:4], not p[4]),
           (p[0], p[0], "or", p[3], p[4]), (p[1], p[1], "or", p[3], p[4])])
def multiples(p):
    a, b, rel, agg, inclusive = p
    span = "from 1 up to and including n" if inclusive else "from 1 up to but not including n"
    which = {"or": f"multiples of {a} or of {b} (or both)" if a != b else f"multiples of {a}",
             "and": f"multiples of both {a} and {b}", "xor": f"multiples of exactly one of {a} and {b}"}[rel]
    fname = f"{agg}_multiples_{a}_{rel}_{b}" if a != b else f"{agg}_multiples_{a}"
    prose = f"Return the {'sum' if agg == 'sum' else 'number'} of the integers {span} that are {which}."
    cond = {"or": f"i % {a} == 0 or i % {b} == 0", "and": f"i % {a} == 0 and i % {b} == 0",
            "xor": f"(i % {a} == 0) != (i % {b} == 0)"}[rel]
    ref = (f"def {fname}(n):\n    total = 0\n    for i in range(1, n{' + 1' if inclusive else ''}):\n        if {cond}:\n"
           f"            total += {'i' if agg == 'sum' else '1'}\n    return total\n")

    def oracle(n):
        m = n if inclusive else n - 1
        lcm = a * b // math.gcd(a, b)

        def s(k):  # multiples of k in 1..m: their count, or their sum by Gauss
            c = max(m, 0) // k
            return c if agg == "count" else k * c * (c + 1) // 2
        if a == b:
            return s(a)
        return {"or": s(a) + s(b) - s(lcm), "and": s(lcm), "xor": s(a) + s(b) - 2 * s(lcm)}[rel]
    return Spec("multiples", p, fname, [("n", "int")], "int", prose, ref, oracle,
                [which, span, "sum" if agg == "sum" else "number"], ["sum"] if agg == "count" else [],
                "Test each integer in the range with %; a number divisible by both is counted according to the "
                "connective (or: once, and: only then, exactly one: never).")


def _draw_digits(rng, d):
    space = [(b, op) for b in range(2, 11)
             for op in [("pow", k) for k in range(1, 3 + d)] + [("prod",), ("max",), ("min",), ("even",), ("odd",)]
             + [("count", c) for c in range(b)] + [("count_gt", c) for c in range(b - 1)]]
    return rng.choice(space)


def _digit_words(base):
    return "decimal digits" if base == 10 else f"digits in base {base}"


@family("digits", "numbers", _draw_digits, lambda rng, d, p: (rng.randint(0, p[0] ** (2 + d) * 3),),
        lambda p: [(p[0], o) for o in ([("pow", 1)] if p[1] != ("pow", 1) else [("prod",), ("pow", 2)])
                                       + ([("max",)] if p[1][0] == "min" else [("min",)] if p[1][0] == "max" else [])
                                       + ([("odd",) if p[1][0] == "even" else ("even",)] if p[1][0] in ("even", "odd") else [])]
        + [(10 if p[0] != 10 else 8, p[1])] + ([(p[0], ("pow", p[1][1] + 1))] if p[1][0] == "pow" else []))
def digits(p):
    base, op = p
    dw = _digit_words(base)
    k = op[0]
    if k == "pow":
        what = {1: "the sum of the", 2: "the sum of the squares of the", 3: "the sum of the cubes of the"}.get(
            op[1], f"the sum of the {ordinal(op[1])} powers of the")
        fname = f"digit_power_sum_{op[1]}" if op[1] > 1 else "digit_sum"
        acc0, step = "0", f"acc += d ** {op[1]}"
    elif k == "prod":
        what, fname, acc0, step = "the product of the non-zero", "nonzero_digit_product", "1", "acc *= d if d else 1"
    elif k == "count":
        what, fname, acc0, step = f"how many of the {{dw}} of n are equal to {op[1]}", f"count_digit_{op[1]}", "0", f"acc += d == {op[1]}"
    elif k in ("even", "odd"):
        what, fname, acc0, step = f"how many of the {{dw}} of n are {k}", f"count_{k}_digits", "0", f"acc += d % 2 == {int(k == 'odd')}"
    elif k == "count_gt":
        what, fname = f"how many of the {{dw}} of n are greater than {op[1]}", f"count_digits_greater_than_{op[1]}"
        acc0, step = "0", f"acc += d > {op[1]}"
    else:
        what, fname = f"the {'largest' if k == 'max' else 'smallest'} of the", f"{'largest' if k == 'max' else 'smallest'}_digit"
        acc0, step = "None", f"acc = d if acc is None or d {'>' if k == 'max' else '<'} acc else acc"
    if base != 10:
        fname += f"_base_{base}"
    what = what.format(dw=dw) if "{dw}" in what else f"{what} {dw} of n"
    prose = f"Return {what}, where n is a non-negative integer (0 has the single digit 0)."
    ref = (f"def {fname}(n):\n    acc = {acc0}\n    while True:\n        d = n % {base}\n        {step}\n        n //= {base}\n"
           f"        if n == 0:\n            return int(acc)\n")

    def oracle(n):
        ds = []
        while True:
            n, r = divmod(n, base)
            ds.append(r)
            if not n:
                break
        if k == "pow":
            return sum(x ** op[1] for x in ds)
        if k == "prod":
            return math.prod(x for x in ds if x)
        if k == "count":
            return ds.count(op[1])
        if k == "count_gt":
            return sum(x > op[1] for x in ds)
        if k in ("even", "odd"):
            return sum((x & 1) == (k == "odd") for x in ds)
        return (max if k == "max" else min)(ds)
    return Spec("digits", p, fname, [("n", "int")], "int", prose, ref, oracle, [dw, what], [],
                f"n % {base} is the last digit and n // {base} drops it: repeat until n is 0.")


def _draw_rec(rng, d):
    coef = [c for c in range(-2, 4) if c]
    return rng.randint(0, 5), rng.randint(1, 5), rng.choice(coef), rng.choice(coef)


def _signed(c, term):
    return f"{'- ' if c < 0 else '+ '}{abs(c)}*{term}"


@family("recurrence", "numbers", _draw_rec, lambda rng, d, p: (rng.randint(0, 6 + 4 * d),),
        lambda p: [(p[0], p[1], p[3], p[2]), (p[1], p[0], p[2], p[3]), (p[0], p[1], p[2], -p[3])])
def recurrence(p):
    t0, t1, a, b = p
    prose = (f"The sequence t starts t(0) = {t0}, t(1) = {t1} and continues t(n) = {a}*t(n-1) {_signed(b, 't(n-2)')} "
             "for n >= 2. Return t(n) for n >= 0, computed iteratively.")
    ref = f"def term(n):\n    a, b = {t0}, {t1}\n    for _ in range(n):\n        a, b = b, {a} * b + {b} * a\n    return a\n"

    def oracle(n):
        seq = [t0, t1]
        while len(seq) <= n:
            seq.append(a * seq[-1] + b * seq[-2])
        return seq[n]
    return Spec("recurrence", p, "term", [("n", "int")], "int", prose, ref, oracle,
                [f"t(0) = {t0}", f"t(1) = {t1}", f"{a}*t(n-1) {_signed(b, 't(n-2)')}"], [],
                "Keep only the last two terms and update them n times: iteration keeps large n cheap.")


_FIZZ_WORDS = ["Fizz", "Buzz", "Bang", "Pop", "Zap", "Quux", "Bop", "Ding", "Woo", "Tick"]


def _draw_fizz(rng, d):
    while True:
        a, b = rng.sample(range(2, 8 + d), 2)
        if a % b and b % a:
            break
    wa, wb = rng.sample(_FIZZ_WORDS, 2)
    return a, wa, b, wb


@family("fizz", "numbers", _draw_fizz, lambda rng, d, p: (rng.randint(0, p[0] * p[2] + 3),),
        lambda p: [(p[2], p[1], p[0], p[3]), (p[0], p[3], p[2], p[1])])
def fizz(p):
    a, wa, b, wb = p
    fname = f"{wa.lower()}_{wb.lower()}"
    prose = (f"Return a list of strings for i = 1..n: '{wa}{wb}' if i is divisible by both {a} and {b}, '{wa}' if only by "
             f"{a}, '{wb}' if only by {b}, otherwise str(i).")
    ref = (f"def {fname}(n):\n    out = []\n    for i in range(1, n + 1):\n        s = ('{wa}' if i % {a} == 0 else '') + "
           f"('{wb}' if i % {b} == 0 else '')\n        out.append(s or str(i))\n    return out\n")
    lcm = a * b // math.gcd(a, b)
    oracle = lambda n: [wa + wb if i % lcm == 0 else wa if i % a == 0 else wb if i % b == 0 else str(i)  # noqa: E731
                        for i in range(1, n + 1)]
    return Spec("fizz", p, fname, [("n", "int")], "list[str]", prose, ref, oracle,
                [f"'{wa}' if only by {a}", f"'{wb}' if only by {b}"], [],
                "Build each word from the two divisibility tests in order; when neither applies the word is empty and "
                "`or` falls back to str(i).")


def _draw_base(rng, d):
    return rng.choice([(b, w, up, g) for b in range(2, 10 + 7 * (d >= 2)) for w in [0] + list(range(2, 9))
                       for up in ((False, True) if b > 10 else (False,)) for g in ((0, 3, 4) if d >= 2 else (0,))])


@family("to_base", "numbers", _draw_base, lambda rng, d, p: (rng.randint(-p[0] ** 3, p[0] ** (3 + d)),),
        lambda p: [(p[0] + 1 if p[0] < 16 else p[0] - 1, p[1], p[2] and p[0] < 16, p[3]), (p[0], p[1] + 1 if p[1] else 3, *p[2:])]
        + ([(p[0], p[1], not p[2], p[3])] if p[0] > 10 else []) + ([(*p[:3], 0)] if p[3] else []))
def to_base(p):
    base, width, upper, group = p
    fname = f"to_base_{base}"
    digits = (string.digits + (string.ascii_uppercase if upper else string.ascii_lowercase))[:base]
    lettered = (f" Digits above 9 are the {'upper' if upper else 'lower'}-case letters {digits[10]}..{digits[-1]}."
                if base > 10 else "")
    pad = f" Pad the digits with leading zeros to at least {width} digits (the minus sign does not count)." if width else ""
    grp = (f" Then separate the digits into groups of {group}, counted from the right, with '_' (as in 1_000)."
           if group else "")
    prose = (f"Return the base-{base} representation of the integer n as a string, with a leading '-' for negative n "
             f"(0 is '0').{lettered}{pad}{grp}")
    ref = (f"def {fname}(n):\n    digits = {digits!r}\n    sign = '-' if n < 0 else ''\n    n = abs(n)\n    out = ''\n"
           f"    while True:\n        out = digits[n % {base}] + out\n        n //= {base}\n        if n == 0:\n            break\n"
           + (f"    out = out.rjust({width}, '0')\n" if width else "")
           + (f"    parts = []\n    while out:\n        parts.insert(0, out[-{group}:])\n        out = out[:-{group}]\n"
              "    out = '_'.join(parts)\n" if group else "") + "    return sign + out\n")

    def oracle(n):
        if base in (2, 8, 16):
            s = format(abs(n), {2: "b", 8: "o", 16: "x"}[base])
            s = s.upper() if upper else s
        else:
            s, m = "", abs(n)
            while m:
                m, r = divmod(m, base)
                s = digits[r] + s
            s = s or "0"
        s = s.zfill(width)
        if group:
            rev = s[::-1]
            s = "_".join(rev[i:i + group] for i in range(0, len(rev), group))[::-1]
        return ("-" if n < 0 else "") + s
    return Spec("to_base", p, fname, [("n", "int")], "str", prose, ref, oracle,
                [f"base-{base}"] + ([f"at least {width} digits"] if width else [])
                + ([f"{'upper' if upper else 'lower'}-case"] if base > 10 else []) + ([f"groups of {group}"] if group else []),
                [], "Repeated division by the base yields the digits from the last one; prepend each, then add the sign.")


def _draw_poly(rng, d):
    deg = 2 if d < 3 else 3
    cs = [rng.randint(-9, 9) for _ in range(deg + 1)]
    cs[0] = rng.choice([c for c in range(-5, 6) if c])
    return tuple(cs), (rng.randint(5, 20) if d >= 2 and rng.random() < 0.5 else None)


def _poly_text(cs):
    deg = len(cs) - 1
    parts = []
    for i, c in enumerate(cs):
        e = deg - i
        if c == 0:
            continue
        term = "" if e == 0 else "x" if e == 1 else f"x**{e}"
        mag = abs(c)
        body = f"{mag}*{term}" if term and mag != 1 else term or str(mag)
        parts.append(("-" if c < 0 else "+", body))
    s = " ".join(f"{sg} {b}" for sg, b in parts)
    return s[2:] if s.startswith("+ ") else "-" + s[2:]


@family("polynomial", "numbers", _draw_poly, lambda rng, d, p: (rng.randint(-10, 10),),
        lambda p: [((-p[0][0],) + p[0][1:], p[1]), (p[0][:-1] + (p[0][-1] + 1,), p[1]),
                   (p[0][::-1] if p[0][-1] else p[0][:1] + (1,) + p[0][2:], p[1])]
        + ([(p[0], None)] if p[1] else []))
def polynomial(p):
    cs, mod = p
    shown = _poly_text(cs)
    fname = "poly_mod" if mod else "poly"
    prose = f"Return the value of the polynomial {shown} at the integer x" + (
        f", reduced modulo {mod} (a result in 0..{mod - 1})." if mod else ".")
    ref = (f"def {fname}(x):\n    acc = 0\n    for c in {list(cs)!r}:\n        acc = acc * x + c\n"
           f"    return acc{f' % {mod}' if mod else ''}\n")

    def oracle(x):
        v = sum(c * x ** (len(cs) - 1 - i) for i, c in enumerate(cs))
        return v % mod if mod else v
    return Spec("polynomial", p, fname, [("x", "int")], "int", prose, ref, oracle, [shown] + ([f"modulo {mod}"] if mod else []),
                [] if mod else ["modulo"], "Horner's rule: multiply the accumulator by x and add the next coefficient.")


def _draw_div(rng, d):
    filts = ([("all",), ("proper",), ("even",), ("odd",)] + [("gt", t) for t in range(1, 10)] + [("lt", t) for t in range(2, 11)]
             + [("div", m) for m in range(2, 6)])
    return rng.choice([(op, f) for op in ("list", "count", "sum", "largest", "smallest") for f in filts])


_DIV_WORDS = {"all": "", "proper": "proper (smaller than n) ", "even": "even ", "odd": "odd "}


@family("divisors", "numbers", _draw_div, lambda rng, d, p: (rng.randint(1, 60 * d),),
        lambda p: [({"list": "count", "count": "sum", "sum": "count", "largest": "smallest", "smallest": "largest"}[p[0]], p[1])]
        + [(p[0], f) for f in ([("odd",)] if p[1] == ("even",) else [("even",)] if p[1] == ("odd",) else [("all",), ("proper",)])
           if f != p[1]]
        + ([(p[0], (p[1][0], p[1][1] + 1))] if len(p[1]) > 1 else []))
def divisors(p):
    op, filt = p
    k = filt[0]
    adj = _DIV_WORDS.get(k, "")
    tail = {"gt": f" greater than {filt[-1]}", "lt": f" less than {filt[-1]}", "div": f" that are multiples of {filt[-1]}"}.get(k, "")
    what = {"list": f"the list, ascending, of the {adj}divisors of n{tail}",
            "count": f"how many {adj}divisors n has{tail}",
            "sum": f"the sum of the {adj}divisors of n{tail}",
            "largest": f"the largest {adj}divisor of n{tail}, or 0 if there is none",
            "smallest": f"the smallest {adj}divisor of n{tail}, or 0 if there is none"}[op]
    fname = {"list": "divisors", "count": "count_divisors", "sum": "sum_divisors", "largest": "largest_divisor",
             "smallest": "smallest_divisor"}[op]
    fname += {"all": "", "proper": "_proper", "even": "_even", "odd": "_odd", "gt": f"_greater_than_{filt[-1]}",
              "lt": f"_less_than_{filt[-1]}", "div": f"_multiple_of_{filt[-1]}"}[k]
    prose = f"For a positive integer n, return {what} (d is a divisor of n when n % d == 0)."
    cond = {"all": "True", "proper": "d < n", "even": "d % 2 == 0", "odd": "d % 2 == 1", "gt": f"d > {filt[-1]}",
            "lt": f"d < {filt[-1]}", "div": f"d % {filt[-1]} == 0"}[k]
    fin = {"list": "ds", "count": "len(ds)", "sum": "sum(ds)", "largest": "ds[-1] if ds else 0", "smallest": "ds[0] if ds else 0"}[op]
    ref = (f"def {fname}(n):\n    ds = []\n    for d in range(1, n + 1):\n        if n % d == 0 and {cond}:\n"
           f"            ds.append(d)\n    return {fin}\n")
    keep = {"all": lambda dv, n: True, "proper": lambda dv, n: dv != n, "even": lambda dv, n: not dv & 1,
            "odd": lambda dv, n: dv & 1, "gt": lambda dv, n: dv >= filt[-1] + 1, "lt": lambda dv, n: dv <= filt[-1] - 1,
            "div": lambda dv, n: divmod(dv, filt[-1])[1] == 0}[k]

    def oracle(n):
        small = [i for i in range(1, math.isqrt(n) + 1) if n % i == 0]
        ds = sorted(set(small) | {n // i for i in small})
        ds = [x for x in ds if keep(x, n)]
        return {"list": ds, "count": len(ds), "sum": sum(ds), "largest": max(ds, default=0), "smallest": min(ds, default=0)}[op]
    must = [{"list": "list", "count": "how many", "sum": "sum", "largest": "largest", "smallest": "smallest"}[op]]
    must += [adj.strip()] if adj else []
    return Spec("divisors", p, fname, [("n", "int")], {"list": "list[int]"}.get(op, "int"), prose, ref, oracle, must, [],
                "A divisor is any d in 1..n with n % d == 0; filter them and reduce.")


def _draw_series(rng, d):
    cs = [rng.randint(-5, 5) for _ in range(3)]
    cs[0] = rng.choice([c for c in range(-3, 4) if c])
    return tuple(cs), rng.choice(["sum", "largest", "count_even"]), rng.random() < 0.5


@family("series", "numbers", _draw_series, lambda rng, d, p: (rng.randint(0, 6 + 4 * d),),
        lambda p: [(p[0], o, p[2]) for o in ("sum", "largest") if o != p[1]] + [(*p[:2], not p[2]),
                   ((p[0][0], p[0][1], p[0][2] + 1), *p[1:])])
def series(p):
    cs, op, inclusive = p
    shown = _poly_text(cs).replace("x", "i")
    span = "i = 0, 1, ..., n (n included)" if inclusive else "i = 0, 1, ..., n - 1 (n excluded)"
    what = {"sum": "the sum of the values f(i)", "largest": "the largest of the values f(i) (None when there are none)",
            "count_even": "how many of the values f(i) are even"}[op]
    fname = {"sum": "series_sum", "largest": "series_largest", "count_even": "series_count_even"}[op]
    prose = f"Let f(i) = {shown}. Over {span}, return {what}."
    stop = "n + 1" if inclusive else "n"
    fexpr = "acc_c * i + c"
    upd = {"sum": "out += v", "largest": "out = v if out is None or v > out else out", "count_even": "out += v % 2 == 0"}[op]
    ref = (f"def {fname}(n):\n    out = {'None' if op == 'largest' else '0'}\n    for i in range({stop}):\n"
           f"        v = 0\n        for c in {list(cs)!r}:\n            v = v * i + c\n        {upd}\n    return out\n")
    del fexpr

    def oracle(n):
        vals = [sum(c * i ** (2 - k) for k, c in enumerate(cs)) for i in range(n + 1 if inclusive else n)]
        if op == "sum":
            return sum(vals)
        if op == "largest":
            return max(vals, default=None)
        return sum(1 for v in vals if not v & 1)
    return Spec("series", p, fname, [("n", "int")], "int | None" if op == "largest" else "int", prose, ref, oracle,
                [shown, span, what.split(" (")[0]], [],
                "Evaluate f at every i of the range (Horner's rule) and fold the values into the answer.")


# ---------------------------------------------------------------------------------------------------------
# dicts (string keys, so a case survives JSON unchanged)

_NAMES = ["ann", "bob", "cy", "dee", "eve", "fay", "gus", "hal", "ivy", "jo"]


def _dict_in(rng, d, p):
    return {k: rng.choice(pred_hot(p) + [rng.randint(-9, 9)]) for k in rng.sample(_NAMES, rng.randint(0, 3 + d))}


@family("dict_filter", "dicts", lambda rng, d: (draw_pred(rng, d), rng.random() < 0.5),
        lambda rng, d, p: (_dict_in(rng, d, p[0]),),
        lambda p: [(p[0], not p[1])] + [(o, p[1]) for o in pred_opposites(p[0])])
def dict_filter(p):
    pred, keep = p
    w = pred_words(pred)
    fname = f"{'keep' if keep else 'remove'}_{pred_name(pred)}_values"
    prose = (f"d maps names to integers. Keep only the items whose value is {w}: return them in a new dict." if keep else
             f"d maps names to integers. Remove every item whose value is {w}: return the other items in a new dict.")
    cond = pred_expr(pred, "v") if keep else f"not ({pred_expr(pred, 'v')})"
    ref = f"def {fname}(d):\n    out = {{}}\n    for k, v in d.items():\n        if {cond}:\n            out[k] = v\n    return out\n"
    f = pred_fn(pred)
    return Spec("dict_filter", p, fname, [("d", "dict[str, int]")], "dict[str, int]", prose, ref,
                lambda dd: dict(filter(lambda kv: f(kv[1]) == keep, dd.items())), pred_must(pred) + ["keep" if keep else "remove"],
                pred_forbid(pred), "Iterate over the items and copy those whose value passes the test (or fails it).")


def _draw_group(rng, d):
    return rng.choice(["sum", "count", "largest", "smallest"]), (draw_pred(rng, d) if rng.random() < 0.9 else None)


@family("group_totals", "dicts", _draw_group,
        lambda rng, d, p: ([[rng.choice(_NAMES[:3 + d]), rng.choice((pred_hot(p[1]) if p[1] else []) + [rng.randint(-9, 9)])]
                            for _ in range(rng.randint(0, 4 + 2 * d))],),
        lambda p: [({"sum": "count", "count": "sum", "largest": "smallest", "smallest": "largest"}[p[0]], p[1])]
        + ([(p[0], o) for o in pred_opposites(p[1])] + [(p[0], None)] if p[1] else []))
def group_totals(p):
    agg, pred = p
    fname = f"{agg}_by_name" + (f"_{pred_name(pred)}" if pred else "")
    only = f", using only the amounts that are {pred_words(pred)} (a name with no such amount is left out)" if pred else ""
    what = {"sum": "the sum of its amounts", "count": "how many amounts it has", "largest": "its largest amount",
            "smallest": "its smallest amount"}[agg]
    prose = f"pairs is a list of [name, amount] pairs. Return a dict mapping each name to {what}{only}."
    cond = f"if not ({pred_expr(pred, 'amount')}):\n            continue\n        " if pred else ""
    upd = {"sum": "out[name] = out.get(name, 0) + amount", "count": "out[name] = out.get(name, 0) + 1",
           "largest": "out[name] = amount if name not in out else max(out[name], amount)",
           "smallest": "out[name] = amount if name not in out else min(out[name], amount)"}[agg]
    ref = f"def {fname}(pairs):\n    out = {{}}\n    for name, amount in pairs:\n        {cond}{upd}\n    return out\n"
    f = pred_fn(pred) if pred else (lambda x: True)
    red = {"sum": sum, "count": len, "largest": max, "smallest": min}[agg]

    def oracle(pairs):
        groups: dict = {}
        for name, amt in pairs:
            if f(amt):
                groups.setdefault(name, []).append(amt)
        return {k: red(v) for k, v in groups.items()}
    return Spec("group_totals", p, fname, [("pairs", "list[list]")], "dict[str, int]", prose, ref, oracle,
                [what] + (pred_must(pred) if pred else []), pred_forbid(pred) if pred else [],
                "One dict keyed by name, updated per pair: dict.get with a default starts each name's total.")


def _draw_freq(rng, d):
    return rng.random() < 0.5, rng.randint(1, 2 + 2 * (d >= 2)), (draw_wpred(rng, d, "abcdeiklmnoprstu") if rng.random() < 0.95 else None)


def _freq_text(rng, d, p):
    words = ["".join(rng.choice("aeiobkst") for _ in range(rng.randint(1, 3))) for _ in range(3 + d)]
    return " ".join((w.upper() if rng.random() < 0.3 else w) for w in (rng.choice(words) for _ in range(rng.randint(0, 5 + 2 * d))))


@family("word_freq", "dicts", _draw_freq, lambda rng, d, p: (_freq_text(rng, d, p),),
        lambda p: [(not p[0], p[1], p[2]), (p[0], p[1] + 1, p[2])] + ([(p[0], p[1], o) for o in wpred_opposites(p[2])] if p[2] else []))
def word_freq(p):
    fold, min_count, wp = p
    case = ("ignoring case: count and report every word in lower case" if fold else
            "case-sensitive: 'Ab' and 'ab' are different words")
    only = f", counting only the words that {wpred_words(wp)} (after lower-casing)" if wp else ""
    at_least = f" Report only the words that occur at least {min_count} times." if min_count > 1 else ""
    fname = "word_counts" + ("_ignore_case" if fold else "")
    prose = (f"text is words separated by single spaces. Return a dict mapping each word to how many times it occurs, "
             f"{case}{only}.{at_least}")
    low = "w.lower()" if fold else "w"
    cond = f" and {wpred_expr(wp, 'w.lower()')}" if wp else ""
    ref = (f"def {fname}(text):\n    out = {{}}\n    for w in text.split():\n        if True{cond}:\n"
           f"            out[{low}] = out.get({low}, 0) + 1\n    return {{k: n for k, n in out.items() if n >= {min_count}}}\n")
    f = wpred_fn(wp) if wp else (lambda w: True)

    def oracle(t):
        c = Counter((w.lower() if fold else w) for w in t.split(" ") if w and f(w.lower()))
        return {k: n for k, n in c.items() if n >= min_count}
    return Spec("word_freq", p, fname, [("text", "str")], "dict[str, int]", prose, ref, oracle,
                ["ignoring case" if fold else "case-sensitive"] + (_wmust(wp) if wp else [])
                + ([f"at least {min_count} times"] if min_count > 1 else []),
                ["case-sensitive" if fold else "ignoring case"] + (_wforbid(wp) if wp else []),
                "A dict of counts keyed by the (possibly lower-cased) word; drop the rare ones at the end.")


def _draw_top(rng, d):
    return rng.randint(1, 2 + d), rng.random() < 0.5, rng.random() < 0.5, draw_pred(rng, d) if rng.random() < 0.95 else None


@family("top_keys", "dicts", _draw_top,
        lambda rng, d, p: ({k: rng.choice(pred_hot(p[3]) + [rng.randint(-5, 5)] if p[3] else [rng.randint(-5, 5)])
                            for k in rng.sample(_NAMES, rng.randint(0, 4 + d))},),
        lambda p: [(p[0], not p[1], *p[2:]), (p[0], p[1], not p[2], p[3]), (p[0] + 1, *p[1:])]
        + ([(*p[:3], o) for o in pred_opposites(p[3])] + [(*p[:3], None)] if p[3] else []))
def top_keys(p):
    k, big, tie_asc, pred = p
    side = "largest" if big else "smallest"
    only = f" Consider only the items whose value is {pred_words(pred)}." if pred else ""
    fname = f"top_{k}_{side}" + (f"_{pred_name(pred)}" if pred else "")
    prose = (f"d maps names to integers.{only} Return the names of the {k} items with the {side} values, {side} first; "
             f"equal values are ordered by name {'A to Z' if tie_asc else 'Z to A'}. If there are not {k} such items, "
             "return the names of all of them.")
    cond = f" if {pred_expr(pred, 'v')}" if pred else ""
    sign = "-v" if big else "v"
    ref = (f"def {fname}(d):\n    items = [(k, v) for k, v in d.items(){cond}]\n"
           f"    items.sort(key=lambda kv: kv[0], reverse={not tie_asc})\n"
           f"    items.sort(key=lambda kv: {sign.replace('v', 'kv[1]')})\n    return [k for k, v in items[:{k}]]\n")
    f = pred_fn(pred) if pred else (lambda x: True)

    def oracle(dd):
        its = [(name, v) for name, v in dd.items() if f(v)]
        # one sort with a composite key: value in the asked direction, then the name in its own direction
        its.sort(key=lambda kv: (-kv[1] if big else kv[1], [(-ord(c) if not tie_asc else ord(c)) for c in kv[0]] +
                                 ([0] if tie_asc else [1])))
        return [name for name, _ in its[:k]]
    return Spec("top_keys", p, fname, [("d", "dict[str, int]")], "list[str]", prose, ref, oracle,
                [f"{k} items", side, "A to Z" if tie_asc else "Z to A"] + (pred_must(pred) if pred else []),
                pred_forbid(pred) if pred else [],
                "Sort by name first and then, stably, by value: equal values keep the name order of the first sort.")


_MERGE = {"sum": ("their sum", "a[k] + b[k]", lambda x, y: x + y),
          "larger": ("the larger of the two values", "max(a[k], b[k])", lambda x, y: x if x >= y else y),
          "smaller": ("the smaller of the two values", "min(a[k], b[k])", lambda x, y: y if y <= x else x),
          "difference": ("a's value minus b's value", "a[k] - b[k]", lambda x, y: x - y),
          "from_a": ("the value from a", "a[k]", lambda x, y: x), "from_b": ("the value from b", "b[k]", lambda x, y: y)}


def _draw_merge(rng, d):
    return rng.choice(sorted(_MERGE)), rng.random() < 0.5, draw_pred(rng, d) if rng.random() < 0.9 else None


@family("dict_merge", "dicts", _draw_merge,
        lambda rng, d, p: tuple({k: rng.choice((pred_hot(p[2]) if p[2] else []) + [rng.randint(-6, 6)])
                                 for k in rng.sample(_NAMES[:5 + d], rng.randint(0, 3 + d))} for _ in range(2)),
        lambda p: [({"sum": "difference", "difference": "sum", "larger": "smaller", "smaller": "larger", "from_a": "from_b",
                     "from_b": "from_a"}[p[0]], p[1], p[2]), (p[0], not p[1], p[2])]
        + ([(p[0], p[1], o) for o in pred_opposites(p[2])] + [(p[0], p[1], None)] if p[2] else []))
def dict_merge(p):
    how, keep_single, pred = p
    what, expr, fn = _MERGE[how]
    single = ("a name found in only one dict keeps its value" if keep_single else
              "a name found in only one dict is left out")
    only = f" Finally, keep only the items whose value is {pred_words(pred)}." if pred else ""
    fname = f"merge_{how}" + ("" if keep_single else "_common") + (f"_{pred_name(pred)}" if pred else "")
    prose = (f"a and b map names to integers. Merge them into a new dict: a name found in both gets {what}; {single}."
             f"{only} Order the result by name, A to Z.")
    tail = f"\n    return {{k: v for k, v in out.items() if {pred_expr(pred, 'v')}}}\n" if pred else "\n    return out\n"
    ref = (f"def {fname}(a, b):\n    out = {{}}\n    for k in sorted(set(a) | set(b)):\n        if k in a and k in b:\n"
           f"            out[k] = {expr}\n" + ("        else:\n            out[k] = a[k] if k in a else b[k]\n" if keep_single else "")
           + tail.rstrip("\n") + "\n")
    f = pred_fn(pred) if pred else (lambda x: True)

    def oracle(a, b):
        merged = {k: fn(a[k], b[k]) for k in a.keys() & b.keys()}
        if keep_single:
            merged.update({k: v for k, v in list(a.items()) + list(b.items()) if k not in merged})
        return {k: merged[k] for k in sorted(merged) if f(merged[k])}
    return Spec("dict_merge", p, fname, [("a", "dict[str, int]"), ("b", "dict[str, int]")], "dict[str, int]", prose, ref,
                oracle, [what, single] + (pred_must(pred) if pred else []), pred_forbid(pred) if pred else [],
                "Walk the union of the names once; names in both combine, the others follow the rule for single names.")


def _render(spec: Spec, cases, difficulty: int) -> Item:
    shown = cases[:2]
    examples = "\n".join(f"    {call_text(spec.fname, a)} -> {e!r}" for a, e in shown)
    prompt = (f"Write a Python function `{spec.signature}`.\n\n{spec.prose}\n\nExamples:\n{examples}\n\n"
              "Use only the standard library; return the value, do not print it.")
    solution = (f"Task: {spec.prose}\n\nIdea: {spec.idea}\n\n"
                f"Step 1: Define `{spec.signature}`.\nStep 2: Apply the idea to the input, building the result, and return it.\n"
                "Step 3: Check against the examples: "
                + "; ".join(f"{call_text(spec.fname, a)} gives {e!r}" for a, e in shown) + ".\n\n"
                f"```python\n{spec.reference}```")
    return Item(prompt, solution, spec.reference, "code.functions", difficulty, spec_key(spec),
                {"kind": spec.family, "area": next(f.area for f in FAMILIES if f.name == spec.family),
                 "entry_point": spec.fname, "answer_type": "code", "params": repr(spec.params)},
                tests=assert_source(spec.fname, cases), cases=structured_cases(spec.fname, cases))


@register("code.functions", verifier="the reference solution must pass every unit test in the sandbox; the prose must "
          "name the operation and no opposite; every mutant of the specification must fail a test")
def functions(rng: random.Random, difficulty: int) -> Item:
    """Python function exercises (34 families over lists, strings, numbers and dicts, drawn uniformly); one
    specification renders the name, prose, reference and tests; difficulty widens the parameters,
    lengthens inputs and adds tests (3 + difficulty)."""
    fam = rng.choice(FAMILIES)
    spec, cases = make_spec(fam, rng, difficulty, n_tests=3 + difficulty)
    return _render(spec, cases, difficulty)
