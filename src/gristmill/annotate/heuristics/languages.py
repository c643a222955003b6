"""Per-language words, stop words and thresholds for the Gopher, C4 and FineWeb rules.

FineWeb-2 (Penedo et al. 2025, "FineWeb2: One Pipeline to Scale Them All") runs the English rule
families on every language with three changes, all reproduced here:

- **Words.** A word tokenizer per language (DataTrove's ``load_word_tokenizer``, table
  ``assets/tokenizer_assignment.csv``): Chinese through jieba, Japanese through SudachiPy (split mode
  A, as ``spacy.blank("ja")``), Korean through Kiwi (surface spans of its morphemes), Thai through
  PyThaiNLP (``newmm-safe``). Space-delimited languages use spaCy's rules, whose affix (punctuation)
  rules are shared by every spaCy language and only the exception lists differ; gristmill's port of
  them (:mod:`.tokenizer`) is what English already uses, so German or Russian tokens are spaCy's
  minus German/Russian exceptions (abbreviations such as "z.B." stay one token in both).
- **Stop words and thresholds** per language from FineWeb-2's released configs
  (``configs/<lang>_<Script>.yml`` of github.com/huggingface/fineweb-2, the values its pipeline
  ``fineweb-2-pipeline.py`` passes to DataTrove): Gopher's mean word length bounds, its stop words
  (still at least 2, ``min_stop_words=2``) and alphabetic-words ratio (DataTrove's misnamed
  ``max_non_alpha_words_ratio``, a minimum); Gopher repetition's duplicate-line fraction and n-gram
  fractions; FineWeb's line-punctuation and newline-per-word ratios.
- **Rules off.** That pipeline turns off Gopher's paragraph rules and duplicate-line character
  fraction (``dup_para_frac=0, dup_line_char_frac=0, dup_para_char_frac=0``: Trafilatura output has
  few paragraphs), FineWeb's short-line rule (``short_line_thr=999``), and raises FineWeb's
  duplicate-character threshold to 0.1 (0.01 for English). The overrides below carry those too.

C4 is not part of FineWeb-2; its per-language changes here are gristmill's: words per line count the
language's words (a Chinese line is one whitespace "word"), a line may end with the language's
sentence-final marks (。！？ and closing brackets/quotes such as 」), and Thai, which has no sentence
punctuation and writes a space where a sentence or clause ends (Royal Institute spacing rules), has
the terminal-punctuation rule off and counts sentences as space-separated runs.

English keeps each step's configured defaults (the papers' values). A step's flat thresholds apply
to documents in any language without an entry; an entry's value wins for its language; a threshold
set to null in the recipe is off for every language.
"""
from __future__ import annotations

import re
import threading
import unicodedata
from dataclasses import dataclass, field

from typing import Any, ClassVar

import numpy as np
import pyarrow as pa
from pydantic import Field, model_validator

from gristmill.step import StepConfig

from .chars import _TERMINAL

__all__ = ["LanguageRules", "RULES", "SEGMENTER_PACKAGES", "normalize_language", "segment", "rules_for",
           "step_packages", "resolve_languages"]

# Segmenter -> {import name: pip requirement}; the recipe check names a missing one with its pip command.
SEGMENTER_PACKAGES: dict[str, dict[str, str]] = {
    "spacy": {},
    "jieba": {"jieba": "jieba>=0.42"},
    "sudachi": {"sudachipy": "sudachipy>=0.6", "sudachidict_core": "sudachidict-core"},
    "kiwi": {"kiwipiepy": "kiwipiepy>=0.17"},
    "thai": {"pythainlp": "pythainlp>=5"},
}

# FineWeb-2's settings for every non-English language (fineweb-2-pipeline.py, step 5).
_FW2_REPETITION_OFF = {"dup_para_frac": None, "dup_line_char_frac": None, "dup_para_char_frac": None}
_FW2_FINEWEB = {"short_line_thr": None, "char_duplicates_ratio": 0.1}
_CJK_END = ("。", "！", "？", "．", "｡", "」", "』", "）", "”", "’", "!", "?", ".", '"', "'")


@dataclass(frozen=True)
class LanguageRules:
    """What the rule families need to know about one language. ``gopher``, ``repetition``,
    ``fineweb`` and ``c4`` override the steps' config fields of the same names for documents in this
    language; ``source`` says where the values come from."""

    code: str
    segmenter: str
    stop_words: tuple[str, ...]
    gopher: dict = field(default_factory=dict)
    repetition: dict = field(default_factory=dict)
    fineweb: dict = field(default_factory=dict)
    c4: dict = field(default_factory=dict)
    c4_line_ends: tuple[str, ...] | None = None  # None: C4's (". ? ! \" '")
    space_ends_sentence: bool = False
    source: str = ""


