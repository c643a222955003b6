"""Exact dedup: documents whose normalized text (or URL) hashes to the same 128-bit key.

Out of core, as a hash-partitioned groupby whose phases are tasks (``run_tasks``: worker processes
locally, Ray tasks with ``--engine ray``): phase 1 is one task per shard, writing its keys (16
bytes), row number, id, length and score to an Arrow IPC spill file with one record batch per
hash-prefix partition; phase 2 is one task per partition, loading that partition from every
shard's spill, so a task holds about (documents / partitions) x 40 bytes plus ids. The driver only
concatenates the partitions' documents in clusters of two or more into ``result.parquet``.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import xxhash
from pydantic import Field

from gristmill.dedup._clusters import (
    DUPLICATE, ClusterDedupStep, KeepPolicy, write_shard_results, atomic_write_json, atomic_write_parquet, choose_keepers, cluster_report,
    id_hashes, prepare_workdir, shard_rows, workdir_fingerprint, write_result,
)
from gristmill.engine.atomic import atomic_path
from gristmill.engine.pool import report, run_tasks
from gristmill.dedup._normalize import normalize_text
from gristmill.dedup._refit import cache_index, check_order, files_size, lookup
from gristmill.step import FitContext, register

_FORMAT = 1  # bump when the spill/result layout changes, so old workdirs are refitted, not misread
_ROWS_PER_PARTITION = 4_000_000  # ~160 MB of keys+metadata per partition in phase 2


_SCHEMA = pa.schema([("hi", pa.uint64()), ("lo", pa.uint64()), ("node", pa.int64()), ("id", pa.string()),
                     ("length", pa.int64()), ("score", pa.float64())])


def _keys(c, batch) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(hi, lo, valid) per row."""
    h = xxhash.xxh3_128_digest
    if c.key == "url":
        vals = batch.column("url").to_pylist()
        valid = np.array([v is not None and v != "" for v in vals], dtype=bool)
        raw = b"".join(h((v or "").encode()) for v in vals)
    else:
        vals = pc.fill_null(batch.column("text"), "").to_pylist()
        valid = np.ones(len(vals), dtype=bool)
        raw = b"".join(
            h(normalize_text(v, lowercase=c.lowercase, strip_punctuation=c.strip_punctuation,
                             collapse_whitespace=c.collapse_whitespace, nfkc=c.nfkc).encode("utf-8", "surrogatepass"))
            for v in vals)
    k = np.frombuffer(raw, dtype=">u8").reshape(-1, 2).astype(np.uint64) if raw else np.zeros((0, 2), np.uint64)
    return k[:, 0].copy(), k[:, 1].copy(), valid


