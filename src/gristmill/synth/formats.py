"""Answer formats for the math generators: one problem, four ways to write its solution.

Lee et al. 2023 ("Teaching Arithmetic to Small Transformers", arXiv:2307.03381) show that the *format*
of the target decides how fast a small transformer learns arithmetic: writing the output digits in
reverse (least significant first, the order in which carries are computed) and a digit-level
scratchpad both beat plain ``a+b=c`` by a wide margin in samples needed. Every math item can be
rendered in each of:

``answer``      ``Answer: 1081`` (the plain format of GSM8K-style exact match)
``reversed``    ``Answer (reversed): 1801``: every run of digits written backwards, sign and ``/`` kept in
                place (Lee et al.'s "reverse" format); un-reversed before it is checked
``worked``      the generator's textbook solution, every line following from the lines above
                (Nye et al. 2021, "Show Your Work"); ends in ``Answer: 1,081``
``scratchpad``  a compact scratchpad: for ``math.arithmetic`` one short step per digit (column sums
                with the carry, borrows, the digit products of each partial product, each partial
                quotient with its remainder), the result built up so far written after ``>`` so the final
                answer is a copy (Lee et al.'s "simplified scratchpad"); for the other math generators,
                whose worked lines already do one operation each, those lines without their labels

:func:`render` writes a format, :func:`parse` reads the answer back out of a completion (bounded: a
completion is cut at :data:`MAX_COMPLETION` characters and the answer must look like a number, a
fraction or an ``x = n`` assignment before sympy sees it, so model text never reaches ``sympify``), and
:func:`check` verifies it with sympy against the problem's own statement (its expression or equations),
never against the stored answer string.
"""
from __future__ import annotations

import ast
import re

from gristmill.synth.generators._verify import NotVerified, same_value, solves

FORMATS = ("answer", "reversed", "worked", "scratchpad")
MAX_COMPLETION = 16_384  # characters of a completion read by parse: the longest worked solution is ~2 KB
_DIGITS = re.compile(r"\d+")
# what an answer may look like before sympy is asked: an integer or fraction, optionally a percent, or
# an assignment of those to single letters (math.linear systems)
# (no leading zeros: sympy's parser refuses "01"; a reversed answer may start with 0 and is checked un-reversed)
_NUMBER = r"-?(?:0|[1-9]\d*)(?:/[1-9]\d*)?"
_ANSWER_OK = re.compile(rf"{_NUMBER}|[a-z] = {_NUMBER}(?:, [a-z] = {_NUMBER})*")
_LINE = {"answer": re.compile(r"(?m)^Answer: (.{1,200}?)[ \t]*$"),
         "reversed": re.compile(r"(?m)^Answer \(reversed\): (.{1,200}?)[ \t]*$")}


class FormatError(ValueError):
    """An unknown format name (a misconfiguration: fails before any work)."""


def check_format(fmt: str) -> str:
    if fmt not in FORMATS:
        import difflib

        near = difflib.get_close_matches(str(fmt), FORMATS, n=1)
        raise FormatError(f"unknown answer format {fmt!r}" + (f" (did you mean {near[0]!r}?)" if near else "")
                          + f"; formats: {', '.join(FORMATS)}")
    return fmt


def reverse_digits(s: str) -> str:
    """Every maximal run of digits written backwards; an involution, so it also un-reverses."""
    return _DIGITS.sub(lambda m: m.group()[::-1], s)


def _fields(item) -> tuple[str, str, str, dict]:
    """(generator, solution, answer, metadata) of an :class:`~gristmill.synth.items.Item` or its record."""
    if isinstance(item, dict):
        meta = item.get("metadata") or {}
        return meta.get("generator", ""), item.get("solution", ""), str(item.get("answer", "")), meta
    return item.generator, item.solution, item.answer, item.metadata


# ------------------------------------------------------------------ the arithmetic scratchpad

