"""C4's line and page rules (Raffel et al. 2020, "Exploring the Limits of Transfer Learning",
Sec. 2.2), with spaCy's sentencizer re-created over the shared token ids."""
from __future__ import annotations

import re

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field

from gristmill.arrow import TEXT_TYPE, reasons_from_masks, with_column
from gristmill.step import Step, register

from .batch import _col, _ends_with_any, _i32, _n_splitlines, _np, _split, _text_column
from .chars import _SENT_END, _SPLITLINES, _WS
from .languages import RULES, LanguageConfig, LanguageStep, below, flag_per_row, per_row, segment
from .words import (_VOCAB_LOCK, _batch_piece_ids, _is_punct, _vocab, _Vocab, line_token_ids, remember_tokens,
                    split_words)

_CITATION = r"\[\d*]|\[edit]|\[citation needed]"
_C4_END = (".", "?", "!", '"', "'")
_POLICY = ("terms of use", "privacy policy", "cookie policy", "uses cookies", "use of cookies", "use cookies")


def count_sentences(lines_text: str) -> int:
    """Sentences in newline-separated, non-empty lines, counted like spaCy's rule-based
    ``sentencizer`` (which DataTrove's C4 filter runs on every line): a sentence ends after a
    sentence-final punctuation token once a token that is not punctuation follows."""
    return _sentences_and_words(lines_text)[0]


def _sentences_and_words(lines_text: str) -> tuple[int, list[str]]:
    if not lines_text:
        return 0, []
    n, words = 0, []
    for line in lines_text.split("\n"):
        n, seen = n + 1, False
        toks = split_words(line)
        words.extend(toks)
        for tok in toks:
            if tok in _SENT_END:
                seen = True
            elif seen and not _is_punct(tok):
                n, seen = n + 1, False
    return n, words


def _sentence_breaks(ids: np.ndarray, line_start: np.ndarray, vocab: _Vocab) -> np.ndarray:
    """Vectorised sentencizer loop of :func:`_sentences_and_words`: True at each token that opens
    a new sentence inside its line. That loop sets ``seen`` at a sentence-final token and, at the
    next token that is not punctuation, counts a sentence and clears ``seen``; so token i opens a
    sentence exactly when it is a word (not punctuation, not final) and the last final token
    before it in its line comes after the last word before it. ``line_start`` is, per token, the
    index of its line's first token."""
    if len(ids) == 0:
        return np.zeros(0, bool)
    end = vocab.end[ids]
    word = ~vocab.punct[ids] & ~end
    idx = np.arange(len(ids))
    last_end = np.maximum.accumulate(np.where(end, idx, -1))
    last_word = np.maximum.accumulate(np.where(word, idx, -1))
    last_word_before = np.concatenate([[-1], last_word[:-1]])
    return word & (last_end >= line_start) & (last_end > last_word_before)


def _count_sentences_lines(lines: pa.Array, line_doc: np.ndarray, joined: list[str], tokens=None) -> np.ndarray:
    """:func:`count_sentences` of the documents ``"\\n".join`` of their kept lines gives
    (``joined``), from those lines (no line holds a "\\n", so they are ``s.split("\\n")``):
    tokenized in one batch (see :func:`_batch_piece_ids`) unless ``tokens`` gives a callable
    returning their (flat ids, tokens per line) under the vocabulary lock, sentencizer on the ids.
    Each joined document's ids go to the token cache, as the next steps tokenize that text again."""
    n_docs = len(joined)
    empty = np.fromiter((not s for s in joined), bool, n_docs)
    n_lines = np.where(empty, 0, np.bincount(line_doc, minlength=n_docs))
    with _VOCAB_LOCK:
        vocab = _vocab()
        ids, line_len = tokens(vocab) if tokens is not None else _batch_piece_ids(lines, vocab)
        line_first = np.cumsum(line_len) - line_len
        breaks = _sentence_breaks(ids, np.repeat(line_first, line_len), vocab)
        doc_tok = np.bincount(line_doc, weights=line_len, minlength=n_docs).astype(np.int64)
        remember_tokens(joined, np.split(ids, np.cumsum(doc_tok)[:-1]))
    tok_doc = np.repeat(np.arange(n_docs), doc_tok)
    return n_lines + np.bincount(tok_doc[breaks], minlength=n_docs)


def _join_lines(pieces: pa.Array, counts: np.ndarray, keep: np.ndarray) -> pa.Array:
    """Re-assemble each document from its kept lines, joined by "\\n" (as :data:`TEXT_TYPE`).

    Arrow's ``binary_join`` has kernels for ``list<string>`` only, not for the readers'
    ``large_string``; the lines are joined as ``string`` (32-bit offsets) and the result cast back.
    A batch whose kept lines reach 2 GiB is joined in halves, so the cast never overflows."""
    n = len(counts)
    doc = np.repeat(np.arange(n), counts)
    kept = pieces.filter(pa.array(keep))
    kept_counts = np.bincount(doc[keep], minlength=n)
    n_bytes = int(pc.sum(pc.binary_length(kept)).as_py() or 0) + len(kept) if len(kept) else 0
    if n_bytes >= _JOIN_MAX_BYTES and n > 1:
        h = n // 2
        split = int(counts[:h].sum())
        return pa.concat_arrays([_join_lines(pieces.slice(0, split), counts[:h], keep[:split]),
                                 _join_lines(pieces.slice(split), counts[h:], keep[split:])])
    offsets = pa.array(np.concatenate([[0], np.cumsum(kept_counts)]).astype(np.int32))
    lists = pa.ListArray.from_arrays(offsets, kept.cast(pa.string()))
    return pc.binary_join(lists, "\n").cast(TEXT_TYPE)


