"""One specification per code exercise: the name, the prose, the reference, the oracle and the tests.

A :class:`Family` maps drawn parameters to a :class:`Spec`; everything an item says is rendered from
that one object, so the function name cannot say ``largest`` while the prose says ``smallest``. Three
checks run on every item before it leaves the generator (a failure is :class:`NotVerified`):

* **words** (:func:`check_words`): every phrase the family declares for the parameters is in the prose,
  none of the phrases it rules out is, no word of the antonym table contradicts the operation (in the
  prose or in the function name), the name's ordinal and operation words appear in the prose, and every
  ordinal is spelled right (``3rd``, never ``3-th``);
* **reference** (:func:`build_cases`): the reference source, run here on the chosen inputs, returns what
  the oracle (an independent implementation) returns; the dataset then runs it again, in the sandbox,
  against the test strings;
* **discrimination**: every mutant the family names (the opposite operation, an off-by-one bound, the
  other tie-break; each is the same family with other parameters) gives a different result on at least
  one test, or the parameters are degenerate ("multiples of 6 or 2") and are drawn again.

Choosing inputs that tell mutants apart is mutation-adequate test selection (DeMillo, Lipton and Sayward
1978, "Hints on test data selection"); checking that the prose names the operation is the same guard
as Llama 3's code pipeline, which dropped samples whose text and code disagreed (Llama 3 paper, 4.3.1).
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Callable

import xxhash

from gristmill.synth.generators._verify import NotVerified

ORDINAL_WORDS = {1: "first", 2: "second", 3: "third", 4: "fourth", 5: "fifth", 6: "sixth", 7: "seventh", 8: "eighth",
                 9: "ninth", 10: "tenth"}


def ordinal(n: int) -> str:
    """``1st 2nd 3rd 4th 11th 12th 13th 21st 102nd``."""
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


# Word forms that contradict each other: when the operation's words use one side, the other side may not
# appear in the prose or in the function name.
ANTONYMS = [
    ({"largest", "max", "maximum", "biggest"}, {"smallest", "min", "minimum"}),
    ({"first"}, {"last"}),
    ({"left"}, {"right"}),
    ({"even"}, {"odd"}),
    ({"ascending", "increasing"}, {"descending", "decreasing"}),
    ({"positive"}, {"negative"}),
    ({"greater", "more"}, {"less", "fewer"}),
    ({"keep"}, {"remove"}),
    ({"forward", "forwards"}, {"backward", "backwards"}),
    ({"longest", "longer"}, {"shortest", "shorter"}),
    ({"start", "starts", "starting"}, {"end", "ends", "ending"}),
    ({"vowel", "vowels"}, {"consonant", "consonants"}),
    ({"upper"}, {"lower"}),
    ({"sum"}, {"product"}),
]
_ORDINAL_BY_WORD = {w: n for n, w in ORDINAL_WORDS.items()}
_CHECKED_NAME_WORDS = set().union(*(a | b for a, b in ANTONYMS)) | set(_ORDINAL_BY_WORD)


def _tokens(text: str) -> list[str]:
    return re.findall(r"[a-z]+", text.lower())


@dataclass
class Spec:
    """Everything one exercise says, rendered from its family's parameters."""

    family: str
    params: tuple  # hashable; with the family it is the problem's identity (dedup and the held-out split)
    fname: str
    args: list[tuple[str, str]]  # (name, annotation)
    returns: str
    prose: str
    reference: str  # source of ``def fname(...)``
    oracle: Callable  # an independent implementation of the same specification
    must: list[str] = field(default_factory=list)  # phrases the prose must contain
    must_not: list[str] = field(default_factory=list)  # phrases it must not contain
    idea: str = ""

    @property
    def signature(self) -> str:
        return f"{self.fname}({', '.join(f'{a}: {t}' for a, t in self.args)}) -> {self.returns}"


