"""Fuzzy document dedup: MinHash signatures of word n-grams, LSH banding, connected components.

Out of core: signatures never sit in memory together. Phase 1 writes each shard's band keys to
disk (band-major, 8 bytes per band per document); phase 2 handles one band at a time (sort its keys,
emit an edge from the first document of each bucket to every other one); phase 3 (optional)
verifies candidate pairs by exact Jaccard; phase 4 runs a numpy union-find over the edges. Peak
memory is about 24 bytes per document per band being sorted, plus the edges.
"""
from __future__ import annotations

import json
import multiprocessing as mp
import os
from pathlib import Path
from typing import Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from pydantic import Field, field_validator, model_validator

from gristmill.arrow import reasons_from_masks, with_column
from gristmill.dedup._clusters import (
    DUPLICATE, INDEX_DUPLICATE, ClusterLookup, atomic_save_npy, atomic_write_json, atomic_write_parquet,
    choose_keepers, cluster_report, examples, id_hashes, prepare_workdir, write_result,
)
from gristmill.dedup._normalize import shingle_text
from gristmill.dedup._shingle import band_keys, perm_params, shingle_hashes, signatures
from gristmill.dedup._unionfind import connected_components
from gristmill.step import FitContext, GlobalStep, StepConfig, register

INDEX_MARKER = "gristmill_minhash_index.json"
_NORM_VERSION = 1  # bump when normalization or hashing changes: old indexes become incompatible


def _sign_source(args: tuple) -> None:
    """Phase 1 for one parquet file (runs in a worker process)."""
    src, out, ngram, bands, rows, seed, score_column, batch_rows = args
    src, out = Path(src), Path(out)
    a, b = perm_params(bands * rows, seed)
    keys, has_sig, length, score, ids = [], [], [], [], []
    pf = pq.ParquetFile(src)
    cols = ["id", "text"] + ([score_column] if score_column else [])
    for batch in pf.iter_batches(batch_size=batch_rows, columns=cols):
        text = pc.fill_null(batch.column("text"), "")
        norm = [shingle_text(t) for t in text.to_pylist()]
        h, offs = shingle_hashes(norm, ngram)
        sig = signatures(h, offs, a, b)
        keys.append(band_keys(sig, bands, rows))
        has_sig.append(np.diff(offs) > 0)
        length.append(pc.utf8_length(text).to_numpy(zero_copy_only=False).astype(np.int64))
        score.append(
            pc.cast(batch.column(score_column), pa.float64()).to_numpy(zero_copy_only=False)
            if score_column else np.zeros(len(batch))
        )
        ids.append(batch.column("id"))
    k = np.concatenate(keys) if keys else np.zeros((0, bands), np.uint64)
    atomic_save_npy(out.with_suffix(".keys.npy"), np.ascontiguousarray(k.T))
    id_arr = pa.concat_arrays([i.cast(pa.string()) for i in ids]) if ids else pa.array([], pa.string())
    meta = pa.table({
        "id": id_arr,
        "id_hash": pa.array(id_hashes(id_arr), pa.uint64()),
        "has_sig": pa.array(np.concatenate(has_sig) if has_sig else np.zeros(0, bool)),
        "length": pa.array(np.concatenate(length) if length else np.zeros(0, np.int64)),
        "score": pa.array(np.concatenate(score) if score else np.zeros(0)),
    })
    atomic_write_parquet(out.with_suffix(".meta.parquet"), meta)  # written last: the shard's done-marker


