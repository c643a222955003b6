"""The bridge to the compiled affix matcher (``gristmill._native``, built from ``_native.pyx``).

It is given the alternatives of the three regexes above, read off their parse trees here, so
the patterns live in one place. Each alternative becomes (look-behind classes, body classes, the
last body class repeats, look-ahead class, look-ahead negated), in the order the regex tries
them; any construct outside that shape raises, and the pure-Python loop is used instead.
"""
from __future__ import annotations

import logging

from .spacy_rules import (_SP_INFIX_CHARS, _SP_INFIX_RE, _SP_PREFIX_FIRST, _SP_PREFIX_RE, _SP_SUFFIX_LAST,
                          _SP_SUFFIX_LAST_DIGIT, _SP_SUFFIX_RE, _SP_URL_RE, _SPECIALS)
from .tokenizer import _SP_MATCH_BY_FIRST

try:
    from gristmill import _native as kernels
except ImportError:  # not built: the pure-Python paths give the same results, slower
    kernels = None


def _char_ranges(chars) -> list[tuple[int, int]]:
    out: list[list[int]] = []
    for c in sorted(map(ord, chars)):
        if out and out[-1][1] == c - 1:
            out[-1][1] = c
        else:
            out.append([c, c])
    return [(a, b) for a, b in out]


def _class_of(op, av) -> list[tuple[int, int]]:
    from re import _constants as C
    if op is C.LITERAL:
        return [(av, av)]
    if op is C.IN:
        out = []
        for iop, iav in av:
            if iop is C.LITERAL:
                out.append((iav, iav))
            elif iop is C.RANGE:
                out.append(tuple(iav))
            else:
                raise ValueError(f"unsupported class item {iop}")
        return out
    raise ValueError(f"not a character class: {op}")


def _expand(seq) -> list[list[tuple]]:
    """Flat alternatives of a parsed regex, in the order the regex engine tries them."""
    from re import _constants as C
    alts: list[list[tuple]] = [[]]
    for op, av in seq:
        if op is C.BRANCH:
            opts = [a for sub in av[1] for a in _expand(sub)]
        elif op is C.SUBPATTERN:
            if av[1] or av[2]:
                raise ValueError("inline flags")
            opts = _expand(av[3])
        elif op in (C.LITERAL, C.IN):
            opts = [[("c", _class_of(op, av))]]
        elif op is C.MAX_REPEAT:
            lo, hi, sub = av
            sub = list(sub)
            if hi is not C.MAXREPEAT or lo < 1 or len(sub) != 1:
                raise ValueError("only greedy one-or-more repeats of one class")
            opts = [[("c", _class_of(*sub[0]))] * (lo - 1) + [("rep", _class_of(*sub[0]))]]
        elif op is C.AT:
            opts = [[("at", av)]]
        elif op in (C.ASSERT, C.ASSERT_NOT):
            direction, sub = av
            classes = [_class_of(o, a) for o, a in sub]
            if direction == -1 and op is C.ASSERT:
                opts = [[("lb", classes)]]
            elif direction == 1 and len(classes) == 1:
                opts = [[("la", classes[0], op is C.ASSERT_NOT)]]
            else:
                raise ValueError("unsupported assertion")
        else:
            raise ValueError(f"unsupported regex op {op}")
        alts = [a + o for a in alts for o in opts]
    return alts


def _flat_alternatives(pattern: str, anchor) -> list[tuple]:
    from re import _constants as C, _parser
    out = []
    for atoms in _expand(_parser.parse(pattern)):
        if anchor is C.AT_BEGINNING:
            if atoms[:1] != [("at", anchor)]:
                raise ValueError("a prefix alternative not anchored at the start")
            atoms = atoms[1:]
        elif anchor is C.AT_END:
            if atoms[-1:] != [("at", anchor)]:
                raise ValueError("a suffix alternative not anchored at the end")
            atoms = atoms[:-1]
        lb = atoms.pop(0)[1] if atoms and atoms[0][0] == "lb" else []
        la = atoms.pop()[1:] if atoms and atoms[-1][0] == "la" else None
        kinds = [a[0] for a in atoms]
        if not atoms or any(k != "c" for k in kinds[:-1]) or kinds[-1] not in ("c", "rep"):
            raise ValueError(f"unsupported alternative shape {kinds}")
        rep = kinds[-1] == "rep"
        if rep and la is not None:
            raise ValueError("a look-ahead after a repeat")
        out.append((lb, [a[1] for a in atoms], rep, la))
    return out


def _native_tokenizer():
    """The compiled tokenizer, or None when the extension is not built or the patterns don't fit it."""
    if kernels is None:
        return None
    from re import _constants as C
    classes: dict[tuple, int] = {}

    def cls(ranges) -> int:
        if ranges is None:
            return -1
        return classes.setdefault(tuple(sorted(ranges)), len(classes))

    try:
        families = []
        for rx, anchor in ((_SP_PREFIX_RE, C.AT_BEGINNING), (_SP_SUFFIX_RE, C.AT_END), (_SP_INFIX_RE, None)):
            families.append([([cls(c) for c in lb], [cls(c) for c in body], rep,
                              -1 if la is None else cls(la[0]), la is not None and la[1])
                             for lb, body, rep, la in _flat_alternatives(rx.pattern, anchor)])
    except ValueError as e:
        logging.getLogger(__name__).warning("compiled tokenizer not used (%s); the Python loop gives the same "
                                            "tokens, slower", e)
        return None
    unions = [cls(None if s is None else _char_ranges(s)) for s in
              (_SP_PREFIX_FIRST, _SP_SUFFIX_LAST, frozenset() if _SP_SUFFIX_LAST is None else _SP_SUFFIX_LAST_DIGIT,
               _SP_INFIX_CHARS)]
    return kernels.AffixTokenizer([list(c) for c in classes], families, *unions, _SPECIALS, _SP_URL_RE.match,
                                  _SP_MATCH_BY_FIRST)

