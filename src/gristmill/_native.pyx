# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Compiled kernels for the heuristic rules (built by setup.py; every one has a pure-Python path
with the same results, used when this module is not built, and checked against it in the tests).

- ``AffixTokenizer.tokenize``: spaCy's tokenizer on one whitespace chunk, as
  ``heuristics.tokenizer._spacy_chunk`` (affix loop, infix split, exception merging), matching the prefix,
  suffix and infix patterns with compiled alternatives instead of Python's ``re``. The
  alternatives are not written here: ``heuristics.native._native_tokenizer`` reads them off the same
  regexes the Python port uses (``re._parser`` parse trees, expanded into flat alternatives in
  regex order) and refuses any construct this matcher does not implement, in which case the
  Python port is used. The URL regex stays Python's (``url_match``); it runs on few chunks.
- ``AffixTokenizer.piece_ids``: whitespace split, chunk lookup and id gathering for a batch; with a
  ``ChunkIndex``, a chunk seen before is found by a hash of its code points, without making a str.
- ``ngram_stats``: Gopher's n-gram repetition measures, one hash table per document.
- ``token_facts``: the per-token flags the rules read.
- ``hashed_bigram_dot``: the fast quality model's score (hashed word uni+bigrams, l2 norm, dot),
  bit-identical to scikit-learn's ``HashingVectorizer`` path, which is its pure-Python fallback.
- ``minhash_signatures``: word n-gram shingles and MinHash signatures from a batch's UTF-8 buffer,
  bit-identical to ``dedup._shingle``'s numpy path (``shingle_hashes`` + ``signatures``), its fallback.
"""
from libc.stdint cimport uint32_t, uint64_t, int32_t, int64_t
from libc.stdlib cimport calloc, free, malloc, realloc
from libc.string cimport memcpy
import numpy as np

cdef extern from "Python.h":
    uint32_t PyUnicode_READ_CHAR(object s, Py_ssize_t i)
    int PyUnicode_KIND(object s)
    void* PyUnicode_DATA(object s)
    uint32_t PyUnicode_READ(int kind, void* data, Py_ssize_t i)
    bint Py_UNICODE_ISSPACE(uint32_t ch)
    bint Py_UNICODE_ISALPHA(uint32_t ch)


def _longest_then_leftmost(se):
    return (se[0] - se[1], se[0])


cdef uint64_t _FNV_OFFSET = 0xcbf29ce484222325ULL
cdef uint64_t _FNV_PRIME = 0x100000001b3ULL


cdef class ChunkIndex:
    """Whitespace chunk -> its token ids, for :meth:`AffixTokenizer.piece_ids`: an open-addressing
    table keyed by an FNV-1a hash of the chunk's code points, each entry checked against the stored
    chunk, so a chunk seen before costs no str, no dict probe and no tuple unpacking. It holds a
    subset of the vocabulary's ``chunk_ids`` (the reference) and belongs to that vocabulary."""
    cdef uint64_t* hashes
    cdef int32_t* slots
    cdef Py_ssize_t mask, n, cap_entries, flat_n, flat_cap
    cdef int64_t* off
    cdef int32_t* ntok
    cdef int64_t* flat
    cdef list chunks

    def __cinit__(self):
        cdef Py_ssize_t cap = 1 << 16
        self.hashes = <uint64_t*>calloc(cap, sizeof(uint64_t))
        self.slots = <int32_t*>malloc(cap * sizeof(int32_t))
        for i in range(cap):
            self.slots[i] = -1
        self.mask = cap - 1
        self.n = 0
        self.cap_entries = 1 << 15
        self.off = <int64_t*>malloc(self.cap_entries * sizeof(int64_t))
        self.ntok = <int32_t*>malloc(self.cap_entries * sizeof(int32_t))
        self.flat_cap = 1 << 16
        self.flat_n = 0
        self.flat = <int64_t*>malloc(self.flat_cap * sizeof(int64_t))
        self.chunks = []
        if not (self.hashes and self.slots and self.off and self.ntok and self.flat):
            raise MemoryError()

    def __dealloc__(self):
        free(self.hashes)
        free(self.slots)
        free(self.off)
        free(self.ntok)
        free(self.flat)

    def __len__(self):
        return self.n

    cdef Py_ssize_t find(self, uint64_t h, int kind, void* data, Py_ssize_t a, Py_ssize_t b):
        """Entry of the chunk ``data[a:b]`` (code points of a str of ``kind``), or -1."""
        cdef Py_ssize_t i = <Py_ssize_t>(h & <uint64_t>self.mask), e, k, m = b - a
        cdef str s
        cdef int skind
        cdef void* sdata
        while self.slots[i] >= 0:
            if self.hashes[i] == h:
                e = self.slots[i]
                s = <str>self.chunks[e]
                if len(s) == m:
                    skind = PyUnicode_KIND(s)
                    sdata = PyUnicode_DATA(s)
                    k = 0
                    while k < m and PyUnicode_READ(skind, sdata, k) == PyUnicode_READ(kind, data, a + k):
                        k += 1
                    if k == m:
                        return e
            i = (i + 1) & self.mask
        return -1

    cdef Py_ssize_t add(self, uint64_t h, str ch, tuple toks) except -1:
        """Record ``ch`` (not in the table) with its token ids ``toks``; returns its entry."""
        cdef Py_ssize_t e = self.n, nt = len(toks), j, i
        if 2 * (self.n + 1) > self.mask + 1:
            self._grow_table()
        if e == self.cap_entries:
            self.cap_entries *= 2
            self.off = <int64_t*>_realloc(self.off, self.cap_entries * sizeof(int64_t))
            self.ntok = <int32_t*>_realloc(self.ntok, self.cap_entries * sizeof(int32_t))
        if self.flat_n + nt > self.flat_cap:
            self.flat_cap = 2 * self.flat_cap + nt
            self.flat = <int64_t*>_realloc(self.flat, self.flat_cap * sizeof(int64_t))
        self.off[e] = self.flat_n
        self.ntok[e] = <int32_t>nt
        for j in range(nt):
            self.flat[self.flat_n + j] = <int64_t>toks[j]
        self.flat_n += nt
        self.chunks.append(ch)
        i = <Py_ssize_t>(h & <uint64_t>self.mask)
        while self.slots[i] >= 0:
            i = (i + 1) & self.mask
        self.slots[i] = <int32_t>e
        self.hashes[i] = h
        self.n += 1
        return e

    cdef int _grow_table(self) except -1:
        cdef Py_ssize_t old = self.mask + 1, cap = 2 * old, i, j
        cdef uint64_t* oh = self.hashes
        cdef int32_t* os = self.slots
        self.hashes = <uint64_t*>calloc(cap, sizeof(uint64_t))
        self.slots = <int32_t*>malloc(cap * sizeof(int32_t))
        if not (self.hashes and self.slots):
            raise MemoryError()
        for i in range(cap):
            self.slots[i] = -1
        self.mask = cap - 1
        for i in range(old):
            if os[i] >= 0:
                j = <Py_ssize_t>(oh[i] & <uint64_t>self.mask)
                while self.slots[j] >= 0:
                    j = (j + 1) & self.mask
                self.slots[j] = os[i]
                self.hashes[j] = oh[i]
        free(oh)
        free(os)
        return 0


