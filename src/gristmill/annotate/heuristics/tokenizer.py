"""spaCy's rule tokenizer loop in Python, per whitespace chunk (after spaCy 3.8 ``tokenizer.pyx``
``_split_affixes``/``_attach_tokens`` and ``_apply_special_cases``), on the rules of
:mod:`.spacy_rules`. It is the reference the compiled matcher (:mod:`.native`) is tested against,
and the fallback when the extension is not built."""
from __future__ import annotations

import re

from .spacy_rules import (_SP_AFFIX_SETS, _SP_DIGITS_RE, _SP_INFIX_RE, _SP_PREFIX_RE, _SP_SUFFIX_RE, _SP_URL_RE,
                          _SPECIALS)


def _spacy_chunk(chunk: str) -> tuple[str, ...]:
    """Tokens of one whitespace-free chunk, as spaCy's Tokenizer produces them (see above)."""
    special = _SPECIALS.get(chunk)
    if special is not None:
        return special
    toks = _spacy_affixes(chunk, _SPECIALS)
    if len(toks) > 1 and not _SP_MATCH_FIRST.isdisjoint(toks) and _SP_MATCH_TEXT_RE.search(chunk):
        return _merge_specials(toks)
    return toks


def _merge_specials(toks: tuple[str, ...]) -> tuple[str, ...]:
    """spaCy's ``_apply_special_cases``: the longest (then leftmost) token runs that spell an
    exception containing affix characters become that exception's tokens."""
    found = []
    for i, t in enumerate(toks):
        for pat in _SP_MATCH_BY_FIRST.get(t, ()):
            if toks[i:i + len(pat)] == pat:
                found.append((i, i + len(pat)))
    if not found:
        return toks
    found.sort(key=lambda se: (-(se[1] - se[0]), se[0]))
    seen: set[int] = set()
    keep = {}
    for a, b in found:
        if a not in seen and b - 1 not in seen:
            keep[a] = b
        seen.update(range(a, b))
    out: list[str] = []
    i = 0
    while i < len(toks):
        b = keep.get(i)
        if b is None:
            out.append(toks[i])
            i += 1
        else:
            out.extend(_SPECIALS["".join(toks[i:b])])
            i = b
    return tuple(out)


def _spacy_affixes(chunk: str, specials) -> tuple[str, ...]:
    """spaCy's ``_split_affixes`` then ``_attach_tokens`` on one chunk."""
    # Every prefix alternative starts with "^", so match() is search() without the scan.
    prefix_search, suffix_search = _SP_PREFIX_RE.match, _SP_SUFFIX_RE.search
    pre_first, suf_last, suf_last_digit, infix_chars = _SP_AFFIX_SETS
    digit_search = _SP_DIGITS_RE.search
    prefixes: list[str] = []
    suffixes: list[str] = []
    s, last = chunk, -1
    while s and len(s) != last:  # _split_affixes
        if s in specials:
            break
        last = len(s)
        m = prefix_search(s) if s[0] in pre_first else None
        pre_len = m.end() - m.start() if m else 0
        if pre_len:
            minus_pre = s[pre_len:]
            if minus_pre and minus_pre in specials:
                prefixes.append(s[:pre_len])
                s = minus_pre
                break
        rest = s[pre_len:] if pre_len else s
        # Suffixes are at most 7 characters (units such as "km/h", look-behinds included) except
        # a run of dots, so the scan can start near the end; look-behinds still see the text
        # before ``pos``. Same leftmost match as scanning the whole string.
        # Skipped when rest's last character cannot end a suffix (see _sp_affix_sets).
        end = rest[-1] if rest else ""
        if end in suf_last or (end in suf_last_digit and digit_search(rest)):
            m = suffix_search(rest, len(rest) - 10 if len(rest) > 10 and not rest.endswith("..") else 0)
        else:
            m = None
        suf_len = m.end() - m.start() if m else 0
        if suf_len:
            minus_suf = s[:-suf_len]
            if minus_suf and minus_suf in specials:
                suffixes.append(s[-suf_len:])
                s = minus_suf
                break
        if pre_len and suf_len and pre_len + suf_len <= len(s):
            prefixes.append(s[:pre_len])
            suffixes.append(s[-suf_len:])
            s = s[pre_len:-suf_len]
        elif pre_len:
            prefixes.append(s[:pre_len])
            s = s[pre_len:]
        elif suf_len:
            suffixes.append(s[-suf_len:])
            s = s[:-suf_len]
    out = prefixes  # _attach_tokens
    if s:
        special = specials.get(s)
        if special is not None:
            out.extend(special)
        elif s.isascii() and s.isalnum():
            # Every infix alternative consumes a character outside [A-Za-z0-9], so nothing splits;
            # the URL branch would keep s whole too. Saves both regexes on the common residue.
            out.append(s)
        elif infix_chars.isdisjoint(s):
            # No character an infix could consume: the infix pass keeps s whole, as the URL branch would.
            out.append(s)
        elif _SP_URL_RE.match(s):
            out.append(s)
        else:
            start = 0
            for m in _SP_INFIX_RE.finditer(s):
                a, b = m.start(), m.end()
                if a == 0:  # an infix at the very start is not split off
                    continue
                if a != start:
                    out.append(s[start:a])
                if a != b:
                    out.append(s[a:b])
                start = b
            if s[start:]:
                out.append(s[start:])
    out.extend(reversed(suffixes))
    return tuple(out)


