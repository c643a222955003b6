"""Benchmark decontamination: word n-gram overlap against an index built from benchmark files.

``gristmill decontam index BENCH... --fields question,answer --n 13 -o IDX`` hashes every word
n-gram of the benchmark records into a sorted array of 64-bit hashes (8 bytes per n-gram plus 2 for
the benchmark it came from: 10M n-grams take 100 MB); the ``decontaminate`` step looks each
document's n-grams up in it with one vectorized ``searchsorted`` per batch.

Normalization follows GPT-3's contamination analysis (Brown et al. 2020, App. C: lower-case, drop
punctuation, split on whitespace, 13-grams); Llama 3 used 8-grams (Dubey et al. 2024, Sec. 5.1.4),
which ``--n 8`` gives. Case, whitespace and punctuation edits therefore do not hide a passage, and a
few changed words leave the n-grams between them intact.
"""
from __future__ import annotations

import json
import unicodedata
from pathlib import Path
from typing import Iterable, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import xxhash
from pydantic import Field, field_validator

from gristmill.arrow import with_column
from gristmill.step import Step, StepConfig, register

__all__ = ["Decontaminate", "build_index", "NgramIndex", "IndexError_"]

INDEX_VERSION = 1
# Anything that is not a letter, a combining mark or a digit separates words (RE2 syntax).
_PUNCT = r"[^\p{L}\p{M}\p{N}\s]+"
_MIX1, _MIX2, _MIX3 = np.uint64(0x9E3779B97F4A7C15), np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)
CONTAMINATION_TYPE = pa.list_(pa.struct([("benchmark", pa.string()), ("ngrams", pa.int32())]))


class IndexError_(ValueError):
    """A decontamination index that is missing, corrupt or of another version."""