@dataclass
class Family:
    """``draw(rng, d) -> params``; ``build(params) -> Spec``; ``inputs(rng, d, params) -> args tuple``;
    ``mutants(params) -> [params]``: nearby specifications the tests must tell apart."""

    name: str
    area: str  # lists | strings | numbers | dicts | expressions
    draw: Callable
    build: Callable
    inputs: Callable
    mutants: Callable


def check_words(spec: Spec) -> None:
    """Raise :class:`NotVerified` when the prose or the name contradicts the operation."""
    low = spec.prose.lower()
    for phrase in spec.must:
        if phrase.lower() not in low:
            raise NotVerified(f"{spec.family}: the prose does not say {phrase!r}: {spec.prose!r}")
    for phrase in spec.must_not:
        if re.search(rf"(?<![a-z]){re.escape(phrase.lower())}(?![a-z])", low):
            raise NotVerified(f"{spec.family}: the prose says {phrase!r}, which contradicts the operation: {spec.prose!r}")
    bad = re.search(r"\b\d+-(st|nd|rd|th)\b", low)
    for m in re.finditer(r"\b(\d+)-?(st|nd|rd|th)\b", low):
        if m.group(0) != ordinal(int(m.group(1))):
            bad = m
            break
    if bad:
        raise NotVerified(f"{spec.family}: wrong ordinal {bad.group(0)!r} in {spec.prose!r}")
    prose_words = set(_tokens(spec.prose))
    name_words = set(spec.fname.lower().split("_"))
    must_words = set(_tokens(" ".join(spec.must)))
    for a, b in ANTONYMS:
        for side, other in ((a, b), (b, a)):
            if must_words & side and not must_words & other:
                clash = (prose_words | name_words) & other
                if clash:
                    raise NotVerified(f"{spec.family}: says {sorted(clash)[0]!r} but the operation is "
                                      f"{sorted(must_words & side)[0]!r}: {spec.fname}: {spec.prose!r}")
    for w in name_words & _CHECKED_NAME_WORDS:
        n = _ORDINAL_BY_WORD.get(w)
        if n is not None:
            if w not in prose_words and ordinal(n) not in low:
                raise NotVerified(f"{spec.family}: the name {spec.fname} says {w!r}, the prose does not: {spec.prose!r}")
        elif not prose_words & next(side for pair in ANTONYMS for side in pair if w in side):
            raise NotVerified(f"{spec.family}: the name {spec.fname} says {w!r}, the prose does not: {spec.prose!r}")


def load(source: str, fname: str) -> Callable:
    """The function a generator-written source defines. Only for sources this package renders itself
    (trusted text); anything a model wrote goes through :func:`gristmill.synth.sandbox.run_python`."""
    ns: dict = {}
    exec(compile(source, f"<reference {fname}>", "exec"), ns)  # noqa: S102 - generator-authored source only
    return ns[fname]


def rename(source: str, old: str, new: str) -> str:
    return re.sub(rf"\bdef {re.escape(old)}\(", f"def {new}(", source, count=1)


def _safe(fn, args):
    try:
        return fn(*_copy(args))
    except Exception as e:  # noqa: BLE001 - a mutant that raises is told apart as surely as one that differs
        return ("raised", type(e).__name__)


def _copy(args):
    return json.loads(json.dumps(list(args)))


def _json_faithful(v) -> bool:
    try:
        return json.loads(json.dumps(v)) == v and type(json.loads(json.dumps(v))) is type(v)
    except (TypeError, ValueError):
        return False


