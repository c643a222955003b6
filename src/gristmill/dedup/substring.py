"""Exact-substring dedup: remove every span of >= ``length`` tokens that already occurred earlier in the corpus.

The method of Lee et al. 2022, "Deduplicating Training Data Makes Language Models Better" (ACL),
and of its code, google-research/deduplicate-text-datasets: put the corpus in one sequence, build
its suffix array, and find repeated spans as runs of adjacent suffixes whose longest common prefix
is at least the threshold. The paper's threshold is k = 50 tokens (its EXACTSUBSTR); the Google
tool's examples pass ``--length-threshold 100`` bytes of 2-byte GPT-2 token ids, the same 50 tokens.

Differences from the Google tool, and why:

- **The first occurrence stays.** The Google tool removes every copy of a repeated span (its
  ``collect`` marks all of them). gristmill removes a span only where it occurred *earlier* in the
  stable corpus order (shard order, then row), so a text seen twice keeps one copy: the same rule
  as gristmill's other dedup steps. Precisely: token ``t`` is removed iff some window of
  ``length`` tokens that covers ``t`` (inside one document) occurred earlier. Spans that occur once
  are never touched.
- **Tokens** are GPT-2's pre-tokens (Radford et al. 2019: runs of letters, runs of digits, runs of
  other symbols, the common English contractions), without its whitespace tokens. GPT-2's BPE
  never merges across a pre-token boundary, so ``length`` of these is at least ``length`` GPT-2
  tokens: the step never removes a span shorter than the paper's threshold, and needs no tokenizer
  model. Whitespace is not part of a token, so spans that differ only in spacing match.
- **Out of core, with pieces merged by fingerprint.** The corpus is tokenized per shard into a byte
  stream (each token followed by 0xFE, each document by 0xFF: bytes that never occur in UTF-8, so
  a match never crosses a token or document boundary unnoticed). The stream is cut at document
  boundaries into pieces of bounded size (``memory_mb``), and each piece gets its suffix array
  and LCP array from ``pydivsufsort`` (libdivsufsort, Mori; Kasai et al. 2001 for the LCP): exact
  repeats inside a piece come from the arrays alone. The Google tool then merges the pieces'
  suffix arrays with a k-way comparison of suffixes in Rust; done in Python that comparison loop
  would dominate the run, so here each piece keeps one entry per distinct window (a 64-bit
  polynomial fingerprint of its bytes, its position), the pieces' entries are merged by a
  fingerprint-range join whose partitions are bounded by ``memory_mb``, and every match across
  pieces is confirmed byte for byte before anything is removed. A fingerprint collision can
  therefore never remove text; a true repeat always has equal fingerprints, so none is missed.

A document that lost spans is rejected as ``substring_dedup/too_little_left`` when fewer than
``min_remaining_words`` words are left (50 by default, as DataTrove's exact-substring
``DedupReader(min_doc_words=50)``, which is Gopher's shortest kept document, Rae et al. 2021,
App. A) or less than
``min_remaining_fraction`` of its characters. Documents untouched by this step are never dropped
by it. Document ids must be unique (the engine checks).
"""
from __future__ import annotations

import json
import math
import mmap
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from pydantic import Field

from gristmill.annotate.length import word_counts
from gristmill.arrow import TEXT_TYPE, reasons_from_masks, texts, with_column
from gristmill.dedup._clusters import id_hashes, key_range, prepare_workdir, workdir_fingerprint
from gristmill.engine.atomic import atomic_path, atomic_save_npy, atomic_write_json
from gristmill.engine.pool import report, run_tasks
from gristmill.step import FitContext, GlobalStep, StepConfig, register

__all__ = ["SubstringDedup", "remove_token_spans", "tokenize_spans"]