def _words(texts: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """Normalized words of each text, flattened, and the owning row of each word."""
    low = pc.utf8_lower(texts)
    clean = pc.replace_substring_regex(low, _PUNCT, " ")
    lists = pc.utf8_split_whitespace(clean)
    flat = pc.list_flatten(lists)
    rows = pc.list_parent_indices(lists).to_numpy(zero_copy_only=False).astype(np.int64)
    return flat, rows


def _word_hashes(words: pa.Array) -> np.ndarray:
    if len(words) == 0:
        return np.zeros(0, dtype=np.uint64)
    enc = pc.dictionary_encode(words).combine_chunks() if isinstance(words, pa.ChunkedArray) else pc.dictionary_encode(words)
    uniq = np.fromiter((xxhash.xxh3_64_intdigest(w) for w in pc.cast(enc.dictionary, pa.large_binary()).to_pylist()), dtype=np.uint64,
                       count=len(enc.dictionary))
    return uniq[enc.indices.to_numpy(zero_copy_only=False)]


def ngram_hashes(texts: pa.Array, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(hash, row, first word position) of every word n-gram that lies inside one text."""
    words, rows = _words(texts)
    w = _word_hashes(words)
    if len(w) < n:
        return np.zeros(0, np.uint64), np.zeros(0, np.int64), np.zeros(0, np.int64)
    with np.errstate(over="ignore"):
        h = w * _MIX1
        for k in range(1, n):
            h = (h[:-1] ^ (h[:-1] >> np.uint64(29))) * _MIX2 + w[k:] * _MIX3
        h ^= h >> np.uint64(32)
    starts = np.arange(len(h), dtype=np.int64)
    inside = rows[: len(h)] == rows[n - 1:]
    # position of the n-gram's first word inside its own text
    first_of_row = np.zeros(len(rows), dtype=np.int64)
    if len(rows):
        change = np.flatnonzero(np.diff(rows)) + 1
        seg_start = np.concatenate([[0], change])
        first_of_row = np.repeat(seg_start, np.diff(np.concatenate([seg_start, [len(rows)]])))
    pos = starts - first_of_row[: len(h)]
    return h[inside], rows[: len(h)][inside], pos[inside]


def _field_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, (list, tuple)):
        return " ".join(_field_text(v) for v in value)
    if isinstance(value, dict):
        return " ".join(_field_text(v) for v in value.values())
    return str(value)


def _records(path: Path) -> Iterable[dict]:
    name = path.name.lower()
    if name.endswith(".parquet"):
        import pyarrow.parquet as pq

        for batch in pq.ParquetFile(path).iter_batches(batch_size=4096):
            yield from batch.to_pylist()
        return
    from gristmill.io.readers import json_lines

    try:
        for n, raw in json_lines(path):  # gzip/zstd by content, a cut stream or a wrong format is an error
            try:
                rec = json.loads(raw)
            except (ValueError, RecursionError) as e:
                raise IndexError_(f"{path} line {n}: not JSON ({e}); benchmark files are JSON Lines or Parquet") from None
            if not isinstance(rec, dict):
                raise IndexError_(f"{path} line {n}: expected a JSON object, got {type(rec).__name__}")
            yield rec
    except IndexError_:
        raise
    except ValueError as e:
        raise IndexError_(f"{e}; benchmark files are JSON Lines (UTF-8, plain, .gz or .zst) or Parquet") from None


# Reference documents read when counting frequent n-grams: a sample is what the option needs, and
# the count arrays are as large as the index whatever the reference, so only time grows with it.
MAX_REFERENCE_DOCS = 1_000_000


def reference_counts(hashes: np.ndarray, files: list[Path], n: int, field: str = "text",
                     max_docs: int = MAX_REFERENCE_DOCS) -> tuple[np.ndarray, int]:
    """For each n-gram of the sorted ``hashes``, the number of reference documents that contain it
    (each document counts once), and the number of documents read (at most ``max_docs``).

    Memory is one int32 per index n-gram plus one batch of documents: only the index's n-grams are
    counted, never the reference's own vocabulary."""
    counts = np.zeros(len(hashes), np.int64)
    docs = 0
    batch: list[str] = []

    def flush():
        if not batch or not len(hashes):
            return
        h, rows, _pos = ngram_hashes(pa.array(batch, pa.large_string()), n)
        i = np.minimum(np.searchsorted(hashes, h), len(hashes) - 1)
        hit = np.asarray(hashes[i]) == h
        # one count per (document, n-gram): a phrase repeated inside one page is still one page
        pairs = np.unique(np.stack([rows[hit], i[hit]]), axis=1) if hit.any() else np.zeros((2, 0), np.int64)
        np.add.at(counts, pairs[1], 1)
        batch.clear()

    for path in files:
        path = Path(path)
        if not path.exists():
            raise IndexError_(f"{path}: no such reference file")
        seen_field = False
        for rec in _records(path):
            if docs >= max_docs:
                break
            v = rec.get(field)
            if v is None:
                continue
            seen_field = True
            batch.append(_field_text(v))
            docs += 1
            if len(batch) >= 2048:
                flush()
        flush()
        if not seen_field and docs < max_docs:
            raise IndexError_(f"{path}: no reference record has the field {field!r}; name the text field with "
                              "--reference-field")
    return counts, docs


def build_index(files: list[Path], out: Path, fields: list[str], n: int = 13, names: list[str] | None = None,
                reference: list[Path] | None = None, ignore_above: int = 10, reference_field: str = "text",
                reference_max_docs: int = MAX_REFERENCE_DOCS) -> dict:
    """Hash every word ``n``-gram of the ``fields`` of each benchmark record; write ``out/``.

    Each file is one benchmark, named by its file stem unless ``names`` says otherwise. A field
    missing from every record of a file is an error (a misspelled field would index nothing).

    ``reference`` (documents, e.g. the corpus being decontaminated or a sample of it) drops from the
    index every n-gram found in more than ``ignore_above`` of them: licence text, disclaimers,
    famous quotations and code idioms that benchmarks share with ordinary pages. Audits found such
    boilerplate behind most n-gram flags (marin's audit: 88 of 114 flagged sources were false
    positives). The default, 10, is GPT-3's (Brown et al. 2020, App. C: 13-grams matching more than
    10 training documents were ignored, being mostly common cultural phrases and legal
    boilerplate); against a sample rather than the whole corpus, lower it in proportion. The price is
    that a benchmark passage copied into that many reference documents is no longer found either;
    the shipped probes (:mod:`gristmill.annotate.contamination_probes`) measure both sides."""
    from gristmill.engine.atomic import atomic_save_npy, atomic_write_text

    if n < 2:
        raise IndexError_(f"--n {n}: n-grams need n >= 2 (13 as GPT-3, 8 as Llama 3)")
    if not fields:
        raise IndexError_("--fields is empty: name the benchmark fields to index, e.g. --fields question,answer")
    names = names or [Path(f).name.split(".")[0] for f in files]
    if len(set(names)) != len(names):
        raise IndexError_(f"two benchmark files share a name ({names}); rename one")
    hashes, owners, stats = [], [], []
    for bi, (path, name) in enumerate(zip(files, names)):
        path = Path(path)
        if not path.exists():
            raise IndexError_(f"{path}: no such benchmark file")
        texts, seen = [], set()
        for rec in _records(path):
            seen.update(k for k in fields if k in rec)
            texts.append(" ".join(_field_text(rec.get(k)) for k in fields))
        missing = [k for k in fields if k not in seen]
        if texts and missing:
            raise IndexError_(f"{path}: no record has the field(s) {missing}; fields present: "
                              f"{sorted(set().union(*[set(r) for r in _records(path)]))[:20]}")
        h, _rows, _pos = ngram_hashes(pa.array(texts, pa.large_string()), n)
        h = np.unique(h)
        hashes.append(h)
        owners.append(np.full(len(h), bi, dtype=np.uint16))
        stats.append({"benchmark": name, "file": str(path), "records": len(texts), "ngrams": int(len(h))})
    allh = np.concatenate(hashes) if hashes else np.zeros(0, np.uint64)
    allo = np.concatenate(owners) if owners else np.zeros(0, np.uint16)
    order = np.argsort(allh, kind="stable")
    allh, allo = allh[order], allo[order]
    keep = np.concatenate([[True], allh[1:] != allh[:-1]]) if len(allh) else np.zeros(0, bool)
    allh, allo = allh[keep], allo[keep]  # an n-gram shared by two benchmarks counts for the first
    ref_meta = None
    if reference:
        if ignore_above < 1:
            raise IndexError_(f"--ignore-above {ignore_above}: give at least 1 (10 by default, as GPT-3)")
        counts, read = reference_counts(allh, [Path(r) for r in reference], n, reference_field, reference_max_docs)
        frequent = counts > ignore_above
        for s in stats:
            s["ignored_frequent"] = 0
        per = np.bincount(allo[frequent].astype(np.int64), minlength=len(stats))
        for s, k in zip(stats, per.tolist()):
            s["ignored_frequent"] = int(k)
        allh, allo = allh[~frequent], allo[~frequent]
        ref_meta = {"files": [str(r) for r in reference], "field": reference_field, "documents": read,
                    "ignore_above": ignore_above, "ignored_ngrams": int(frequent.sum())}
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    atomic_save_npy(out / "ngrams.npy", allh)
    atomic_save_npy(out / "owners.npy", allo)
    meta = {"version": INDEX_VERSION, "n": n, "fields": fields, "benchmarks": stats, "ngrams": int(len(allh)),
            "normalization": "lower-case, punctuation to space, whitespace split (GPT-3 App. C)"}
    if ref_meta:
        meta["reference"] = ref_meta
    atomic_write_text(out / "meta.json", json.dumps(meta, indent=2))
    return meta


_MAX_META_BYTES = 16 << 20  # a meta.json lists benchmarks, not data: anything larger is not ours
_MAX_N = 64  # GPT-3 used 13-grams and Llama 3 8-grams; an n far above that matches nothing
_VALIDATED: dict[tuple, bool] = {}  # (path, size and mtime of its files) already checked in this process


class NgramIndex:
    """A decontamination index, validated in full when opened: a corrupt index must fail the run
    before any work, never decontaminate nothing in silence (issue 19, item 13: ``n: 0`` in the
    meta, or unsorted n-grams that ``searchsorted`` cannot find, kept 25 of 25 contaminated
    documents). Every problem names the file and what is wrong."""

    def __init__(self, path: Path):
        path = Path(path)
        try:
            mf = path / "meta.json"
            if mf.stat().st_size > _MAX_META_BYTES:
                raise IndexError_(f"{mf}: {mf.stat().st_size:,} bytes is not a decontamination index's meta (at most "
                                  f"{_MAX_META_BYTES:,}); rebuild it")
            meta = json.loads(mf.read_text(encoding="utf-8"))
            _check_meta(mf, meta)
            self.hashes = _load_array(path / "ngrams.npy")
            self.owners = _load_array(path / "owners.npy")
        except FileNotFoundError as e:
            raise IndexError_(f"{path}: not a decontamination index ({Path(e.filename).name} missing); "
                              "build one with `gristmill decontam index BENCH... --fields F -o IDX`") from None
        except (ValueError, OSError, KeyError, TypeError) as e:
            if isinstance(e, IndexError_):
                raise
            raise IndexError_(f"{path}: corrupt decontamination index ({e}); rebuild it") from None
        self.n = int(meta["n"])
        self.names = [b["benchmark"] for b in meta["benchmarks"]]
        key = tuple([str(path.resolve())] + [(f.stat().st_size, f.stat().st_mtime_ns) for f in
                                              (path / "meta.json", path / "ngrams.npy", path / "owners.npy")])
        if key not in _VALIDATED:
            _check_arrays(path, meta, self.hashes, self.owners)
            _VALIDATED[key] = True

    def lookup(self, h: np.ndarray) -> np.ndarray:
        """Benchmark index of each hash, or -1."""
        if len(self.hashes) == 0 or len(h) == 0:
            return np.full(len(h), -1, dtype=np.int32)
        i = np.searchsorted(self.hashes, h)
        i = np.minimum(i, len(self.hashes) - 1)
        hit = np.asarray(self.hashes[i]) == h
        return np.where(hit, np.asarray(self.owners[i]).astype(np.int32), -1)


def _load_array(f: Path) -> np.ndarray:
    try:  # allow_pickle=False: an index is data, never code (np.load's default, stated)
        return np.load(f, mmap_mode="r", allow_pickle=False)
    except FileNotFoundError:
        raise
    except (ValueError, OSError) as e:
        raise IndexError_(f"{f}: corrupt decontamination index: not a plain .npy array ({e}); rebuild it with "
                          "`gristmill decontam index`") from None


def _check_meta(mf: Path, meta) -> None:
    def bad(what: str):
        raise IndexError_(f"{mf}: corrupt decontamination index: {what}; rebuild it with `gristmill decontam index`")

    if not isinstance(meta, dict):
        bad(f"expected a JSON object, got {type(meta).__name__}")
    if meta.get("version") != INDEX_VERSION:
        raise IndexError_(f"{mf}: index version {meta.get('version')!r}, this gristmill reads {INDEX_VERSION}; rebuild it")
    n = meta.get("n")
    if not isinstance(n, int) or isinstance(n, bool) or not 2 <= n <= _MAX_N:
        bad(f"n is {n!r}; an index holds word n-grams with 2 <= n <= {_MAX_N} (13 as GPT-3, 8 as Llama 3)")
    fields = meta.get("fields")
    if not isinstance(fields, list) or not fields or not all(isinstance(f, str) for f in fields):
        bad(f"fields is {fields!r}, not a non-empty list of field names")
    bench = meta.get("benchmarks")
    if not isinstance(bench, list) or not 1 <= len(bench) <= 1 << 16:
        bad("benchmarks is not a list of 1 to 65,536 benchmarks")
    for i, b in enumerate(bench):
        if not (isinstance(b, dict) and isinstance(b.get("benchmark"), str) and isinstance(b.get("ngrams"), int)
                and not isinstance(b.get("ngrams"), bool) and b["ngrams"] >= 0):
            bad(f"benchmarks[{i}] is not {{benchmark: name, ngrams: count >= 0, ...}}")
    total = meta.get("ngrams")
    if not isinstance(total, int) or isinstance(total, bool) or total < 0:
        bad(f"ngrams is {total!r}, not a count")
    if total > sum(b["ngrams"] for b in bench):
        bad(f"ngrams is {total:,} but the benchmarks hold {sum(b['ngrams'] for b in bench):,} together")


def _check_arrays(path: Path, meta: dict, hashes: np.ndarray, owners: np.ndarray) -> None:
    def bad(file: str, what: str):
        raise IndexError_(f"{path / file}: corrupt decontamination index: {what}; rebuild it with `gristmill decontam index`")

    if hashes.ndim != 1 or hashes.dtype != np.uint64:
        bad("ngrams.npy", f"holds {hashes.dtype} of shape {hashes.shape}, not a 1-d uint64 array of n-gram hashes")
    if owners.ndim != 1 or owners.dtype != np.uint16:
        bad("owners.npy", f"holds {owners.dtype} of shape {owners.shape}, not a 1-d uint16 array of benchmark numbers")
    if len(hashes) != meta["ngrams"]:
        bad("ngrams.npy", f"holds {len(hashes):,} n-grams but meta.json says {meta['ngrams']:,}")
    if len(owners) != len(hashes):
        bad("owners.npy", f"holds {len(owners):,} entries for {len(hashes):,} n-grams")
    # in chunks: an index is memory-mapped and may be far larger than what one check should hold
    step = 1 << 22
    for lo in range(0, len(hashes), step):
        h = np.asarray(hashes[lo: lo + step + 1])
        if len(h) > 1 and not bool(np.all(h[1:] > h[:-1])):
            at = lo + int(np.argmin(h[1:] > h[:-1])) + 1
            bad("ngrams.npy", f"is not sorted and unique at position {at:,} (lookups search it, so an unsorted index "
                              "finds nothing)")
        o = np.asarray(owners[lo: lo + step])
        if len(o) and int(o.max()) >= len(meta["benchmarks"]):
            bad("owners.npy", f"names benchmark {int(o.max())} but meta.json lists {len(meta['benchmarks'])}")


class DecontaminateConfig(StepConfig):
    index: str = Field(description="directory written by `gristmill decontam index`")
    action: Literal["drop", "flag", "redact"] = Field(
        "drop", description="drop: reject contaminated documents; flag: annotate only; redact: cut the matching spans out of the text")
    min_matches: int = Field(1, ge=1, description="benchmark n-grams a document must share to count as contaminated (GPT-3: any one 13-gram)")
    redact_with: str = Field("[benchmark text removed]", description="what replaces a redacted span")

    @field_validator("index")
    @classmethod
    def _index_loads(cls, v: str) -> str:
        NgramIndex(Path(v))  # a missing or corrupt index fails at recipe load, not in a worker
        return v


@register
class Decontaminate(Step):
    """Find benchmark text in documents by word n-gram overlap (GPT-3's method: Brown et al. 2020,
    App. C; the index fixes n, 13 by default, 8 as in Llama 3).

    Annotates ``contamination`` (a list of {benchmark, ngrams}) and ``contamination_ngrams`` (the
    total). ``action: drop`` rejects as ``decontaminate/contaminated`` when ``contamination_ngrams
    >= min_matches``; ``flag`` only annotates; ``redact`` replaces the words covered by matching
    n-grams with ``redact_with``. Counters: ``contaminated_docs`` and one ``benchmark:<name>`` per
    benchmark, so the run summary lists contaminated benchmarks with counts."""

    name = "decontaminate"
    Config = DecontaminateConfig
    thresholds = {"min_matches": "contamination_ngrams"}

    @classmethod
    def example_steps(cls, workdir: Path) -> list[dict]:
        bench = Path(workdir) / "bench.jsonl"
        bench.write_text(json.dumps({"question": "Return a new list containing all items from the iterable in "
                                                 "ascending order; a custom key function can be supplied."}) + "\n")
        build_index([bench], Path(workdir) / "bench-index", ["question"], n=8)
        return [{cls.name: {"index": str(Path(workdir) / "bench-index"), "action": "flag"}}]

    def _index(self) -> NgramIndex:
        if getattr(self, "_idx", None) is None:
            self._idx = NgramIndex(Path(self.config.index))
        return self._idx

    def annotate(self, table: pa.Table) -> pa.Table:
        idx = self._index()
        text = table.column("text").combine_chunks() if table.num_rows else pa.array([], pa.large_string())
        h, rows, pos = ngram_hashes(pc.fill_null(text, ""), idx.n)
        owner = idx.lookup(h)
        hit = owner >= 0
        n = table.num_rows
        total = np.bincount(rows[hit], minlength=n).astype(np.int32)
        per: list = [None] * n
        by_doc: dict[int, dict[int, int]] = {}
        for r, o in zip(rows[hit].tolist(), owner[hit].tolist()):
            d = by_doc.setdefault(r, {})
            d[o] = d.get(o, 0) + 1
        c = self.config
        for r, d in by_doc.items():
            per[r] = [{"benchmark": idx.names[o], "ngrams": k} for o, k in sorted(d.items(), key=lambda kv: -kv[1])]
            if total[r] >= c.min_matches:
                self.stats["contaminated_docs"] += 1
                for o, k in d.items():
                    self.stats[f"benchmark:{idx.names[o]}"] += 1
        out = with_column(table, "contamination", pa.array(per, CONTAMINATION_TYPE))
        out = with_column(out, "contamination_ngrams", pa.array(total, pa.int32()))
        if c.action == "redact" and by_doc:
            out = with_column(out, "text", self._redact(text, rows[hit], pos[hit], idx.n, total), type=text.type)
        return out

    def _redact(self, text: pa.Array, rows: np.ndarray, pos: np.ndarray, n: int, total: np.ndarray) -> pa.Array:
        values = text.to_pylist()
        covered: dict[int, set[int]] = {}
        for r, p in zip(rows.tolist(), pos.tolist()):
            if total[r] >= self.config.min_matches:
                covered.setdefault(r, set()).update(range(p, p + n))
        for r, words in covered.items():
            values[r] = _cut_words(values[r], words, self.config.redact_with)
            self.stats["redacted_docs"] += 1
        return pa.array(values, text.type)

    def select(self, table: pa.Table):
        if self.config.action != "drop":
            return None
        hit = pc.greater_equal(pc.fill_null(table.column("contamination_ngrams"), 0), self.config.min_matches)
        return pc.if_else(hit, pa.scalar("contaminated"), pa.scalar(None, pa.string()))


def _word_spans(text: str) -> list[tuple[int, int]]:
    """Character spans of the words exactly as :func:`_words` splits them: runs of letters,
    combining marks and digits (Unicode categories L, M, N); everything else separates."""
    spans, start = [], None
    for i, ch in enumerate(text):
        if unicodedata.category(ch)[0] in "LMN":
            if start is None:
                start = i
        elif start is not None:
            spans.append((start, i))
            start = None
    if start is not None:
        spans.append((start, len(text)))
    return spans


def _cut_words(text: str, words: set[int], placeholder: str) -> str:
    """Replace the word positions in ``words`` (maximal runs merged) with one placeholder each."""
    spans = _word_spans(text)
    out, last, i = [], 0, 0
    ordered = sorted(w for w in words if w < len(spans))
    while i < len(ordered):
        j = i
        while j + 1 < len(ordered) and ordered[j + 1] == ordered[j] + 1:
            j += 1
        start, end = spans[ordered[i]][0], spans[ordered[j]][1]
        out.append(text[last:start])
        out.append(placeholder)
        last = end
        i = j + 1
    out.append(text[last:])
    return "".join(out)
