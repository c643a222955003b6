"""Python function exercises: a specification, a reference solution and unit tests.

Each family is a parameterised task (the parameters change the specification, not just the
inputs). The expected values of the tests come from an independent implementation in this module;
the reference solution is source text. The item is kept only if the reference passes every test in
the sandbox (:func:`gristmill.synth.sandbox.run_python`), as Llama 3 kept only code that passed its
unit tests (Llama 3 paper, section 4.3.1), and with the tests' expected values as literals so the
verdict is unforgeable (:mod:`gristmill.synth.verdict`).
"""
from __future__ import annotations

import random
import string
from dataclasses import dataclass
from typing import Callable

from gristmill.synth.items import Item
from gristmill.synth.registry import register


@dataclass
class Family:
    name: str
    min_difficulty: int
    make: Callable  # rng, difficulty -> (params, spec, signature, reference source, impl, input maker)


def _words(rng, n, d):
    return [("".join(rng.choice("abcdefghij"[: 4 + d]) for _ in range(rng.randrange(1, 3 + d)))) for _ in range(n)]


def _ints(rng, n, d, lo=-20, hi=20):
    return [rng.randrange(lo * d, hi * d + 1) for _ in range(n)]


def f_sum_multiples(rng, d):
    a, b = rng.sample([2, 3, 4, 5, 6, 7, 9, 11], 2)
    spec = f"Return the sum of all non-negative integers below n that are multiples of {a} or {b}."
    ref = f"def sum_multiples(n):\n    return sum(i for i in range(n) if i % {a} == 0 or i % {b} == 0)\n"
    impl = lambda n: sum(i for i in range(n) if i % a == 0 or i % b == 0)  # noqa: E731
    return (a, b), spec, "sum_multiples(n: int) -> int", ref, impl, lambda: (rng.randrange(0, 50 * d),)


def f_count_in_set(rng, d):
    letters = "".join(sorted(rng.sample(string.ascii_lowercase, 3 + d)))
    spec = f"Return how many characters of s are one of the letters {letters!r}, ignoring case."
    ref = f"def count_letters(s):\n    return sum(1 for ch in s.lower() if ch in {letters!r})\n"
    impl = lambda s: sum(1 for ch in s.lower() if ch in letters)  # noqa: E731
    mk = lambda: ("".join(rng.choice(string.ascii_letters + "  ,.") for _ in range(rng.randrange(0, 12 * d))),)  # noqa: E731
    return letters, spec, "count_letters(s: str) -> int", ref, impl, mk


def f_caesar(rng, d):
    k = rng.randrange(1, 26)
    spec = (f"Shift every ASCII letter of text {k} places forward in the alphabet, wrapping from z to a and keeping case; "
            "leave every other character unchanged.")
    ref = (f"def shift(text):\n    out = []\n    for ch in text:\n        if 'a' <= ch <= 'z':\n"
           f"            out.append(chr((ord(ch) - 97 + {k}) % 26 + 97))\n        elif 'A' <= ch <= 'Z':\n"
           f"            out.append(chr((ord(ch) - 65 + {k}) % 26 + 65))\n        else:\n            out.append(ch)\n"
           "    return ''.join(out)\n")

    def impl(t):
        return "".join(chr((ord(c) - 97 + k) % 26 + 97) if c.islower() and c.isascii() else
                       chr((ord(c) - 65 + k) % 26 + 65) if c.isupper() and c.isascii() else c for c in t)
    mk = lambda: ("".join(rng.choice(string.ascii_letters + " !?1") for _ in range(rng.randrange(0, 10 * d))),)  # noqa: E731
    return k, spec, "shift(text: str) -> str", ref, impl, mk


def f_running_max(rng, d):
    which = rng.choice(["largest", "smallest", "sum"])
    if which == "sum":
        spec = "Return a list whose i-th element is the sum of xs[0..i] (prefix sums); an empty list for an empty input."
        ref = "def running(xs):\n    out, total = [], 0\n    for x in xs:\n        total += x\n        out.append(total)\n    return out\n"
        import itertools
        impl = lambda xs: list(itertools.accumulate(xs))  # noqa: E731
    else:
        cmp = ">" if which == "largest" else "<"
        spec = f"Return a list whose i-th element is the {which} of xs[0..i]; an empty list for an empty input."
        ref = (f"def running(xs):\n    out, best = [], None\n    for x in xs:\n        best = x if best is None or x {cmp} best else best\n"
               "        out.append(best)\n    return out\n")
        import itertools
        impl = lambda xs: list(itertools.accumulate(xs, max if which == "largest" else min))  # noqa: E731
    return which, spec, "running(xs: list[int]) -> list[int]", ref, impl, lambda: (_ints(rng, rng.randrange(0, 4 + 2 * d), d),)