_JOIN_MAX_BYTES = 2**31 - 1  # string's 32-bit offsets


@register
class C4Quality(LanguageStep, Step):
    """C4's line and page rules (Raffel et al. 2020, Sec. 2.2; the reference code is TFDS
    ``c4_utils.py``; parity target DataTrove ``C4QualityFilter``).

    Per line: drop lines with a word over 1000 characters, without terminal punctuation
    (``. ? ! " '``, not ``...``), with fewer than 3 words, mentioning "javascript", or naming a
    cookie/terms-of-use policy; Wikipedia citation marks are removed first. Per page: drop pages that
    contain "lorem ipsum" or "{" on a surviving line, or fewer than 5 sentences after line removal.
    ``filter_no_terminal_punct`` is on as in C4 and DataTrove; FineWeb (Penedo et al. 2024) turned
    it off. The bad-words list of C4 is a separate concern and is not applied here.

    ``annotate`` rewrites ``text`` to the surviving lines (as C4 did) for documents this step keeps;
    documents it rejects keep their original text so the rejection can be inspected.

    Other languages (``language``/``language_column``, see ``heuristics/languages.py``): words per line and the
    long-word check use the language's words, lines may end in its sentence-final marks, and
    sentences are counted on its words; Thai has the terminal-punctuation rule off and counts
    space-separated runs as sentences. ``c4_language`` records the language each document was judged in."""

    name = "c4_quality"
    language_out = "c4_language"
    thresholds = {"min_num_sentences": "c4_sentences"}

    class Config(LanguageConfig):
        remove_citations: bool = Field(True, description="remove Wikipedia citation marks like [1] before the line rules")
        filter_no_terminal_punct: bool = Field(True, description="drop lines that do not end in terminal punctuation (C4; FineWeb turned it off)")
        min_words_per_line: int | None = Field(3, description="drop lines with fewer words")
        max_word_length: int | None = Field(1000, description="drop lines holding a word longer than this many characters")
        filter_javascript: bool = Field(True, description="drop lines mentioning javascript")
        filter_policy: bool = Field(True, description="drop lines naming a cookie / terms-of-use / privacy policy")
        filter_lorem_ipsum: bool = Field(True, description="reject pages containing 'lorem ipsum'")
        filter_curly_bracket: bool = Field(True, description="reject pages with '{' on a surviving line (code)")
        min_num_sentences: int | None = Field(5, description="reject pages with fewer sentences after line removal")
        rewrite_text: bool = Field(True, description="replace text by the surviving lines for kept documents")

    def annotate(self, table: pa.Table) -> pa.Table:
        c = self.config
        text = _text_column(table)
        n = len(table)
        pieces, counts = _split(text, _SPLITLINES)
        _, ends = _n_splitlines(text, counts)
        ok = np.ones(len(pieces), dtype=bool)
        last = np.cumsum(counts) - 1
        ok[last[ends & (counts > 0)]] = False  # the "" after a final line break is no line
        line = unedited = pc.utf8_trim(pieces, characters=_WS)
        # Whitespace-separated words of the trimmed line: Arrow's whitespace split is str.split()'s
        # (see _batch_piece_ids) and ~5x faster than counting regex matches; a trimmed line has
        # no leading/trailing "" piece, except the empty line, which splits to [""].
        n_words = (_np(pc.list_value_length(pc.utf8_split_whitespace(line))).astype(np.int64)
                   - (_np(pc.utf8_length(line)) == 0))
        doc = np.repeat(np.arange(n), counts)
        langs = self.row_languages(table)
        line_lang = langs[doc]
        lt = c.language_thresholds
        # Lines of documents whose language has its own segmenter: their words, not whitespace runs.
        seg_codes = [code for code in set(langs.tolist()) if code in RULES and RULES[code].segmenter != "spacy"]
        seg_words: dict[int, list[str]] = {}
        for code in seg_codes:
            idx = np.flatnonzero((line_lang == code) & ok)
            for i, toks in zip(idx.tolist(), segment(line.take(pa.array(idx, pa.int64())).to_pylist(), code)):
                seg_words[i] = toks
                n_words[i] = sum(1 for t in toks if not _is_punct(t))
        alive = ok.copy()
        if c.max_word_length is not None:
            long_idx = np.nonzero(_np(pc.utf8_length(line)) > c.max_word_length)[0]
            for i in long_idx.tolist():  # rare: only lines longer than the limit are looked at
                words = seg_words[i] if i in seg_words else line[i].as_py().split()
                if max(map(len, words), default=0) > c.max_word_length:
                    alive[i] = False
        if c.remove_citations:
            line = pc.replace_substring_regex(line, _CITATION, "")
        term_on = flag_per_row(c, "filter_no_terminal_punct", langs, "c4", lt)[doc]
        if term_on.any():
            term_ok = _ends_with_any(line, _C4_END) & ~_np(pc.ends_with(line, "..."))
            for code in set(langs.tolist()):
                ends = RULES[code].c4_line_ends if code in RULES else None
                if ends:
                    sel = np.flatnonzero(line_lang == code)
                    sub = line.take(pa.array(sel, pa.int64()))
                    term_ok[sel] = _ends_with_any(sub, ends) & ~_np(pc.ends_with(sub, "..."))
            alive &= term_ok | ~term_on
        min_words = per_row(c.min_words_per_line, "min_words_per_line", langs, "c4", lt)
        if min_words is not None:
            alive &= ~below(n_words, min_words[doc])
        low = pc.utf8_lower(line)
        lorem = alive & _np(pc.match_substring(low, "lorem ipsum")) if c.filter_lorem_ipsum else np.zeros_like(alive)
        # "javascript" and the policy phrases in one pass over the lines (one regex alternation
        # of literals instead of a substring search per phrase).
        banned = (["javascript"] if c.filter_javascript else []) + (list(_POLICY) if c.filter_policy else [])
        if banned:
            alive &= ~_np(pc.match_substring_regex(low, "|".join(map(re.escape, banned))))
        curly = alive & _np(pc.match_substring(line, "{")) if c.filter_curly_bracket else np.zeros_like(alive)
        joined = _join_lines(line, counts, alive)
        joined_py = joined.to_pylist()
        sentences = np.zeros(n, np.int64)
        if c.min_num_sentences is not None:
            # The kept lines' tokens come from the documents' ids the earlier steps cached (a line
            # break is whitespace, so a line's tokens are a run of its document's); only lines a
            # citation was cut from are split again.
            edited = _np(pc.not_equal(unedited, line)) if c.remove_citations else np.zeros(len(alive), bool)
            texts_py = text.to_pylist()
            sentences = _count_sentences_lines(
                line.filter(pa.array(alive)), doc[alive], joined_py,
                tokens=lambda vocab: line_token_ids(texts_py, counts, line, alive, edited, vocab))
            if seg_codes:
                sentences = self._segmented_sentences(sentences, line, doc, alive, langs, seg_codes)
        removed = np.bincount(doc[ok & ~alive], minlength=n)
        self.stats["lines_removed"] += int(removed.sum())

        t = table
        t = with_column(t, "c4_lorem_ipsum", pa.array(np.bincount(doc[lorem], minlength=n) > 0, pa.bool_()))
        t = with_column(t, "c4_curly_bracket", pa.array(np.bincount(doc[curly], minlength=n) > 0, pa.bool_()))
        t = with_column(t, "c4_sentences", _i32(sentences))
        t = with_column(t, "c4_lines_removed", _i32(removed))
        t = self.tag_languages(t, langs)
        if c.rewrite_text:
            keep = pc.is_null(self.select(t))
            new = pc.utf8_trim(joined, characters=_WS)
            t = with_column(t, "text", pc.if_else(keep, new, text))
        return t

    @staticmethod
    def _segmented_sentences(sentences, line, doc, alive, langs, seg_codes):
        """Sentences of the documents in segmented languages, on their words: the sentencizer rule
        of :func:`count_sentences` (a sentence ends at a final mark once a word follows), or, for a
        language that ends sentences with a space (Thai), one per space-separated run."""
        out = sentences.copy()
        for code in seg_codes:
            rows = np.flatnonzero(langs == code)
            out[rows] = 0
            idx = np.flatnonzero(alive & (langs[doc] == code))
            texts = line.take(pa.array(idx, pa.int64())).to_pylist()
            if RULES[code].space_ends_sentence:
                counts = [max(1, len(t.split())) for t in texts]
            else:
                counts = []
                for toks in segment(texts, code):
                    k, seen = 1, False
                    for tok in toks:
                        if tok in _SENT_END or all(ch in _SENT_END for ch in tok):
                            seen = True
                        elif seen and not _is_punct(tok):
                            k, seen = k + 1, False
                    counts.append(k)
            np.add.at(out, doc[idx], np.asarray(counts, np.int64))
        return out

    def select(self, table: pa.Table) -> pa.Array:
        c, g = self.config, (lambda name: _col(table, name, self.name))
        rules = []
        if c.filter_lorem_ipsum:
            rules.append(("lorem_ipsum", g("c4_lorem_ipsum")))
        if c.filter_curly_bracket:
            rules.append(("curly_bracket", g("c4_curly_bracket")))
        langs = self.stored_languages(table)
        rules.append(("too_few_sentences", below(g("c4_sentences"), per_row(
            c.min_num_sentences, "min_num_sentences", langs, "c4", c.language_thresholds))))
        return reasons_from_masks(len(table), rules)

