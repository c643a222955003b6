"""Gopher's quality and repetition rules (Rae et al. 2021, "Scaling Language Models: Methods,
Analysis & Insights from Training Gopher", Appendix A, Table A1)."""
from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field

from gristmill.arrow import reasons_from_masks, with_column
from gristmill.step import Step, register

from .backend import BACKEND
from .batch import (_col, _duplicates, _ends_with_any, _f64, _first_appearance_ids, _i32, _n_splitlines, _np,
                    _per_doc_sum, _ratio, _split, _text_column)
from .chars import _SPLITLINES, _WS
from .languages import LanguageConfig, LanguageStep, above, below, overrides, per_row, per_row_dict
from .words import _Words, words_by_language

GOPHER_STOP_WORDS = ("the", "be", "to", "of", "and", "that", "have", "with")


@register
class GopherQuality(LanguageStep, Step):
    """Gopher's quality rules (Rae et al. 2021, App. A.1.1; DataTrove ``GopherQualityFilter``).

    Defaults are the paper's: keep documents with 50..100,000 words, mean word length 3..10
    characters, at most 0.1 "#" and at most 0.1 ellipses per word, at most 90 % of lines starting
    with a bullet and 30 % ending in an ellipsis, at least 80 % of words containing a letter, and
    at least 2 of the 8 stop words ``the be to of and that have with``.

    As in DataTrove, words are tokens of the language's word tokenizer (English: :func:`split_words`);
    the word count and mean length use words that are not pure punctuation, while the ratios divide
    by all tokens. Other languages (``language``/``language_column``) get their own words, stop words
    and FineWeb-2's thresholds (``heuristics/languages.py``); ``gopher_language`` records which applied."""

    name = "gopher_quality"
    language_out = "gopher_language"
    thresholds = {"min_doc_words": "gopher_word_count", "max_doc_words": "gopher_word_count",
                  "min_avg_word_length": "gopher_mean_word_length", "max_avg_word_length": "gopher_mean_word_length",
                  "max_symbol_word_ratio": ("gopher_hash_ratio", "gopher_ellipsis_ratio"),
                  "max_bullet_lines_ratio": "gopher_bullet_lines_ratio", "max_ellipsis_lines_ratio": "gopher_ellipsis_lines_ratio",
                  "min_alpha_words_ratio": "gopher_alpha_words_ratio", "min_stop_words": "gopher_stop_words"}

    class Config(LanguageConfig):
        min_doc_words: int | None = Field(50, description="reject documents with fewer words (not counting pure punctuation)")
        max_doc_words: int | None = Field(100_000, description="reject documents with more words")
        min_avg_word_length: float | None = Field(3, description="reject when the mean word length is below this many characters")
        max_avg_word_length: float | None = Field(10, description="reject when the mean word length is above this many characters")
        max_symbol_word_ratio: float | None = Field(0.1, description="reject when '#' or ellipses per word exceed this")
        max_bullet_lines_ratio: float | None = Field(0.9, description="reject when more than this fraction of lines start with a bullet")
        max_ellipsis_lines_ratio: float | None = Field(0.3, description="reject when more than this fraction of lines end in an ellipsis")
        min_alpha_words_ratio: float | None = Field(0.8, description="reject when fewer than this fraction of words contain a letter")
        min_stop_words: int | None = Field(2, description="reject when fewer of the stop words occur")
        stop_words: list[str] = Field(list(GOPHER_STOP_WORDS), description="the stop words counted by min_stop_words (Gopher's eight)")

    def annotate(self, table: pa.Table) -> pa.Table:
        text = _text_column(table)
        n = len(table)
        langs = self.row_languages(table)
        w = words_by_language(text, langs)
        # Per-token facts are stored once per distinct token in the vocabulary (see _Vocab).
        nonsym = w.vocab.nonsym[w.ids]
        alpha = w.vocab.alpha[w.ids]
        n_words = np.bincount(w.doc[nonsym], minlength=n)
        len_sum = np.bincount(w.doc[nonsym], weights=w.lengths[nonsym], minlength=n)
        n_alpha = np.bincount(w.doc[alpha], minlength=n)
        n_stops = np.zeros(n, np.int64)
        tok_lang = langs[w.doc] if len(w.ids) else np.zeros(0, object)
        for code in set(langs.tolist()):
            stops = list(dict.fromkeys(overrides("gopher", code, self.config.language_thresholds)
                                       .get("stop_words", self.config.stop_words)))
            stop_of = np.full(len(w.vocab.ids) + 1, -1, np.int64)
            for i, s in enumerate(stops):
                j = w.vocab.ids.get(s)
                if j is not None:
                    stop_of[j] = i
            sw = stop_of[w.ids]
            hit = (sw >= 0) & (tok_lang == code)
            seen = np.zeros((n, max(len(stops), 1)), dtype=bool)
            seen[w.doc[hit], sw[hit]] = True
            n_stops += seen.sum(axis=1)

        hashes = _np(pc.count_substring(text, "#"))
        ellipses = _np(pc.count_substring(text, "...")) + _np(pc.count_substring(text, "…"))

        pieces, counts = _split(text, _SPLITLINES)
        n_lines, _ = _n_splitlines(text, counts)
        left = pc.utf8_ltrim(pieces, characters=_WS)
        right = pc.utf8_rtrim(pieces, characters=_WS)
        bullets = _per_doc_sum((_np(pc.starts_with(left, "•")) | _np(pc.starts_with(left, "-"))).astype(np.int64), counts)
        ell_lines = _per_doc_sum(_ends_with_any(right, ("...", "…")).astype(np.int64), counts)

        t = table
        t = with_column(t, "gopher_word_count", _i32(n_words))
        t = with_column(t, "gopher_mean_word_length", _f64(_ratio(len_sum, n_words)))
        t = with_column(t, "gopher_hash_ratio", _f64(_ratio(hashes, w.counts)))
        t = with_column(t, "gopher_ellipsis_ratio", _f64(_ratio(ellipses, w.counts)))
        t = with_column(t, "gopher_bullet_lines_ratio", _f64(_ratio(bullets, n_lines)))
        t = with_column(t, "gopher_ellipsis_lines_ratio", _f64(_ratio(ell_lines, n_lines)))
        t = with_column(t, "gopher_alpha_words_ratio", _f64(_ratio(n_alpha, w.counts)))
        t = with_column(t, "gopher_stop_words", _i32(n_stops))
        return self.tag_languages(t, langs)

    def select(self, table: pa.Table) -> pa.Array:
        c, g = self.config, (lambda name: _col(table, name, self.name))
        langs = self.stored_languages(table)
        lt = c.language_thresholds
        wc, mean = g("gopher_word_count"), g("gopher_mean_word_length")
        sym = per_row(c.max_symbol_word_ratio, "max_symbol_word_ratio", langs, "gopher", lt)
        return reasons_from_masks(len(table), [
            ("too_few_words", below(wc, per_row(c.min_doc_words, "min_doc_words", langs, "gopher", lt))),
            ("too_many_words", above(wc, per_row(c.max_doc_words, "max_doc_words", langs, "gopher", lt))),
            ("short_mean_word_length", below(mean, per_row(c.min_avg_word_length, "min_avg_word_length", langs, "gopher", lt))),
            ("long_mean_word_length", above(mean, per_row(c.max_avg_word_length, "max_avg_word_length", langs, "gopher", lt))),
            ("too_many_hashes", above(g("gopher_hash_ratio"), sym)),
            ("too_many_ellipses", above(g("gopher_ellipsis_ratio"), sym)),
            ("too_many_bullet_lines", above(g("gopher_bullet_lines_ratio"),
                                            per_row(c.max_bullet_lines_ratio, "max_bullet_lines_ratio", langs, "gopher", lt))),
            ("too_many_ellipsis_lines", above(g("gopher_ellipsis_lines_ratio"),
                                              per_row(c.max_ellipsis_lines_ratio, "max_ellipsis_lines_ratio", langs, "gopher", lt))),
            ("too_few_alpha_words", below(g("gopher_alpha_words_ratio"),
                                          per_row(c.min_alpha_words_ratio, "min_alpha_words_ratio", langs, "gopher", lt))),
            ("too_few_stop_words", below(g("gopher_stop_words"), per_row(c.min_stop_words, "min_stop_words", langs, "gopher", lt))),
        ])


