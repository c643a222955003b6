"""Multi-digit arithmetic, worked the way a textbook does: columns with carries and borrows,
partial products, long division, and order of operations one step at a time."""
from __future__ import annotations

import random

from gristmill.synth.generators._verify import same_value
from gristmill.synth.items import Item
from gristmill.synth.registry import register

PLACES = ["ones", "tens", "hundreds", "thousands", "ten-thousands", "hundred-thousands", "millions", "ten-millions"]


def _num(rng: random.Random, digits: int) -> int:
    return rng.randrange(10 ** (digits - 1), 10 ** digits)


def column_add(nums: list[int]) -> list[str]:
    steps, carry = [], 0
    width = max(len(str(n)) for n in nums)
    for place in range(width):
        digits = [(n // 10 ** place) % 10 for n in nums if n >= 10 ** place or place == 0]
        total = sum(digits) + carry
        parts = " + ".join(str(x) for x in digits) + (f" + {carry} (carried)" if carry else "")
        if total >= 10 or place < width - 1:
            steps.append(f"{PLACES[place].capitalize()} column: {parts} = {total}; write {total % 10}"
                         + (f", carry {total // 10}." if total >= 10 else "."))
        else:
            steps.append(f"{PLACES[place].capitalize()} column: {parts} = {total}; write {total}.")
        carry = total // 10
    if carry:
        steps.append(f"Write the final carry {carry} in front.")
    return steps


def column_sub(a: int, b: int) -> list[str]:
    # a lent 1 is shown as its own step ("7 - 1 (lent) = 6") so every line follows from the line above
    # and the two digits of its column (a scratchpad step a small model can learn locally: Nye et al. 2021)
    steps, borrow = [], 0
    for place in range(len(str(a))):
        top, db = (a // 10 ** place) % 10, (b // 10 ** place) % 10
        da = top - borrow
        lent = f"{top} - 1 (lent) = {da}; " if borrow else ""
        if da < db:
            steps.append(f"{PLACES[place].capitalize()} column: {lent}{da} is less than {db}, so borrow 1 from the next "
                         f"column: {da + 10} - {db} = {da + 10 - db}.")
            borrow = 1
        else:
            if da or db or a // 10 ** (place + 1):
                steps.append(f"{PLACES[place].capitalize()} column: {lent}{da} - {db} = {da - db}.")
            borrow = 0
    return steps


def times_digit(a: int, d: int) -> str:
    """a × d digit by digit from the ones, with the carries written out (one table fact per step)."""
    parts, carry, s = [], 0, str(a)
    for i, ch in enumerate(reversed(s)):
        x = int(ch) * d
        t = x + carry
        step = f"{ch} × {d} = {x}" + (f", + {carry} carried = {t}" if carry else "")
        if i == len(s) - 1:
            step += f", write {t}"
        else:
            step += f", write {t % 10}" + (f", carry {t // 10}" if t >= 10 else "")
        parts.append(step)
        carry = t // 10
    return "; ".join(parts)


def long_multiply(a: int, b: int) -> list[str]:
    steps, partials = [], []
    for place, ch in enumerate(reversed(str(b))):
        d = int(ch)
        p = a * d * 10 ** place
        partials.append(p)
        shift = f", shifted {place} place{'s' if place > 1 else ''} left" if place else ""
        steps.append(f"Multiply {a:,} by the {PLACES[place]} digit {d}: {times_digit(a, d)}; so {a:,} × {d} = {a * d:,}"
                     f"{shift} → {p:,}.")
    if len(partials) > 1:
        steps.append("Add the partial products: " + " + ".join(f"{p:,}" for p in partials) + f" = {sum(partials):,}.")
    return steps


def long_divide(n: int, d: int) -> list[str]:
    # every digit gets its step, leading zero quotient digits too, so the remainder carried into the
    # next partial number is always on the page; the quotient is then read off its digits
    steps, rem, digits = [], 0, []
    for ch in str(n):
        cur = rem * 10 + int(ch)
        q = cur // d
        steps.append(f"Bring down {ch}: {cur} ÷ {d} = {q} (since {d} × {q} = {d * q}), remainder {cur - d * q}.")
        digits.append(str(q))
        rem = cur - d * q
    steps.append(f"The quotient digits are {', '.join(digits)}, so the quotient is {n // d:,}.")
    return steps


_OPS = {"+": lambda a, b: a + b, "-": lambda a, b: a - b, "×": lambda a, b: a * b}


def _reduce(tokens: list) -> list[str]:
    """Evaluate a flat expression (numbers and + - ×, parentheses as nested lists), one operation per step."""
    steps = []

    def show(ts):
        return " ".join(f"({show(t)})" if isinstance(t, list) else str(t) for t in ts)

    def ev(ts):
        ts = [ev(t) if isinstance(t, list) else t for t in ts]
        ts = list(ts)
        for ops in (("×",), ("+", "-")):
            i = 1
            while i < len(ts):
                if ts[i] in ops:
                    a, op, b = ts[i - 1], ts[i], ts[i + 1]
                    r = _OPS[op](a, b)
                    steps.append(f"{a} {op} {b} = {r}")
                    ts[i - 1:i + 2] = [r]
                else:
                    i += 2
        return ts[0]

    total = ev(tokens)
    return steps, total, show(tokens)


@register("math.arithmetic", verifier="sympy evaluates the expression exactly and must equal the answer")
def arithmetic(rng: random.Random, difficulty: int) -> Item:
    """Multi-digit addition, subtraction, multiplication, exact long division and mixed expressions
    (order of operations); operands grow by one digit per difficulty level."""
    kinds = ["add", "sub", "mul", "div"] + (["mixed"] if difficulty >= 2 else [])
    kind = rng.choice(kinds)
    digits = difficulty + 1
    if kind == "add":
        nums = [_num(rng, digits) for _ in range(2 + (difficulty >= 3))]
        ans = sum(nums)
        prompt = "Add " + " + ".join(f"{n:,}" for n in nums) + "."
        steps = ["Line the numbers up by place value and add column by column, starting with the ones."] + column_add(nums)
        expr = " + ".join(map(str, nums))
        key = f"add {sorted(nums)}"
    elif kind == "sub":
        a, b = sorted([_num(rng, digits), _num(rng, max(1, digits - rng.randrange(2)))], reverse=True)
        ans = a - b
        prompt = f"Subtract: {a:,} - {b:,}."
        steps = ["Line the numbers up by place value and subtract column by column from the ones, borrowing when the "
                 "top digit is smaller."] + column_sub(a, b)
        expr, key = f"{a} - {b}", f"sub {a} {b}"
    elif kind == "mul":
        a, b = _num(rng, digits), _num(rng, max(1, (digits + 1) // 2))
        ans = a * b
        prompt = f"Multiply {a:,} × {b:,}."
        steps = ["Multiply the first number by each digit of the second, shifting one place left for each place, then add."]
        steps += long_multiply(a, b)
        expr, key = f"{a} * {b}", f"mul {sorted([a, b])}"
    elif kind == "div":
        d = rng.randrange(2, 10) if difficulty <= 2 else rng.randrange(11, 10 ** min(difficulty - 1, 3))
        q = _num(rng, digits)
        n = d * q
        ans = q
        prompt = f"Divide {n:,} by {d}."
        steps = ["Use long division: work left to right, dividing each partial number by the divisor."] + long_divide(n, d)
        steps.append(f"The remainder is 0, so the division is exact. Check: {d} × {q:,} = {n:,}.")
        expr, key = f"{n} / {d}", f"div {n} {d}"
    else:
        n_ops = 2 + difficulty // 2
        hi = 10 ** min(difficulty, 3)
        tokens: list = [rng.randrange(2, hi)]
        for _ in range(n_ops):
            tokens += [rng.choice(["+", "-", "×"]), rng.randrange(2, hi)]
        if difficulty >= 3 and len(tokens) >= 5:
            i = rng.randrange(0, len(tokens) - 2, 2)
            tokens = tokens[:i] + [tokens[i:i + 3]] + tokens[i + 3:]
        steps, ans, shown = _reduce(tokens)
        prompt = f"Evaluate {shown}."
        steps = ["Work inside parentheses first, then multiplication, then addition and subtraction from left to right."] + \
                [f"Step {i + 1}: {s}." for i, s in enumerate(steps)]
        expr = shown.replace("×", "*")
        key = f"mixed {shown}"
    steps.append(f"Answer: {ans:,}" if kind != "mixed" else f"Answer: {ans}")
    item = Item(prompt, "\n".join(steps), str(ans), "math.arithmetic", difficulty, key,
                {"kind": kind, "expression": expr, "answer_type": "integer"})
    same_value(expr, item.answer)
    return item
