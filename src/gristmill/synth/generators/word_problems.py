"""Multi-step word problems (GSM8K-style): each template states a situation, the worked solution
takes one operation per step, and sympy re-evaluates the problem's own equation."""
from __future__ import annotations

import random

from gristmill.synth.generators._verify import NotVerified, same_value
from gristmill.synth.items import Item
from gristmill.synth.registry import register

NAMES = ["Ava", "Ben", "Chen", "Dara", "Elif", "Farid", "Grace", "Hugo", "Ines", "Jamal", "Kira", "Luis", "Maya",
         "Noor", "Omar", "Priya", "Quinn", "Rosa", "Sami", "Tariq", "Uma", "Vik", "Wen", "Yara", "Zoe"]
ITEMS = [("notebook", "notebooks"), ("pen", "pens"), ("apple", "apples"), ("ticket", "tickets"), ("book", "books"),
         ("plant", "plants"), ("mug", "mugs"), ("ball", "balls")]


def _shopping(rng, d):
    name = rng.choice(NAMES)
    (s1, p1), (s2, p2) = rng.sample(ITEMS, 2)
    n1, n2 = rng.randrange(2, 4 + 3 * d), rng.randrange(2, 4 + 3 * d)
    c1, c2 = rng.randrange(2, 5 + 5 * d), rng.randrange(2, 5 + 5 * d)
    cost = n1 * c1 + n2 * c2
    bill = next(b for b in (20, 50, 100, 200, 500, 1000, 5000) if b >= cost)
    prompt = (f"{name} buys {n1} {p1} at ${c1} each and {n2} {p2} at ${c2} each, and pays with a ${bill} bill. "
              f"How much change does {name} get, in dollars?")
    steps = [f"The {p1} cost {n1} × ${c1} = ${n1 * c1}.", f"The {p2} cost {n2} × ${c2} = ${n2 * c2}.",
             f"Together they cost ${n1 * c1} + ${n2 * c2} = ${cost}.", f"The change is ${bill} - ${cost} = ${bill - cost}."]
    return prompt, steps, bill - cost, f"{bill} - ({n1}*{c1} + {n2}*{c2})", ("shopping", n1, c1, n2, c2, bill)


def _trip(rng, d):
    name = rng.choice(NAMES)
    v1, t1 = rng.randrange(20, 40 + 10 * d), rng.randrange(1, 2 + d)
    v2, t2 = rng.randrange(20, 40 + 10 * d), rng.randrange(1, 2 + d)
    total = v1 * t1 + v2 * t2
    left = rng.randrange(0, 50 * d) if d >= 3 else 0
    extra = f" The whole trip is {total + left} km long. How many kilometres are still left?" if left else \
        " How many kilometres does the trip cover in total?"
    hrs = lambda t: f"{t} hour" + ("s" if t != 1 else "")  # noqa: E731
    prompt = f"{name} drives for {hrs(t1)} at {v1} km/h, then for {hrs(t2)} at {v2} km/h." + extra
    steps = [f"Distance in the first part: {v1} km/h × {t1} h = {v1 * t1} km.",
             f"Distance in the second part: {v2} km/h × {t2} h = {v2 * t2} km.",
             f"Distance so far: {v1 * t1} + {v2 * t2} = {total} km."]
    if left:
        steps.append(f"Still left: {total + left} - {total} = {left} km.")
        return prompt, steps, left, f"{total + left} - ({v1}*{t1} + {v2}*{t2})", ("trip-left", v1, t1, v2, t2, left)
    return prompt, steps, total, f"{v1}*{t1} + {v2}*{t2}", ("trip", v1, t1, v2, t2)