cdef void* _realloc(void* p, size_t size) except NULL:
    cdef void* q = realloc(p, size)
    if q == NULL:
        raise MemoryError()
    return q


cdef inline bint _is_line_break(uint32_t c) noexcept:
    """A boundary of ``heuristics.chars._SPLITLINES`` (``str.splitlines()``'s): \\n \\r \\x0b \\x0c
    \\x1c \\x1d \\x1e \\x85 \\u2028 \\u2029."""
    return (10 <= c <= 13) or (28 <= c <= 30) or c == 0x85 or c == 0x2028 or c == 0x2029


cdef class AffixTokenizer:
    # Character classes: an ASCII bitmap each, plus sorted non-ASCII ranges (binary search).
    cdef uint64_t[:] a_lo, a_hi
    cdef int32_t[:] r_first, r_count
    cdef uint32_t[:] r_lo, r_hi
    # Alternatives of the three families (0 prefix, 1 suffix, 2 infix), in regex order:
    # lookbehind items [lb0, lb0+lbn), body items [b0, b0+bn) (the last may repeat: rep=1 means
    # one or more, greedy), a lookahead class (la, -1 for none; neg for (?!...)).
    cdef int32_t[:] lb0, lbn, b0, bn, rep, la, neg
    cdef int32_t[:] items
    # Per family and first character (prefix, infix) or last character (suffix): the alternatives,
    # in order, whose class there contains it; bucket 128 holds those that can take a non-ASCII one.
    cdef int32_t[:] bk_first, bk_count, bk_alts
    cdef int pre_first, suf_last, suf_last_digit, infix_any  # union classes (-1: any character)
    cdef object specials, url_match, match_by_first
    cdef Py_ssize_t max_special

    def __init__(self, classes, families, int pre_first, int suf_last, int suf_last_digit, int infix_any,
                 specials, url_match, match_by_first):
        n = len(classes)
        a_lo = np.zeros(n, np.uint64); a_hi = np.zeros(n, np.uint64)
        r_first = np.zeros(n, np.int32); r_count = np.zeros(n, np.int32)
        lo, hi = [], []
        for k, ranges in enumerate(classes):
            start = len(lo)
            r_first[k] = start
            merged = []  # overlapping or adjacent ranges joined, so the binary search is exact
            for a, b in sorted(ranges):
                if merged and a <= merged[len(merged) - 1][1] + 1:
                    merged[len(merged) - 1][1] = max(merged[len(merged) - 1][1], b)
                else:
                    merged.append([a, b])
            for a, b in merged:
                for c in range(a, min(b, 127) + 1):
                    if c < 64:
                        a_lo[k] |= np.uint64(1) << np.uint64(c)
                    else:
                        a_hi[k] |= np.uint64(1) << np.uint64(c - 64)
                if b >= 128:
                    lo.append(max(a, 128)); hi.append(b)
            r_count[k] = len(lo) - start
        self.a_lo, self.a_hi, self.r_first, self.r_count = a_lo, a_hi, r_first, r_count
        self.r_lo = np.array(lo, np.uint32) if lo else np.zeros(1, np.uint32)
        self.r_hi = np.array(hi, np.uint32) if hi else np.zeros(1, np.uint32)
        cols = {k: [] for k in ("lb0", "lbn", "b0", "bn", "rep", "la", "neg")}
        items, f_first = [], []  # f_first: index of each family's first alternative
        for alts in families:
            f_first.append(len(cols["lb0"]))
            for lb, body, rep, la, neg in alts:
                cols["lb0"].append(len(items)); cols["lbn"].append(len(lb)); items.extend(lb)
                cols["b0"].append(len(items)); cols["bn"].append(len(body)); items.extend(body)
                cols["rep"].append(int(rep)); cols["la"].append(la); cols["neg"].append(int(neg))
        self.items = np.array(items or [0], np.int32)
        bk_first, bk_count, bk_alts = [], [], []
        for fam, alts in enumerate(families):
            for c in range(129):
                start = len(bk_alts)
                bk_first.append(start)
                for j, (lb, body, rep, la, neg) in enumerate(alts):
                    key = classes[body[len(body) - 1] if fam == 1 else body[0]] if body else [(0, 0x10FFFF)]
                    if any((a <= c <= b) if c < 128 else b >= 128 for a, b in key):
                        bk_alts.append(f_first[fam] + j)
                bk_count.append(len(bk_alts) - start)
        self.bk_first, self.bk_count = np.array(bk_first, np.int32), np.array(bk_count, np.int32)
        self.bk_alts = np.array(bk_alts or [0], np.int32)
        self.lb0, self.lbn = np.array(cols["lb0"], np.int32), np.array(cols["lbn"], np.int32)
        self.b0, self.bn = np.array(cols["b0"], np.int32), np.array(cols["bn"], np.int32)
        self.rep, self.la, self.neg = (np.array(cols["rep"], np.int32), np.array(cols["la"], np.int32),
                                       np.array(cols["neg"], np.int32))
        self.pre_first, self.suf_last, self.suf_last_digit, self.infix_any = pre_first, suf_last, suf_last_digit, infix_any
        self.specials, self.url_match, self.match_by_first = specials, url_match, match_by_first
        self.max_special = max(map(len, specials), default=0)

    cdef inline bint has(self, int k, uint32_t c):
        cdef int lo, hi, mid
        if k < 0:
            return True
        if c < 64:
            return (self.a_lo[k] >> c) & 1
        if c < 128:
            return (self.a_hi[k] >> (c - 64)) & 1
        lo = self.r_first[k]
        hi = lo + self.r_count[k] - 1
        while lo <= hi:
            mid = (lo + hi) >> 1
            if c < self.r_lo[mid]:
                hi = mid - 1
            elif c > self.r_hi[mid]:
                lo = mid + 1
            else:
                return True
        return False

    cdef Py_ssize_t match_at(self, int a, str s, Py_ssize_t lo, Py_ssize_t n, Py_ssize_t pos):
        """End of alternative ``a`` matched at ``pos`` in s[lo:n] (lookbehind sees s[lo:pos]), or -1."""
        cdef Py_ssize_t i, j, p
        cdef int nb = self.lbn[a], nbody = self.bn[a], b = self.b0[a], la
        if pos - nb < lo:
            return -1
        for j in range(nb):
            if not self.has(self.items[self.lb0[a] + j], PyUnicode_READ_CHAR(s, pos - nb + j)):
                return -1
        p = pos
        for j in range(nbody):
            if p >= n or not self.has(self.items[b + j], PyUnicode_READ_CHAR(s, p)):
                return -1
            p += 1
        if self.rep[a]:
            while p < n and self.has(self.items[b + nbody - 1], PyUnicode_READ_CHAR(s, p)):
                p += 1
        la = self.la[a]
        if la >= 0:
            if self.neg[a]:
                if p < n and self.has(la, PyUnicode_READ_CHAR(s, p)):
                    return -1
            elif p >= n or not self.has(la, PyUnicode_READ_CHAR(s, p)):
                return -1
        return p

    cdef inline int bucket(self, int fam, uint32_t c):
        return fam * 129 + (c if c < 128 else 128)

    cdef Py_ssize_t prefix_len(self, str s, Py_ssize_t lo, Py_ssize_t n):
        cdef int j, b
        cdef Py_ssize_t e
        cdef uint32_t c
        if lo >= n:
            return 0
        c = PyUnicode_READ_CHAR(s, lo)
        if not self.has(self.pre_first, c):
            return 0
        b = self.bucket(0, c)
        for j in range(self.bk_first[b], self.bk_first[b] + self.bk_count[b]):
            e = self.match_at(self.bk_alts[j], s, lo, n, lo)
            if e >= 0:
                return e - lo
        return 0

    cdef Py_ssize_t suffix_len(self, str s, Py_ssize_t lo, Py_ssize_t n):
        """Length of re.search(suffixes, s[lo:n]): the leftmost start whose some alternative
        reaches the end; at equal starts the first alternative."""
        cdef int a, j, bk, nbody, k
        cdef Py_ssize_t best = -1, st, r, i, e
        cdef uint32_t last
        cdef bint digit = False
        if lo >= n:
            return 0
        last = PyUnicode_READ_CHAR(s, n - 1)
        if not self.has(self.suf_last, last):
            if not self.has(self.suf_last_digit, last):
                return 0
            for i in range(lo, n):
                if 48 <= PyUnicode_READ_CHAR(s, i) <= 57:
                    digit = True
                    break
            if not digit:
                return 0
        bk = self.bucket(1, last)
        for j in range(self.bk_first[bk], self.bk_first[bk] + self.bk_count[bk]):
            a = self.bk_alts[j]
            nbody = self.bn[a]
            if not self.rep[a]:
                st = n - nbody
                # Only a start left of the best so far changes the length.
                if st >= lo and (best < 0 or st < best) and self.match_at(a, s, lo, n, st) == n:
                    best = st
            else:
                # Fixed items then a greedy run of class k up to the end: the run must cover
                # s[st + nbody - 1:n]; try starts from the leftmost the trailing run allows.
                k = self.items[self.b0[a] + nbody - 1]
                r = n
                while r > lo and self.has(k, PyUnicode_READ_CHAR(s, r - 1)):
                    r -= 1
                st = r - (nbody - 1)
                if st < lo:
                    st = lo
                while st + nbody <= n:
                    if best >= 0 and st >= best:
                        break
                    e = self.match_at(a, s, lo, n, st)
                    if e == n:
                        best = st
                        break
                    st += 1
        return 0 if best < 0 else n - best

    cdef bint is_special(self, str s):
        return len(s) <= self.max_special and s in self.specials

    def tokenize(self, str chunk):
        """spaCy's tokens of one whitespace-free chunk (``heuristics.tokenizer._spacy_chunk``)."""
        cdef object special = self.specials.get(chunk) if len(chunk) <= self.max_special else None
        if special is not None:
            return special
        if chunk.isalpha():  # no affix or infix rule matches letters only (heuristics.tokenizer._tokenize_chunk)
            return (chunk,)
        cdef tuple toks = self.affixes(chunk), pat
        cdef Py_ssize_t i, j, nt = len(toks), m, a, b
        cdef list found = []
        if nt < 2:
            return toks
        # spaCy's second pass (``heuristics.tokenizer._merge_specials``): runs of tokens that spell an
        # exception containing affix characters; the longest (then leftmost) win, non-overlapping.
        for i in range(nt):
            pats = self.match_by_first.get(toks[i])
            if pats is None:
                continue
            for pat in pats:
                m = len(pat)
                if i + m > nt:
                    continue
                for j in range(1, m):
                    if toks[i + j] != pat[j]:
                        break
                else:
                    found.append((i, i + m))
        if not found:
            return toks
        found.sort(key=_longest_then_leftmost)
        cdef bytearray seen = bytearray(nt)
        cdef dict keep = {}
        for a, b in found:
            if not seen[a] and not seen[b - 1]:
                keep[a] = b
            for j in range(a, b):
                seen[j] = 1
        cdef list out = []
        i = 0
        while i < nt:
            e = keep.get(i)
            if e is None:
                out.append(toks[i])
                i += 1
            else:
                b = e
                out.extend(self.specials["".join(toks[i:b])])
                i = b
        return tuple(out)

    cdef tuple affixes(self, str chunk):
        cdef list prefixes = [], suffixes = [], out
        cdef Py_ssize_t lo = 0, n = len(chunk), last = -1, pre_len, suf_len, i, start, e, rest_lo
        cdef int j, bk
        cdef bint plain, has_dot
        cdef uint32_t c
        cdef str s
        while lo < n and n - lo != last:  # _split_affixes over chunk[lo:n]
            if n - lo <= self.max_special and chunk[lo:n] in self.specials:
                break
            last = n - lo
            pre_len = self.prefix_len(chunk, lo, n)
            if pre_len and lo + pre_len < n and self.is_special(chunk[lo + pre_len:n]):
                prefixes.append(chunk[lo:lo + pre_len])
                lo += pre_len
                break
            # The suffix search runs on the text after the prefix (its look-behinds see only that).
            rest_lo = lo + pre_len
            suf_len = self.suffix_len(chunk, rest_lo, n)
            if suf_len and n - suf_len > lo and self.is_special(chunk[lo:n - suf_len]):
                suffixes.append(chunk[n - suf_len:n])
                n -= suf_len
                break
            if pre_len and suf_len and pre_len + suf_len <= n - lo:
                prefixes.append(chunk[lo:lo + pre_len])
                suffixes.append(chunk[n - suf_len:n])
                lo += pre_len
                n -= suf_len
            elif pre_len:
                prefixes.append(chunk[lo:lo + pre_len])
                lo += pre_len
            elif suf_len:
                suffixes.append(chunk[n - suf_len:n])
                n -= suf_len
        out = prefixes  # _attach_tokens
        if lo < n:
            s = chunk[lo:n] if (lo or n != len(chunk)) else chunk
            special = self.specials.get(s) if n - lo <= self.max_special else None
            if special is not None:
                out.extend(special)
            else:
                plain = True  # no character an infix match could start with: kept whole
                for i in range(lo, n):
                    if self.has(self.infix_any, PyUnicode_READ_CHAR(chunk, i)):
                        plain = False
                        break
                # Both branches of the URL pattern need a literal "." (host.tld or a dotted IPv4).
                if not plain:
                    has_dot = False
                    for i in range(lo, n):
                        if PyUnicode_READ_CHAR(chunk, i) == 46:
                            has_dot = True
                            break
                    plain = has_dot and self.url_match(s) is not None
                if plain:
                    out.append(s)
                else:
                    start = 0
                    n = len(s)
                    i = 0
                    while i < n:
                        e = -1
                        bk = self.bucket(2, PyUnicode_READ_CHAR(s, i))
                        for j in range(self.bk_first[bk], self.bk_first[bk] + self.bk_count[bk]):
                            e = self.match_at(self.bk_alts[j], s, 0, n, i)
                            if e >= 0:
                                break
                        if e < 0:
                            i += 1
                            continue
                        if i != 0:  # an infix at the very start is not split off
                            if i != start:
                                out.append(s[start:i])
                            out.append(s[i:e])
                            start = e
                        i = e if e > i else i + 1
                    if start < n:
                        out.append(s[start:] if start else s)
        out.extend(reversed(suffixes))
        return tuple(out)

    cdef tuple intern_one(self, str ch, dict cache, dict ids, dict chunk_ids, list new):
        """Token ids of one chunk not in ``chunk_ids`` yet; records them there. New tokens get
        the next ids and are appended to ``new``."""
        cdef object toks = cache.get(ch)
        cdef list out = []
        if toks is None:
            toks = self.tokenize(ch)
        for t in toks:
            i = ids.get(t)
            if i is None:
                i = len(ids)
                ids[t] = i
                new.append(t)
            out.append(i)
        res = tuple(out)
        chunk_ids[ch] = res
        return res

    def intern(self, chunks, dict cache, dict ids, dict chunk_ids):
        """Token ids for every chunk (``heuristics.words._Vocab.intern_chunks``): tokens come from
        ``cache`` or are computed; new tokens get the next ids. Returns the new tokens in id order."""
        cdef list new = []
        for ch in chunks:
            self.intern_one(ch, cache, ids, chunk_ids, new)
        return new

    def piece_ids(self, list pieces, dict cache, dict ids, dict chunk_ids, ChunkIndex index, bint lines=False):
        """Token ids of many strings (``heuristics.words._batch_piece_ids``): each is split at
        ``str.isspace`` characters as ``str.split()`` does, each chunk's ids are looked up in
        ``index`` (a chunk not there yet is looked up in ``chunk_ids``, interned on a miss, and
        added to ``index``). Returns (flat ids, tokens per piece, new tokens, tokens per line, lines
        per piece): with ``lines``, the last two are the token count of every line of every piece and
        the number of lines of each piece, lines cut as
        ``heuristics.chars._SPLITLINES`` cuts them ("\\r\\n" once; a trailing break leaves an empty
        last line), else None. Line breaks are whitespace, so this costs no second split."""
        cdef Py_ssize_t n = len(pieces), p, i, a, ln, total = 0, pos = 0, cap, nt, start, e
        cdef int kind
        cdef void* data
        cdef str text, ch
        cdef object hit
        cdef tuple tup
        cdef list new = []
        cdef uint64_t h
        cdef uint32_t c
        cdef int64_t* out
        cdef Py_ssize_t n_lines = 0, lines_cap = 0, line_start
        cdef int64_t* line_tok = NULL
        for text in pieces:
            total += len(text)
        lines_arr = np.zeros(n if lines else 0, np.int64)
        cdef int64_t[:] lines_of = lines_arr
        cdef Py_ssize_t piece_first_line
        if lines:
            lines_cap = n + 1024
            line_tok = <int64_t*>malloc(lines_cap * sizeof(int64_t))
            if line_tok == NULL:
                raise MemoryError()
        cap = total // 4 + 16
        ids_arr = np.empty(cap, np.int64)
        counts_arr = np.zeros(n, np.int64)
        cdef int64_t[:] outv = ids_arr
        cdef int64_t[:] counts = counts_arr
        out = &outv[0]
        for p in range(n):
            text = pieces[p]
            ln = len(text)
            kind = PyUnicode_KIND(text)
            data = PyUnicode_DATA(text)
            i = 0
            start = pos
            line_start = pos
            piece_first_line = n_lines
            while i < ln:
                while i < ln:
                    c = PyUnicode_READ(kind, data, i)
                    if not Py_UNICODE_ISSPACE(c):
                        break
                    if lines and _is_line_break(c):
                        if c == 13 and i + 1 < ln and PyUnicode_READ(kind, data, i + 1) == 10:
                            i += 1  # "\r\n" is one break
                        if n_lines == lines_cap:
                            lines_cap *= 2
                            line_tok = <int64_t*>_realloc(line_tok, lines_cap * sizeof(int64_t))
                        line_tok[n_lines] = pos - line_start
                        n_lines += 1
                        line_start = pos
                    i += 1
                if i >= ln:
                    break
                a = i
                h = _FNV_OFFSET
                while i < ln:
                    c = PyUnicode_READ(kind, data, i)
                    if Py_UNICODE_ISSPACE(c):
                        break
                    h = (h ^ c) * _FNV_PRIME
                    i += 1
                e = index.find(h, kind, data, a, i)
                if e < 0:
                    ch = text[a:i] if (a or i != ln) else text
                    hit = chunk_ids.get(ch)
                    tup = self.intern_one(ch, cache, ids, chunk_ids, new) if hit is None else hit
                    e = index.add(h, ch, tup)
                nt = index.ntok[e]
                if pos + nt > cap:
                    cap = 2 * cap + nt
                    ids_arr = np.concatenate([ids_arr[:pos], np.empty(cap - pos, np.int64)])
                    outv = ids_arr
                    out = &outv[0]
                memcpy(out + pos, index.flat + index.off[e], nt * sizeof(int64_t))
                pos += nt
            counts[p] = pos - start
            if lines:
                if n_lines == lines_cap:
                    lines_cap *= 2
                    line_tok = <int64_t*>_realloc(line_tok, lines_cap * sizeof(int64_t))
                line_tok[n_lines] = pos - line_start
                n_lines += 1
                lines_of[p] = n_lines - piece_first_line
        if not lines:
            return ids_arr[:pos], counts_arr, new, None, None
        per_line = np.empty(n_lines, np.int64)
        cdef int64_t[:] plv = per_line
        if n_lines:
            memcpy(&plv[0], line_tok, n_lines * sizeof(int64_t))
        free(line_tok)
        return ids_arr[:pos], counts_arr, new, per_line, lines_arr


