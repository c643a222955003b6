"""Paragraph-level deduplication: remove repeated paragraphs, lines or 3-sentence spans across the corpus.

Boilerplate (licence headers, cookie banners, navigation, "subscribe to our newsletter") repeats
across documents whose other content is unique, so whole-document dedup keeps it. Dolma
(Soldaini et al. 2024, ``dolma dedupe --dedupe.paragraphs``) and C4 (Raffel et al. 2020, Sec. 2.2:
"we discarded all but one of any three-sentence span occurring more than once in the data set")
remove the repeated units and keep the rest of the document.

How ``fit`` counts (and why not Dolma's Bloom filter): every unit is hashed with xxh3-64 and
spilled per input shard as a hash-sorted numpy file (one task per shard). The counting pass then
walks the 64-bit hash space in ranges sized to a memory budget, one task per range (run through
``run_tasks``: worker processes locally, Ray tasks with ``--engine ray``), reading only that range
from every shard file (memory-mapped), sorting it and counting. This is exact (a Bloom filter has false positives, which
here would delete unique paragraphs), knows the true count of each unit (so ``min_occurrences``
> 2 works; a Bloom filter only knows "seen before"), finds the first occurrence in the stable
document order without processing documents sequentially, and its memory is set by the budget
rather than by the corpus. The price is one spill of 28 bytes per unit to ``workdir``.
"""
from __future__ import annotations

import math
import re
import shutil
from pathlib import Path
from typing import Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import xxhash
from pydantic import Field

from gristmill.arrow import TEXT_TYPE, reasons_from_masks, texts, with_column
from gristmill.dedup._clusters import id_hashes, key_range, prepare_workdir, workdir_fingerprint
from gristmill.engine.atomic import atomic_save_npy
from gristmill.engine.pool import report, run_tasks
from gristmill.step import FitContext, GlobalStep, StepConfig, register

__all__ = ["ParagraphDedup", "split_units"]

_FORMAT = 1  # bump when the spill/state layout changes, so old workdirs are refitted, not misread
_ROW_BITS = 40  # doc ordinal = shard << 40 | row: stable corpus order in one uint64
_SPILL_DTYPE = np.dtype([("h", "<u8"), ("doc", "<u8"), ("ord", "<u8"), ("pos", "<u4")])

_SEPARATORS = {
    # A paragraph ends at a blank line (any whitespace between the two newlines).
    "paragraph": re.compile(r"\n[ \t\r\f\v]*\n\s*"),
    # Dolma's default paragraph_separator is "\n": its "paragraphs" are lines.
    "line": re.compile(r"\n"),
    # Sentence ends: terminal punctuation (plus closing quotes/brackets) then whitespace, or a newline.
    "sentences3": re.compile(r"(?<=[.!?])[\"'\u201d\u2019)\]]*\s+|\s*\n\s*"),
}


def split_units(text: str, unit: str) -> list[tuple[int, int, int]]:
    """Cut ``text`` into units. Returns ``(start, end, next_start)`` per unit: the unit is
    ``text[start:end]`` and its trailing separator runs to ``next_start`` (removed with it)."""
    sep = _SEPARATORS[unit]
    pieces = []
    start = 0
    for m in sep.finditer(text):
        if m.end() == m.start():
            continue
        pieces.append((start, m.start(), m.end()))
        start = m.end()
    if start < len(text) or not pieces:
        pieces.append((start, len(text), len(text)))
    if unit != "sentences3":
        return pieces
    # C4's unit is three consecutive sentences; non-overlapping spans keep removal well defined.
    return [(grp[0][0], grp[-1][1], grp[-1][2]) for grp in (pieces[i : i + 3] for i in range(0, len(pieces), 3))]


def _unit_hashes(text: str, unit: str, min_chars: int) -> list[tuple[int, int, int, int]]:
    """``(position, hash, start, next_start)`` of the units that take part in dedup."""
    out = []
    for pos, (s, e, nxt) in enumerate(split_units(text, unit)):
        # Surrounding whitespace is layout, not content: "  foo" and "foo" are the same paragraph.
        key = text[s:e].strip()
        if len(key) < min_chars:
            continue
        out.append((pos, xxhash.xxh3_64_intdigest(key.encode()), s, nxt))
    return out


def _spill_shard(args: tuple) -> int:
    """Hash every unit of one shard and write them sorted by hash (to a temp name, then rename,
    so a killed run never leaves a half file that looks finished)."""
    shard_index, path, out, unit, min_chars, batch_rows = args
    parts = []
    row = 0
    pf = pq.ParquetFile(path)
    for batch in pf.iter_batches(batch_size=batch_rows, columns=["id", "text"]):
        ids = batch.column(0).to_pylist()
        txts = pc.fill_null(batch.column(1), "").to_pylist()
        keys = id_hashes(ids)
        h, doc, ordn, pos = [], [], [], []
        for k, text in zip(keys.tolist(), txts):
            o = (shard_index << _ROW_BITS) | row
            row += 1
            units = _unit_hashes(text, unit, min_chars)
            if not units:
                continue
            for p, hv, _, _ in units:
                h.append(hv)
                pos.append(p)
            doc.extend([k] * len(units))
            ordn.extend([o] * len(units))
        if h:
            a = np.empty(len(h), dtype=_SPILL_DTYPE)
            a["h"], a["doc"], a["ord"], a["pos"] = h, doc, ordn, pos
            parts.append(a)
        report(len(batch))
    arr = np.concatenate(parts) if parts else np.empty(0, dtype=_SPILL_DTYPE)
    arr = arr[np.argsort(arr["h"], kind="stable")]
    atomic_save_npy(Path(out), arr)
    return len(arr)


