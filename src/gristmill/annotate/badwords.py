"""Bad-words tagger with per-language word lists, as C4 filters pages (Raffel et al. 2020, Sec. 2.2)."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field, field_validator

from gristmill.annotate.heuristics.languages import normalize_language
from gristmill.arrow import reasons_from_masks, with_column
from gristmill.step import Step, StepConfig, register

__all__ = ["BadWords", "read_word_list", "list_files"]

MAX_LINE = 1024            # longer lines of a word list are skipped (no word or phrase is that long)
MAX_WORDS = 1_000_000      # per language; LDNOOBW's largest list has ~1,400
# Languages written without spaces between words: a listed word matches anywhere in the text, as
# TFDS's c4_utils does for mC4 (its word-boundary regex is used only for the other languages).
NO_WORD_BOUNDARY = frozenset({"ja", "th", "zh", "ko", "lo", "km", "my"})


def list_files(path: Path) -> dict[str, Path]:
    """{language: file} for a word-list path: a file named by its language (LDNOOBW's layout:
    ``en``, ``de``, ``zh``... with no extension; ``en.txt`` is read as ``en``), or a folder of them."""
    p = Path(path).expanduser()
    if p.is_file():
        code = normalize_language(p.name.split(".")[0])
        if code is None:
            raise ValueError(f"{p}: name a word list by its language (LDNOOBW's 'en', 'de', 'zh'...), e.g. {p.parent / 'en'}")
        return {code: p}
    if p.is_dir():
        out = {}
        for f in sorted(p.iterdir()):
            code = normalize_language(f.name.split(".")[0]) if f.is_file() else None
            if code is not None and len(f.name.split(".")[0]) <= 3:
                out[code] = f
        if not out:
            raise ValueError(f"{p}: no word lists named by language ('en', 'de', 'zh'...) in this folder")
        return out
    raise ValueError(f"{p}: no such word list or folder")


def read_word_list(path: Path) -> list[str]:
    """One word or phrase a line, lower-cased (LDNOOBW's format); blank lines and ``#`` comments skipped."""
    from collections import Counter

    from gristmill.annotate.blocklists import bounded_lines

    words = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in bounded_lines(f, Counter(), MAX_LINE):
            w = line.strip().lower()
            if w and not w.startswith("#"):
                words.append(w)
                if len(words) >= MAX_WORDS:
                    break
    return words


@register
class BadWords(Step):
    """Count the words and phrases of a per-language list in each document (C4's bad-words filter).

    Lists are in the format of LDNOOBW ("List of Dirty, Naughty, Obscene and Otherwise Bad Words",
    github.com/LDNOOBW), the list C4 used: one entry a line, a file per language named by its code.
    gristmill ships none (only the tests' tiny neutral list, tests/support/badwords/); point
    ``lists`` at the files or folder you downloaded. Matching is case-insensitive and, as in TFDS's
    ``c4_utils``, whole-word for space-delimited languages and anywhere in the text for Chinese,
    Japanese, Thai and Korean.

    Each document is matched against the list of its language (``language``, or per document from
    ``language_column``, e.g. language_id's ``language``); a document in a language without a list
    counts 0 and gets a null ``bad_words_language``. Annotates ``bad_words_count`` (matches),
    ``bad_words_distinct`` (distinct entries matched) and ``bad_words_language``.

    ``max_bad_words`` is null (tag only) by default: C4 dropped every page with one match (set 0 to
    do that), which Dodge et al. 2021 ("Documenting Large Webtext Corpora", Sec. 5) found removes
    text about and by minority groups out of proportion; select on the columns instead.
    """

    name = "bad_words"
    thresholds = {"max_bad_words": "bad_words_count"}

    class Config(StepConfig):
        lists: list[Path] = Field(description="word-list files named by language (LDNOOBW's en, de, zh...) or folders of them")
        language: str = Field("en", description="language of every document; with language_column, the fallback")
        language_column: str | None = Field(None, description="read each document's language from this column (language_id writes 'language')")
        max_bad_words: int | None = Field(None, ge=0, description="reject documents with more matches (null: tag only; C4: 0)")

        @field_validator("lists")
        @classmethod
        def _lists_exist(cls, v):
            if not v:
                raise ValueError("give at least one word list (a file named by its language, or a folder of them)")
            for p in v:
                list_files(p)
            return v

    @classmethod
    def reads(cls, config) -> set[str]:
        return {config.language_column} if config.language_column else set()

    @classmethod
    def writes(cls, config) -> set[str]:
        return {"bad_words_count", "bad_words_distinct", "bad_words_language"}

    @classmethod
    def example_steps(cls, workdir: Path) -> list[dict]:
        d = Path(workdir) / "badwords"
        d.mkdir(parents=True, exist_ok=True)
        (d / "en").write_text("rutabaga\nkumquat\n", encoding="utf-8")
        return [{cls.name: {"lists": [str(d)]}}]

    def _automata(self):
        cached = getattr(self, "_cache", None)
        if cached is not None:
            return cached
        import ahocorasick

        words: dict[str, set[str]] = {}
        for p in self.config.lists:
            for code, f in list_files(p).items():
                words.setdefault(code, set()).update(read_word_list(f))
        autos = {}
        for code, ws in words.items():
            a = ahocorasick.Automaton()
            for w in ws:
                a.add_word(w, w)
            if len(a):
                a.make_automaton()
                autos[code] = a
        self._cache = autos
        return autos

    def annotate(self, table: pa.Table) -> pa.Table:
        c = self.config
        autos = self._automata()
        if c.language_column is None:
            langs = np.full(len(table), normalize_language(c.language), dtype=object)
        else:
            if c.language_column not in table.column_names:
                raise ValueError(f"bad_words: language_column {c.language_column!r} is missing; run language_id first "
                                 "or carry it in the input's fields:")
            # A document's own language decides, list or no list; only an unknown one falls back.
            langs = np.array([normalize_language(v) or normalize_language(c.language)
                              for v in table.column(c.language_column).to_pylist()], dtype=object)
        low = pc.utf8_lower(pc.fill_null(table.column("text"), "")).to_pylist() if len(table) else []
        count = np.zeros(len(table), np.int32)
        distinct = np.zeros(len(table), np.int32)
        lang_out: list[str | None] = []
        for i, (text, code) in enumerate(zip(low, langs.tolist())):
            a = autos.get(code)
            lang_out.append(code if a is not None else None)
            if a is None:
                continue
            boundary = code not in NO_WORD_BOUNDARY
            hits = []
            for end, w in a.iter(text):
                start = end - len(w) + 1
                if boundary and ((start > 0 and _is_word_char(text[start - 1])) or
                                 (end + 1 < len(text) and _is_word_char(text[end + 1]))):
                    continue
                hits.append(w)
            count[i] = len(hits)
            distinct[i] = len(set(hits))
        self.stats["bad_words_matches"] += int(count.sum())
        t = with_column(table, "bad_words_count", pa.array(count, pa.int32()))
        t = with_column(t, "bad_words_distinct", pa.array(distinct, pa.int32()))
        return with_column(t, "bad_words_language", pa.array(lang_out, pa.string()))

    def select(self, table: pa.Table) -> pa.Array | None:
        if self.config.max_bad_words is None:
            return None
        n = np.asarray(table.column("bad_words_count").to_numpy(zero_copy_only=False))
        return reasons_from_masks(len(table), [("too_many_bad_words", n > self.config.max_bad_words)])


_WORD = re.compile(r"\w")


def _is_word_char(ch: str) -> bool:
    # TFDS's c4_utils pattern is (?:\W|^)word(?:\W|$): a match must not touch a word character.
    return bool(_WORD.match(ch))
