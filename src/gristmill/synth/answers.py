"""Pulling an answer out of a model's reply, and deciding whether it equals the reference.

Extraction, in order (the formats of GSM8K, MATH and our own generators' solutions): the last
``Answer: ...`` line, the last ``\\boxed{...}``, the last ``#### ...`` line. Equivalence is exact
and symbolic (sympy, rational arithmetic): ``0.5``, ``1/2`` and ``50%`` of a percent answer all
match ``1/2``/``50``; ``1,234`` is ``1234``; ``x = 4, y = -9`` matches as an assignment, in any
order. Free text that sympy cannot parse never matches (it is *malformed*, not *wrong*).
"""
from __future__ import annotations

import re

import sympy

_ANSWER_RE = re.compile(r"(?im)^\s*(?:final\s+)?answer\s*[:：]\s*(.+?)\s*$")
_HASH_RE = re.compile(r"(?m)^\s*####\s*(.+?)\s*$")
_CODE_RE = re.compile(r"```(?:python|py)?\s*\n(.*?)```", re.S)


def extract_answer(text: str) -> str | None:
    m = _ANSWER_RE.findall(text)
    if m:
        return m[-1]
    boxed = _last_boxed(text)
    if boxed is not None:
        return boxed
    m = _HASH_RE.findall(text)
    return m[-1] if m else None


def _last_boxed(text: str) -> str | None:
    i = text.rfind("\\boxed{")
    if i < 0:
        return None
    depth, j = 0, i + len("\\boxed{") - 1
    for k in range(j, len(text)):
        if text[k] == "{":
            depth += 1
        elif text[k] == "}":
            depth -= 1
            if depth == 0:
                return text[j + 1:k]
    return None


def extract_code(text: str, entry_point: str | None = None) -> str | None:
    """The fenced code block that defines ``entry_point`` (else the last block); None if there is none."""
    blocks = _CODE_RE.findall(text)
    if not blocks:
        return None
    if entry_point:
        for b in reversed(blocks):
            if re.search(rf"^\s*def\s+{re.escape(entry_point)}\s*\(", b, re.M):
                return b
    return blocks[-1]


class Unparseable(ValueError):
    pass


def _clean(s: str) -> str:
    s = s.strip().rstrip(".").strip()
    s = s.replace("$", "").replace("\\,", "").replace("−", "-").replace("\\frac", "frac")
    s = re.sub(r"frac\{([^{}]+)\}\{([^{}]+)\}", r"(\1)/(\2)", s)
    s = re.sub(r"(?<=\d),(?=\d{3}\b)", "", s)  # 1,234 -> 1234
    s = re.sub(r"\s*(dollars?|km|kilometres?|eggs?|%)\s*$", "", s, flags=re.I)
    return s.strip()


def _value(s: str):
    s = _clean(s)
    if not s or len(s) > 200:
        raise Unparseable(s)
    try:
        v = sympy.nsimplify(sympy.sympify(s, rational=True, evaluate=True), rational=True)
    except (sympy.SympifyError, SyntaxError, TypeError, ValueError, AttributeError, RecursionError) as e:
        raise Unparseable(s) from e
    if getattr(v, "free_symbols", None):  # "twelve", "x + 1": words or unknowns, not a value
        raise Unparseable(s)
    return v


def _assignment(s: str) -> dict | None:
    parts = [p for p in re.split(r"[,;]|\band\b", s) if p.strip()]
    out = {}
    for p in parts:
        if "=" not in p:
            return None
        k, v = p.split("=", 1)
        k = k.strip()
        if not re.fullmatch(r"[A-Za-z]\w*", k):
            return None
        out[k] = v
    return out or None


def equivalent(got: str, reference: str) -> bool:
    """True if ``got`` means the same value (or assignment) as ``reference``. Raises
    :class:`Unparseable` if ``got`` is not a value at all."""
    ref_assign = _assignment(reference)
    if ref_assign is not None:
        g = _assignment(got)
        if g is None:
            raise Unparseable(got)
        if set(g) != set(ref_assign):
            return False
        return all(sympy.simplify(_value(g[k]) - _value(ref_assign[k])) == 0 for k in ref_assign)
    a, b = _value(got), _value(reference)
    try:
        return bool(sympy.simplify(a - b) == 0)
    except (TypeError, ValueError):
        return False