def _cached_keys(c, batch, cache: pa.Table) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(hi, lo, valid) per row: keys of the source run's spill where it hashed the document
    (``_refit.py``), hashed now where it did not."""
    pos = lookup(cache["id"], batch.column("id"))
    hit = pos >= 0
    hi, lo = np.zeros(len(batch), np.uint64), np.zeros(len(batch), np.uint64)
    hi[hit], lo[hit] = cache["hi"].to_numpy()[pos[hit]], cache["lo"].to_numpy()[pos[hit]]
    if not hit.all():
        mh, ml, _ = _keys(c, batch.filter(pa.array(~hit)))
        hi[~hit], lo[~hit] = mh, ml
    return hi, lo, np.ones(len(batch), dtype=bool)


def _spill_task(args: tuple) -> None:
    """Phase 1 for one shard (a task): its keys, one IPC record batch per hash-prefix partition."""
    c, p, out, first_row, need, bits, parts, cache_file = args
    schema = _SCHEMA
    cols = sorted(need | {"text"}) if c.keep == "longest" else sorted(need)
    cache = None
    if cache_file and c.key == "text":  # url keys hash no text: nothing worth caching
        with pa.memory_map(cache_file) as f:
            cache = pa.ipc.open_file(f).read_all().combine_chunks()
    chunks = []
    row = first_row
    last_node = -1
    for batch in pq.ParquetFile(p).iter_batches(batch_size=c.batch_rows, columns=cols):
        if cache is not None:
            pos = lookup(cache["id"], batch.column("id"))
            nodes = cache["node"].to_numpy()[pos[pos >= 0]]
            check_order(np.r_[last_node, nodes], f"exact_dedup re-fit of {p}")
            last_node = nodes[-1] if len(nodes) else last_node
        hi, lo, valid = _keys(c, batch) if cache is None else _cached_keys(c, batch, cache)
        m = len(batch)
        length = (pc.utf8_length(pc.fill_null(batch.column("text"), "")).to_numpy(zero_copy_only=False)
                  if "text" in batch.schema.names else np.zeros(m, np.int64))
        if cache is not None and c.keep == "longest":  # the length the run measured (a later step may rewrite text)
            pos = lookup(cache["id"], batch.column("id"))
            hit = pos >= 0
            length = np.asarray(length).copy()
            length[hit] = cache["length"].to_numpy()[pos[hit]]
        score = (pc.cast(batch.column(c.score_column), pa.float64()).to_numpy(zero_copy_only=False)
                 if c.score_column else np.zeros(m))
        sel = np.flatnonzero(valid)
        chunks.append(pa.table({
            "hi": hi[sel], "lo": lo[sel], "node": np.arange(row, row + m, dtype=np.int64)[sel],
            "id": batch.column("id").cast(pa.string()).take(pa.array(sel)),
            "length": length.astype(np.int64)[sel], "score": score[sel],
        }, schema=schema))
        row += m
        report(m)
    t = pa.concat_tables(chunks) if chunks else schema.empty_table()
    part = (t["hi"].to_numpy() >> np.uint64(64 - bits)).astype(np.int64) if bits else np.zeros(len(t), np.int64)
    order = np.argsort(part, kind="stable")
    t, part = t.take(pa.array(order)), part[order]
    bounds = np.searchsorted(part, np.arange(parts + 1))
    with atomic_path(out) as tmp, pa.OSFile(str(tmp), "wb") as f, pa.ipc.new_file(f, schema) as w:
        for q in range(parts):
            # exactly one batch per partition, empty ones included: batch q <-> partition q
            tq = t.slice(int(bounds[q]), int(bounds[q + 1] - bounds[q])).combine_chunks()
            w.write_batch(tq.to_batches()[0] if len(tq) else pa.RecordBatch.from_pylist([], schema=schema))


def _group_task(args: tuple) -> None:
    """Phase 2 for hash-prefix partition ``q`` (a task): group equal keys across every shard's spill
    and pick the kept copy; writes the partition's documents in clusters of two or more."""
    c, spill, n_shards, parts, q, out = args
    spill, out, schema = Path(spill), Path(out), _SCHEMA
    pieces = []
    for i in range(n_shards):
        with pa.memory_map(str(spill / f"{i:05d}.arrow")) as src:
            reader = pa.ipc.open_file(src)
            if reader.num_record_batches != parts:
                raise RuntimeError(f"{spill}/{i:05d}.arrow has {reader.num_record_batches} partitions, expected {parts}")
            tq = pa.Table.from_batches([reader.get_batch(q)], schema)
            if len(tq):
                pieces.append(tq.combine_chunks())
    t = pa.concat_tables(pieces) if pieces else schema.empty_table()
    hi, lo, node = t["hi"].to_numpy(), t["lo"].to_numpy(), t["node"].to_numpy()
    order = np.lexsort((node, lo, hi))
    hs, ls = hi[order], lo[order]
    new = np.ones(len(order), bool)
    new[1:] = (hs[1:] != hs[:-1]) | (ls[1:] != ls[:-1])
    label = np.cumsum(new) - 1
    size = np.bincount(label)[label] if len(label) else np.zeros(0, np.int64)
    multi = size > 1
    idx = order[multi]
    lab = label[multi]
    kept = choose_keepers(lab, c.keep, t["length"].to_numpy()[idx], t["score"].to_numpy()[idx]) if len(idx) else np.zeros(0, bool)
    ids = t["id"].take(pa.array(idx)).combine_chunks() if len(idx) else pa.array([], pa.string())
    # Cluster name = the keeper's id. Labels are non-decreasing here (rows follow the key
    # sort) with one keeper each, so each row finds its keeper by binary search.
    keeper = np.flatnonzero(kept)
    named = keeper[np.searchsorted(lab[keeper], lab)] if len(idx) else np.zeros(0, np.int64)
    atomic_write_parquet(out, pa.table({
        "id": ids,
        "id_hash": pa.array(id_hashes(ids), pa.uint64()),
        "cluster": ids.take(pa.array(named, pa.int64())).cast(pa.string()),
        "size": pa.array(size[multi], pa.int64()),
        "code": pa.array(np.where(kept, 0, DUPLICATE), pa.int8()),
        "label": pa.array(lab, pa.int64()),
    }))