def _fw2(code, seg, stop, *, min_len, max_len, alpha, dup_line, top, dup, punct, newline, ends=None, space=False):
    """One language from FineWeb-2's ``configs/<lang>.yml`` (values as published)."""
    return LanguageRules(
        code=code, segmenter=seg, stop_words=tuple(stop),
        gopher={"min_avg_word_length": min_len, "max_avg_word_length": max_len, "min_alpha_words_ratio": alpha,
                "min_stop_words": 2, "stop_words": list(stop)},
        repetition={**_FW2_REPETITION_OFF, "dup_line_frac": dup_line, "top_n_grams": dict(zip((2, 3, 4), top)),
                    "dup_n_grams": dict(zip(range(5, 11), dup))},
        fineweb={**_FW2_FINEWEB, "line_punct_thr": punct, "new_line_ratio": newline},
        c4={"filter_no_terminal_punct": False} if space else {},
        c4_line_ends=ends, space_ends_sentence=space,
        source=f"FineWeb-2 configs/{_FW2_FILE[code]}.yml",
    )


# The FineWeb-2 config file each language's values come from.
_FW2_FILE = {"de": "deu_Latn", "fr": "fra_Latn", "es": "spa_Latn", "it": "ita_Latn", "nl": "nld_Latn", "pt": "por_Latn",
             "ru": "rus_Cyrl", "zh": "cmn_Hani", "ja": "jpn_Jpan", "ko": "kor_Hang", "th": "tha_Thai"}
RULES: dict[str, LanguageRules] = {r.code: r for r in (
    _fw2("de", "spacy", "der und die in von im den des mit das er dem als wurde für".split(),
         min_len=0, max_len=15, alpha=0.774, dup_line=0.263, top=(0.169, 0.153, 0.137),
         dup=(0.141, 0.134, 0.126, 0.117, 0.108, 0.098), punct=0.0, newline=0.152),
    _fw2("fr", "spacy", "de la le et à en l' des du les est d' un une il dans par au".split(),
         min_len=2, max_len=11, alpha=0.812, dup_line=0.264, top=(0.161, 0.149, 0.134),
         dup=(0.15, 0.141, 0.131, 0.121, 0.111, 0.1), punct=0.1, newline=0.185),
    _fw2("es", "spacy", "de la en el y a que del los se por un con una las su".split(),
         min_len=4, max_len=14, alpha=0.825, dup_line=0.265, top=(0.077, 0.097, 0.112),
         dup=(0.152, 0.137, 0.123, 0.114, 0.107, 0.099), punct=0.3, newline=0.171),
    _fw2("it", "spacy", "di e il la in a del che è della un per nel l' con da i una".split(),
         min_len=3, max_len=21, alpha=0.807, dup_line=0.246, top=(0.198, 0.156, 0.133),
         dup=(0.144, 0.136, 0.127, 0.118, 0.109, 0.1), punct=0.025, newline=0.2),
    _fw2("nl", "spacy", "de van in het een en is op voor met door zijn werd hij uit".split(),
         min_len=3, max_len=16, alpha=0.828, dup_line=0.333, top=(0.093, 0.117, 0.14),
         dup=(0.177, 0.16, 0.145, 0.133, 0.123, 0.112), punct=0.238, newline=0.194),
    _fw2("pt", "spacy", "de a e o em do da que um no uma com para na é foi".split(),
         min_len=3, max_len=13, alpha=0.814, dup_line=0.325, top=(0.093, 0.117, 0.139),
         dup=(0.19, 0.172, 0.154, 0.142, 0.131, 0.12), punct=0.154, newline=0.23),
    _fw2("ru", "spacy", "в и на с года по году из был к не от что за для его как а он также до после".split(),
         min_len=3, max_len=11, alpha=0.713, dup_line=0.322, top=(0.184, 0.164, 0.146),
         dup=(0.168, 0.156, 0.145, 0.133, 0.121, 0.109), punct=0.231, newline=0.139),
    _fw2("zh", "jieba", "的 年 在 月 是 和 日 了 於 · 為 有 被 人 中 为 他 與 後 也 而 由".split(),
         min_len=1, max_len=5, alpha=0.735, dup_line=0.287, top=(0.256, 0.201, 0.171),
         dup=(0.198, 0.182, 0.167, 0.154, 0.14, 0.127), punct=0.106, newline=0.178, ends=_CJK_END),
    _fw2("ja", "sudachi", "の に を は た て が と で 年 し ・ 月 れ さ".split(),
         min_len=1, max_len=5, alpha=0.759, dup_line=0.375, top=(0.121, 0.129, 0.145),
         dup=(0.307, 0.283, 0.264, 0.248, 0.234, 0.223), punct=0.167, newline=0.162, ends=_CJK_END),
    _fw2("ko", "kiwi", "의 다 이 는 에 을 한 년 하 은 를 했 고 에서 가 있 으로 인 월 로 되".split(),
         min_len=1, max_len=6, alpha=0.791, dup_line=0.374, top=(0.282, 0.228, 0.185),
         dup=(0.201, 0.184, 0.168, 0.154, 0.14, 0.127), punct=0.062, newline=0.196),
    _fw2("th", "thai", "ใน ที่ และ ของ เป็น มี การ ได้".split(),
         min_len=2, max_len=10, alpha=0.9, dup_line=0.349, top=(0.221, 0.197, 0.162),
         dup=(0.185, 0.168, 0.152, 0.137, 0.124, 0.111), punct=0.0, newline=0.153, space=True),
)}