cdef inline uint64_t _mix1(int64_t i) noexcept:
    cdef uint64_t h = <uint64_t>(i + 1) * <uint64_t>0x9E3779B97F4A7C15ULL
    return h ^ (h >> 31)


def ngram_stats(const int64_t[:] ids, const int64_t[:] counts, const int64_t[:] tok_len, top_ks, dup_ks):
    """Gopher's n-gram repetition measures for every document of a batch, one document at a time.

    ``ids`` are the token ids of all documents back to back (``counts`` per document), ``tok_len``
    the character length of each id. For each k in ``top_ks``: characters covered by the most
    frequent k-gram (count times its length with single spaces, first seen wins ties; DataTrove's
    ``find_top_duplicate``). For each k in ``dup_ks``: characters of repeated k-grams as DataTrove's
    ``find_all_duplicate`` walks (a repeat jumps k tokens ahead; jumped-over k-grams are not
    remembered). k-grams are compared by the 64-bit hash of ``heuristics.gopher._ngram_hashes``, so the
    results equal the numpy path (the fallback, and the reference in the tests).
    Returns (top array [len(top_ks), n_docs], dup array [len(dup_ks), n_docs])."""
    cdef Py_ssize_t n_docs = counts.shape[0], d, i, k, m, n, s = 0, idx, cap, mask, slot, max_n = 0, ti, di
    cdef int max_k = max(list(top_ks) + list(dup_ks) + [0])
    top_arr = np.zeros((len(top_ks), n_docs), np.int64)
    dup_arr = np.zeros((len(dup_ks), n_docs), np.int64)
    cdef int64_t[:, :] top = top_arr
    cdef int64_t[:, :] dup = dup_arr
    cdef int64_t[:] top_index = np.full(max_k + 1, -1, np.int64)
    cdef int64_t[:] dup_index = np.full(max_k + 1, -1, np.int64)
    for j, kk in enumerate(top_ks):
        top_index[kk] = j
    for j, kk in enumerate(dup_ks):
        dup_index[kk] = j
    for d in range(n_docs):
        if counts[d] > max_n:
            max_n = counts[d]
    cap = 16
    while cap < 2 * max_n:
        cap <<= 1
    h_arr = np.zeros(max_n + 1, np.uint64)
    cum_arr = np.zeros(max_n + 1, np.int64)
    keys_arr = np.zeros(cap, np.uint64)
    cnt_arr = np.zeros(cap, np.int64)
    first_arr = np.zeros(cap, np.int64)
    cdef uint64_t[:] h = h_arr, keys = keys_arr
    cdef int64_t[:] cum = cum_arr, cnt = cnt_arr, first = first_arr
    cdef uint64_t x, MIX = 0x9E3779B97F4A7C15ULL, C2 = 0xBF58476D1CE4E5B9ULL
    cdef int64_t best, best_pos, acc
    for d in range(n_docs):
        n = counts[d]
        cum[0] = 0
        for i in range(n):
            h[i] = _mix1(ids[s + i])
            cum[i + 1] = cum[i] + tok_len[ids[s + i]]
        for k in range(1, max_k + 1):
            m = n - k + 1
            if m <= 0:
                break
            if k > 1:
                for i in range(m):
                    x = (h[i] * MIX) ^ (<uint64_t>(ids[s + i + k - 1] + 1) * C2)
                    h[i] = x ^ (x >> 29)
            ti, di = top_index[k], dup_index[k]
            if ti < 0 and di < 0:
                continue
            mask = 16
            while mask < 2 * m:
                mask <<= 1
            mask -= 1
            if ti >= 0:  # counts per distinct k-gram; cnt 0 marks an empty slot
                for i in range(mask + 1):
                    cnt[i] = 0
                best, best_pos = 0, 0
                for i in range(m):
                    slot = h[i] & mask
                    while cnt[slot] and keys[slot] != h[i]:
                        slot = (slot + 1) & mask
                    if cnt[slot] == 0:
                        keys[slot] = h[i]
                        first[slot] = i
                    cnt[slot] += 1
                    if cnt[slot] > best or (cnt[slot] == best and first[slot] < best_pos):
                        best, best_pos = cnt[slot], first[slot]
                top[ti, d] = best * (cum[best_pos + k] - cum[best_pos] + k - 1)
            if di >= 0:  # the walk, with the set of remembered k-grams
                for i in range(mask + 1):
                    cnt[i] = 0
                acc, idx = 0, 0
                while idx < m:
                    slot = h[idx] & mask
                    while cnt[slot] and keys[slot] != h[idx]:
                        slot = (slot + 1) & mask
                    if cnt[slot]:
                        acc += cum[idx + k] - cum[idx]
                        idx += k
                    else:
                        cnt[slot] = 1
                        keys[slot] = h[idx]
                        idx += 1
                dup[di, d] = acc
        s += n
    return top_arr, dup_arr