def build_cases(spec: Spec, mutants: list[Spec], candidates: list[tuple], n_tests: int, rng) -> list[tuple[tuple, object]]:
    """Pick ``n_tests`` (or more) inputs from ``candidates`` so that every mutant fails at least one;
    return ``[(args, expected)]``. Raises :class:`NotVerified` when a mutant agrees with the
    specification on every candidate (degenerate parameters) or the reference disagrees with the oracle."""
    uniq, seen = [], set()
    for c in candidates:
        r = repr(c)
        if r not in seen:
            seen.add(r)
            uniq.append(c)
    want = [spec.oracle(*_copy(c)) for c in uniq]
    chosen: list[int] = []
    for m in mutants:
        if any(_safe(m.oracle, uniq[i]) != want[i] for i in chosen):
            continue
        killers = [i for i in range(len(uniq)) if _safe(m.oracle, uniq[i]) != want[i]]
        if not killers:
            raise NotVerified(f"{spec.family}{spec.params}: degenerate: the variant {m.params} gives the same result on "
                              f"all {len(uniq)} candidate inputs")
        chosen.append(rng.choice(killers))
    rest = [i for i in range(len(uniq)) if i not in chosen]
    rng.shuffle(rest)
    chosen += rest[: max(0, n_tests - len(chosen))]
    rng.shuffle(chosen)
    ref = load(spec.reference, spec.fname)
    cases = []
    for i in chosen:
        args, exp = uniq[i], want[i]
        if not (_json_faithful(list(args)) and _json_faithful(exp)):
            raise NotVerified(f"{spec.family}: {args!r} -> {exp!r} does not survive JSON (tuples, non-string keys)")
        got = _safe(ref, args)
        if got != exp:
            raise NotVerified(f"{spec.family}{spec.params}: the reference returns {got!r} for {args!r}, the oracle {exp!r}")
        cases.append((tuple(args), exp))
    for m in mutants:  # the mutant's own source fails too (its oracle did, above): both renderings agree
        mref = load(rename(m.reference, m.fname, spec.fname), spec.fname)
        if all(_safe(mref, a) == e for a, e in cases):
            raise NotVerified(f"{spec.family}{spec.params}: the variant {m.params}'s source passes every test")
    return cases


def spec_key(spec: Spec) -> str:
    """The item key: family and parameters. :func:`gristmill.synth.items.normalize_key` folds punctuation and
    case (``-3`` and ``3``, ``'|'`` and ``','``, ``'()'`` and ``'[]'`` would meet), so a hash of the exact
    parameters leads and the readable form follows."""
    exact = repr((spec.family, spec.params))
    return f"{spec.family} {xxhash.xxh64_hexdigest(exact.encode())} {exact}"


def call_text(fname: str, args) -> str:
    return f"{fname}({', '.join(repr(a) for a in args)})"


def assert_source(fname: str, cases) -> str:
    """``assert f(args) == literal``, one per line: the form :mod:`gristmill.synth.verdict` accepts with the
    expected value kept outside the sandbox."""
    return "".join(f"assert {call_text(fname, a)} == {e!r}\n" for a, e in cases)


def structured_cases(fname: str, cases) -> list[dict]:
    """The same tests as data, for a verdict that compares values without parsing test source."""
    return [{"call": fname, "args": list(a), "expected": e, "compare": "exact"} for a, e in cases]


def make_spec(family: Family, rng, difficulty: int, *, n_tests: int, n_candidates: int = 60, attempts: int = 25):
    """Draw parameters until they give a checked, discriminating specification: ``(spec, cases)``.

    ``n_candidates=60`` inputs per specification: with them neither code generator exhausted its attempts in
    7,500 draws each (1,500 per difficulty), while a test needs only one killer per mutant; ``attempts=25`` bounds the work when a region of the parameter space is degenerate. A word
    check failure is not redrawn: it is a bug in the family and is reported as such."""
    last = None
    for _ in range(attempts):
        p = family.draw(rng, difficulty)
        spec = family.build(p)
        check_words(spec)
        muts = [family.build(m) for m in family.mutants(p)]
        muts = [m for m in muts if m.params != spec.params]
        cands = [family.inputs(rng, difficulty, p) for _ in range(n_candidates)]
        try:
            return spec, build_cases(spec, muts, cands, n_tests, rng)
        except NotVerified as e:
            if "degenerate" not in str(e) and "passes every test" not in str(e):
                raise
            last = e
    raise NotVerified(f"{family.name}: no discriminating parameters in {attempts} draws ({last})")