# Codes the language column may carry for the languages above: ISO 639-3 and FineWeb-2/GlotLID
# "<code>_<Script>" labels, locale forms such as zh_CN / pt-BR.
_ALIASES = {"deu": "de", "ger": "de", "fra": "fr", "fre": "fr", "spa": "es", "ita": "it", "nld": "nl", "dut": "nl",
            "por": "pt", "rus": "ru", "cmn": "zh", "zho": "zh", "chi": "zh", "jpn": "ja", "kor": "ko", "tha": "th",
            "eng": "en"}
_CODE_RE = re.compile(r"^[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{2,8})*$")


def normalize_language(value) -> str | None:
    """``"zh_CN"``, ``"cmn_Hani"``, ``"pt-BR"``, ``"DE"`` -> the two-letter code used here; None for
    anything that is not a language code (null, "", junk)."""
    if not isinstance(value, str) or not _CODE_RE.match(value.strip()):
        return None
    base = re.split(r"[-_]", value.strip())[0].lower()
    return _ALIASES.get(base, base)


def rules_for(code: str | None) -> LanguageRules | None:
    return RULES.get(code) if code else None


def resolve_languages(step: str, language: str, languages: list[str] | None, from_column: bool) -> set[str]:
    """The languages a configuration may meet (for packages and checks); fails loudly on a code
    gristmill has no rules for, listing those it has."""
    known = sorted(["en", *RULES])
    want = {language} | (set(languages) if languages is not None else (set(RULES) if from_column else set()))
    bad = sorted(c for c in want if normalize_language(c) != c or (c != "en" and c not in RULES))
    if bad:
        raise ValueError(f"{step}: no word rules for language {', '.join(map(repr, bad))}; known: {', '.join(known)} "
                         "(documents in other languages are judged by the step's own thresholds when they come from "
                         "language_column)")
    return want


def step_packages(step: str, language: str, languages: list[str] | None, from_column: bool) -> dict[str, str]:
    """{import name: pip requirement} of the segmenters a configuration needs."""
    try:
        want = resolve_languages(step, language, languages, from_column)
    except ValueError:
        return {}  # the config check names the bad code
    out: dict[str, str] = {}
    for code in sorted(want):
        r = RULES.get(code)
        if r is not None:
            out.update(SEGMENTER_PACKAGES[r.segmenter])
    return out


class LanguageConfig(StepConfig):
    """The language fields every rule step's config shares (see the module docstring)."""

    language: str = Field("en", description="ISO 639-1 code of every document's language; with language_column, the fallback")
    language_column: str | None = Field(None, description="read each document's language from this column (language_id writes 'language')")
    languages: list[str] | None = Field(None, description="with language_column: languages given their own rules (null: all known); only their segmenters are needed")
    language_thresholds: dict[str, dict[str, Any]] | None = Field(
        None, description="per-language overrides {lang: {field: value}} (null: FineWeb-2's published values); a given table replaces the built-in one")

    @model_validator(mode="after")
    def _known_languages(self):
        resolve_languages("language", self.language, self.languages, self.language_column is not None)
        fields = set(type(self).model_fields) - set(LanguageConfig.model_fields)
        for code, ov in (self.language_thresholds or {}).items():
            if code != "en" and code not in RULES:
                raise ValueError(f"language_thresholds: no word rules for language {code!r}; known: en, {', '.join(sorted(RULES))}")
            bad = sorted(set(ov) - fields)
            if bad:
                raise ValueError(f"language_thresholds.{code}: unknown field {', '.join(map(repr, bad))}; "
                                 f"fields: {', '.join(sorted(fields))}")
        return self