def token_facts(list toks, const uint32_t[:] punct_sorted, sent_end, category):
    """Per token (``heuristics.words._Vocab._add_token_facts``): length in characters; has a character
    outside DataTrove's punctuation set (``punct_sorted``, sorted code points); has a letter
    (``str.isalpha`` per character); is all Unicode punctuation (``category`` is
    ``unicodedata.category``, asked only for tokens without letters); is in ``sent_end``."""
    cdef Py_ssize_t n = len(toks), j, i, ln, lo, hi, mid, np_ = punct_sorted.shape[0]
    cdef str t
    cdef int kind
    cdef void* data
    cdef uint32_t c
    cdef bint has_alpha, all_punctset, found
    length_arr = np.empty(n, np.int64)
    flags = np.zeros((4, n), np.bool_)
    cdef int64_t[:] length = length_arr
    cdef unsigned char[:, :] f = flags.view(np.uint8)
    for j in range(n):
        t = toks[j]
        ln = len(t)
        kind = PyUnicode_KIND(t)
        data = PyUnicode_DATA(t)
        has_alpha, all_punctset = False, True
        for i in range(ln):
            c = PyUnicode_READ(kind, data, i)
            if Py_UNICODE_ISALPHA(c):
                has_alpha = True
            if all_punctset:
                lo, hi, found = 0, np_ - 1, False
                while lo <= hi:
                    mid = (lo + hi) >> 1
                    if c < punct_sorted[mid]:
                        hi = mid - 1
                    elif c > punct_sorted[mid]:
                        lo = mid + 1
                    else:
                        found = True
                        break
                all_punctset = found
        length[j] = ln
        f[0, j] = not all_punctset
        f[1, j] = has_alpha
        if not has_alpha:
            f[2, j] = all(category(ch).startswith("P") for ch in t)
        f[3, j] = t in sent_end
    return length_arr, flags[0], flags[1], flags[2], flags[3]


