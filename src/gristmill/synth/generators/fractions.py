"""Fractions and percentages: add, subtract, multiply and divide fractions in lowest terms; a percent
of a number, percent change, and "what percent". sympy re-computes each with exact rationals."""
from __future__ import annotations

import math
import random
from fractions import Fraction

from gristmill.synth.generators._verify import same_value
from gristmill.synth.items import Item
from gristmill.synth.registry import register


def _frac(rng, d):
    den = rng.randrange(2, 4 + 3 * d)
    return Fraction(rng.randrange(1, den * (1 + (d >= 4))), den)


def _show(f: Fraction) -> str:
    return str(f.numerator) if f.denominator == 1 else f"{f.numerator}/{f.denominator}"


def _fraction_op(rng, d):
    a, b = _frac(rng, d), _frac(rng, d)
    op = rng.choice(["+", "-", "×", "÷"][: 2 + (d >= 2) * 2])
    if op == "-" and a < b:
        a, b = b, a
    steps = []
    if op in "+-":
        l = math.lcm(a.denominator, b.denominator)
        na, nb = a.numerator * (l // a.denominator), b.numerator * (l // b.denominator)
        steps.append(f"The least common denominator of {a.denominator} and {b.denominator} is {l}.")
        steps.append(f"Rewrite: {_show(a)} = {na}/{l} and {_show(b)} = {nb}/{l}.")
        raw_n = na + nb if op == "+" else na - nb
        steps.append(f"{'Add' if op == '+' else 'Subtract'} the numerators: {na} {op} {nb} = {raw_n}, giving {raw_n}/{l}.")
        raw = (raw_n, l)
    elif op == "×":
        raw = (a.numerator * b.numerator, a.denominator * b.denominator)
        steps.append(f"Multiply numerators and denominators: ({a.numerator} × {b.numerator}) / ({a.denominator} × "
                     f"{b.denominator}) = {raw[0]}/{raw[1]}.")
    else:
        steps.append(f"Dividing by {_show(b)} is multiplying by its reciprocal {b.denominator}/{b.numerator}.")
        raw = (a.numerator * b.denominator, a.denominator * b.numerator)
        steps.append(f"({a.numerator} × {b.denominator}) / ({a.denominator} × {b.numerator}) = {raw[0]}/{raw[1]}.")
    res = Fraction(*raw)
    g = math.gcd(*raw)
    if g > 1:
        steps.append(f"Simplify by the greatest common divisor {g}: {raw[0]}/{raw[1]} = {_show(res)}.")
    else:
        steps.append(f"{raw[0]}/{raw[1]} is already in lowest terms.")
    pyop = {"+": "+", "-": "-", "×": "*", "÷": "/"}[op]
    prompt = f"Compute {_show(a)} {op} {_show(b)} and give the answer as a fraction in lowest terms."
    return prompt, steps, _show(res), f"({a.numerator}/{a.denominator}) {pyop} ({b.numerator}/{b.denominator})", \
        ("frac", str(a), op, str(b)), "fraction"


def _percent_of(rng, d):
    p = rng.choice([5, 10, 12, 15, 20, 25, 30, 35, 40, 45, 60, 75, 80, 120, 150][: 6 + 2 * d])
    n = rng.randrange(2, 20 * d) * 20
    ans = Fraction(p * n, 100)
    steps = [f"{p}% means {p}/100.", f"{p}/100 × {n} = {p * n}/100 = {_show(ans)}."]
    return f"What is {p}% of {n}?", steps, _show(ans), f"{p}/100 * {n}", ("pct-of", p, n), "number"


def _percent_change(rng, d):
    old = rng.randrange(2, 10 * d) * 20
    pct = rng.choice([5, 10, 15, 20, 25, 40, 50])
    up = rng.random() < 0.5
    new = old + old * pct // 100 if up else old - old * pct // 100
    if old * pct % 100:
        old = 100 * rng.randrange(1, 5 * d)
        new = old + old * pct // 100 if up else old - old * pct // 100
    word = "rises" if up else "falls"
    steps = [f"The change is {new} - {old} = {new - old}.", f"Divide by the original: {new - old} / {old} = {_show(Fraction(new - old, old))}.",
             f"As a percent: {_show(Fraction(new - old, old))} × 100 = {_show(Fraction(100 * (new - old), old))}%."]
    ans = Fraction(100 * (new - old), old)
    return (f"A price {word} from ${old} to ${new}. What is the percent change? (Negative for a decrease.)", steps,
            _show(ans), f"({new} - {old}) / {old} * 100", ("pct-change", old, new), "percent")


def _what_percent(rng, d):
    whole = rng.choice([20, 25, 40, 50, 80, 200, 250, 400, 500][: 4 + d])
    part = rng.randrange(1, whole)
    ans = Fraction(100 * part, whole)
    steps = [f"Divide the part by the whole: {part} / {whole} = {_show(Fraction(part, whole))}.",
             f"Multiply by 100: {_show(Fraction(part, whole))} × 100 = {_show(ans)}%."]
    return f"What percent of {whole} is {part}?", steps, _show(ans), f"{part} / {whole} * 100", ("what-pct", part, whole), "percent"


@register("math.fractions", verifier="sympy recomputes with exact rationals and must equal the answer")
def fractions(rng: random.Random, difficulty: int) -> Item:
    """Fractions (add, subtract; multiply and divide from difficulty 2; improper operands from 4) in
    lowest terms, and percentages (percent of, percent change, what percent)."""
    t = rng.choice([_fraction_op, _fraction_op, _percent_of, _percent_change, _what_percent])
    prompt, steps, ans, expr, key, atype = t(rng, difficulty)
    steps = [f"Step {i + 1}: {s}" for i, s in enumerate(steps)] + [f"Answer: {ans}" + ("%" if atype == "percent" else "")]
    item = Item(prompt, "\n".join(steps), ans, "math.fractions", difficulty, repr(key),
                {"kind": t.__name__.strip("_"), "expression": expr, "answer_type": atype})
    same_value(expr, item.answer)
    return item
