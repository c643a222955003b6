"""Words of documents: :func:`split_words` (spaCy's English tokens, as DataTrove splits words),
and the process-wide vocabulary that turns a batch of documents into token-id arrays once, so
every rule family counts on integers."""
from __future__ import annotations

import threading
import unicodedata
from itertools import chain

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .backend import BACKEND
from .batch import _np
from .chars import _PUNCT_SET, _PUNCT_SORTED, _SENT_END, _SPLITLINES
from .tokenizer import _CHUNK_CACHE, _CHUNK_CACHE_MAX, _tokenize_chunk

def split_words(text: str) -> list[str]:
    """Words as DataTrove's English tokenizer (``spacy.blank("en")``) splits them, whitespace
    tokens dropped (DataTrove's ``strip_strings``)."""
    cache = _CHUNK_CACHE
    chunks = text.split()
    missing = set(chunks).difference(cache)
    if missing:
        if len(cache) + len(missing) > _CHUNK_CACHE_MAX:
            cache.clear()
        for ch in missing:
            cache[ch] = BACKEND.tokenize(ch)
    # One C-level pass: look every chunk up and concatenate the token tuples.
    try:
        return list(chain.from_iterable(map(cache.__getitem__, chunks)))
    except KeyError:  # another thread cleared the cache in between
        return [t for ch in chunks for t in (cache.get(ch) or BACKEND.tokenize(ch))]



_PUNCT_CACHE: dict[str, bool] = {}


def _is_punct(tok: str) -> bool:
    r = _PUNCT_CACHE.get(tok)
    if r is None:
        r = all(unicodedata.category(ch).startswith("P") for ch in tok)
        if len(_PUNCT_CACHE) < 100_000:
            _PUNCT_CACHE[tok] = r
    return r


class _Vocab:
    """Process-wide token interning: every distinct token gets an integer id once, with the
    per-token facts the rules need (length, has a non-symbol char, has a letter, all-punctuation,
    sentence-final mark) stored in arrays indexed by id. Documents are then id arrays, so the
    batch work (n-gram hashing, counts, the sentencizer) is integer-only numpy, and no batch has to
    rebuild an Arrow string table of its tokens."""

    def __init__(self):
        self.ids: dict[str, int] = {}
        self.chunk_ids: dict[str, tuple[int, ...]] = {}  # whitespace chunk -> its token ids
        # The compiled batch lookup's own table of the same chunks (made on first use, with this vocabulary).
        self.index = None
        self._cap = 0
        self.length = np.zeros(0, np.int64)
        self.nonsym = np.zeros(0, bool)
        self.alpha = np.zeros(0, bool)
        self.punct = np.zeros(0, bool)
        self.end = np.zeros(0, bool)

    def _grow(self, need: int) -> None:
        cap = max(need, 2 * self._cap, 1024)
        for name in ("length", "nonsym", "alpha", "punct", "end"):
            old = getattr(self, name)
            new = np.zeros(cap, old.dtype)
            new[:len(old)] = old
            setattr(self, name, new)
        self._cap = cap

    def intern_chunks(self, chunks) -> None:
        """Give every chunk not seen yet its token ids (tokenizing it if needed)."""
        ids = self.ids
        chunk_ids = self.chunk_ids
        if BACKEND.tokenizer is not None:
            new_toks = BACKEND.tokenizer.intern(chunks, _CHUNK_CACHE, ids, chunk_ids)
        else:
            new_toks = self._intern_py(chunks)
        self._add_token_facts(new_toks)

    def _intern_py(self, chunks) -> list[str]:
        tok_get = _CHUNK_CACHE.get
        ids = self.ids
        ids_get = ids.get
        chunk_ids = self.chunk_ids
        new_toks: list[str] = []
        for ch in chunks:
            toks = tok_get(ch) or _tokenize_chunk(ch)
            if len(toks) == 1:  # most chunks are one token
                t = toks[0]
                i = ids_get(t)
                if i is None:
                    i = ids[t] = len(ids)
                    new_toks.append(t)
                chunk_ids[ch] = (i,)
                continue
            out = []
            for t in toks:
                i = ids_get(t)
                if i is None:
                    i = ids[t] = len(ids)
                    new_toks.append(t)
                out.append(i)
            chunk_ids[ch] = tuple(out)
        return new_toks

    def _add_token_facts(self, new_toks: list[str]) -> None:
        ids = self.ids
        if new_toks:
            first = len(ids) - len(new_toks)
            if len(ids) > self._cap:
                self._grow(len(ids))
            sl = slice(first, len(ids))
            if BACKEND.kernels is not None:
                (self.length[sl], self.nonsym[sl], self.alpha[sl], self.punct[sl],
                 self.end[sl]) = BACKEND.kernels.token_facts(new_toks, _PUNCT_SORTED, _SENT_END, unicodedata.category)
                return
            punct_set = _PUNCT_SET
            self.length[sl] = [len(t) for t in new_toks]
            self.nonsym[sl] = [not punct_set.issuperset(t) for t in new_toks]
            alpha = [t.isalpha() or any(c.isalpha() for c in t) for t in new_toks]
            self.alpha[sl] = alpha
            # A token with a letter is not all punctuation; only the rest needs the category lookup.
            self.punct[sl] = [not a and all(unicodedata.category(c).startswith("P") for c in t)
                              for a, t in zip(alpha, new_toks)]
            self.end[sl] = [t in _SENT_END for t in new_toks]

    def doc_ids(self, text: str) -> np.ndarray:
        """Token ids of one document (the ids of :func:`split_words`'s tokens)."""
        chunks = text.split()
        cids = self.chunk_ids
        missing = set(chunks).difference(cids)
        if missing:
            self.intern_chunks(missing)
        return np.array(list(chain.from_iterable(map(cids.__getitem__, chunks))), np.int64)