def _count_range(spills: list[Path], lo: int, hi: int | None, min_occ: int) -> np.ndarray:
    """Duplicated hashes in [lo, hi): for each, the document and position of its first occurrence."""
    a = key_range(spills, "h", lo, hi, _SPILL_DTYPE)
    if not len(a):
        return a
    # Sort by hash, then stable document order, then position: the head of each run is the first occurrence.
    a = a[np.lexsort((a["pos"], a["ord"], a["h"]))]
    starts = np.flatnonzero(np.r_[True, a["h"][1:] != a["h"][:-1]])
    counts = np.diff(np.r_[starts, len(a)])
    return a[starts[counts >= min_occ]]


def _count_task(args: tuple) -> None:
    """One hash range, counted and saved (a task: reads only that range of every shard's spill)."""
    spills, lo, hi, min_occ, out = args
    atomic_save_npy(Path(out), _count_range([Path(f) for f in spills], lo, hi, min_occ))


@register
class ParagraphDedup(GlobalStep):
    """Remove paragraphs (or lines, or 3-sentence spans) that occur elsewhere in the corpus; the
    first occurrence in the stable document order stays. Drop documents left with too little.

    Defaults and their sources:

    - ``unit="paragraph"`` (blank-line separated). ``unit="line"`` reproduces Dolma, whose
      ``paragraph_separator`` defaults to ``"\\n"`` (allenai/dolma, ``dolma dedupe``);
      ``unit="sentences3"`` is C4's three-sentence span (Raffel et al. 2020, Sec. 2.2).
    - ``min_occurrences=2``: C4 removes "all but one of any three-sentence span occurring more
      than once"; Dolma removes every paragraph already seen. Raise it to remove only
      boilerplate that is widespread.
    - ``min_unit_chars=1``: only empty units are exempt, as in Dolma (whose ``min_length``
      default is 0). Raise it (e.g. 20) for code, where short lines like ``}`` repeat legitimately.
    - ``min_remaining_words=1``: a document emptied by dedup is dropped (nothing is left to
      train on). C4's implementation drops a page left with fewer than 3 sentences
      (TFDS ``c4_utils.remove_duplicate_text(min_num_sentences=3)``); set 3-5 words/fraction to
      follow it.
    - ``min_remaining_fraction=0.0``: Dolma keeps whatever is left of a document.

    Documents untouched by dedup are never dropped by this step, however short.
    Document ids must be unique: the first occurrence is remembered by id.
    """

    name = "paragraph_dedup"

    class Config(StepConfig):
        unit: Literal["paragraph", "line", "sentences3"] = Field("paragraph", description="what is counted and removed: paragraphs, lines or 3-sentence spans")
        min_occurrences: int = Field(2, ge=2, description="a unit seen this many times or more is a duplicate")
        min_unit_chars: int = Field(1, ge=1, description="shorter units (after strip) are never removed")
        min_remaining_words: int = Field(1, ge=0, description="reject a document left with fewer words")
        min_remaining_fraction: float = Field(0.0, ge=0.0, le=1.0, description="of characters")
        memory_mb: int = Field(512, ge=1, description="budget for one counting partition in fit")

    # -- fit ------------------------------------------------------------------------------------

    def fit(self, ctx: FitContext) -> None:
        wd = Path(ctx.workdir)
        # A workdir from another config or input would silently give wrong answers: start over.
        # (memory_mb changes how the count is partitioned, not its result.)
        prepare_workdir(wd, workdir_fingerprint(self.name, _FORMAT, self.config.model_dump(exclude={"memory_mb"}), ctx.shards),
                        ctx.log)
        if (wd / "state.npy").exists():
            self.bind(wd)
            return

        spill_dir = wd / "spill"
        spill_dir.mkdir(exist_ok=True)
        spills = [spill_dir / f"shard_{i:06d}.npy" for i in range(len(ctx.shards))]
        todo = [i for i, f in enumerate(spills) if not f.exists()]
        if len(ctx.shards) >= 1 << (64 - _ROW_BITS):
            raise ValueError(f"paragraph_dedup: {len(ctx.shards)} shards is more than it can order; merge shards")
        args = [
            (i, str(ctx.shards[i]), str(spills[i]), self.config.unit, self.config.min_unit_chars, 8192)
            for i in todo
        ]
        if args:
            ctx.log(f"paragraph_dedup: hashing {len(args)} of {len(spills)} shards")
            rows = ctx.rows()
            with ctx.track("hashing units", sum(rows[i] for i in todo)) as bar:
                for _ in run_tasks(_spill_shard, args, ctx.workers, progress=bar.report):
                    pass

        total = sum(np.load(f, mmap_mode="r").shape[0] for f in spills)
        # Each partition is loaded, copied and sorted: ~3x its spill size in memory.
        budget = self.config.memory_mb * 2**20 // (3 * _SPILL_DTYPE.itemsize)
        n_parts = max(1, math.ceil(total / max(budget, 1)))
        part_dir = wd / "parts" / str(n_parts)
        part_dir.mkdir(parents=True, exist_ok=True)
        step = (1 << 64) // n_parts
        ctx.log(f"paragraph_dedup: counting {total} units in {n_parts} hash range(s)")
        # One task per hash range (worker processes locally, Ray tasks with --engine ray).
        outs = [part_dir / f"part_{p:06d}.npy" for p in range(n_parts)]
        todo = [([str(f) for f in spills], p * step, None if p == n_parts - 1 else (p + 1) * step,
                 self.config.min_occurrences, str(outs[p])) for p in range(n_parts) if not outs[p].exists()]
        with ctx.track("counting", len(todo), "hash ranges") as bar:
            for _ in run_tasks(_count_task, todo, ctx.workers):
                bar.advance(1)
        results = [np.load(f) for f in outs]
        state = np.concatenate(results) if results else np.empty(0, dtype=_SPILL_DTYPE)
        atomic_save_npy(wd / "state.npy", state)
        # Spills are only needed to finish the count; the state above is the fitted result.
        shutil.rmtree(spill_dir, ignore_errors=True)
        shutil.rmtree(wd / "parts", ignore_errors=True)
        ctx.log(f"paragraph_dedup: {len(state)} distinct units occur >= {self.config.min_occurrences} times")
        self.bind(wd)

    # -- per batch --------------------------------------------------------------------------------

    def _state(self) -> np.ndarray:
        st = getattr(self, "_dups", None)
        if st is None:
            path = self.fitted_file("state.npy")
            st = self._dups = np.load(path)
        return st

    def annotate(self, table: pa.Table) -> pa.Table:
        dups = self._state()
        unit, min_chars = self.config.unit, self.config.min_unit_chars
        docs = texts(table)
        keys = id_hashes(table.column("id"))
        units = [_unit_hashes(t, unit, min_chars) for t in docs]
        removed, frac = np.zeros(len(table), np.int32), np.zeros(len(table), np.float32)
        # One vectorised lookup for the whole batch; only documents with a hit are rewritten.
        counts = np.fromiter((len(u) for u in units), np.int64, count=len(units))
        hv = np.fromiter((h for u in units for _, h, _, _ in u), np.uint64, count=int(counts.sum()))
        if len(dups) and len(hv):
            idx = np.minimum(np.searchsorted(dups["h"], hv), len(dups) - 1)
            hit = dups["h"][idx] == hv
        else:
            idx, hit = np.zeros(len(hv), np.int64), np.zeros(len(hv), bool)
        starts = np.r_[0, np.cumsum(counts)]
        new_texts = list(docs)
        for r in np.unique(np.repeat(np.arange(len(units)), counts)[hit]):
            a, b = starts[r], starts[r + 1]
            first = dups[idx[a:b]]
            pos = np.fromiter((u[0] for u in units[r]), np.int64, count=b - a)
            drop = hit[a:b] & ~((first["doc"] == keys[r]) & (first["pos"] == pos))
            if not drop.any():
                continue
            text, pieces, cursor = docs[r], [], 0
            for (_, _, s, nxt), d in zip(units[r], drop):
                if d:
                    pieces.append(text[cursor:s])
                    cursor = nxt
            pieces.append(text[cursor:])
            new = "".join(pieces).rstrip()
            removed[r] = int(drop.sum())
            frac[r] = 1.0 - len(new) / len(text)
            new_texts[r] = new
        n = int(removed.sum())
        if n:
            self.stats["units_removed"] += n
            self.stats["docs_changed"] += int((removed > 0).sum())
        table = with_column(table, "text", pa.array(new_texts, type=TEXT_TYPE))
        table = with_column(table, "para_dup_removed", pa.array(removed, type=pa.int32()))
        return with_column(table, "para_dup_removed_frac", pa.array(frac, type=pa.float32()))

    def select(self, table: pa.Table) -> pa.Array:
        removed = np.asarray(table.column("para_dup_removed")) > 0
        frac = np.asarray(table.column("para_dup_removed_frac"))
        txt = pc.utf8_trim_whitespace(pc.fill_null(table.column("text"), ""))
        # Splitting "" gives [""]: an emptied document must count 0 words, not 1.
        words = np.asarray(pc.list_value_length(pc.utf8_split_whitespace(txt)))
        words = np.where(np.asarray(pc.equal(txt, "")), 0, words)
        too_little = (words < self.config.min_remaining_words) | ((1.0 - frac) < self.config.min_remaining_fraction)
        return reasons_from_masks(len(table), [("too_little_left", removed & too_little)])