# -- quality_score's fast family: hashed word uni+bigrams, l2-normalized, dot a weight vector -------
cdef extern from "Python.h":
    bint Py_UNICODE_ISALNUM(uint32_t ch)

cdef int64_t* _radix_sort(int64_t* a, int64_t* tmp, Py_ssize_t n, int bits, Py_ssize_t* hist) noexcept nogil:
    """Sort ``n`` non-negative values below ``2**bits`` (LSD radix, 11-bit digits: two passes for
    a million buckets, against qsort's ~11 comparisons through a function pointer per value).
    Returns whichever of ``a``/``tmp`` holds the sorted values."""
    cdef int shift = 0, k
    cdef Py_ssize_t i, total, c
    cdef int64_t* src = a
    cdef int64_t* dst = tmp
    cdef int64_t* sw
    while shift < bits:
        for k in range(2048):
            hist[k] = 0
        for i in range(n):
            hist[(src[i] >> shift) & 2047] += 1
        total = 0
        for k in range(2048):
            c = hist[k]
            hist[k] = total
            total += c
        for i in range(n):
            k = (src[i] >> shift) & 2047
            dst[hist[k]] = src[i]
            hist[k] += 1
        sw = src
        src = dst
        dst = sw
        shift += 11
    return src

cdef extern from "math.h" nogil:
    double sqrt(double x)