_VOCAB = _Vocab()
_VOCAB_MAX = 2_000_000  # distinct chunks + tokens before the tables are dropped and rebuilt
_VOCAB_LOCK = threading.Lock()


def _vocab() -> _Vocab:
    """The shared vocabulary, reset between batches when it grows past the bound (ids cached in
    _TOKENS_CACHE belong to the old one, so that goes too). Call under _VOCAB_LOCK."""
    global _VOCAB
    if len(_VOCAB.ids) + len(_VOCAB.chunk_ids) > _VOCAB_MAX:
        _VOCAB = _Vocab()
        _TOKENS_CACHE.clear()
        _LINE_TOKENS.clear()
    return _VOCAB


def _clear_caches() -> None:
    """Forget every cached tokenization (benchmarks use it to measure a cold start)."""
    global _VOCAB
    with _VOCAB_LOCK:
        _CHUNK_CACHE.clear()
        _TOKENS_CACHE.clear()
        _LINE_TOKENS.clear()
        _PUNCT_CACHE.clear()
        _VOCAB = _Vocab()


class _Words:
    """Token ids of every document in a batch, flat, with per-document counts."""

    def __init__(self, per_doc: list[np.ndarray], vocab: _Vocab):
        n = len(per_doc)
        self.vocab = vocab
        self.counts = np.fromiter((len(w) for w in per_doc), dtype=np.int64, count=n)
        self.ids = np.concatenate(per_doc) if n else np.zeros(0, np.int64)
        self.doc = np.repeat(np.arange(n), self.counts)
        self.lengths = vocab.length[self.ids]


# Several of these steps usually annotate the same batch in a row (and later steps see the rows
# that earlier ones kept): remember the last batch's token ids by text, so each text is split once.
_TOKENS_CACHE: dict[str, np.ndarray] = {}
# And, for those texts, the number of tokens on each of their ``str.splitlines``-style lines (the
# pieces of a split at _SPLITLINES, trailing "" included), so C4 counts sentences per line from
# the same ids instead of splitting its lines again. Line breaks are whitespace, so a document's
# chunks are its lines' chunks in order, and its tokens are its lines' tokens.
_LINE_TOKENS: dict[str, np.ndarray] = {}