class LanguageStep:
    """Mixin for the rule steps: the packages, columns and per-row language of a LanguageConfig.
    ``language_out`` is the column the step records each document's rule language in, so
    ``gristmill select`` re-applies per-language thresholds without the recipe's language input."""

    language_out: ClassVar[str] = ""

    @classmethod
    def packages(cls, config) -> dict[str, str]:
        return {**dict(cls.requires), **step_packages(cls.name, config.language, config.languages,
                                                      config.language_column is not None)}

    @classmethod
    def reads(cls, config) -> set[str]:
        return {config.language_column} if config.language_column else set()

    def row_languages(self, table: pa.Table) -> np.ndarray:
        c = self.config
        return doc_languages(table, c.language, c.language_column, c.languages)

    def tag_languages(self, table: pa.Table, langs: np.ndarray) -> pa.Table:
        """Add ``language_out`` when the configuration involves a language (English-only runs keep
        the schema they always had)."""
        c = self.config
        if c.language_column is None and c.language == "en":
            return table
        from gristmill.arrow import with_column
        return with_column(table, self.language_out, pa.array(langs.tolist(), pa.string()))

    def stored_languages(self, table: pa.Table) -> np.ndarray:
        """The languages ``annotate`` recorded (outputs written before the column existed: the config's)."""
        if self.language_out in table.column_names:
            vals = table.column(self.language_out).to_pylist()
            return np.array([v if v is not None else self.config.language for v in vals], dtype=object)
        return np.full(len(table), self.config.language, dtype=object)


def doc_languages(table: pa.Table, language: str, column: str | None, languages: list[str] | None) -> np.ndarray:
    """Per row, the language code whose rules apply: the row's ``column`` value where it names a
    language in ``languages`` (default: every language with rules, and English), else ``language``."""
    n = len(table)
    out = np.full(n, language, dtype=object)
    if column is None:
        return out
    if column not in table.column_names:
        raise ValueError(f"language_column {column!r} is missing; run language_id first or carry it in the input's fields:")
    allowed = set(languages) if languages is not None else {"en", *RULES}
    vals = table.column(column).to_pylist()
    cache: dict = {}
    for i, v in enumerate(vals):
        c = cache.get(v, 0)
        if c == 0:
            c = cache[v] = normalize_language(v)
        if c in allowed:
            out[i] = c
    return out


def overrides(step_key: str, code: str, table: dict[str, dict] | None) -> dict:
    """The threshold overrides of one language for one rule family (``gopher``, ``repetition``,
    ``fineweb``, ``c4``): the recipe's ``language_thresholds`` when given, else the built-in table."""
    if table is not None:
        return dict(table.get(code, {}))
    r = RULES.get(code)
    return dict(getattr(r, step_key)) if r is not None else {}


def per_row(base, name: str, langs: np.ndarray, family: str, table: dict | None) -> np.ndarray | None:
    """The threshold ``name`` for every row: the config's value ``base``, replaced by the row
    language's override where there is one; NaN where that override is null (rule off for the
    language). None when the config sets it to null (off for every language). Steps pass
    ``config.<name>`` itself, so `gristmill select` sees which parameters their select reads."""
    if base is None:
        return None
    out = np.full(len(langs), float(base))
    for code in set(langs.tolist()):
        ov = overrides(family, code, table)
        if name in ov:
            v = ov[name]
            out[langs == code] = np.nan if v is None else float(v)
    return out


def per_row_dict(base: dict, name: str, key, langs: np.ndarray, family: str, table: dict | None) -> np.ndarray:
    """As :func:`per_row` for one entry ``key`` of a dict-valued threshold (Gopher's n-gram tables)."""
    out = np.full(len(langs), float(base[key]))
    for code in set(langs.tolist()):
        ov = overrides(family, code, table).get(name)
        if ov is not None and key in ov:
            out[langs == code] = np.nan if ov[key] is None else float(ov[key])
    return out