_FORMAT = 1  # bump when the spill/state layout changes, so old workdirs are refitted, not misread
_SEP, _END = 0xFE, 0xFF  # after each token / each document: never valid UTF-8 bytes
_OFF_BITS = 40  # position = shard << 40 | byte offset in the shard's stream (1 TB per shard)
_BASE = np.uint64(0x9E3779B97F4A7C15)  # odd, so invertible mod 2^64 (the fingerprint's base)
_BASE_INV = np.uint64(pow(0x9E3779B97F4A7C15, -1, 1 << 64))
# Peak memory per byte of a piece, measured (benchmarks/RESULTS.md: 2.1 GB for 42.7 MB pieces):
# the text, suffix array, LCP and token lookup (13), then the fingerprint's 64-bit powers, products
# and prefix sums (24) with the token arrays.
_BYTES_PER_PIECE_BYTE = 48
_DOC = np.dtype([("key", "<u8"), ("start", "<u8"), ("ntok", "<u4")])
_REP = np.dtype([("fp", "<u8"), ("pos", "<u8"), ("wlen", "<u4")])
_SPAN = np.dtype([("key", "<u8"), ("a", "<u4"), ("b", "<u4")])

# GPT-2's pre-tokenizer pattern (openai/gpt-2, encoder.py) in `re` terms, minus its whitespace
# tokens and leading spaces: contractions, letters, digits, other symbols (NUL is treated as space
# so the stream's separator can be written as NUL and swapped in numpy).
_TOKEN = re.compile(r"'(?:s|t|re|ve|m|ll|d)|[^\W\d_]+|\d+|(?:[^\s\w\x00]|_)+")


def tokenize_spans(text: str) -> list[re.Match]:
    """The tokens of ``text`` as regex matches (``.start()``/``.end()`` are character offsets)."""
    return list(_TOKEN.finditer(text))


def remove_token_spans(text: str, toks: list[re.Match], spans: list[tuple[int, int]]) -> str:
    """``text`` without the tokens ``[a, b)`` of each span (sorted, disjoint). A span's trailing
    whitespace goes with it, so no double gap is left; the result is right-stripped."""
    pieces, cursor = [], 0
    for a, b in spans:
        pieces.append(text[cursor: toks[a].start()])
        cursor = toks[b].start() if b < len(toks) else len(text)
    pieces.append(text[cursor:])
    return "".join(pieces).rstrip()