cdef inline uint32_t _rotl32(uint32_t x, int r) nogil:
    return (x << r) | (x >> (32 - r))


cdef int32_t murmur3_s32(const unsigned char* key, Py_ssize_t n, uint32_t seed) nogil:
    """MurmurHash3_x86_32 (Austin Appleby's public-domain reference, MurmurHash3.cpp) as a signed
    32-bit value: the hash scikit-learn's ``murmurhash3_bytes_s32`` computes."""
    cdef uint32_t h = seed, k
    cdef uint32_t c1 = 0xcc9e2d51U, c2 = 0x1b873593U
    cdef Py_ssize_t i, nblocks = n // 4
    for i in range(nblocks):
        k = (<uint32_t>key[4 * i]) | (<uint32_t>key[4 * i + 1] << 8) | (<uint32_t>key[4 * i + 2] << 16) | (<uint32_t>key[4 * i + 3] << 24)
        k *= c1
        k = _rotl32(k, 15)
        k *= c2
        h ^= k
        h = _rotl32(h, 13)
        h = h * 5 + 0xe6546b64U
    k = 0
    cdef Py_ssize_t t = nblocks * 4
    cdef int rest = n & 3
    if rest == 3:
        k ^= <uint32_t>key[t + 2] << 16
    if rest >= 2:
        k ^= <uint32_t>key[t + 1] << 8
    if rest >= 1:
        k ^= <uint32_t>key[t]
        k *= c1
        k = _rotl32(k, 15)
        k *= c2
        h ^= k
    h ^= <uint32_t>n
    h ^= h >> 16
    h *= 0x85ebca6bU
    h ^= h >> 13
    h *= 0xc2b2ae35U
    h ^= h >> 16
    return <int32_t>h


def murmur3_32(bytes key, uint32_t seed=0):
    """The signed 32-bit MurmurHash3 of ``key`` (for the tests, against scikit-learn's)."""
    return murmur3_s32(<const unsigned char*>key, len(key), seed)


cdef inline Py_ssize_t _bucket(int32_t h, Py_ssize_t n_features) nogil:
    # scikit-learn's _hashing_fast.transform: abs() of INT32_MIN has no int32 value
    if h == -2147483648:
        return (2147483647 - (n_features - 1)) % n_features
    return (h if h >= 0 else -h) % n_features


cdef inline Py_ssize_t _put_utf8(unsigned char* out, uint32_t c) nogil:
    if c < 0x80:
        out[0] = <unsigned char>c
        return 1
    if c < 0x800:
        out[0] = <unsigned char>(0xC0 | (c >> 6))
        out[1] = <unsigned char>(0x80 | (c & 0x3F))
        return 2
    if c < 0x10000:
        out[0] = <unsigned char>(0xE0 | (c >> 12))
        out[1] = <unsigned char>(0x80 | ((c >> 6) & 0x3F))
        out[2] = <unsigned char>(0x80 | (c & 0x3F))
        return 3
    out[0] = <unsigned char>(0xF0 | (c >> 18))
    out[1] = <unsigned char>(0x80 | ((c >> 12) & 0x3F))
    out[2] = <unsigned char>(0x80 | ((c >> 6) & 0x3F))
    out[3] = <unsigned char>(0x80 | (c & 0x3F))
    return 4


# Python's ``\w`` on ASCII ([0-9A-Za-z_]) as a table: Py_UNICODE_ISALNUM is three calls into the
# Unicode database per character
cdef unsigned char _ASCII_WORD[128]
for _c in range(128):
    _ASCII_WORD[_c] = chr(_c).isalnum() or _c == 0x5F