_MIX = np.uint64(0x9E3779B97F4A7C15)


def _ngram_hashes(ids: np.ndarray, max_n: int):
    """Yield (n, hash per start position) for n = 1..max_n; 64-bit mixing of the token ids."""
    with np.errstate(over="ignore"):
        h = (ids + np.uint64(1)) * _MIX
        h ^= h >> np.uint64(31)
        yield 1, h
        for n in range(2, max_n + 1):
            if len(h) <= 1:
                return
            h = (h[:-1] * _MIX) ^ ((ids[n - 1:] + np.uint64(1)) * np.uint64(0xBF58476D1CE4E5B9))
            h ^= h >> np.uint64(29)
            yield n, h


def _group_ids(doc: np.ndarray, h: np.ndarray) -> np.ndarray:
    """Group id per position for equal (document, n-gram hash), numbered in order of first
    appearance. Documents are contiguous, so a document's groups
    are numbered after the previous document's."""
    with np.errstate(over="ignore"):
        key = h ^ ((doc.astype(np.int64).view(np.uint64) + np.uint64(1)) * np.uint64(0xD6E8FEB86659FD93))
    return _first_appearance_ids(key)



def _repeats(pos: np.ndarray, doc: np.ndarray, h: np.ndarray):
    """Among candidate start positions ``pos`` (ascending), the n-grams that occur more than once
    in their document: (their positions, group ids in order of first appearance, count per group,
    index into ``pos`` of each group's first occurrence)."""
    g = _group_ids(doc[pos], h[pos])
    counts = np.bincount(g, minlength=1)
    first_idx = np.flatnonzero(np.diff(np.concatenate([[-1], np.maximum.accumulate(g)])) > 0)
    return g, counts, first_idx