@register
class MinHashDedup(GlobalStep):
    """Near-duplicate documents by MinHash LSH over word ``ngram`` shingles.

    Text is normalized as DataTrove's ``simplify_text`` (used for FineWeb): lowercase, no
    punctuation or diacritics, digits -> 0. Shingles are word 5-grams (``ngram=5``: DataTrove
    ``MinhashConfig.n_grams`` and FineWeb). A pair with Jaccard ``s`` becomes a candidate with
    probability ``1-(1-s^rows)^bands``. DataTrove/FineWeb use 14 bands x 8 rows (112 hashes):
    P(0.8)=0.92, P(0.7)=0.56, P(0.5)=0.05, trading recall near 0.8 for precision. Our default
    20 x 6 (120 hashes, the same cost) gives P(0.8)=0.998, P(0.7)=0.92, P(0.5)=0.27, P(0.3)=0.01,
    so pairs at the usual 0.8 near-duplicate line (Lee et al. 2022, "Deduplicating Training Data
    Makes Language Models Better") are found almost surely. On ``benchmarks/neardup.py`` (real
    text, known clusters) it scores precision 0.995 / recall 1.000 for J>=0.8 vs J<0.5 pairs
    (14 x 8: 0.998 / 1.000; 9 x 13: 1.000 / 0.955). The extra candidates it admits between 0.3 and
    0.6 are what ``verify_jaccard`` removes: exact shingle Jaccard of each candidate pair against
    ``jaccard_threshold`` (default 0.7, below the 0.8 line so that true pairs whose MinHash
    estimate was lucky are not dropped; precision 1.000 / recall 1.000 on the benchmark).

    Every document gets ``dup_cluster`` (the kept document's id) and ``dup_cluster_size``; all but
    one per cluster are rejected as ``near_duplicate`` (``keep``: first | longest | max_score).
    With ``against``, documents matching an earlier output or saved index are rejected as
    ``near_duplicate_of_index`` and the earlier data is untouched. The fitted workdir holds
    ``index/`` (band keys + ids of the kept documents) so this output can serve as an index, and
    ``report.json`` (cluster size distribution, example clusters).
    """

    name = "minhash_dedup"

    class Config(StepConfig):
        ngram: int = Field(5, ge=1, description="words per shingle")
        bands: int = Field(20, ge=1)
        rows: int = Field(6, ge=1)
        seed: int = 1
        keep: Literal["first", "longest", "max_score"] = "first"
        score_column: str | None = None
        verify_jaccard: bool = False
        jaccard_threshold: float = Field(0.7, ge=0.0, le=1.0)
        against: list[str] = Field(default_factory=list, description="earlier gristmill outputs or index dirs")
        batch_rows: int = Field(8192, ge=1)

        @model_validator(mode="after")
        def _score_needed(self):
            if self.keep == "max_score" and not self.score_column:
                raise ValueError("keep: max_score needs score_column (the column to maximize)")
            return self

        @field_validator("against")
        @classmethod
        def _paths_exist(cls, v):
            for p in v:
                if not Path(p).exists():
                    raise ValueError(f"against: {p!r} does not exist (give a gristmill output dir or an index dir)")
            return v

    # ---------------------------------------------------------------- fit
    def fit(self, ctx: FitContext) -> None:
        c = self.config
        wd = Path(ctx.workdir)
        self.workdir = wd
        shards = [Path(p) for p in ctx.shards]
        for p in shards:
            names = set(pq.read_schema(p).names)
            need = {"id", "text"} | ({c.score_column} if c.score_column else set())
            if need - names:
                raise ValueError(f"{p}: missing column(s) {sorted(need - names)} needed by minhash_dedup")
        data_against, index_dirs = self._resolve_against()
        sources = shards + data_against
        prepare_workdir(wd, {
            "step": self.name, "version": _NORM_VERSION, "config": c.model_dump(),
            "sources": [[str(p), p.stat().st_size, p.stat().st_mtime_ns] for p in sources],
            "index_dirs": [str(p) for p in index_dirs],
        })
        sig_dir = wd / "sig"
        sig_dir.mkdir(exist_ok=True)
        outs = [sig_dir / (f"{i:05d}" if i < len(shards) else f"against_{i - len(shards):05d}") for i in range(len(sources))]

        # Phase 1: signatures -> band keys per source file (skips files already done).
        todo = [
            (str(s), str(o), c.ngram, c.bands, c.rows, c.seed, c.score_column if i < len(shards) else None, c.batch_rows)
            for i, (s, o) in enumerate(zip(sources, outs)) if not o.with_suffix(".meta.parquet").exists()
        ]
        if todo:
            ctx.log(f"minhash_dedup: signatures for {len(todo)} of {len(sources)} files")
            if ctx.workers > 1 and len(todo) > 1:
                with mp.get_context("spawn").Pool(min(ctx.workers, len(todo))) as pool:
                    for _ in pool.imap_unordered(_sign_source, todo):
                        pass
            else:
                for t in todo:
                    _sign_source(t)

        counts = np.array([pq.ParquetFile(o.with_suffix(".meta.parquet")).metadata.num_rows for o in outs], np.int64)
        starts = np.concatenate([[0], np.cumsum(counts)])
        n_new = int(starts[len(shards)])
        n_data = int(starts[-1])
        idx_keys, idx_ids = self._load_indexes(index_dirs)
        n_total = n_data + sum(len(i) for i in idx_ids)
        has_sig = np.concatenate(
            [pq.read_table(o.with_suffix(".meta.parquet"), columns=["has_sig"])["has_sig"].to_numpy() for o in outs]
            + [np.ones(len(i), bool) for i in idx_ids]
        ) if n_total else np.zeros(0, bool)

        # Phase 2: one band at a time -> candidate edges.
        edge_dir = wd / "edges"
        edge_dir.mkdir(exist_ok=True)
        node = np.flatnonzero(has_sig)
        for j in range(c.bands):
            path = edge_dir / f"band_{j:03d}.npy"
            if path.exists():
                continue
            keys = np.concatenate(
                [np.load(o.with_suffix(".keys.npy"), mmap_mode="r")[j] for o in outs] + [k[j] for k in idx_keys]
            ) if n_total else np.zeros(0, np.uint64)
            keys = keys[node]
            order = np.argsort(keys, kind="stable")
            ks, nodes = keys[order], node[order]
            del keys, order  # peak per band: ~5 arrays of 8 bytes per document
            new_run = np.ones(len(ks), dtype=bool)
            new_run[1:] = ks[1:] != ks[:-1]
            run_id = np.cumsum(new_run) - 1
            first = nodes[new_run]
            edges = np.stack([first[run_id[~new_run]], nodes[~new_run]], axis=1) if len(ks) else np.zeros((0, 2), np.int64)
            atomic_save_npy(path, edges.astype(np.int64))

        # Phase 3: exact Jaccard of candidate pairs (optional).
        final = wd / "edges_final.npy"
        if not final.exists():
            edges = np.concatenate([np.load(edge_dir / f"band_{j:03d}.npy") for j in range(c.bands)] or [np.zeros((0, 2), np.int64)])
            if len(edges):
                # one int64 code per unordered pair: np.unique on it is far cheaper than on rows
                lo, hi = np.minimum(edges[:, 0], edges[:, 1]), np.maximum(edges[:, 0], edges[:, 1])
                code = np.unique(lo * np.int64(max(n_total, 1)) + hi)
                edges = np.stack([code // max(n_total, 1), code % max(n_total, 1)], axis=1)
            if c.verify_jaccard and len(edges):
                edges = self._verify(edges, sources, starts, n_data)
            atomic_save_npy(final, edges)
        edges = np.load(final)

        # Phase 4: components, keep policy, result.
        if not (wd / "result.parquet").exists():
            self._resolve(wd, outs, starts, n_new, n_data, n_total, edges, idx_ids, len(shards))
        report = json.loads((wd / "report.json").read_text())
        self.stats.update({k: v for k, v in report.items() if isinstance(v, int)})
        for k, v in report["cluster_size_distribution"].items():
            self.stats[f"cluster_size_{k}"] = v

    def _resolve_against(self) -> tuple[list[Path], list[Path]]:
        data, indexes = [], []
        for p in map(Path, self.config.against):
            if (p / INDEX_MARKER).exists():
                indexes.append(p)
                continue
            found = sorted(q.parent for q in p.rglob(INDEX_MARKER)) if p.is_dir() else []
            files = sorted((p / "data").glob("*.parquet")) if (p / "data").is_dir() else (
                [p] if p.suffix == ".parquet" else sorted(p.glob("*.parquet")))
            if found:
                indexes.extend(found)
            elif files:
                data.extend(files)
            else:
                raise ValueError(
                    f"against: {p} is neither a gristmill output (data/*.parquet) nor a minhash index "
                    f"(a directory with {INDEX_MARKER}); point it at one of those")
        return data, indexes

    def _load_indexes(self, dirs: list[Path]) -> tuple[list[np.ndarray], list[pa.Array]]:
        c = self.config
        keys, ids = [], []
        for d in dirs:
            meta = json.loads((d / INDEX_MARKER).read_text())
            want = {"ngram": c.ngram, "bands": c.bands, "rows": c.rows, "seed": c.seed, "version": _NORM_VERSION}
            got = {k: meta.get(k) for k in want}
            if got != want:
                raise ValueError(f"against: index {d} was built with {got}, this step uses {want}; "
                                 "use the same ngram/bands/rows/seed or rebuild the index")
            keys.append(np.load(d / "keys.npy", mmap_mode="r"))
            ids.append(pq.read_table(d / "ids.parquet")["id"].combine_chunks())
        return keys, ids

    def _verify(self, edges: np.ndarray, sources: list[Path], starts: np.ndarray, n_data: int) -> np.ndarray:
        """Drop candidate pairs whose exact shingle Jaccard is below the threshold. Pairs with a
        node from a saved index (no text) are kept as LSH found them."""
        c = self.config
        checkable = edges[:, 1] < n_data
        need = np.unique(edges[checkable].ravel())
        sets: dict[int, np.ndarray] = {}
        for i, src in enumerate(sources):
            lo, hi = int(starts[i]), int(starts[i + 1])
            mine = need[(need >= lo) & (need < hi)]
            if len(mine) == 0:
                continue
            table = pq.read_table(src, columns=["text"])
            texts = pc.fill_null(table["text"].combine_chunks().take(pa.array(mine - lo)), "").to_pylist()
            h, offs = shingle_hashes([shingle_text(t) for t in texts], c.ngram)
            for k, node in enumerate(mine):
                sets[int(node)] = np.unique(h[offs[k] : offs[k + 1]])
        keep = np.ones(len(edges), dtype=bool)
        for e in np.flatnonzero(checkable):
            x, y = sets[int(edges[e, 0])], sets[int(edges[e, 1])]
            inter = len(np.intersect1d(x, y, assume_unique=True))
            union = len(x) + len(y) - inter
            keep[e] = union > 0 and inter / union >= c.jaccard_threshold
        self.stats["pairs_rejected_by_jaccard"] += int((~keep).sum())
        return edges[keep]

    def _resolve(self, wd, outs, starts, n_new, n_data, n_total, edges, idx_ids, n_shards) -> None:
        c = self.config
        labels = connected_components(n_total, edges)
        # ids stay on disk; only the numeric columns of every shard are loaded
        metas = [pq.read_table(o.with_suffix(".meta.parquet"), columns=["id_hash", "length", "score", "has_sig"]) for o in outs]

        def ids_of(nodes) -> list[str]:
            nodes = np.asarray(nodes, dtype=np.int64)
            out = np.empty(len(nodes), dtype=object)
            data = nodes < n_data
            shard = np.searchsorted(starts, nodes[data], side="right") - 1
            pos = np.flatnonzero(data)
            for sh in np.unique(shard):
                ids = pq.read_table(outs[sh].with_suffix(".meta.parquet"), columns=["id"])["id"]
                sel = shard == sh
                out[pos[sel]] = ids.take(pa.array(nodes[data][sel] - starts[sh])).to_pylist()
            for k in np.flatnonzero(~data):
                off = int(nodes[k]) - n_data
                for ids in idx_ids:
                    if off < len(ids):
                        out[k] = ids[off].as_py()
                        break
                    off -= len(ids)
            return out.tolist()

        new_labels = labels[:n_new]
        # A component touching earlier data (against) is already represented there.
        ext = labels[n_new:]
        tainted = np.zeros(n_total, dtype=bool)
        tainted[ext] = True
        is_idx = tainted[new_labels]
        sizes_all = np.bincount(new_labels, minlength=n_total)
        size = sizes_all[new_labels]
        cat = lambda col: np.concatenate([m[col].to_numpy() for m in metas[:n_shards]]) if n_shards else np.zeros(0)
        length, score = cat("length"), cat("score")
        id_hash = cat("id_hash").astype(np.uint64) if n_new else np.zeros(0, np.uint64)
        in_cluster = np.flatnonzero((size > 1) | is_idx)
        kept = np.ones(n_new, dtype=bool)
        if len(in_cluster):
            sub = in_cluster[~is_idx[in_cluster]]
            if len(sub):
                kept[sub] = choose_keepers(new_labels[sub], c.keep, length[sub], score[sub] if c.score_column else None)
            kept[in_cluster[is_idx[in_cluster]]] = False
        code = np.where(is_idx, INDEX_DUPLICATE, np.where(kept, 0, DUPLICATE)).astype(np.int8)

        # Cluster name: the kept document's id, or for matches of earlier data the earliest
        # earlier document in the component.
        rep = {}
        m = in_cluster
        if len(m):
            keeper_nodes = m[kept[m] & ~is_idx[m]]
            for lab, node in zip(new_labels[keeper_nodes], ids_of(keeper_nodes)):
                rep[int(lab)] = node
            idx_labels = np.unique(new_labels[m[is_idx[m]]])
            if len(idx_labels):
                ext_nodes = np.arange(n_new, n_total)
                first_ext = {}
                for lab, node in zip(ext[::-1], ext_nodes[::-1]):
                    first_ext[int(lab)] = int(node)
                for lab in idx_labels:
                    rep[int(lab)] = ids_of([first_ext[int(lab)]])[0]
        clusters = [rep[int(new_labels[i])] for i in m]
        write_result(wd, id_hash[m], clusters, size[m], code[m])

        self._save_index(wd, outs[:n_shards], kept & (code == 0), metas[:n_shards])
        multi = np.unique(new_labels[m[~is_idx[m]]]) if len(m) else np.zeros(0, np.int64)
        sizes = sizes_all[multi]
        ex = examples(new_labels[m[~is_idx[m]]], lambda idx: ids_of(m[~is_idx[m]][idx])) if len(m) else {}
        report = cluster_report(sizes, ex, n_new, int((code != 0).sum()), {
            "removed_near_duplicate": int((code == DUPLICATE).sum()),
            "removed_near_duplicate_of_index": int((code == INDEX_DUPLICATE).sum()),
            "candidate_edges": int(len(edges)),
        })
        atomic_write_json(wd / "report.json", report)

    def _save_index(self, wd: Path, outs, keep_mask: np.ndarray, metas) -> None:
        c = self.config
        d = wd / "index"
        d.mkdir(exist_ok=True)
        has_sig = np.concatenate([m["has_sig"].to_numpy() for m in metas]) if metas else np.zeros(0, bool)
        sel = keep_mask & has_sig
        tmp = d / "keys.npy.tmp.npy"
        # written in place on disk: the kept documents' keys never sit in memory together
        keys = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.uint64, shape=(c.bands, int(sel.sum())))
        pos, start = 0, 0
        for o, m in zip(outs, metas):
            k = np.load(o.with_suffix(".keys.npy"), mmap_mode="r")
            s = sel[start : start + m.num_rows]
            keys[:, pos : pos + int(s.sum())] = k[:, s]
            pos += int(s.sum())
            start += m.num_rows
        keys.flush()
        del keys
        os.replace(tmp, d / "keys.npy")
        tmp = d / "ids.parquet.tmp"
        with pq.ParquetWriter(tmp, pa.schema([("id", pa.string())])) as w:
            start = 0
            for o, m in zip(outs, metas):
                ids = pq.read_table(o.with_suffix(".meta.parquet"), columns=["id"])["id"].combine_chunks()
                w.write_table(pa.table({"id": ids.filter(pa.array(sel[start : start + m.num_rows]))}))
                start += m.num_rows
        os.replace(tmp, d / "ids.parquet")
        atomic_write_json(d / INDEX_MARKER, {
            "ngram": c.ngram, "bands": c.bands, "rows": c.rows, "seed": c.seed, "version": _NORM_VERSION,
            "documents": int(sel.sum()),
        })

    # ---------------------------------------------------------------- per batch
    def _lookup(self) -> ClusterLookup:
        if getattr(self, "_table", None) is None:
            if getattr(self, "workdir", None) is None:
                raise RuntimeError("minhash_dedup: annotate() before fit()/bind(); the engine must fit this step first")
            self._table = ClusterLookup(self.workdir)
        return self._table

    def annotate(self, table: pa.Table) -> pa.Table:
        cluster, size, code = self._lookup().lookup(table["id"])
        table = with_column(table, "dup_cluster", cluster, pa.string())
        return with_column(table, "dup_cluster_size", pa.array(size, pa.int64()))

    def select(self, table: pa.Table) -> pa.Array:
        _, _, code = self._lookup().lookup(table["id"])
        return reasons_from_masks(len(table), [
            ("near_duplicate_of_index", code == INDEX_DUPLICATE),
            ("near_duplicate", code == DUPLICATE),
        ])