def f_rotate(rng, d):
    direction = rng.choice(["right", "left"])
    spec = f"Rotate the list xs by k positions to the {direction} (k may exceed the length); return a new list."
    sign = "-" if direction == "right" else ""
    ref = (f"def rotate(xs, k):\n    if not xs:\n        return []\n    k = ({sign}k) % len(xs)\n    return xs[k:] + xs[:k]\n")

    def impl(xs, k):
        if not xs:
            return []
        k = (-k if direction == "right" else k) % len(xs)
        return xs[k:] + xs[:k]
    return direction, spec, "rotate(xs: list, k: int) -> list", ref, impl, \
        lambda: (_ints(rng, rng.randrange(0, 3 + 2 * d), d), rng.randrange(0, 10 * d))


def f_rle(rng, d):
    count_first = rng.random() < 0.5
    order = "the run length followed by the character" if count_first else "the character followed by the run length"
    example = "'3a1b'" if count_first else "'a3b1'"
    spec = (f"Run-length encode s: each maximal run of one character becomes {order}, "
            f"e.g. 'aaab' -> {example}. The empty string encodes to ''.")
    piece = "f'{j - i}{s[i]}'" if count_first else "f'{s[i]}{j - i}'"
    ref = ("def rle(s):\n    out = []\n    i = 0\n    while i < len(s):\n        j = i\n        while j < len(s) and s[j] == s[i]:\n"
           f"            j += 1\n        out.append({piece})\n        i = j\n    return ''.join(out)\n")

    def impl(s):
        import itertools
        return "".join((f"{len(list(g))}{c}" if count_first else f"{c}{len(list(g))}") for c, g in itertools.groupby(s))
    mk = lambda: ("".join(rng.choice("aab"[: 2 + (d > 1)] + "c" * (d > 2)) * rng.randrange(1, 4) for _ in range(rng.randrange(0, 3 + d))),)  # noqa: E731
    return count_first, spec, "rle(s: str) -> str", ref, impl, mk


def f_dedupe(rng, d):
    key = rng.choice(["exact", "casefold"])
    spec = ("Return the strings of xs without duplicates, keeping the first occurrence of each and the original order"
            + (", where two strings are duplicates if they are equal ignoring case." if key == "casefold" else "."))
    kexpr = "x.casefold()" if key == "casefold" else "x"
    ref = f"def dedupe(xs):\n    seen, out = set(), []\n    for x in xs:\n        k = {kexpr}\n        if k not in seen:\n" \
          "            seen.add(k)\n            out.append(x)\n    return out\n"

    def impl(xs):
        seen, out = set(), []
        for x in xs:
            k = x.casefold() if key == "casefold" else x
            if k not in seen:
                seen.add(k)
                out.append(x)
        return out
    mk = lambda: ([rng.choice(["a", "A", "b", "B", "cat", "Cat", "dog"]) for _ in range(rng.randrange(0, 4 + 2 * d))],)  # noqa: E731
    return key, spec, "dedupe(xs: list[str]) -> list[str]", ref, impl, mk


def f_second_largest(rng, d):
    which = rng.choice(["largest", "smallest"])
    rev = which == "largest"
    spec = f"Return the second {which} distinct value in xs, or None if xs has fewer than two distinct values."
    ref = f"def second_largest(xs):\n    vals = sorted(set(xs), reverse={rev})\n    return vals[1] if len(vals) > 1 else None\n"
    impl = lambda xs: (sorted(set(xs), reverse=rev)[1:2] or [None])[0]  # noqa: E731
    return which, spec, "second_largest(xs: list[int]) -> int | None", ref, impl, lambda: (_ints(rng, rng.randrange(0, 3 + 2 * d), 1, -5, 5),)


def f_digit_power(rng, d):
    p = rng.randrange(1, 2 + d)
    spec = f"Return the sum of the {p}-th powers of the decimal digits of the non-negative integer n."
    ref = f"def digit_power_sum(n):\n    return sum(int(c) ** {p} for c in str(n))\n"
    impl = lambda n: sum(int(c) ** p for c in str(n))  # noqa: E731
    return p, spec, "digit_power_sum(n: int) -> int", ref, impl, lambda: (rng.randrange(0, 10 ** (2 + d)),)


