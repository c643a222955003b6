"""Generators by name, and weighted composites of them.

A generator is a function ``(rng: random.Random, difficulty: int) -> Item`` registered under a dotted
name (``math.arithmetic``). A *kind* on the command line is a registered name, a family prefix
(``math`` = every ``math.*`` generator, equally weighted), or an explicit mixture
``math.arithmetic=2,math.linear=1`` — the same weights a mixture file uses.
"""
from __future__ import annotations

import difflib
import random
from dataclasses import dataclass
from typing import Callable

from gristmill.synth.items import Item

GeneratorFn = Callable[[random.Random, int], Item]


@dataclass(frozen=True)
class GeneratorInfo:
    name: str
    fn: GeneratorFn
    description: str
    verifier: str  # how its answers are checked before an item is kept


_REGISTRY: dict[str, GeneratorInfo] = {}
MIN_DIFFICULTY, MAX_DIFFICULTY = 1, 5


class UnknownGenerator(ValueError):
    pass


def register(name: str, verifier: str):
    def deco(fn: GeneratorFn) -> GeneratorFn:
        if name in _REGISTRY:
            raise ValueError(f"generator {name!r} registered twice")
        doc = (fn.__doc__ or "").strip().split("\n\n")[0]
        _REGISTRY[name] = GeneratorInfo(name, fn, " ".join(doc.split()), verifier)
        return fn
    return deco


def _load() -> None:
    from gristmill.synth.generators import arithmetic, code, code_expr, fractions, linear, word_problems  # noqa: F401


def all_generators() -> dict[str, GeneratorInfo]:
    _load()
    return dict(sorted(_REGISTRY.items()))


def _unknown(name: str) -> UnknownGenerator:
    names = list(all_generators()) + sorted({n.split(".")[0] for n in _REGISTRY})
    close = difflib.get_close_matches(name, names, n=3, cutoff=0.5)
    hint = f" (did you mean {' or '.join(repr(c) for c in close)}?)" if close else ""
    return UnknownGenerator(f"unknown generator {name!r}{hint}; `gristmill synth generators` lists them")


def resolve(kind: str) -> dict[str, float]:
    """``kind`` -> {generator name: weight}, weights summing to 1. Fails loudly on any bad part."""
    gens = all_generators()
    weights: dict[str, float] = {}
    for part in [p.strip() for p in kind.split(",") if p.strip()]:
        name, _, w = part.partition("=")
        name = name.strip()
        try:
            weight = float(w) if w else 1.0
        except ValueError:
            raise UnknownGenerator(f"{part!r}: the weight {w!r} is not a number (write NAME=WEIGHT, e.g. math.linear=2)") from None
        if weight <= 0:
            raise UnknownGenerator(f"{part!r}: weights must be > 0")
        if name in gens:
            members = [name]
        else:
            members = [g for g in gens if g.startswith(name + ".")]
            if not members:
                raise _unknown(name)
        for m in members:
            weights[m] = weights.get(m, 0.0) + weight / len(members)
    if not weights:
        raise UnknownGenerator("no generator named; try 'math', 'code' or `gristmill synth generators`")
    total = sum(weights.values())
    return {k: v / total for k, v in weights.items()}


class Composite:
    """Draws each item from one generator, chosen by weight with a seeded RNG (reproducible)."""

    def __init__(self, weights: dict[str, float], seed: int, difficulty: int):
        if not MIN_DIFFICULTY <= difficulty <= MAX_DIFFICULTY:
            raise UnknownGenerator(f"--difficulty {difficulty}: use {MIN_DIFFICULTY}..{MAX_DIFFICULTY}")
        gens = all_generators()
        self.names = list(weights)
        self.weights = [weights[n] for n in self.names]
        self.fns = [gens[n].fn for n in self.names]
        self.rng = random.Random(seed)
        self.difficulty = difficulty

    def draw(self) -> tuple[str, Item]:
        i = self.rng.choices(range(len(self.names)), weights=self.weights)[0]
        # each draw gets its own RNG derived from the stream: an item depends only on (seed, position)
        sub = random.Random(self.rng.getrandbits(64))
        try:
            return self.names[i], self.fns[i](sub, self.difficulty)
        except AssertionError as e:  # NotVerified: tag it with the generator so the rejection names it
            e.generator = self.names[i]
            raise
