"""Independent checks of generated answers with sympy (the generators compute with plain ints and
Fractions; sympy re-derives the answer from the problem's own statement)."""
from __future__ import annotations

import sympy


class NotVerified(AssertionError):
    """A generated answer that sympy does not confirm: the item is rejected with this reason."""


def same_value(expr: str, answer: str) -> None:
    """``expr`` (Python syntax) evaluates exactly to ``answer``."""
    got = sympy.nsimplify(sympy.sympify(expr, rational=True))
    want = sympy.sympify(answer.replace("−", "-"), rational=True)
    if sympy.simplify(got - want) != 0:
        raise NotVerified(f"sympy evaluates {expr} to {got}, not {answer}")


def solves(equations: list[str], solution: dict[str, str]) -> None:
    """``solution`` satisfies every equation (``lhs = rhs``) and is the only solution."""
    syms = {n: sympy.Symbol(n) for n in solution}
    eqs = []
    for e in equations:
        lhs, rhs = e.split("=")
        eqs.append(sympy.Eq(sympy.sympify(lhs, locals=syms, rational=True), sympy.sympify(rhs, locals=syms, rational=True)))
    sub = {syms[k]: sympy.sympify(v, rational=True) for k, v in solution.items()}
    for eq in eqs:
        if sympy.simplify(eq.lhs.subs(sub) - eq.rhs.subs(sub)) != 0:
            raise NotVerified(f"{solution} does not satisfy {eq}")
    a, _ = sympy.linear_eq_to_matrix([eq.lhs - eq.rhs for eq in eqs], list(syms.values()))
    if a.rank() != len(syms):  # a linear system has exactly one solution iff its matrix has full column rank
        raise NotVerified(f"the system's matrix has rank {a.rank()} < {len(syms)}: not exactly one solution")