def hashed_bigram_dot(list docs, const float[:] coef):
    """For each (already lowercased) document: the dot product of ``coef`` with the l2-normalized
    counts of its hashed word unigrams and bigrams, bit for bit what
    ``HashingVectorizer(ngram_range=(1, 2), alternate_sign=False, norm="l2", dtype=float32)``
    followed by ``X @ coef`` gives (scikit-learn 1.x: tokens are the maximal runs of at least two
    ``\\w`` characters, the regex ``(?u)\\b\\w\\w+\\b``; a bigram is two tokens joined by one space;
    a feature is ``abs(murmurhash3_32(utf8, seed 0)) % n_features``; duplicates are summed and
    indices sorted; the row norm is accumulated in double; the product is summed in float32 in index
    order, as scipy's ``csr_matvec``). Returns float32, one value per document."""
    cdef Py_ssize_t n_features = coef.shape[0]
    cdef Py_ssize_t nd = len(docs), d, i, ln, nb, nt, j, cap_b = 0, cap_t = 0, u
    cdef unsigned char* buf = NULL
    cdef Py_ssize_t* starts = NULL
    cdef Py_ssize_t* ends = NULL
    cdef int64_t* idx = NULL
    cdef int64_t* tmp = NULL
    cdef int64_t* srt
    cdef Py_ssize_t hist[2048]
    cdef int bits = 1
    while (<int64_t>1 << bits) < n_features:
        bits += 1
    cdef int kind
    cdef void* data
    cdef uint32_t c
    cdef bint inword
    cdef Py_ssize_t wstart, wlen
    cdef double norm
    cdef float acc, v, cnt
    out = np.zeros(nd, np.float32)
    cdef float[:] res = out
    try:
        for d in range(nd):
            s = docs[d]
            ln = len(s)
            if 5 * ln + 8 > cap_b:
                cap_b = 5 * ln + 8
                free(buf)
                buf = <unsigned char*>malloc(cap_b)
            if ln + 2 > cap_t:
                cap_t = ln + 2
                free(starts); free(ends); free(idx); free(tmp)
                tmp = <int64_t*>malloc(2 * cap_t * sizeof(int64_t))
                starts = <Py_ssize_t*>malloc(cap_t * sizeof(Py_ssize_t))
                ends = <Py_ssize_t*>malloc(cap_t * sizeof(Py_ssize_t))
                idx = <int64_t*>malloc(2 * cap_t * sizeof(int64_t))
            if buf == NULL or starts == NULL or ends == NULL or idx == NULL or tmp == NULL:
                raise MemoryError()
            kind = PyUnicode_KIND(s)
            data = PyUnicode_DATA(s)
            # tokens written one after the other, separated by one space, so a bigram is a slice
            nb = 0
            nt = 0
            inword = False
            wstart = 0
            wlen = 0
            for i in range(ln + 1):
                c = PyUnicode_READ(kind, data, i) if i < ln else 0x20
                if (_ASCII_WORD[c] if c < 128 else Py_UNICODE_ISALNUM(c)):
                    if not inword:
                        inword = True
                        wstart = nb
                        wlen = 0
                    nb += _put_utf8(buf + nb, c)
                    wlen += 1
                elif inword:
                    inword = False
                    if wlen >= 2:
                        starts[nt] = wstart
                        ends[nt] = nb
                        nt += 1
                        buf[nb] = 0x20
                        nb += 1
                    else:
                        nb = wstart
            with nogil:
                j = 0
                for i in range(nt):
                    idx[j] = _bucket(murmur3_s32(buf + starts[i], ends[i] - starts[i], 0), n_features)
                    j += 1
                for i in range(nt - 1):
                    idx[j] = _bucket(murmur3_s32(buf + starts[i], ends[i + 1] - starts[i], 0), n_features)
                    j += 1
                if j == 0:
                    res[d] = 0
                    continue
                srt = _radix_sort(idx, tmp, j, bits, hist)
                norm = 0.0
                i = 0
                while i < j:
                    u = i
                    while u < j and srt[u] == srt[i]:
                        u += 1
                    cnt = <float>(u - i)
                    norm += cnt * cnt
                    i = u
                norm = sqrt(norm)
                acc = 0
                i = 0
                while i < j:
                    u = i
                    while u < j and srt[u] == srt[i]:
                        u += 1
                    v = <float>((<double><float>(u - i)) / norm)
                    acc = acc + v * coef[srt[i]]
                    i = u
                res[d] = acc
    finally:
        free(buf); free(starts); free(ends); free(idx); free(tmp)
    return out


# MinHash signatures straight from the UTF-8 buffer of a batch (dedup._shingle.signatures_from_text).
# The per-shingle update is C with compile-time block widths, so the compiler keeps a block of
# minimums in vector registers; target_clones builds AVX-512, AVX2 and plain versions and the loader
# picks the one this CPU has (the .so stays portable).
cdef extern from *:
    """
    #include <stdint.h>
    #define GM_BLOCK 64
    #if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 11 && defined(__x86_64__) && defined(__linux__)
    /* x86-64-v4 (AVX-512 F/BW/DQ/VL) brings 64-bit vector multiplies for the n-gram pass */
    #define GM_CLONES __attribute__((target_clones("arch=x86-64-v4", "avx2", "default")))
    #else
    #define GM_CLONES
    #endif
    /* mins[p] = min(mins[p], a[p]*x + b[p] mod 2^32) for every x in xs and every p < np_ */
    GM_CLONES static void gm_minhash_update(uint32_t* mins, const uint32_t* a, const uint32_t* b,
                                            const uint32_t* xs, int64_t nx, int64_t np_) {
        int64_t p0 = 0;
        for (; p0 + GM_BLOCK <= np_; p0 += GM_BLOCK) {
            uint32_t m[GM_BLOCK], aa[GM_BLOCK], bb[GM_BLOCK];
            for (int j = 0; j < GM_BLOCK; j++) { m[j] = mins[p0 + j]; aa[j] = a[p0 + j]; bb[j] = b[p0 + j]; }
            for (int64_t s = 0; s < nx; s++) {
                uint32_t x = xs[s];
                for (int j = 0; j < GM_BLOCK; j++) {
                    uint32_t y = aa[j] * x + bb[j];
                    m[j] = y < m[j] ? y : m[j];
                }
            }
            for (int j = 0; j < GM_BLOCK; j++) mins[p0 + j] = m[j];
        }
        for (int64_t p = p0; p < np_; p++) {
            uint32_t mm = mins[p], aa = a[p], bb = b[p];
            for (int64_t s = 0; s < nx; s++) {
                uint32_t y = aa * xs[s] + bb;
                mm = y < mm ? y : mm;
            }
            mins[p] = mm;
        }
    }
    #include <string.h>
    static uint64_t gm_pw[9];  /* P^0..P^8, P the FNV-64 prime */
    static uint64_t gm_tab[8][256];  /* byte * P^t: loads instead of multiplies (the multiplier is the bottleneck) */
    static void gm_init_powers(void) {
        gm_pw[0] = 1;
        for (int i = 1; i < 9; i++) gm_pw[i] = gm_pw[i - 1] * 0x100000001B3ULL;
        for (int t = 0; t < 8; t++)
            for (int c = 0; c < 256; c++) gm_tab[t][c] = (uint64_t)c * gm_pw[t];
    }
    static inline uint64_t gm_mix64(uint64_t x) {
        x ^= x >> 30; x *= 0xBF58476D1CE4E5B9ULL; x ^= x >> 27; x *= 0x94D049BB133111EBULL; x ^= x >> 31;
        return x;
    }
    #if defined(__x86_64__) || defined(_M_X64)
    #include <emmintrin.h>
    #endif
    /* Bit j set when q[j] is a space (0x20); bytes at or after n count as spaces. SSE2 is part of
       x86-64, so this needs no CPU dispatch. */
    static inline uint64_t gm_space_mask(const uint8_t* q, int64_t n) {
        uint64_t m = 0;
    #if defined(__x86_64__) || defined(_M_X64)
        if (n >= 64) {
            const __m128i sp = _mm_set1_epi8(0x20);
            for (int c = 0; c < 4; c++) {
                __m128i v = _mm_loadu_si128((const __m128i*)(q + 16 * c));
                m |= (uint64_t)(uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(v, sp)) << (16 * c);
            }
            return m;
        }
    #endif
        for (int64_t j = 0; j < 64; j++) m |= (uint64_t)(j >= n || q[j] == 0x20) << j;
        return m;
    }
    /* sum q[j] P^j mod 2^64 over the word's bytes, eight at a time; reads past the word only while
       inside the buffer (bytes after it are masked off). */
    static inline uint64_t gm_word_sum(const uint8_t* q, int64_t len, const uint8_t* buf_end) {
        uint64_t h = 0, base = 1;
        for (int64_t o = 0; o < len; o += 8) {
            int64_t k = len - o < 8 ? len - o : 8;
            uint64_t v = 0;
    #if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
            if (buf_end - (q + o) >= 8) memcpy(&v, q + o, 8);
            else memcpy(&v, q + o, (size_t)k);
            if (k < 8) v &= (1ULL << (8 * k)) - 1;
    #else
            for (int64_t t = 0; t < k; t++) v |= (uint64_t)q[o + t] << (8 * t);
    #endif
            uint64_t c = 0;
            for (int t = 0; t < 8; t++) c += gm_tab[t][(v >> (8 * t)) & 0xFF];
            if (o == 0) h = c;
            else { h += base * c; }
            base *= gm_pw[8];
        }
        return h;
    }
    /* Hashes of the words (maximal runs of bytes other than 0x20) in [p, end): sum b_j P^j mod 2^64
       plus len * golden, finalized. Word boundaries come from 64-byte space masks (a transition
       bit per boundary), so finding the next word does not wait on hashing the last one. */
    static int64_t gm_word_hashes(const uint8_t* p, const uint8_t* end, const uint8_t* buf_end, uint64_t* w) {
        int64_t nw = 0, n = end - p, start = -1;
        uint64_t carry = 0;  /* 1 when the byte before this block is not a space */
        for (int64_t blk = 0; blk < n; blk += 64) {
            uint64_t nonsp = ~gm_space_mask(p + blk, n - blk);
            uint64_t trans = nonsp ^ ((nonsp << 1) | carry);
            carry = nonsp >> 63;
            while (trans) {
                int64_t pos = blk + __builtin_ctzll(trans);
                trans &= trans - 1;
                if (start < 0) start = pos;
                else {
                    w[nw++] = gm_word_sum(p + start, pos - start, buf_end) + (uint64_t)(pos - start) * 0x9E3779B97F4A7C15ULL;
                    start = -1;
                }
            }
        }
        if (start >= 0)
            w[nw++] = gm_word_sum(p + start, n - start, buf_end) + (uint64_t)(n - start) * 0x9E3779B97F4A7C15ULL;
        return nw;
    }
    /* Finalize the word hashes, then x[s] = fold32(mix64(sum_k w[s+k] K[k])) for the ns full n-grams:
       straight loops over arrays, so the compiler uses 64-bit vector multiplies where the CPU has them. */
    GM_CLONES static void gm_ngram_fold(uint64_t* w, int64_t nw, const uint64_t* K, int n, int64_t ns, uint32_t* x) {
        for (int64_t i = 0; i < nw; i++) w[i] = gm_mix64(w[i]);
        for (int64_t s = 0; s < ns; s++) {
            uint64_t g = 0;
            for (int k = 0; k < n; k++) g += w[s + k] * K[k];
            g = gm_mix64(g);
            x[s] = (uint32_t)(g ^ (g >> 32));
        }
    }
    """
    void gm_init_powers() nogil
    int64_t gm_word_hashes(const unsigned char* p, const unsigned char* end, const unsigned char* buf_end, uint64_t* w) nogil
    void gm_ngram_fold(uint64_t* w, int64_t nw, const uint64_t* K, int n, int64_t ns, uint32_t* x) nogil
    void gm_minhash_update(uint32_t* mins, const uint32_t* a, const uint32_t* b,
                           const uint32_t* xs, int64_t nx, int64_t np_) nogil