def _sharing(rng, d):
    name = rng.choice(NAMES)
    _, plural = rng.choice(ITEMS)
    boxes, per_box = rng.randrange(2, 5 + 2 * d), rng.randrange(3, 6 + 4 * d)
    friends = rng.randrange(2, 4 + d)
    kept = rng.randrange(1, 10)
    total = boxes * per_box
    while (total - kept) % friends:
        kept += 1
    share = (total - kept) // friends
    prompt = (f"{name} has {boxes} boxes of {plural} with {per_box} in each box. {name} keeps {kept} and shares the rest "
              f"equally among {friends} friends. How many {plural} does each friend get?")
    steps = [f"Total {plural}: {boxes} × {per_box} = {total}.", f"After keeping {kept}: {total} - {kept} = {total - kept}.",
             f"Each friend gets {total - kept} ÷ {friends} = {share}."]
    return prompt, steps, share, f"({boxes}*{per_box} - {kept}) / {friends}", ("sharing", boxes, per_box, kept, friends)


def _savings(rng, d):
    name = rng.choice(NAMES)
    start, weekly, weeks = rng.randrange(0, 20 * d), rng.randrange(5, 10 + 10 * d), rng.randrange(3, 5 + 3 * d)
    spent = rng.randrange(1, weekly * weeks // 2)
    end = start + weekly * weeks - spent
    prompt = (f"{name} has ${start} saved and adds ${weekly} every week for {weeks} weeks, then spends ${spent} on a gift. "
              f"How many dollars does {name} have now?")
    steps = [f"Saved over the weeks: ${weekly} × {weeks} = ${weekly * weeks}.",
             f"With the starting amount: ${start} + ${weekly * weeks} = ${start + weekly * weeks}.",
             f"After the gift: ${start + weekly * weeks} - ${spent} = ${end}."]
    return prompt, steps, end, f"{start} + {weekly}*{weeks} - {spent}", ("savings", start, weekly, weeks, spent)


def _recipe(rng, d):
    name = rng.choice(NAMES)
    base, per = rng.choice([2, 3, 4, 5, 6]), rng.randrange(2, 6 + 2 * d)
    guests = base * rng.randrange(2, 3 + d)
    batches = guests // base
    eggs = batches * per
    prompt = (f"A recipe for {base} people uses {per} eggs. {name} is cooking for {guests} people. "
              f"How many eggs does {name} need?")
    steps = [f"{guests} people is {guests} ÷ {base} = {batches} times the recipe.",
             f"Eggs needed: {batches} × {per} = {eggs}."]
    return prompt, steps, eggs, f"{guests} / {base} * {per}", ("recipe", base, per, guests)


def _age(rng, d):
    a, b = rng.sample(NAMES, 2)
    age_b = rng.randrange(3, 15 + 5 * d)
    diff = rng.randrange(2, 10 + 5 * d)
    years = rng.randrange(2, 10 + 3 * d)
    ans = age_b + diff + years + age_b + years
    prompt = (f"{a} is {diff} years older than {b}, who is {age_b}. In {years} years, what will their ages add up to?")
    steps = [f"{a} is now {age_b} + {diff} = {age_b + diff}.", f"In {years} years {a} will be {age_b + diff + years} "
             f"and {b} will be {age_b + years}.", f"Together: {age_b + diff + years} + {age_b + years} = {ans}."]
    return prompt, steps, ans, f"({age_b} + {diff} + {years}) + ({age_b} + {years})", ("age", age_b, diff, years)


TEMPLATES = [_shopping, _trip, _sharing, _savings, _recipe, _age]


@register("math.word_problems", verifier="sympy evaluates the problem's equation and must equal the answer")
def word_problems(rng: random.Random, difficulty: int) -> Item:
    """Multi-step word problems (shopping with change, two-leg trips, sharing, savings, scaling a
    recipe, ages); difficulty widens the numbers and adds steps."""
    t = rng.choice(TEMPLATES[: 4 + (difficulty >= 2) + (difficulty >= 3)])
    prompt, steps, ans, expr, key = t(rng, difficulty)
    if ans < 0:
        raise NotVerified("negative answer")
    steps = [f"Step {i + 1}: {s}" for i, s in enumerate(steps)] + [f"Answer: {ans}"]
    item = Item(prompt, "\n".join(steps), str(ans), "math.word_problems", difficulty, repr(key),
                {"kind": t.__name__.strip("_"), "expression": expr, "answer_type": "integer"})
    same_value(expr, item.answer)
    return item