def _encode(texts_: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The stream bytes of some documents, each document's start offset and token count."""
    parts, starts, ntok, off = [], [], [], 0
    for t in texts_:
        toks = _TOKEN.findall(t)
        b = ("\x00".join(toks) + "\x00" if toks else "").encode("utf-8", "surrogatepass") + b"\xff"
        parts.append(b)
        starts.append(off)
        ntok.append(len(toks))
        off += len(b)
    buf = np.frombuffer(b"".join(parts), np.uint8).copy()
    buf[buf == 0] = _SEP  # tokens never hold NUL (the pattern skips it), so every NUL is a separator
    return buf, np.asarray(starts, np.uint64), np.asarray(ntok, np.uint32)


def _spill_shard(args: tuple) -> int:
    """Phase 1, one task per shard: its token stream and per-document index."""
    path, stream_out, docs_out, batch_rows = args
    docs, off = [], 0
    # Written batch by batch (memory: one batch), to a temporary name renamed when complete.
    with atomic_path(stream_out) as tmp, open(tmp, "wb") as f:
        for batch in pq.ParquetFile(path).iter_batches(batch_size=batch_rows, columns=["id", "text"]):
            buf, starts, ntok = _encode(pc.fill_null(batch.column(1), "").to_pylist())
            d = np.empty(len(starts), _DOC)
            d["key"], d["start"], d["ntok"] = id_hashes(batch.column(0)), starts + np.uint64(off), ntok
            docs.append(d)
            f.write(buf.tobytes())
            off += len(buf)
            report(len(batch), len(buf))
    atomic_save_npy(docs_out, np.concatenate(docs) if docs else np.empty(0, _DOC))
    return off


def _token_bounds(buf: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start offset and separator offset of every token in a stream (or a piece of one)."""
    boundary = (buf == _SEP) | (buf == _END)
    prev = np.r_[True, boundary[:-1]]
    starts = np.flatnonzero(~boundary & prev)
    seps = np.flatnonzero(buf == _SEP)
    return starts, seps


def _fingerprints(buf: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """64-bit polynomial fingerprint of ``buf[s:s+l]`` for each (s, l), independent of where the
    bytes sit (so equal windows in different pieces get equal fingerprints): sum of b[s+j] * B^j
    mod 2^64, from prefix sums of b[t] * B^t scaled back by B^-s."""
    with np.errstate(over="ignore"):
        powers = np.empty(len(buf), np.uint64)
        powers[0] = 1
        if len(buf) > 1:
            powers[1:] = _BASE
            np.cumprod(powers, out=powers)
        prefix = np.zeros(len(buf) + 1, np.uint64)
        np.cumsum(buf.astype(np.uint64) * powers, out=prefix[1:])
        del powers
        raw = prefix[starts + lengths] - prefix[starts]
        del prefix
        top = int(starts.max()) + 1 if len(starts) else 1
        inv = np.empty(top, np.uint64)
        inv[0] = 1
        if top > 1:
            inv[1:] = _BASE_INV
            np.cumprod(inv, out=inv)
        return raw * inv[starts]


def _piece_task(args: tuple) -> tuple[int, int]:
    """Phase 2, one task per piece, run in a fresh child process: libdivsufsort's OpenMP runtime
    (its bundled libgomp) deadlocks in a process forked after it started threads, which the
    engine's forked workers would be once any piece ran in the parent; and a child hands all of a
    piece's memory back to the system when it exits."""
    import gristmill

    root = str(Path(gristmill.__file__).resolve().parent.parent)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([root, *filter(None, [os.environ.get("PYTHONPATH")])])}
    p = subprocess.run([sys.executable, "-c", "from gristmill.dedup.substring import _piece_child; _piece_child()"],
                       input=json.dumps({"parent": os.getpid(), "args": list(args)}), capture_output=True, text=True, env=env)
    if p.returncode != 0:
        raise RuntimeError(f"substring_dedup: the suffix array of piece {args[2]}:{args[3]} of {args[0]} failed "
                           f"(exit {p.returncode}; -9 is usually the kernel's OOM killer: lower memory_mb):\n{p.stderr[-3000:]}")
    return tuple(json.loads(p.stdout.strip().splitlines()[-1]))


def _piece_child() -> None:
    from gristmill.engine.pool import die_with_parent

    job = json.loads(sys.stdin.read())
    die_with_parent(job["parent"])
    print(json.dumps(_piece(tuple(job["args"]))))


def _piece(args: tuple) -> tuple[int, int]:
    """Suffix array + LCP of one piece; repeats inside the piece, and one entry per distinct window
    for the merge across pieces."""
    import pydivsufsort

    stream, shard, lo, hi, doc_starts, n, dups_out, reps_out = args
    buf = np.array(np.memmap(stream, np.uint8, "r")[lo:hi])  # a writable copy: libdivsufsort needs one
    doc_starts = np.asarray(doc_starts, np.int64) - lo
    ts, seps = _token_bounds(buf)
    ntok = len(ts)
    empty = (np.empty(0, np.uint64), np.empty(0, _REP))
    if ntok < n:
        atomic_save_npy(dups_out, empty[0])
        atomic_save_npy(reps_out, empty[1])
        return 0, 0
    doc_of = np.searchsorted(doc_starts, ts, side="right") - 1
    tok_at = np.full(len(buf), -1, np.int32 if ntok < 2**31 else np.int64)  # byte offset -> token (direct, not a search)
    tok_at[ts] = np.arange(ntok)
    valid = np.zeros(ntok, bool)
    valid[: ntok - n + 1] = doc_of[n - 1:] == doc_of[: ntok - n + 1]
    width = np.zeros(ntok, np.int64)  # bytes of the window's n tokens, each with its separator
    width[: ntok - n + 1] = seps[n - 1:] + 1 - ts[: ntok - n + 1]

    sa = pydivsufsort.divsufsort(buf)
    lcp = pydivsufsort.kasai(buf, sa)  # lcp[i] = LCP(suffix sa[i], suffix sa[i+1])
    idx = np.flatnonzero(tok_at[sa] >= 0)  # token-start suffixes, in suffix order
    fpos = sa[idx].astype(np.int64)
    del sa
    # LCP of consecutive token-start suffixes: the minimum of the LCPs between them.
    flcp = np.minimum.reduceat(lcp[: idx[-1]], idx[:-1]) if len(idx) > 1 else np.empty(0, lcp.dtype)
    del lcp, idx
    ftok = tok_at[fpos]
    # Equal n-token windows are equal byte prefixes (separators included), so they are adjacent in
    # suffix order: a run with LCP >= the window's width is one distinct window.
    same = valid[ftok[:-1]] & (flcp >= width[ftok[:-1]])
    head = np.r_[True, ~same]
    gstart = np.flatnonzero(head)
    first = np.minimum.reduceat(fpos, gstart)  # earliest position of each distinct window
    gid = np.cumsum(head) - 1
    dup = fpos[valid[ftok] & (fpos != first[gid])]  # later copies inside this piece
    rep_pos = first[valid[tok_at[first]]]
    rep_tok = tok_at[rep_pos]
    del tok_at
    reps = np.empty(len(rep_pos), _REP)
    reps["fp"] = _fingerprints(buf, rep_pos, width[rep_tok])
    reps["pos"] = (np.uint64(shard) << np.uint64(_OFF_BITS)) | (rep_pos + lo).astype(np.uint64)
    reps["wlen"] = width[rep_tok]
    reps = reps[np.argsort(reps["fp"], kind="stable")]
    atomic_save_npy(dups_out, np.sort(dup + lo).astype(np.uint64))
    atomic_save_npy(reps_out, reps)
    return int(len(dup)), int(len(reps))


def _join_task(args: tuple) -> tuple[int, int]:
    """Phase 3, one fingerprint range: windows seen in more than one piece, confirmed byte for
    byte; all but the earliest copy of each are repeats. Returns (repeats, collisions)."""
    reps_files, streams, lo, hi, out = args
    a = key_range(reps_files, "fp", lo, hi, _REP)
    a = a[np.lexsort((a["pos"], a["fp"]))]
    head = np.r_[True, a["fp"][1:] != a["fp"][:-1]] if len(a) else np.empty(0, bool)
    size = np.diff(np.r_[np.flatnonzero(head), len(a)])
    multi = np.repeat(size > 1, size)
    dups, collisions = [], 0
    maps: dict[int, mmap.mmap] = {}
    sub = a[multi]
    bounds = np.flatnonzero(np.r_[True, sub["fp"][1:] != sub["fp"][:-1]]) if len(sub) else np.empty(0, np.int64)
    for g, s in enumerate(bounds):
        e = bounds[g + 1] if g + 1 < len(bounds) else len(sub)
        seen: set[bytes] = set()
        for pos, wlen in zip(sub["pos"][s:e].tolist(), sub["wlen"][s:e].tolist()):
            shard, off = pos >> _OFF_BITS, pos & ((1 << _OFF_BITS) - 1)
            m = maps.get(shard)
            if m is None:
                with open(streams[shard], "rb") as f:
                    m = maps[shard] = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
            key = m[off: off + wlen]
            if key in seen:
                dups.append(pos)  # sorted by position: a copy seen before is a later copy
            else:
                collisions += bool(seen)
                seen.add(key)
    atomic_save_npy(out, np.asarray(sorted(dups), np.uint64))
    return len(dups), collisions


def _spans_task(args: tuple) -> tuple[int, int]:
    """Phase 4, one shard: repeated windows -> merged token spans to remove, per document."""
    shard, stream, docs_file, dup_files, n, out = args
    docs = np.load(docs_file)
    parts = [np.load(f) for f in dup_files]
    offs = np.unique(np.concatenate(parts)) if parts else np.empty(0, np.uint64)
    if not len(offs):
        atomic_save_npy(out, np.empty(0, _SPAN))
        return 0, 0
    ts, _ = _token_bounds(np.asarray(np.memmap(stream, np.uint8, "r")))
    g = np.searchsorted(ts, offs.astype(np.int64))
    if not np.array_equal(ts[g], offs.astype(np.int64)):
        raise RuntimeError(f"substring_dedup: a repeat in {stream} does not start at a token (a bug)")
    doc_tok0 = np.r_[0, np.cumsum(docs["ntok"].astype(np.int64))[:-1]]
    # Merge [g, g+n) in global token order into spans; a window never crosses a document, but the
    # last window of one document ends where the next document's first begins: a new document
    # always starts a new span.
    doc = np.searchsorted(doc_tok0, g, side="right") - 1
    ends = g + n
    run_end = np.maximum.accumulate(ends)
    new = np.r_[True, (g[1:] > run_end[:-1]) | (doc[1:] != doc[:-1])]
    starts = g[new]
    stops = np.maximum.reduceat(ends, np.flatnonzero(new))
    d = doc[new]
    spans = np.empty(len(starts), _SPAN)
    spans["key"], spans["a"], spans["b"] = docs["key"][d], starts - doc_tok0[d], stops - doc_tok0[d]
    atomic_save_npy(out, spans)
    return len(spans), int((stops - starts).sum())


@register
class SubstringDedup(GlobalStep):
    """Remove spans of ``length`` or more tokens that occurred earlier in the corpus (Lee et al.
    2022's exact-substring dedup, by suffix array); the first occurrence stays. Drop documents
    left too short.

    Defaults and their sources:

    - ``length=50``: Lee et al. 2022 (EXACTSUBSTR, k = 50 tokens). Tokens are GPT-2 pre-tokens,
      so 50 of them are at least 50 GPT-2 tokens.
    - ``min_remaining_words=50``: DataTrove's exact-substring ``DedupReader(min_doc_words=50)``,
      Gopher's shortest kept document (Rae et al. 2021, App. A); here applied only to documents
      this step shortened.
    - ``min_remaining_fraction=0.0``: the Google tool keeps whatever is left of a document.
    - ``memory_mb=1024``: a piece of the corpus takes about 48 bytes of memory per byte of text
      (measured), so pieces are ~21 MB; the answer does not depend on it.

    Annotates ``substr_dup_spans`` (spans removed), ``substr_dup_tokens`` (tokens removed) and
    ``substr_dup_removed_frac`` (share of characters removed); rewrites ``text``.
    """

    name = "substring_dedup"
    thresholds = {"min_remaining_fraction": "substr_dup_removed_frac"}

    class Config(StepConfig):
        length: int = Field(50, ge=2, le=100_000, description="tokens: a repeated span this long or longer is removed (Lee et al. 2022: 50)")
        min_remaining_words: int = Field(50, ge=0, description="reject a shortened document left with fewer words (DataTrove's DedupReader, Gopher: 50)")
        min_remaining_fraction: float = Field(0.0, ge=0.0, le=1.0, description="reject a shortened document left with less than this share of its characters")
        memory_mb: int = Field(1024, ge=1, description="budget for one piece's suffix array (and for one partition of the merge)")
        batch_rows: int = Field(2048, ge=1, description="rows per batch while tokenizing")

    # -- fit ------------------------------------------------------------------------------------

    def fit(self, ctx: FitContext) -> None:
        try:
            import pydivsufsort  # noqa: F401
        except ImportError:
            raise RuntimeError("substring_dedup needs pydivsufsort (pip install pydivsufsort); it builds the suffix arrays") from None
        c = self.config
        wd = Path(ctx.workdir)
        shards = [Path(p) for p in ctx.shards]
        if len(shards) >= 1 << (64 - _OFF_BITS):
            raise ValueError(f"substring_dedup: {len(shards)} shards is more than it can address; merge shards")
        prepare_workdir(wd, workdir_fingerprint(self.name, _FORMAT, c.model_dump(include={"length", "memory_mb"}), shards), ctx.log)
        self.workdir = wd
        if (wd / "state.npy").exists():
            self.bind(wd)
            return
        sp = wd / "spill"
        sp.mkdir(exist_ok=True)
        streams = [str(sp / f"{i:05d}.u8") for i in range(len(shards))]
        docfiles = [str(sp / f"{i:05d}.docs.npy") for i in range(len(shards))]
        todo = [(str(p), streams[i], docfiles[i], c.batch_rows) for i, p in enumerate(shards)
                if not Path(docfiles[i]).exists()]
        rows = ctx.rows()
        with ctx.track("tokenizing", sum(rows[i] for i, p in enumerate(shards) if not Path(docfiles[i]).exists())) as bar:
            for _ in run_tasks(_spill_shard, todo, ctx.workers, progress=bar.report):
                pass

        # Pieces: runs of whole documents of at most piece_bytes (a longer document is a piece alone).
        piece_bytes = max(1 << 16, c.memory_mb * 2**20 // _BYTES_PER_PIECE_BYTE)
        pieces = []
        for i in range(len(shards)):
            docs = np.load(docfiles[i])
            total = Path(streams[i]).stat().st_size
            bounds = np.r_[docs["start"].astype(np.int64), total]
            d0 = 0
            while d0 < len(docs):
                d1 = int(np.searchsorted(bounds, bounds[d0] + piece_bytes, side="right")) - 1
                d1 = min(max(d1, d0 + 1), len(docs))
                pieces.append((i, int(bounds[d0]), int(bounds[d1]), bounds[d0:d1].tolist()))
                d0 = d1
        pd = wd / "pieces"
        pd.mkdir(exist_ok=True)
        outs = [(str(pd / f"{k:06d}.dups.npy"), str(pd / f"{k:06d}.reps.npy")) for k in range(len(pieces))]
        todo = [(streams[i], i, lo, hi, starts, c.length, *outs[k]) for k, (i, lo, hi, starts) in enumerate(pieces)
                if not Path(outs[k][1]).exists()]
        ctx.log(f"substring_dedup: {len(pieces)} piece(s) of <= {piece_bytes / 2**20:.1f} MB; suffix arrays for {len(todo)}")
        with ctx.track("suffix arrays", len(todo), "pieces") as bar:
            for _ in run_tasks(_piece_task, todo, ctx.workers):
                bar.advance(1)

        # Merge across pieces: fingerprint ranges, each a task within the memory budget.
        rep_files = [o[1] for o in outs]
        n_reps = sum(np.load(f, mmap_mode="r").shape[0] for f in rep_files)
        n_parts = max(1, math.ceil(n_reps * 3 * _REP.itemsize / (c.memory_mb * 2**20))) if len(pieces) > 1 else 0
        jd = wd / "join"
        jd.mkdir(exist_ok=True)
        step = (1 << 64) // max(n_parts, 1)
        jouts = [str(jd / f"{q:06d}.npy") for q in range(n_parts)]
        todo = [(rep_files, streams, q * step, None if q == n_parts - 1 else (q + 1) * step, jouts[q])
                for q in range(n_parts) if not Path(jouts[q]).exists()]
        with ctx.track("merging pieces", len(todo), "ranges") as bar:
            for _ in run_tasks(_join_task, todo, ctx.workers):
                bar.advance(1)
        # (A resumed fit counts only the ranges it ran; the figure is informative, not a ledger.)
        within = sum(np.load(o[0], mmap_mode="r").shape[0] for o in outs)
        cross = [np.load(f) for f in jouts]

        # Per shard: repeated windows -> spans; then one state sorted by document key.
        sd = wd / "spans"
        sd.mkdir(exist_ok=True)
        cross_all = np.concatenate(cross) if cross else np.empty(0, np.uint64)
        shard_of = cross_all >> np.uint64(_OFF_BITS)
        mask = np.uint64((1 << _OFF_BITS) - 1)
        todo = []
        for i in range(len(shards)):
            f = sd / f"{i:05d}.npy"
            if f.exists():
                continue
            cx = sd / f"{i:05d}.cross.npy"
            atomic_save_npy(cx, cross_all[shard_of == np.uint64(i)] & mask)
            todo.append((i, streams[i], docfiles[i], [o[0] for k, o in enumerate(outs) if pieces[k][0] == i] + [str(cx)],
                         c.length, str(f)))
        with ctx.track("spans", len(todo), "shards") as bar:
            for _ in run_tasks(_spans_task, todo, ctx.workers):
                bar.advance(1)
        spans = np.concatenate([np.load(sd / f"{i:05d}.npy") for i in range(len(shards))]) if shards else np.empty(0, _SPAN)
        spans = spans[np.argsort(spans["key"], kind="stable")]
        n_docs = sum(rows)
        tokens = sum(int(np.load(f, mmap_mode="r")["ntok"].sum()) for f in docfiles)
        rep = {"documents": n_docs, "tokens": tokens, "pieces": len(pieces), "merge_partitions": n_parts,
               "length": c.length, "repeated_windows_within_pieces": int(within),
               "repeated_windows_across_pieces": int(len(cross_all)),
               "spans_removed": int(len(spans)), "tokens_removed": int((spans["b"].astype(np.int64) - spans["a"]).sum()),
               "documents_changed": int(len(np.unique(spans["key"])))}
        atomic_write_json(wd / "report.json", rep)
        atomic_save_npy(wd / "state.npy", spans)
        # The spill is only needed to reach the state above; it is the size of the corpus.
        for d in (sp, pd, jd, sd):
            shutil.rmtree(d, ignore_errors=True)
        ctx.log(f"substring_dedup: {rep['spans_removed']} span(s), {rep['tokens_removed']} of {tokens} tokens "
                f"in {rep['documents_changed']} document(s) occurred earlier")
        self.bind(wd)

    # -- per batch --------------------------------------------------------------------------------

    def _state(self) -> np.ndarray:
        st = getattr(self, "_spans", None)
        if st is None:
            st = self._spans = np.load(self.fitted_file("state.npy"))
        return st

    def annotate(self, table: pa.Table) -> pa.Table:
        spans = self._state()
        docs = texts(table)
        keys = id_hashes(table.column("id"))
        n = len(table)
        nspans, ntoks, frac = np.zeros(n, np.int32), np.zeros(n, np.int32), np.zeros(n, np.float32)
        lo = np.searchsorted(spans["key"], keys, side="left")
        hi = np.searchsorted(spans["key"], keys, side="right")
        new_texts = list(docs)
        for r in np.flatnonzero(hi > lo):
            text = docs[r]
            toks = tokenize_spans(text)
            cut = list(zip(spans["a"][lo[r]:hi[r]].tolist(), spans["b"][lo[r]:hi[r]].tolist()))
            if cut[-1][1] > len(toks):
                raise RuntimeError(f"substring_dedup: document {table.column('id')[r]} has {len(toks)} tokens, the "
                                   f"fitted state expects {cut[-1][1]}; its text changed after fit (a bug)")
            new = remove_token_spans(text, toks, cut)
            ntoks[r] = sum(b - a for a, b in cut)
            nspans[r] = len(cut)
            frac[r] = 1.0 - len(new) / len(text) if text else 0.0
            new_texts[r] = new
        if nspans.any():
            self.stats["spans_removed"] += int(nspans.sum())
            self.stats["tokens_removed"] += int(ntoks.sum())
            self.stats["docs_changed"] += int((nspans > 0).sum())
        table = with_column(table, "text", pa.array(new_texts, type=TEXT_TYPE))
        table = with_column(table, "substr_dup_spans", pa.array(nspans, type=pa.int32()))
        table = with_column(table, "substr_dup_tokens", pa.array(ntoks, type=pa.int32()))
        return with_column(table, "substr_dup_removed_frac", pa.array(frac, type=pa.float32()))

    def select(self, table: pa.Table) -> pa.Array:
        changed = np.asarray(table.column("substr_dup_spans")) > 0
        frac = np.asarray(table.column("substr_dup_removed_frac"))
        words = word_counts(pc.fill_null(table.column("text"), ""))
        too_little = (words < self.config.min_remaining_words) | ((1.0 - frac) < self.config.min_remaining_fraction)
        return reasons_from_masks(len(table), [("too_little_left", changed & too_little)])