cdef inline uint64_t _mix64(uint64_t x) noexcept nogil:
    x ^= x >> 30
    x *= 0xBF58476D1CE4E5B9ULL
    x ^= x >> 27
    x *= 0x94D049BB133111EBULL
    x ^= x >> 31
    return x


def minhash_signatures(const unsigned char[::1] buf, const int64_t[::1] offs, int ngram,
                       const uint64_t[::1] K, const uint32_t[::1] a32, const uint32_t[::1] b32):
    """MinHash signatures of the documents ``buf[offs[d]:offs[d+1]]`` (UTF-8, already normalized),
    bit for bit what ``dedup._shingle.signatures(*shingle_hashes(texts, ngram), a, b)`` gives: words
    are maximal runs of bytes other than 0x20, hashed as ``sum b_j * P^j mod 2^64`` (P the FNV-64
    prime) plus ``len * golden``, splitmix64-finalized; a shingle is the finalized sum of
    ``ngram`` consecutive word hashes times ``K``; a document of 1..ngram-1 words has one shingle of
    all its words. Each shingle hash is folded to 32 bits and permuted by ``a32*x + b32 mod 2^32``.
    Returns ``(signatures uint32 (docs, perms), shingles per document int64)``; a document without
    shingles keeps all 0xFFFFFFFF."""
    cdef Py_ssize_t nd = offs.shape[0] - 1, P = a32.shape[0], d, i, j, s, nw, ns, cap = 0
    cdef int n = ngram, k
    cdef int64_t lo, hi
    cdef uint64_t g
    cdef uint64_t* w = NULL
    cdef uint32_t* xs = NULL
    if n < 1 or K.shape[0] < n or b32.shape[0] != P:
        raise ValueError("minhash_signatures: ngram >= 1, len(K) >= ngram and len(a32) == len(b32)")
    if nd < 0 or offs[0] < 0 or offs[nd] > buf.shape[0]:
        raise ValueError("minhash_signatures: offsets outside the buffer")
    for d in range(nd):
        if offs[d + 1] < offs[d]:
            raise ValueError("minhash_signatures: offsets must not decrease")
    gm_init_powers()
    sig_arr = np.full((max(nd, 0), P), 0xFFFFFFFF, dtype=np.uint32)
    cnt_arr = np.zeros(max(nd, 0), dtype=np.int64)
    cdef uint32_t[:, ::1] sig = sig_arr
    cdef int64_t[::1] cnt = cnt_arr
    cdef const unsigned char* b = &buf[0] if buf.shape[0] else NULL
    if nd <= 0:
        return sig_arr, cnt_arr
    try:
        with nogil:
            for d in range(nd):
                lo = offs[d]
                hi = offs[d + 1]
                if (hi - lo) // 2 + 2 > cap:  # words (and shingles) <= half the bytes, rounded up
                    cap = (hi - lo) // 2 + 2
                    free(w); free(xs)
                    w = <uint64_t*>malloc(cap * sizeof(uint64_t))
                    xs = <uint32_t*>malloc(cap * sizeof(uint32_t))
                    if w == NULL or xs == NULL:
                        with gil:
                            raise MemoryError()
                nw = gm_word_hashes(b + lo, b + hi, b + buf.shape[0], w)
                if nw == 0:
                    continue
                # a document of 1..n-1 words: one shingle of all its words
                ns = nw - n + 1 if nw >= n else 1
                gm_ngram_fold(w, nw, &K[0], n if nw >= n else nw, ns, xs)
                cnt[d] = ns
                if P > 0:
                    gm_minhash_update(&sig[d, 0], &a32[0], &b32[0], xs, ns, P)
    finally:
        free(w); free(xs)
    return sig_arr, cnt_arr
