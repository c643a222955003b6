"""Text normalization for dedup keys and shingles (shared by exact and MinHash dedup).

The default follows DataTrove's ``simplify_text`` (``datatrove/utils/text.py``), which FineWeb used
for its MinHash stage: lowercase, collapse whitespace, delete punctuation, strip diacritics, and
map every digit run to ``0``. Matching their normalization keeps their published band/row
thresholds meaningful for us.
"""
from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

__all__ = ["simplify_text", "normalize_text", "shingle_text"]

_ZEROS = re.compile(r"00+")
_NON_ASCII = re.compile(r"[^\x00-\x7f]")


def _is_punct(ch: str) -> bool:
    # Every Unicode punctuation (P*) and symbol (S*) character plus non-whitespace controls: a
    # superset of DataTrove's hand-written PUNCTUATION string, so non-English punctuation (「」、。)
    # goes the same way as ASCII.
    cat = unicodedata.category(ch)
    return cat[0] in "PS" or (cat == "Cc" and not ch.isspace())


_ASCII_PUNCT = bytes(c for c in range(128) if _is_punct(chr(c)))
_DIGIT_MAP = bytes.maketrans(b"0123456789", b"0000000000")
_ASCII_WS = bytes(c for c in range(128) if chr(c).isspace() and c != 32)
_DIGIT_WS_MAP = bytes.maketrans(b"0123456789" + _ASCII_WS, b"0000000000" + b" " * len(_ASCII_WS))


@lru_cache(maxsize=1 << 16)
def _replacement(ch: str, nfkc: bool, lower: bool, punct: bool, digits: bool, marks: bool, ws: bool = False) -> str | None:
    """What one non-ASCII character becomes (None: unchanged). Per character, this equals running
    NFKC, lowercase, digit mapping, punctuation removal and NFD/drop-marks/NFC over the text."""
    if ws and ch.isspace():
        return " "
    out = ch
    if nfkc:
        out = unicodedata.normalize("NFKC", out)
        if lower:
            out = out.lower()
    parts = []
    for c in out:
        cat = unicodedata.category(c)
        if digits and cat == "Nd":
            parts.append("0")
        elif (punct and _is_punct(c)) or (marks and cat == "Mn"):
            continue
        elif marks and not c.isascii():
            parts.append("".join(m for m in unicodedata.normalize("NFD", c) if unicodedata.category(m) != "Mn"))
        else:
            parts.append(c)
    out = "".join(parts)
    if marks and not out.isascii():
        out = unicodedata.normalize("NFC", out)
    return None if out == ch else out


def _fix_non_ascii(text: str, nfkc: bool, lower: bool, punct: bool, digits: bool, marks: bool, ws: bool = False) -> str:
    # A document has few distinct non-ASCII characters, so replacing each with str.replace (a
    # memchr-speed scan) beats whole-text unicodedata.normalize, str.translate with a dict or a
    # regex with a huge character class, which all pay for every character of the text.
    for ch in set(_NON_ASCII.findall(text)):
        rep = _replacement(ch, nfkc, lower, punct, digits, marks, ws)
        if rep is not None:
            text = text.replace(ch, rep)
    return text


def normalize_text(
    text: str,
    *,
    lowercase: bool = True,
    strip_punctuation: bool = True,
    collapse_whitespace: bool = True,
    nfkc: bool = False,
    strip_diacritics: bool = False,
    normalize_digits: bool = False,
) -> str:
    """Normalize one text; each switch is independent. Whitespace runs become one space."""
    if lowercase:
        text = text.lower()
    if not text.isascii() and (nfkc or strip_punctuation or normalize_digits or strip_diacritics):
        text = _fix_non_ascii(text, nfkc, lowercase, strip_punctuation, normalize_digits, strip_diacritics)
    if strip_punctuation or normalize_digits:
        # ASCII via bytes.translate on UTF-8 (a 256-byte table; ASCII bytes never occur inside
        # multi-byte sequences, so other characters are untouched).
        raw = text.encode("utf-8", "surrogatepass")
        raw = raw.translate(_DIGIT_MAP if normalize_digits else None, _ASCII_PUNCT if strip_punctuation else b"")
        text = raw.decode("utf-8", "surrogatepass")
    if normalize_digits and "00" in text:
        text = _ZEROS.sub("0", text)
    if collapse_whitespace:
        text = " ".join(text.split())
    return text


def simplify_text(text: str) -> str:
    """DataTrove/FineWeb ``simplify_text``: lowercase, no punctuation, no diacritics, digits -> 0,
    single spaces. Deviation: NFKC first, so full-width and compatibility forms (ｆｕｌｌ, ﬁ) match
    their plain forms."""
    return normalize_text(
        text, lowercase=True, strip_punctuation=True, collapse_whitespace=True, nfkc=True,
        strip_diacritics=True, normalize_digits=True,
    )


def shingle_text(text: str) -> str:
    """``simplify_text`` minus the whitespace collapsing: every whitespace character becomes a
    space but runs are left alone. The word splitter in ``_shingle`` treats runs as one
    separator, so the words are identical and a split/join pass over the text is saved."""
    text = text.lower()
    if not text.isascii():
        text = _fix_non_ascii(text, True, True, True, True, True, True)
    raw = text.encode("utf-8", "surrogatepass").translate(_DIGIT_WS_MAP, _ASCII_PUNCT)
    text = raw.decode("utf-8", "surrogatepass")
    return _ZEROS.sub("0", text) if "00" in text else text
