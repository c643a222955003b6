"""Pose and solve: the model writes its own arithmetic problems, then solves them.

The idea of Absolute Zero (Zhao et al. 2025, "Absolute Zero: Reinforced Self-play Reasoning with Zero
Data"): one model proposes tasks and solves them, and a proposed task is worth learning from only when
the current solver sometimes succeeds: its reward is 0 for a task solved every time (trivial) or never
(unsolvable or wrong), high in between. Here, for the in-process loop of
:mod:`gristmill.synth.selfplay_rounds`:

1. the model continues a problem opening it has seen in training (``Add ``, ``Subtract: ``,
   ``Multiply ``, ``Divide ``) up to the newline, sampled at temperature 1;
2. the text is kept only if it is *well formed*: it parses with the generator's own templates and is
   byte for byte the generator's rendering of the parsed numbers (:func:`parse_posed`), with the
   generator's constraints (a non-negative difference, an exact division by 2-9 or 11-999);
3. and *new*: its key (the generator's key, so the key-hash split applies) is on the training side of
   the split, was not in the start data and was not posed in an earlier round;
4. the model then samples ``k`` answers; sympy checks each against the expression built from the
   parsed integers; the problem is kept when its solve rate is strictly between 0 and 1, and its
   verified answers are trained on.

Model text is hostile: it is cut at 64 characters, matched by anchored patterns of bounded length,
and only integers parsed from it (at most 7 digits each) are written into the expression sympy sees.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from gristmill.synth.items import Item, normalize_key

OPENINGS = ("Add ", "Subtract: ", "Multiply ", "Divide ")
_NUM = r"(\d{1,3}(?:,\d{3}){0,2}|\d{1,7})"
_PATTERNS = {
    "add": re.compile(rf"Add {_NUM} \+ {_NUM}(?: \+ {_NUM})?\.", re.ASCII),
    "sub": re.compile(rf"Subtract: {_NUM} - {_NUM}\.", re.ASCII),
    "mul": re.compile(rf"Multiply {_NUM} × {_NUM}\.", re.ASCII),
    "div": re.compile(rf"Divide {_NUM} by {_NUM}\.", re.ASCII),
}
MAX_POSED_CHARS = 64


def _level(*nums: int) -> int:
    """The generator's difficulty whose operands have this many digits (difficulty d: d + 1 digits)."""
    return max(1, max(len(str(n)) for n in nums) - 1)


def parse_posed(text: str) -> tuple[Item | None, str]:
    """(an Item the verifier can check, "") for a well-formed posed problem, else (None, reason).

    Well formed = the generator (``math.arithmetic``) would render these numbers exactly so; the
    expression holds only the parsed integers."""
    if not isinstance(text, str) or len(text) > MAX_POSED_CHARS:
        return None, "too_long"
    text = text.strip()
    for kind, pat in _PATTERNS.items():
        m = pat.fullmatch(text)
        if m:
            break
    else:
        return None, "not_a_problem"
    nums = [int(g.replace(",", "")) for g in m.groups() if g is not None]
    if any(n == 0 for n in nums):
        return None, "zero_operand"
    if kind == "add":
        canon, expr, key = "Add " + " + ".join(f"{n:,}" for n in nums) + ".", " + ".join(map(str, nums)), f"add {sorted(nums)}"
    elif kind == "sub":
        a, b = nums
        if a < b:
            return None, "negative_difference"
        canon, expr, key = f"Subtract: {a:,} - {b:,}.", f"{a} - {b}", f"sub {a} {b}"
    elif kind == "mul":
        a, b = nums
        canon, expr, key = f"Multiply {a:,} × {b:,}.", f"{a} * {b}", f"mul {sorted([a, b])}"
    else:
        n, d = nums
        if not (2 <= d <= 9 or 11 <= d <= 999) or n % d or n // d < 1:
            return None, "inexact_division"
        canon, expr, key = f"Divide {n:,} by {d}.", f"{n} / {d}", f"div {n} {d}"
    if canon != text:
        return None, "not_canonical"
    level = _level(*(nums if kind != "div" else [nums[0] // nums[1]]))
    return Item(text, "", "", "math.arithmetic.posed", level, key,
                {"kind": kind, "expression": expr, "posed": True}), ""


@dataclass
class Posed:
    """One round's posed problems and what became of every attempt."""
    attempts: int = 0
    items: list = field(default_factory=list)
    reasons: dict = field(default_factory=dict)

    def drop(self, reason: str) -> None:
        self.reasons[reason] = self.reasons.get(reason, 0) + 1


def pose(model, tok, n: int, seed: int, exclude: set[str], heldout: float, precision: str = "fp32") -> Posed:
    """n sampled problem texts (openings in turn), parsed and filtered; `exclude`: keys never to pose
    again (start data, earlier rounds, the held-out problems)."""
    from gristmill.synth.dataset import split_of
    from gristmill.synth.selfplay_rounds import continue_texts

    out = Posed(attempts=n)
    texts = continue_texts(model, tok, [OPENINGS[i % len(OPENINGS)] for i in range(n)],
                           MAX_POSED_CHARS - max(map(len, OPENINGS)),
                           1.0, seed, precision=precision)
    seen = set(exclude)
    for i, t in enumerate(texts):
        item, why = parse_posed(OPENINGS[i % len(OPENINGS)] + t)
        if item is None:
            out.drop(why)
            continue
        k = normalize_key(item.key)
        if split_of(item.key, heldout) != "train":
            out.drop("heldout_side")  # the key hash puts it with the evaluation problems: never trained on
        elif k in seen:
            out.drop("not_new")
        else:
            seen.add(k)
            out.items.append(item)
    return out


def learnable(verdicts: list[bool]) -> str:
    """Absolute Zero's filter on the solver's sampled success: ``kept`` strictly between 0 and 1."""
    rate = sum(verdicts) / max(1, len(verdicts))
    return "unsolved" if rate == 0 else "trivial" if rate == 1 else "kept"