@register
class ExactDedup(ClusterDedupStep):
    """Drop all but one copy of documents with identical normalized text (or identical URL).

    The key is xxh3-128 of the text after lowercasing, punctuation removal, whitespace collapsing
    and NFKC (each switchable), as in the exact-match stages of CCNet (Wenzek et al. 2020, which
    normalizes case, digits, accents and punctuation before hashing) and Gopher's exact document
    dedup (Rae et al. 2021, App. A); 128 bits make a false match at 10^10 documents ~1e-19 likely.
    With ``key: url``, documents sharing a non-null ``url`` are duplicates. Annotates
    ``exact_dup_cluster`` (the kept document's id) and ``exact_dup_cluster_size`` (prefixed so they
    do not collide with ``minhash_dedup``'s ``dup_cluster``); the others are rejected as
    ``duplicate``. ``keep``: first (input order) | longest | max_score (``score_column``).
    """

    name = "exact_dedup"
    cluster_column = "exact_dup_cluster"

    class Config(KeepPolicy):
        key: Literal["text", "url"] = Field("text", description="what must be equal: the normalized text, or the url")
        lowercase: bool = Field(True, description="compare case-insensitively")
        strip_punctuation: bool = Field(True, description="ignore punctuation when comparing")
        collapse_whitespace: bool = Field(True, description="treat runs of whitespace as one space")
        nfkc: bool = Field(True, description="apply NFKC before comparing (full-width and compatibility forms)")
        partitions: int | None = Field(None, ge=1, description="hash-prefix partitions; default: 1 per 4M docs")
        batch_rows: int = Field(8192, ge=1, description="rows per batch while hashing")

    @classmethod
    def reads(cls, config) -> set[str]:
        return ({"url"} if getattr(config, "key", "text") == "url" else set()) | ({config.score_column} if config.score_column else set())

    def fit(self, ctx: FitContext) -> None:
        c = self.config
        wd = Path(ctx.workdir)
        self.workdir = wd
        shards = [Path(p) for p in ctx.shards]
        keycol = "url" if c.key == "url" else "text"
        need = {"id", keycol} | ({c.score_column} if c.score_column else set())
        for p in shards:
            missing = need - set(pq.read_schema(p).names)
            if missing:
                hint = " (or set key: text)" if "url" in missing else ""
                raise ValueError(f"{p}: missing column(s) {sorted(missing)} needed by exact_dedup{hint}")
        prepare_workdir(wd, workdir_fingerprint(self.name, _FORMAT, c.model_dump(), shards), ctx.log)
        rows = shard_rows(shards) if shards else np.zeros(0, np.int64)
        starts = np.concatenate([[0], np.cumsum(rows)])
        n = int(starts[-1])
        parts = c.partitions or max(1, -(-n // _ROWS_PER_PARTITION))
        bits = int(np.ceil(np.log2(parts))) if parts > 1 else 0
        parts = 1 << bits
        spill = wd / "spill"
        spill.mkdir(exist_ok=True)

        # Phase 1: keys per shard, partitioned by hash prefix into one IPC file per shard.
        cached = cache_index(self, shards) or [None] * len(shards)
        src = getattr(self, "refit_from", None)
        todo = [(c, str(p), str(spill / f"{i:05d}.arrow"), int(starts[i]), need, bits, parts,
                 str(Path(src) / "spill" / f"{cached[i]:05d}.arrow") if cached[i] is not None else None)
                for i, p in enumerate(shards) if not (spill / f"{i:05d}.arrow").exists()]
        with ctx.track("hashing", int(sum(rows[i] for i, p in enumerate(shards) if not (spill / f"{i:05d}.arrow").exists()))) as bar:
            for _ in run_tasks(_spill_task, todo, ctx.workers, progress=bar.report):
                pass

        # Phase 2: per partition, group equal keys and pick the kept copy.
        gdir = wd / "groups"
        gdir.mkdir(exist_ok=True)
        todo = [(c, str(spill), len(shards), parts, q, str(gdir / f"{q:04d}.parquet"))
                for q in range(parts) if not (gdir / f"{q:04d}.parquet").exists()]
        with ctx.track("grouping", len(todo), "partitions") as bar:
            for _ in run_tasks(_group_task, todo, ctx.workers):
                bar.advance(1)

        if not (wd / "result.parquet").exists():
            g = pa.concat_tables([pq.read_table(gdir / f"{q:04d}.parquet") for q in range(parts)])
            keepers = g.filter(pc.equal(g["code"], 0))
            sizes = keepers["size"].to_numpy()
            big = np.argsort(-sizes, kind="stable")[:5]
            ex = {}
            for b in big:
                name = keepers["cluster"][int(b)].as_py()
                ex[len(ex)] = g.filter(pc.equal(g["cluster"], name))["id"].to_pylist()[:5]
            atomic_write_json(wd / "report.json", cluster_report(sizes, ex, n, int((g["code"].to_numpy() != 0).sum()),
                                                                 {"partitions": parts}))
            # result.parquet last: its existence marks the fit done (as in minhash), so a kill between the two redoes both
            write_result(wd, g["id_hash"].to_numpy(), g["cluster"], g["size"].to_numpy(), g["code"].to_numpy())
        write_shard_results(wd, shards)  # after result.parquet, with its own marker: a kill between them redoes only this
        report = json.loads((wd / "report.json").read_text())
        self.stats.update({k: v for k, v in report.items() if isinstance(v, int)})
        for k, v in report["cluster_size_distribution"].items():
            self.stats[f"cluster_size_{k}"] = v

    @staticmethod
    def refit_cache(workdir: Path) -> dict | None:
        """The phase-1 spill (keys, node, id per document) that ``select`` re-fits from, with its size."""
        if not (Path(workdir) / "result.parquet").exists():
            return None
        return files_size(sorted((Path(workdir) / "spill").glob("*.arrow")))