def _top_ngram_chars(pos, doc, g, counts, first_idx, ng_len, starts, n_tokens, k, n_docs) -> np.ndarray:
    """Per document: characters covered by its most frequent k-gram (first seen wins ties), as in
    DataTrove's ``find_top_duplicate`` (Counter.most_common keeps insertion order on ties)."""
    out = np.zeros(n_docs, dtype=np.int64)
    has = n_tokens >= k
    out[has] = ng_len[starts[:-1][has]]  # no repeat: the first k-gram, counted once
    groups = np.flatnonzero(counts > 1)
    if len(groups):
        first_pos = pos[first_idx[groups]]
        gdoc = doc[first_pos]
        best = np.zeros(n_docs, dtype=np.int64)
        np.maximum.at(best, gdoc, counts[groups])
        cand = np.flatnonzero(counts[groups] == best[gdoc])
        _, firsts = np.unique(gdoc[cand], return_index=True)
        win = cand[firsts]
        out[gdoc[win]] = counts[groups[win]] * ng_len[first_pos[win]]
    return out


def _dup_ngram_chars(rep_pos, rep_g, doc, ng_len, k, n_docs) -> np.ndarray:
    """Per document: characters in repeated k-grams, counted as DataTrove's ``find_all_duplicate``
    walks (a repeat jumps k words ahead, and the k-grams it jumps over are never remembered).
    ``rep_pos`` are the positions whose k-gram occurs more than once, ``rep_g`` their groups."""
    if len(rep_pos) == 0:
        return np.zeros(n_docs, dtype=np.int64)
    key = np.sort((rep_g << 32) | rep_pos)
    grp, pos = key >> 32, key & 0xFFFFFFFF
    same = np.flatnonzero(grp[1:] == grp[:-1]) + 1
    # Each later occurrence p of a repeated k-gram, with q the previous occurrence of it: the walk
    # counts p when some earlier occurrence was visited (remembered), i.e. not jumped over.
    p_arr, q_arr = pos[same], pos[same - 1]
    prev = dict(zip(p_arr.tolist(), q_arr.tolist()))
    order = np.argsort(p_arr, kind="stable")
    p_sorted = p_arr[order]
    # Walk only the positions that could be repeats (in position order). Jumped-over positions
    # are marked in a bytearray (slice assignment), cheaper than a set of ints.
    skipped = bytearray(len(doc))
    mark = b"\x01" * (k - 1)
    cur, nxt = -1, 0
    acc = [0] * n_docs
    for p, d, ln in zip(p_sorted.tolist(), doc[p_sorted].tolist(), ng_len[p_sorted].tolist()):
        if d != cur:
            cur, nxt = d, 0
        if p < nxt:
            continue
        q = prev[p]
        while q >= 0 and skipped[q]:
            q = prev.get(q, -1)
        if q >= 0:
            acc[d] += ln
            skipped[p + 1:p + k] = mark
            nxt = p + k
    return np.asarray(acc, dtype=np.int64)