def f_recurrence(rng, d):
    t0, t1, p, q = rng.randrange(0, 4), rng.randrange(1, 4), rng.randrange(1, 3), rng.randrange(1, 3)
    spec = (f"The sequence t starts t(0) = {t0}, t(1) = {t1} and continues t(n) = {p}*t(n-1) + {q}*t(n-2). "
            "Return t(n) for n >= 0, computed iteratively.")
    ref = (f"def term(n):\n    a, b = {t0}, {t1}\n    for _ in range(n):\n        a, b = b, {p} * b + {q} * a\n    return a\n")

    def impl(n):
        a, b = t0, t1
        for _ in range(n):
            a, b = b, p * b + q * a
        return a
    return (t0, t1, p, q), spec, "term(n: int) -> int", ref, impl, lambda: (rng.randrange(0, 10 + 10 * d),)


def f_brackets(rng, d):
    pairs = rng.sample(["()", "[]", "{}", "<>"], 2 + (d >= 4))
    opens, closes = "".join(p[0] for p in pairs), "".join(p[1] for p in pairs)
    spec = (f"Return True if the brackets {' '.join(pairs)} in s are balanced and properly nested; ignore every other "
            "character.")
    ref = (f"def balanced(s):\n    match = {dict(zip(closes, opens))!r}\n    stack = []\n    for ch in s:\n"
           f"        if ch in {opens!r}:\n            stack.append(ch)\n        elif ch in match:\n"
           "            if not stack or stack.pop() != match[ch]:\n                return False\n    return not stack\n")

    def impl(s):
        match, stack = dict(zip(closes, opens)), []
        for ch in s:
            if ch in opens:
                stack.append(ch)
            elif ch in match:
                if not stack or stack.pop() != match[ch]:
                    return False
        return not stack
    mk = lambda: ("".join(rng.choice(opens + closes + "x") for _ in range(rng.randrange(0, 4 + 2 * d))),)  # noqa: E731
    return tuple(pairs), spec, "balanced(s: str) -> bool", ref, impl, mk


def f_merge_sorted(rng, d):
    spec = "Merge two ascending lists into one ascending list in linear time, keeping duplicates (do not call sorted)."
    ref = ("def merge(a, b):\n    i = j = 0\n    out = []\n    while i < len(a) and j < len(b):\n        if a[i] <= b[j]:\n"
           "            out.append(a[i])\n            i += 1\n        else:\n            out.append(b[j])\n            j += 1\n"
           "    return out + a[i:] + b[j:]\n")
    impl = lambda a, b: sorted(a + b)  # noqa: E731
    return (), spec, "merge(a: list[int], b: list[int]) -> list[int]", ref, impl, \
        lambda: (sorted(_ints(rng, rng.randrange(0, 3 + d), d)), sorted(_ints(rng, rng.randrange(0, 3 + d), d)))


def f_primes(rng, d):
    spec = "Return the list of all primes p with lo <= p < hi, ascending."
    ref = ("def primes_between(lo, hi):\n    out = []\n    for n in range(max(lo, 2), hi):\n"
           "        if all(n % k for k in range(2, int(n ** 0.5) + 1)):\n            out.append(n)\n    return out\n")

    def impl(lo, hi):
        return [n for n in range(max(lo, 2), hi) if all(n % k for k in range(2, int(n ** 0.5) + 1))]

    def mk():
        lo = rng.randrange(0, 30 * d)
        return lo, lo + rng.randrange(0, 20 * d)
    return (), spec, "primes_between(lo: int, hi: int) -> list[int]", ref, impl, mk


def f_long_words(rng, d):
    k = rng.randrange(2, 3 + d)
    spec = f"Return how many whitespace-separated words of text have more than {k} characters."
    ref = f"def count_long(text):\n    return sum(1 for w in text.split() if len(w) > {k})\n"
    impl = lambda t: sum(1 for w in t.split() if len(w) > k)  # noqa: E731
    return k, spec, "count_long(text: str) -> int", ref, impl, lambda: (" ".join(_words(rng, rng.randrange(0, 4 + 2 * d), d)),)


def f_word_hist(rng, d):
    spec = "Return a dict mapping each word length to how many whitespace-separated words of text have that length."
    ref = ("def length_histogram(text):\n    out = {}\n    for w in text.split():\n        out[len(w)] = out.get(len(w), 0) + 1\n"
           "    return out\n")

    def impl(t):
        out = {}
        for w in t.split():
            out[len(w)] = out.get(len(w), 0) + 1
        return out
    return (), spec, "length_histogram(text: str) -> dict[int, int]", ref, impl, lambda: (" ".join(_words(rng, rng.randrange(0, 4 + 2 * d), d)),)


