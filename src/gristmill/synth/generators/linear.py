"""Linear equations in one unknown and 2x2 systems, built from an integer solution and solved by
balancing (one equation) or elimination (systems); sympy substitutes the answer back and confirms
the solution is unique."""
from __future__ import annotations

import random

from gristmill.synth.generators._verify import solves
from gristmill.synth.items import Item
from gristmill.synth.registry import register


def _nz(rng, lo, hi):
    while True:
        v = rng.randrange(lo, hi + 1)
        if v:
            return v


def _term(c: int, var: str, first: bool = False) -> str:
    sign = "-" if c < 0 else ("" if first else "+")
    mag = abs(c)
    body = var if mag == 1 else f"{mag}{var}"
    return f"{sign}{body}" if first else f" {sign} {body}"


def _const(c: int) -> str:
    return f" - {-c}" if c < 0 else f" + {c}"


def _one(rng, d):
    r = 3 + 3 * d
    x = rng.randrange(-r, r + 1)
    a, c = _nz(rng, -r, r), rng.randrange(-r, r + 1)
    while a == c:
        c = rng.randrange(-r, r + 1)
    b = rng.randrange(-5 * d, 5 * d + 1)
    dd = a * x + b - c * x
    lhs = _term(a, "x", True) + (_const(b) if b else "")
    rhs = (_term(c, "x", True) + (_const(dd) if dd else "")) if c else str(dd)
    eq = f"{lhs} = {rhs}"
    steps = []
    if c:
        move = f"Subtract {_term(c, 'x', True)} from" if c > 0 else f"Add {_term(-c, 'x', True)} to"
        steps.append(f"{move} both sides: {_term(a - c, 'x', True)}{_const(b) if b else ''} = {dd}.")
    if b:
        steps.append(f"{'Subtract' if b > 0 else 'Add'} {abs(b)} {'from' if b > 0 else 'to'} both sides: "
                     f"{_term(a - c, 'x', True)} = {dd - b}.")
    if a - c != 1:
        steps.append(f"Divide both sides by {a - c}: x = {dd - b} / {a - c} = {x}.")
    steps.append(f"Check: substituting x = {x} gives {a * x + b} on the left and {c * x + dd} on the right.")
    py = _py(eq)
    return f"Solve for x: {eq}", steps, str(x), [py], {"x": str(x)}, ("one", a, b, c, dd)


def _p(n: int) -> str:
    return f"({n})" if n < 0 else str(n)


def _py(eq: str) -> str:
    """'3x - 2y = 7' -> '3*x - 2*y = 7' for sympy."""
    import re

    return re.sub(r"(\d)([xy])", r"\1*\2", eq)


def _system(rng, d):
    r = 2 + 2 * d
    x, y = rng.randrange(-r, r + 1), rng.randrange(-r, r + 1)
    while True:
        a1, b1, a2, b2 = (_nz(rng, -r, r) for _ in range(4))
        if a1 * b2 - a2 * b1:
            break
    c1, c2 = a1 * x + b1 * y, a2 * x + b2 * y
    e1 = f"{_term(a1, 'x', True)}{_term(b1, 'y')} = {c1}"
    e2 = f"{_term(a2, 'x', True)}{_term(b2, 'y')} = {c2}"
    m1, m2 = b2, b1  # eliminate y: (1)·b2 − (2)·b1
    steps = [f"Label the equations (1) {e1} and (2) {e2}.",
             f"Eliminate y: multiply (1) by {m1} and (2) by {m2}: {_term(a1 * m1, 'x', True)}{_term(b1 * m1, 'y')} = "
             f"{c1 * m1} and {_term(a2 * m2, 'x', True)}{_term(b2 * m2, 'y')} = {c2 * m2}.",
             f"Subtract the second from the first: {_term(a1 * m1 - a2 * m2, 'x', True)} = {c1 * m1 - c2 * m2}, so x = {x}.",
             f"Substitute x = {x} into (1): {_term(b1, 'y', True)} = {c1} - ({a1 * x}) = {c1 - a1 * x}, so y = {y}.",
             f"Check in (2): {a2} × {_p(x)} + {b2} × {_p(y)} = {c2}."]
    return (f"Solve the system of equations:\n{e1}\n{e2}", steps, f"x = {x}, y = {y}", [_py(e1), _py(e2)],
            {"x": str(x), "y": str(y)}, ("sys", a1, b1, c1, a2, b2, c2))


@register("math.linear", verifier="sympy substitutes the answer into every equation and checks the solution is unique")
def linear(rng: random.Random, difficulty: int) -> Item:
    """Linear equations ``ax + b = cx + d`` and, from difficulty 2, 2x2 systems by elimination; integer
    solutions whose range grows with difficulty."""
    t = _one if difficulty == 1 or rng.random() < 0.5 else _system
    prompt, steps, ans, eqs, sol, key = t(rng, difficulty)
    steps = [f"Step {i + 1}: {s}" for i, s in enumerate(steps)] + [f"Answer: {ans}"]
    item = Item(prompt, "\n".join(steps), ans, "math.linear", difficulty, repr(key),
                {"kind": "equation" if t is _one else "system", "equations": eqs, "solution": sol,
                 "answer_type": "assignment" if t is _system else "integer"})
    solves(eqs, sol)
    return item