def _ngram_measures(w: "_Words", chars: np.ndarray, want_top: set[int], want_dup: set[int]) -> dict[str, np.ndarray]:
    """Gopher's n-gram measures, compiled (``_native.ngram_stats``); equal to the numpy path."""
    tops, dups = sorted(want_top), sorted(want_dup)
    top, dup = BACKEND.kernels.ngram_stats(w.ids, w.counts, w.vocab.length, tops, dups)
    out = {f"gopher_top_{k}gram_char_frac": _ratio(top[j], chars) for j, k in enumerate(tops)}
    out.update({f"gopher_dup_{k}gram_char_frac": _ratio(dup[j], chars) for j, k in enumerate(dups)})
    return out


def _ngram_measures_numpy(w: "_Words", chars: np.ndarray, want_top: set[int], want_dup: set[int]) -> dict[str, np.ndarray]:
    """Gopher's n-gram measures over the whole batch with numpy (the fallback and the reference)."""
    n = len(w.counts)
    cums = np.concatenate([[0], np.cumsum(w.lengths)])
    max_n = max(want_top | want_dup, default=0)
    results = {}
    starts = np.concatenate([[0], np.cumsum(w.counts)])
    cand = np.arange(len(w.ids))
    for k, h in _ngram_hashes(w.ids.astype(np.uint64), max_n) if max_n else ():
        if k == 1 and 1 not in want_top and 1 not in want_dup:
            # Unigram repeats would only prune the candidates for k=2, at the cost of a
            # full-size grouping pass; k=2 over every position gives the same results.
            continue
        m = len(h)
        # A k-gram can only repeat where the (k-1)-gram at the same start repeats, so each
        # size looks at the previous size's repeats only.
        cand = cand[cand < m]
        cand = cand[w.doc[cand] == w.doc[cand + k - 1]]  # not running into the next document
        g, counts, first_idx = _repeats(cand, w.doc, h)
        rep = counts[g] > 1
        if k in want_top or k in want_dup:
            joined = cums[k:] - cums[:-k] if k <= len(w.ids) else np.zeros(0, np.int64)
            if k in want_top:
                top = _top_ngram_chars(cand, w.doc, g, counts, first_idx, joined + (k - 1), starts,
                                       w.counts, k, n)
                results[f"gopher_top_{k}gram_char_frac"] = _ratio(top, chars)
            if k in want_dup:
                dup = _dup_ngram_chars(cand[rep], g[rep], w.doc, joined, k, n)
                results[f"gopher_dup_{k}gram_char_frac"] = _ratio(dup, chars)
        cand = cand[rep]
    return results