def _digits_at(n: int, place: int) -> int:
    return (n // 10 ** place) % 10


def _pad_add(nums: list[int]) -> list[str]:
    steps, carry, acc = [], 0, ""
    for place in range(max(len(str(n)) for n in nums)):
        ds = [_digits_at(n, place) for n in nums if n >= 10 ** place or place == 0]
        total = sum(ds) + carry
        acc = str(total % 10) + acc
        steps.append("+".join(map(str, ds)) + f"+{carry}={total}>{acc}")
        carry = total // 10
    if carry:
        acc = str(carry) + acc
        steps.append(f"c{carry}>{acc}")
    return steps


def _pad_sub(a: int, b: int) -> list[str]:
    steps, borrow, acc = [], 0, ""
    for place in range(len(str(a))):
        da, db = _digits_at(a, place), _digits_at(b, place)
        x = da - borrow - db
        nb = int(x < 0)
        x += 10 * nb
        acc = str(x) + acc
        steps.append(f"{da}-{borrow}-{db}={x} b{nb}>{acc}")
        borrow = nb
    return steps


def _pad_mul(a: int, b: int) -> list[str]:
    steps, partials = [], []
    for place, ch in enumerate(reversed(str(b))):
        d, carry, acc, row = int(ch), 0, "", []
        for cha in reversed(str(a)):
            t = int(cha) * d + carry
            acc = str(t % 10) + acc
            row.append(f"{cha}*{d}+{carry}={t}>{acc}")
            carry = t // 10
        if carry:
            acc = str(carry) + acc
            row.append(f"c{carry}>{acc}")
        p = int(acc) * 10 ** place
        partials.append(p)
        steps.append(f"x{d}: " + "; ".join(row) + (f"; shift {place}>{p}" if place else ""))
    if len(partials) > 1:
        steps.append("+".join(map(str, partials)) + f"={sum(partials)}")
    return steps


def _pad_div(n: int, d: int) -> list[str]:
    steps, rem, acc = [], 0, ""
    for ch in str(n):
        cur = rem * 10 + int(ch)
        q = cur // d
        rem = cur - q * d
        acc += str(q)
        steps.append(f"{cur}/{d}={q} r{rem}>{acc}")
    return steps


def _pad_expr(expr: str) -> list[str]:
    """One operation per step, innermost first (the order of evaluation of the parsed expression)."""
    steps: list[str] = []
    ops = {ast.Add: ("+", int.__add__), ast.Sub: ("-", int.__sub__), ast.Mult: ("*", int.__mul__)}

    def ev(node) -> int:
        if isinstance(node, ast.Constant) and type(node.value) is int:
            return node.value
        if isinstance(node, ast.BinOp) and type(node.op) in ops:
            a, b = ev(node.left), ev(node.right)
            sym, fn = ops[type(node.op)]
            r = fn(a, b)
            steps.append(f"{a}{sym}{b}={r}")
            return r
        raise NotVerified(f"the scratchpad reads only + - * of integers, not {ast.dump(node)[:80]}")

    ev(ast.parse(expr, mode="eval").body)
    return steps


def _arithmetic_pad(meta: dict) -> list[str]:
    kind, expr = meta.get("kind"), meta.get("expression", "")
    nums = [int(x) for x in re.findall(r"\d+", expr)]
    if kind == "add":
        return _pad_add(nums)
    if kind == "sub":
        return _pad_sub(*nums)
    if kind == "mul":
        return _pad_mul(*nums)
    if kind == "div":
        return _pad_div(*nums)
    return _pad_expr(expr)


def scratchpad_lines(item) -> list[str]:
    gen, solution, _, meta = _fields(item)
    if gen == "math.arithmetic":
        return _arithmetic_pad(meta)
    lines = [ln for ln in solution.splitlines() if ln.strip() and not ln.startswith("Answer:")]
    return [re.sub(r"^Step \d+: ", "", ln) for ln in lines]


# ------------------------------------------------------------------ render, parse, check

def render(item, fmt: str) -> str:
    """The completion that follows the prompt in format ``fmt`` (no leading newline)."""
    check_format(fmt)
    _, solution, answer, _ = _fields(item)
    if fmt == "answer":
        return f"Answer: {answer}"
    if fmt == "reversed":
        return f"Answer (reversed): {reverse_digits(answer)}"
    if fmt == "worked":
        return solution
    return "Scratch: " + "\n".join(scratchpad_lines(item)) + f"\nAnswer: {answer}"


def document(item, fmt: str) -> str:
    """A training document: the prompt, a newline, the completion in ``fmt``."""
    prompt = item["prompt"] if isinstance(item, dict) else item.prompt
    return f"{prompt}\n{render(item, fmt)}"


def stop_line(fmt: str) -> str:
    """The start of the line that ends a completion in ``fmt`` (decoding may stop after it)."""
    return "Answer (reversed): " if check_format(fmt) == "reversed" else "Answer: "


def parse(fmt: str, completion: str) -> str | None:
    """The answer in a completion, normalized (``1,081`` -> ``1081``, a reversed answer un-reversed,
    a trailing ``.`` or ``%`` dropped), or None when there is no well-formed answer line. The first
    answer line counts: a model that writes two answers gets the first."""
    check_format(fmt)
    text = completion[:MAX_COMPLETION] if isinstance(completion, str) else ""
    m = _LINE["reversed" if fmt == "reversed" else "answer"].search(text)
    if not m:
        return None
    ans = m.group(1).strip().rstrip(".").removesuffix("%").strip()
    ans = re.sub(r"(?<=\d),(?=\d{3}\b)", "", ans).replace("−", "-")
    if fmt == "reversed":
        ans = reverse_digits(ans)
    return ans if _ANSWER_OK.fullmatch(ans) else None


def verify_answer(item, answer: str) -> None:
    """sympy confirms ``answer`` from the problem's own statement; raises NotVerified otherwise."""
    gen, _, _, meta = _fields(item)
    if not _ANSWER_OK.fullmatch(answer or ""):
        raise NotVerified(f"{answer!r} is not a number, fraction or assignment")
    try:
        _verify(gen, meta, answer)
    except NotVerified:
        raise
    except Exception as e:  # fail closed: whatever sympy raises on a well-formed-looking answer is a wrong answer
        raise NotVerified(f"sympy could not check {answer!r}: {type(e).__name__}") from None


def _verify(gen: str, meta: dict, answer: str) -> None:
    if meta.get("equations"):
        sol = dict(p.split(" = ") for p in answer.split(", ")) if "=" in answer else {next(iter(meta["solution"])): answer}
        if set(sol) != set(meta.get("solution", {})):
            raise NotVerified(f"{answer!r} does not name the unknowns {sorted(meta.get('solution', {}))}")
        solves(meta["equations"], sol)
    elif meta.get("expression") and gen.startswith("math."):
        same_value(meta["expression"], answer)
    else:
        raise NotVerified(f"no expression or equations to check an answer of {gen or 'this item'} against")


def check(item, fmt: str, completion: str) -> tuple[bool, str]:
    """(correct, reason): the completion's answer in ``fmt`` parsed and verified by sympy."""
    got = parse(fmt, completion)
    if got is None:
        return False, "malformed: no well-formed answer line"
    try:
        verify_answer(item, got)
    except NotVerified as e:
        return False, f"wrong: {e}"
    return True, "ok"


def verify_all(item) -> None:
    """Every format of ``item`` round-trips: rendered, parsed back and confirmed by sympy. Raises
    NotVerified naming the format that does not (the generator's item is then rejected)."""
    for fmt in FORMATS:
        ok, why = check(item, fmt, render(item, fmt))
        if not ok:
            raise NotVerified(f"format {fmt}: {why}")