def flag_per_row(config, name: str, langs: np.ndarray, family: str, table: dict | None) -> np.ndarray:
    """A boolean option per row (a C4 rule switch), with per-language overrides."""
    out = np.full(len(langs), bool(getattr(config, name)))
    for code in set(langs.tolist()):
        ov = overrides(family, code, table)
        if name in ov:
            out[langs == code] = bool(ov[name])
    return out


def above(values: np.ndarray, thr: np.ndarray | None) -> np.ndarray:
    """values > thr where the threshold is set (NaN thresholds never reject)."""
    if thr is None:
        return np.zeros(len(values), bool)
    with np.errstate(invalid="ignore"):
        return np.asarray(values, float) > thr


def below(values: np.ndarray, thr: np.ndarray | None) -> np.ndarray:
    if thr is None:
        return np.zeros(len(values), bool)
    with np.errstate(invalid="ignore"):
        return np.asarray(values, float) < thr


# --- segmenters -------------------------------------------------------------------------------

_SEG_LOCK = threading.Lock()
_SEGMENTERS: dict[str, object] = {}
# Sudachi refuses inputs over ~49 KB; every segmenter gets pieces of at most this many characters,
# cut at line breaks (or hard, for a line longer than that), so no document is too long for one.
_PIECE_CHARS = 8_000


def _pieces(text: str):
    start, n = 0, len(text)
    while start < n:
        end = min(n, start + _PIECE_CHARS)
        if end < n:
            cut = text.rfind("\n", start, end)
            if cut > start:
                end = cut + 1
        yield text[start:end]
        start = end


def _make(seg: str):
    if seg == "jieba":
        import logging

        import jieba
        jieba.setLogLevel(logging.WARNING)
        tk = jieba.Tokenizer()
        tk.initialize()
        return lambda s: tk.lcut(s, HMM=True)
    if seg == "sudachi":
        from sudachipy import Dictionary, SplitMode
        tk = Dictionary(dict="core").tokenizer(mode=SplitMode.A)
        return lambda s: [m.surface() for m in tk.tokenize(s)]
    if seg == "kiwi":
        from kiwipiepy import Kiwi
        kiwi = Kiwi()
        # Kiwi stalls on very long digit runs (DataTrove strips runs of 20+ digits/commas first).
        digits = re.compile(r"[0-9,]{20,}")
        return lambda s: [t for s2 in [digits.sub(" ", s)] for t in (s2[k.start:k.start + k.len] for k in kiwi.tokenize(s2))]
    if seg == "thai":
        from pythainlp.tokenize import word_tokenize
        return lambda s: word_tokenize(s, engine="newmm-safe", keep_whitespace=False)
    raise ValueError(f"unknown segmenter {seg!r}")


def _segmenter(seg: str):
    f = _SEGMENTERS.get(seg)
    if f is None:
        with _SEG_LOCK:
            f = _SEGMENTERS.get(seg)
            if f is None:
                f = _SEGMENTERS[seg] = _make(seg)
    return f


# The last batch's words per (language, text): the rule steps usually run one after another on
# the same batch, so each text is segmented once.
_SEG_CACHE: dict[tuple[str, str], list[str]] = {}


def segment(texts: list[str], code: str) -> list[list[str]]:
    """Words of each text in language ``code`` (whitespace dropped, as DataTrove's ``strip_strings``).
    Only for languages whose segmenter is not spaCy's rules."""
    global _SEG_CACHE
    seg = RULES[code].segmenter
    f = _segmenter(seg)
    fresh: dict[tuple[str, str], list[str]] = {}
    out = []
    for t in texts:
        key = (code, t)
        toks = _SEG_CACHE.get(key) or fresh.get(key)
        if toks is None:
            toks = [w.strip() for piece in _pieces(t) for w in f(piece)]
            toks = [w for w in toks if w]
        fresh[key] = toks
        out.append(toks)
    _SEG_CACHE = fresh
    return out


_LINE_END_CACHE: dict = {}


def line_end_ok(line: str, code: str) -> bool:
    r = RULES.get(code)
    ends = r.c4_line_ends if r is not None and r.c4_line_ends else (".", "?", "!", '"', "'")
    return line.endswith(ends) and not line.endswith("...")


def is_sentence_end(tok: str) -> bool:
    return bool(tok) and all(c in _TERMINAL for c in tok)


def is_punct(tok: str) -> bool:
    return all(unicodedata.category(c).startswith("P") for c in tok)