@register
class GopherRepetition(LanguageStep, Step):
    """Gopher's repetition rules (Rae et al. 2021, App. A, Table A1; DataTrove
    ``GopherRepetitionFilter``).

    Defaults are Table A1: duplicate-line and duplicate-paragraph fraction 0.30, their character
    fractions 0.20; the most frequent 2/3/4-gram may cover at most 0.20/0.18/0.16 of the
    characters; repeated 5..10-grams at most 0.15, 0.14, 0.13, 0.12, 0.11, 0.10. Character
    fractions divide by the document's length, as DataTrove does. Empty documents are dropped.
    n-grams are compared by a 64-bit hash of their token ids. Other languages (``language``/
    ``language_column``) get their own words and FineWeb-2's thresholds (``heuristics/languages.py``), which
    turn the paragraph rules and the duplicate-line character rule off."""

    name = "gopher_repetition"
    language_out = "gopher_repetition_language"
    thresholds = {"dup_line_frac": "gopher_dup_line_frac", "dup_para_frac": "gopher_dup_para_frac",
                  "dup_line_char_frac": "gopher_dup_line_char_frac", "dup_para_char_frac": "gopher_dup_para_char_frac"}

    class Config(LanguageConfig):
        dup_line_frac: float | None = Field(0.3, description="reject when more than this fraction of lines are duplicates")
        dup_para_frac: float | None = Field(0.3, description="reject when more than this fraction of paragraphs are duplicates")
        dup_line_char_frac: float | None = Field(0.2, description="reject when duplicate lines hold more than this fraction of characters")
        dup_para_char_frac: float | None = Field(0.2, description="reject when duplicate paragraphs hold more than this fraction of characters")
        top_n_grams: dict[int, float] = Field({2: 0.2, 3: 0.18, 4: 0.16}, description="n -> max fraction of characters in the most frequent n-gram")
        dup_n_grams: dict[int, float] = Field({5: 0.15, 6: 0.14, 7: 0.13, 8: 0.12, 9: 0.11, 10: 0.10}, description="n -> max fraction of characters in duplicated n-grams")

    def __init__(self, config=None):
        super().__init__(config)
        for n in [*self.config.top_n_grams, *self.config.dup_n_grams]:
            if not 1 <= n <= 32:
                raise ValueError(f"gopher_repetition: n-gram size {n} is out of range; use 1..32")

    def annotate(self, table: pa.Table) -> pa.Table:
        text = _text_column(table)
        n = len(table)
        chars = _np(pc.utf8_length(text)).astype(np.int64)
        paras, pc_counts = _split(pc.utf8_trim(text, characters=_WS), r"\n{2,}")
        p_dup, p_chars = _duplicates(paras, pc_counts)
        lines, l_counts = _split(text, r"\n+")
        l_dup, l_chars = _duplicates(lines, l_counts)
        t = table
        t = with_column(t, "gopher_dup_para_frac", _f64(_ratio(p_dup, np.where(chars > 0, pc_counts, 0))))
        t = with_column(t, "gopher_dup_para_char_frac", _f64(_ratio(p_chars, chars)))
        t = with_column(t, "gopher_dup_line_frac", _f64(_ratio(l_dup, np.where(chars > 0, l_counts, 0))))
        t = with_column(t, "gopher_dup_line_char_frac", _f64(_ratio(l_chars, chars)))

        langs = self.row_languages(table)
        w = words_by_language(text, langs)
        want_top, want_dup = set(self.config.top_n_grams), set(self.config.dup_n_grams)
        results = (_ngram_measures if BACKEND.kernels is not None else _ngram_measures_numpy)(w, chars, want_top, want_dup)
        for k in sorted(want_top):
            name = f"gopher_top_{k}gram_char_frac"
            t = with_column(t, name, _f64(results.get(name, _ratio(np.zeros(n), chars))))
        for k in sorted(want_dup):
            name = f"gopher_dup_{k}gram_char_frac"
            t = with_column(t, name, _f64(results.get(name, _ratio(np.zeros(n), chars))))
        return self.tag_languages(t, langs)

    def select(self, table: pa.Table) -> pa.Array:
        c, g = self.config, (lambda name: _col(table, name, self.name))
        langs = self.stored_languages(table)
        lt = c.language_thresholds
        rules = [("empty", np.isnan(g("gopher_dup_para_char_frac")))]
        for name, value in (("dup_para_frac", c.dup_para_frac), ("dup_para_char_frac", c.dup_para_char_frac),
                            ("dup_line_frac", c.dup_line_frac), ("dup_line_char_frac", c.dup_line_char_frac)):
            rules.append((name, above(g(f"gopher_{name}"), per_row(value, name, langs, "repetition", lt))))
        for k in sorted(c.top_n_grams):
            rules.append((f"top_{k}gram", above(g(f"gopher_top_{k}gram_char_frac"),
                                                per_row_dict(c.top_n_grams, "top_n_grams", k, langs, "repetition", lt))))
        for k in sorted(c.dup_n_grams):
            rules.append((f"dup_{k}gram", above(g(f"gopher_dup_{k}gram_char_frac"),
                                                per_row_dict(c.dup_n_grams, "dup_n_grams", k, langs, "repetition", lt))))
        return reasons_from_masks(len(table), rules)