def _batch_piece_ids(pieces: pa.Array | list[str], vocab: _Vocab, lines: bool = False):
    """Token ids of many strings at once (flat) and the number of tokens of each: Arrow splits
    them into whitespace chunks (its Unicode whitespace is exactly ``str.isspace``, checked over
    every code point in the tests, so the chunks are ``str.split()``'s; a regex split was 3x
    slower) and hashes the chunks, so Python looks up each distinct chunk of the batch once
    instead of every chunk. ``tests/annotate/test_heuristics.py`` checks it against ``_Vocab.doc_ids``.
    With the compiled kernels, one C loop splits, looks up and gathers instead (same result).
    With ``lines``, also the tokens of every line (cut at _SPLITLINES) and the lines of each string."""
    if BACKEND.tokenizer is not None:
        texts = pieces if isinstance(pieces, list) else pieces.to_pylist()
        if vocab.index is None:
            vocab.index = BACKEND.kernels.ChunkIndex()
        ids, per_piece, new, per_line, n_lines = BACKEND.tokenizer.piece_ids(
            texts, _CHUNK_CACHE, vocab.ids, vocab.chunk_ids, vocab.index, lines)
        vocab._add_token_facts(new)
        return (ids, per_piece, per_line, n_lines) if lines else (ids, per_piece)
    if lines:  # the pure-Python path: tokenize the lines themselves (same ids, a second split)
        if isinstance(pieces, list):
            pieces = pa.array(pieces, pa.large_string())
        split = pc.split_pattern_regex(pieces, _SPLITLINES)
        n_lines = _np(pc.list_value_length(split)).astype(np.int64)
        ids, per_line = _batch_piece_ids(split.flatten(), vocab)
        per_piece = np.bincount(np.repeat(np.arange(len(pieces)), n_lines), weights=per_line,
                                minlength=len(pieces)).astype(np.int64)
        return ids, per_piece, per_line, n_lines
    if isinstance(pieces, list):
        pieces = pa.array(pieces, pa.large_string())
    lists = pc.utf8_split_whitespace(pieces)
    chunks = lists.flatten()
    n_chunks = _np(pc.list_value_length(lists)).astype(np.int64)
    owner = np.repeat(np.arange(len(pieces)), n_chunks)
    nonempty = _np(pc.utf8_length(chunks)) > 0  # "" before leading / after trailing whitespace
    if len(chunks) == 0 or not nonempty.any():
        return np.zeros(0, np.int64), np.zeros(len(pieces), np.int64)
    chunks = chunks.filter(pa.array(nonempty))
    owner = owner[nonempty]
    enc = pc.dictionary_encode(chunks)
    uniq = enc.dictionary.to_pylist()
    cids = vocab.chunk_ids
    missing = set(uniq).difference(cids)
    if missing:
        vocab.intern_chunks(missing)
    tuples = list(map(cids.__getitem__, uniq))
    u_ntok = np.fromiter(map(len, tuples), np.int64, len(tuples))
    u_flat = np.array(list(chain.from_iterable(tuples)), np.int64)
    u_off = np.cumsum(u_ntok) - u_ntok
    code = _np(enc.indices).astype(np.int64)
    ntok = u_ntok[code]
    first = np.cumsum(ntok) - ntok
    # Token k of chunk occurrence c sits at u_off[code[c]] + k in the distinct chunks' flat ids.
    ids = u_flat[np.repeat(u_off[code] - first, ntok) + np.arange(int(ntok.sum()))]
    per_piece = np.bincount(owner, weights=ntok, minlength=len(pieces)).astype(np.int64)
    return ids, per_piece


def _batch_doc_ids(texts: list[str], vocab: _Vocab) -> list[np.ndarray]:
    """:meth:`_Vocab.doc_ids` of many documents at once (see :func:`_batch_piece_ids`)."""
    if not texts:
        return []
    ids, per_doc = _batch_piece_ids(texts, vocab)
    return np.split(ids, np.cumsum(per_doc)[:-1])