def _sp_match_patterns() -> dict[str, list[tuple[str, ...]]]:
    """Exceptions that spaCy's affix rules would split (``add_special_case`` with
    ``faster_heuristics``), as the token runs the affix pass gives them, keyed by first token."""
    by_first: dict[str, list[tuple[str, ...]]] = {}
    for key in _SPECIALS:
        if _SP_PREFIX_RE.search(key) or _SP_SUFFIX_RE.search(key) or _SP_INFIX_RE.search(key):
            pat = _spacy_affixes(key, {})
            by_first.setdefault(pat[0], []).append(pat)
    return by_first


_SP_MATCH_BY_FIRST = _sp_match_patterns()
_SP_MATCH_FIRST = frozenset(_SP_MATCH_BY_FIRST)
# A chunk's tokens concatenate to the chunk (spaCy requires an exception's pieces to spell it), so
# a pattern's tokens can only occur in them where the pattern's text occurs in the chunk: one C-level
# search rules out most chunks before the token-by-token _merge_specials.
_SP_MATCH_TEXT_RE = re.compile("|".join(re.escape("".join(p)) for ps in _SP_MATCH_BY_FIRST.values() for p in ps))

# Chunk -> tokens. Text repeats its chunks ("the", "of", "it.", "self)"), so most of them are
# tokenized once per process. Cleared when it grows past the bound, so memory stays bounded.
_CHUNK_CACHE: dict[str, tuple[str, ...]] = {}
_CHUNK_CACHE_MAX = 1_000_000
# A suffix spaCy always splits off (in its punctuation/quote lists, no look-behind condition):
# "word," is ("word", ","), without running the affix loop.
_PLAIN_SUFFIX = frozenset(',;:!?)"')
_ASCII_LOWER = frozenset("abcdefghijklmnopqrstuvwxyz")


def _tokenize_chunk(ch: str) -> tuple[str, ...]:
    """:func:`_spacy_chunk` with shortcuts for the shapes that dominate text; each gives the
    same tokens as the full loop (``tests/annotate/test_heuristics.py`` checks that)."""
    special = _SPECIALS.get(ch)
    if special is not None:
        return special
    if ch.isalpha():
        # No prefix, suffix or infix rule matches letters only (the unit suffixes need a digit
        # before them), so a word that is not an exception is one token.
        return (ch,)
    body, last = ch[:-1], ch[-1]
    if body.isalpha() and (last in _PLAIN_SUFFIX or (last == "." and body[-1] in _ASCII_LOWER)):
        # One suffix ("," or "." after a lower-case letter), then the word itself: an exception
        # there is expanded, and the pair may spell an exception that needs merging.
        toks = _SPECIALS.get(body, (body,)) + (last,)
        return toks if _SP_MATCH_FIRST.isdisjoint(toks) else _merge_specials(toks)
    return _spacy_chunk(ch)