def f_transpose(rng, d):
    spec = "Return the transpose of a rectangular matrix given as a list of rows; the transpose of [] is []."
    ref = "def transpose(m):\n    return [list(col) for col in zip(*m)]\n"
    impl = lambda m: [list(c) for c in zip(*m)]  # noqa: E731

    def mk():
        r, c = rng.randrange(0, 2 + d), rng.randrange(1, 2 + d)
        return ([_ints(rng, c, 1, -9, 9) for _ in range(r)],)
    return (), spec, "transpose(m: list[list[int]]) -> list[list[int]]", ref, impl, mk


def f_fizz(rng, d):
    (a, wa), (b, wb) = rng.sample([(2, "Two"), (3, "Fizz"), (5, "Buzz"), (7, "Bang"), (4, "Quad")], 2)
    spec = (f"Return a list of strings for i = 1..n: '{wa}{wb}' if i is divisible by both {a} and {b}, '{wa}' if only by "
            f"{a}, '{wb}' if only by {b}, otherwise str(i).")
    ref = (f"def fizz(n):\n    out = []\n    for i in range(1, n + 1):\n        s = ('{wa}' if i % {a} == 0 else '') + "
           f"('{wb}' if i % {b} == 0 else '')\n        out.append(s or str(i))\n    return out\n")
    impl = lambda n: [((wa if i % a == 0 else "") + (wb if i % b == 0 else "")) or str(i) for i in range(1, n + 1)]  # noqa: E731
    return (a, wa, b, wb), spec, "fizz(n: int) -> list[str]", ref, impl, lambda: (rng.randrange(0, 8 * d),)


FAMILIES = [Family("sum_multiples", 1, f_sum_multiples), Family("count_letters", 1, f_count_in_set),
            Family("digit_power_sum", 1, f_digit_power), Family("count_long", 1, f_long_words),
            Family("fizz", 1, f_fizz), Family("running", 2, f_running_max), Family("rotate", 2, f_rotate),
            Family("dedupe", 2, f_dedupe), Family("second_largest", 2, f_second_largest), Family("shift", 2, f_caesar),
            Family("rle", 3, f_rle), Family("term", 3, f_recurrence), Family("length_histogram", 3, f_word_hist),
            Family("transpose", 3, f_transpose), Family("balanced", 4, f_brackets), Family("merge", 4, f_merge_sorted),
            Family("primes_between", 4, f_primes)]


def _call(fname, args):
    return f"{fname}({', '.join(repr(a) for a in args)})"


@register("code.functions", verifier="the reference solution must pass every unit test in the sandbox")
def functions(rng: random.Random, difficulty: int) -> Item:
    """Python function exercises (17 parameterised families, from sums of multiples to bracket
    matching); difficulty unlocks families, lengthens inputs and adds tests (3 + difficulty)."""
    fam = rng.choice([f for f in FAMILIES if f.min_difficulty <= difficulty])
    params, spec, sig, ref, impl, mk = fam.make(rng, difficulty)
    fname = sig.split("(")[0]
    cases, seen = [], set()
    for _ in range(40):
        args = mk()
        r = repr(args)
        if r not in seen:
            seen.add(r)
            cases.append((args, impl(*args)))
        if len(cases) >= 3 + difficulty:
            break
    tests = "".join(f"assert {_call(fname, a)} == {e!r}\n" for a, e in cases)
    shown = cases[:2]
    examples = "\n".join(f"    {_call(fname, a)} -> {e!r}" for a, e in shown)
    prompt = (f"Write a Python function `{sig}`.\n\n{spec}\n\nExamples:\n{examples}\n\n"
              "Use only the standard library; return the value, do not print it.")
    solution = (f"Approach: {spec[0].lower() + spec[1:]} We follow that rule directly.\n\n"
                f"Step 1: Define `{sig}`.\nStep 2: Apply the rule to the input, building the result the "
                f"specification asks for, and return it.\nStep 3: Check against the examples: "
                + "; ".join(f"{_call(fname, a)} gives {e!r}" for a, e in shown) + ".\n\n"
                f"```python\n{ref}```")
    return Item(prompt, solution, ref, "code.functions", difficulty, repr((fam.name, params)),
                {"kind": fam.name, "entry_point": fname, "answer_type": "code", "params": repr(params)}, tests=tests)