def _tokenize_docs(texts: list[str], vocab: _Vocab) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Token ids of each document and tokens per line of each (see _LINE_TOKENS), in one pass.
    Call under _VOCAB_LOCK."""
    if not texts:
        return [], []
    ids, per_doc, per_line, n_lines = _batch_piece_ids(texts, vocab, lines=True)
    return np.split(ids, np.cumsum(per_doc)[:-1]), np.split(per_line, np.cumsum(n_lines)[:-1])


def _words_for(text: pa.ChunkedArray) -> _Words:
    global _TOKENS_CACHE, _LINE_TOKENS
    with _VOCAB_LOCK:
        vocab = _vocab()
        cache = _TOKENS_CACHE
        texts = text.to_pylist()
        per_doc: list = [cache.get(t) for t in texts]
        todo = list(dict.fromkeys(t for t, ids in zip(texts, per_doc) if ids is None))
        todo_ids, todo_lines = _tokenize_docs(todo, vocab)
        fresh: dict[str, np.ndarray] = dict(zip(todo, todo_ids))
        lines: dict[str, np.ndarray] = dict(zip(todo, todo_lines))
        for i, t in enumerate(texts):
            if per_doc[i] is None:
                per_doc[i] = fresh[t]
            else:
                fresh[t] = per_doc[i]
                if t in _LINE_TOKENS:
                    lines[t] = _LINE_TOKENS[t]
        _TOKENS_CACHE, _LINE_TOKENS = fresh, lines
        return _Words(per_doc, vocab)


def line_token_ids(texts: list[str], n_pieces: np.ndarray, lines: pa.Array, keep: np.ndarray,
                   changed: np.ndarray, vocab: _Vocab) -> tuple[np.ndarray, np.ndarray]:
    """Token ids of the kept lines of a batch (flat) and the number of each kept line's tokens, as
    :func:`_batch_piece_ids` of ``lines.filter(keep)`` gives them. ``lines`` are the documents'
    pieces split at _SPLITLINES (``n_pieces`` per document), possibly trimmed or edited; the tokens
    of an unedited line come from the documents' cached ids, and only the lines marked ``changed``
    (or all lines of a document tokenized by no earlier step) are split again. Call under _VOCAB_LOCK."""
    have = [_TOKENS_CACHE.get(t) is not None and t in _LINE_TOKENS for t in texts]
    todo = [t for t, h in zip(texts, have) if not h]
    if todo:
        ids_new, lines_new = _tokenize_docs(list(dict.fromkeys(todo)), vocab)
        fresh = dict(zip(dict.fromkeys(todo), zip(ids_new, lines_new)))
    doc_ids, doc_lines = [], []
    for t, h in zip(texts, have):
        ids, per_line = (_TOKENS_CACHE[t], _LINE_TOKENS[t]) if h else fresh[t]
        doc_ids.append(ids)
        doc_lines.append(per_line)
    flat = np.concatenate(doc_ids) if doc_ids else np.zeros(0, np.int64)
    line_tok = np.concatenate(doc_lines).astype(np.int64) if doc_lines else np.zeros(0, np.int64)
    if len(line_tok) != len(lines) or any(len(pl) != k for pl, k in zip(doc_lines, n_pieces.tolist())):
        # Not the line split the cache was made with: tokenize the kept lines themselves.
        return _batch_piece_ids(lines.filter(pa.array(keep)), vocab)
    start = np.cumsum(line_tok) - line_tok
    sel = np.flatnonzero(keep)
    lens = line_tok[sel]
    src = start[sel]
    redo = np.asarray(changed, bool)[sel]
    if redo.any():
        new_ids, new_lens = _batch_piece_ids(lines.take(pa.array(sel[redo])), vocab)
        lens = lens.copy()
        lens[redo] = new_lens
        src = src.copy()
        src[redo] = len(flat) + np.cumsum(new_lens) - new_lens
        flat = np.concatenate([flat, new_ids])
    out_start = np.cumsum(lens) - lens
    total = int(lens.sum())
    idx = np.repeat(src - out_start, lens) + np.arange(total)
    return flat[idx], lens


def remember_tokens(texts: list[str], ids: list[np.ndarray]) -> None:
    """Record the token ids of texts a step produced (C4's rewritten documents), so the next step
    that splits the same text finds them. Call under _VOCAB_LOCK."""
    for s, d_ids in zip(texts, ids):
        _TOKENS_CACHE[s] = d_ids


def words_by_language(text: pa.ChunkedArray, langs) -> _Words:
    """:func:`_words_for` with each document split by its language's word tokenizer (see
    :mod:`.languages`): spaCy's rules for English and the space-delimited languages, the language's
    segmenter for Chinese, Japanese, Korean and Thai. Tokens share one vocabulary, so every rule
    counts on the same integer ids whatever the language."""
    from .languages import RULES, segment

    langs = np.asarray(langs, dtype=object)
    seg_rows = {code: np.flatnonzero(langs == code) for code in set(langs.tolist())
                if code in RULES and RULES[code].segmenter != "spacy"}
    if not seg_rows:
        return _words_for(text)
    n = len(text)
    spacy_rows = np.setdiff1d(np.arange(n), np.concatenate(list(seg_rows.values())))
    base = _words_for(text.take(pa.array(spacy_rows, pa.int64())) if len(spacy_rows) else pa.chunked_array([], text.type))
    vocab = base.vocab
    per_doc: list = [None] * n
    parts = np.split(base.ids, np.cumsum(base.counts)[:-1]) if len(spacy_rows) else []
    for r, ids in zip(spacy_rows.tolist(), parts):
        per_doc[r] = ids
    texts = text.to_pylist()
    for code, rows in seg_rows.items():
        token_lists = segment([texts[r] for r in rows.tolist()], code)
        with _VOCAB_LOCK:
            for r, toks in zip(rows.tolist(), token_lists):
                per_doc[r] = intern_tokens(vocab, toks)
    return _Words(per_doc, vocab)


def intern_tokens(vocab: _Vocab, toks: list[str]) -> np.ndarray:
    """Ids of tokens a segmenter produced, adding new ones (and their facts) to ``vocab``. Call
    under _VOCAB_LOCK."""
    ids = vocab.ids
    new: list[str] = []
    out = np.empty(len(toks), np.int64)
    for k, t in enumerate(toks):
        i = ids.get(t)
        if i is None:
            i = ids[t] = len(ids)
            new.append(t)
        out[k] = i
    vocab._add_token_facts(new)
    return out
