"""Fuzzy document dedup: MinHash signatures of word n-grams, LSH banding, verified star clusters.

Out of core and partitioned: signatures never sit in memory together, and after phase 1 every
phase is tasks over partitions on disk (``_lsh_partitions.py``), run through ``run_tasks`` (worker
processes locally, Ray tasks with ``--engine ray``). Phase 1 writes each shard's band keys
(band-major, 8 bytes per band per document); phase 2 splits each key file by key partition (a
task per file), then is one task per (band, key partition): sort
its keys, pair each later document of a bucket with the bucket's first ``_BUCKET_ANCHORS``
documents; phase 3 is one task per node range: the unique pairs whose smaller node is in it,
verified by exact shingle Jaccard (texts re-read one source file at a time); phase 4 finds
connected components by min-label union-find with pointer jumping over label partitions, regroups
the pairs by component and clusters each group (star clustering, ``_star.py``; or the components);
phase 5 (``_decide.py``) makes the keep decisions per component group, sorts the result rows per
id-hash range and selects the index's kept keys per shard, all as tasks.

With ``partition_docs`` documents per partition, a task holds one partition's keys (~24 bytes per
document), pairs (~16-24 bytes each) or labels (8 bytes per node) plus one other label partition,
and 4 bytes per distinct shingle of its pairs' documents while verifying; a star-clustering or
decision task holds its components whole. The driver holds the file lists and small
per-partition statistics, and streams the result and the index from the partitions' files.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from pydantic import Field, field_validator

from gristmill.dedup._clusters import (
    DUPLICATE, INDEX_DUPLICATE, ClusterDedupStep, KeepPolicy, write_shard_results, atomic_save_npy, atomic_write_json, atomic_write_parquet,
    cluster_report, id_hashes, prepare_workdir, workdir_fingerprint,
)
from gristmill.engine.atomic import atomic_path
from gristmill.engine.pool import report, run_tasks
from gristmill.dedup._normalize import shingle_text
from gristmill.dedup._refit import cache_index, check_order, files_size, lookup, stage_sources
from gristmill.dedup._shingle import band_keys, perm_params, signatures_from_text
from gristmill.dedup._decide import RESULT_SCHEMA, decide_task, gather, index_task, merge_task
from gristmill.dedup._lsh_partitions import (
    bucket_task, cluster_task, components, group_task, n_partitions, pairs_task, scatter_task,
)
from gristmill.step import FitContext, register

INDEX_MARKER = "gristmill_minhash_index.json"
_NORM_VERSION = 1  # bump when normalization or hashing changes: old indexes become incompatible
# Documents of an LSH bucket that every later member is paired with (see phase 2). 32 covers
# every pair of the buckets near-duplicate families form (the largest bucket on
# benchmarks/neardup.py holds 14 documents); bigger buckets are mostly copies of one text, whose
# members are all within any threshold of the earliest ones.
_BUCKET_ANCHORS = 32
# Buckets larger than this (thousands of copies of one text) pair their members with only the
# first few documents, so that pairs (and their verification) stay linear in the bucket.
_HUGE_BUCKET, _HUGE_BUCKET_ANCHORS = 1024, 4


def _sign_source(args: tuple) -> None:
    """Phase 1 for one parquet file (runs in a worker process)."""
    src, out, ngram, bands, rows, seed, score_column, batch_rows, cache = args
    src, out = Path(src), Path(out)
    a, b = perm_params(bands * rows, seed)
    keys, has_sig, length, score, ids = [], [], [], [], []
    pf = pq.ParquetFile(src)
    cols = ["id", "text"] + ([score_column] if score_column else [])
    if cache is not None:  # the source run's band keys of the same shard (``_refit.py``)
        cache_keys = np.load(cache[0], mmap_mode="r")
        cache_meta = pq.read_table(cache[1], columns=["id", "has_sig", "length"])
        cache_has, cache_len = cache_meta["has_sig"].to_numpy(), cache_meta["length"].to_numpy()
    last = -1
    for batch in pf.iter_batches(batch_size=batch_rows, columns=cols):
        text = pc.fill_null(batch.column("text"), "")
        n = len(batch)
        cur_len = pc.utf8_length(text).to_numpy(zero_copy_only=False).astype(np.int64)
        pos = lookup(cache_meta["id"], batch.column("id")) if cache is not None else np.full(n, -1, np.int64)
        hit = pos >= 0
        if cache is not None:
            check_order(np.r_[last, pos[hit]], f"minhash_dedup re-fit of {src}")
            last = pos[hit][-1] if hit.any() else last
        k = np.zeros((n, bands), np.uint64)
        hs = np.zeros(n, bool)
        if hit.any():
            if (cur_len[hit] != cache_len[pos[hit]]).any():
                bad = batch.column("id")[int(np.flatnonzero(hit & (cur_len != cache_len[np.maximum(pos, 0)]))[0])]
                raise ValueError(f"document {bad} has another text than the source run's minhash_dedup signed (a step "
                                 "after it rewrote the text), so its signature cannot be reused; run the changed recipe "
                                 "with `gristmill run`")
            k[hit] = np.asarray(cache_keys[:, pos[hit]]).T
            hs[hit] = cache_has[pos[hit]]
        if not hit.all():
            miss = np.flatnonzero(~hit)
            norm = [shingle_text(t) for t in text.take(pa.array(miss)).to_pylist()]
            sig, n_shingles = signatures_from_text(norm, ngram, a, b)
            k[miss] = band_keys(sig, bands, rows)
            hs[miss] = n_shingles > 0
        keys.append(k)
        has_sig.append(hs)
        length.append(cur_len)
        score.append(
            pc.cast(batch.column(score_column), pa.float64()).to_numpy(zero_copy_only=False)
            if score_column else np.zeros(len(batch))
        )
        ids.append(batch.column("id"))
        report(len(batch))
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


def _cache_files(sig_dir: Path, i: int | None, n_shards: int) -> tuple[str, str] | None:
    """The band keys and metadata of source-run input ``i`` (a shard, or ``against`` data after them)."""
    if i is None:
        return None
    stem = sig_dir / (f"{i:05d}" if i < n_shards else f"against_{i - n_shards:05d}")
    return str(stem.with_suffix(".keys.npy")), str(stem.with_suffix(".meta.parquet"))


def _release_arrow() -> None:
    """Hand memory freed by Arrow (parquet reads, takes) back to the OS. The pool (mimalloc or
    jemalloc) otherwise keeps it, and it would sit under the next phase's peak (~50 MB at 1M docs)."""
    pa.default_memory_pool().release_unused()


def _band(path: Path, j: int) -> np.ndarray:
    """Row ``j`` (one band) of a band-major key file, copied out of a memory map that is closed
    at once: pages of a map stay in RSS while it lives, so a long-lived map of all key files would
    end up holding every band of every document."""
    mm = np.load(path, mmap_mode="r")
    row = np.array(mm[j])
    del mm
    return row


def _priority(nodes: np.ndarray, n_new: int, files: list, starts: np.ndarray, keep: str) -> np.ndarray:
    """Keep order of the (sorted) ``nodes`` as a sort key, smaller is kept first: the order
    ``choose_keepers`` applies inside a cluster, with earlier data and index nodes first. ``files``
    and ``starts``: the shards' signature metadata and their first nodes (runs inside tasks)."""
    pri = np.where(nodes < n_new, 0.0, -np.inf)
    new = np.flatnonzero(nodes < n_new)
    if keep == "first" or not len(new):
        return pri
    files = [Path(f) for f in files]
    if keep == "longest":
        pri[new] = -gather(files, starts, nodes[new], "length").to_numpy(zero_copy_only=False).astype(np.float64)
    else:
        s = gather(files, starts, nodes[new], "score").to_numpy(zero_copy_only=False).astype(np.float64)
        pri[new] = -np.where(np.isnan(s), -np.inf, s)  # NaN scores lose, as in choose_keepers
    return pri


@register
class MinHashDedup(ClusterDedupStep):
    """Near-duplicate documents by MinHash LSH over word ``ngram`` shingles.

    Text is normalized as DataTrove's ``simplify_text`` (used for FineWeb): lowercase, no
    punctuation or diacritics, digits -> 0. Shingles are word 5-grams (``ngram=5``: DataTrove
    ``MinhashConfig.n_grams`` and FineWeb). A pair with Jaccard ``s`` becomes a candidate with
    probability ``1-(1-s^rows)^bands``. DataTrove/FineWeb use 14 bands x 8 rows (112 hashes):
    P(0.8)=0.92, P(0.7)=0.56, P(0.5)=0.05, trading recall near 0.8 for precision. Our default
    20 x 6 (120 hashes, the same cost) gives P(0.8)=0.998, P(0.7)=0.92, P(0.5)=0.27, P(0.3)=0.01,
    so pairs at the usual 0.8 near-duplicate line (Lee et al. 2022, "Deduplicating Training Data
    Makes Language Models Better") are found almost surely; the extra candidates it admits between
    0.3 and 0.6 are removed by verification.

    Clusters. Connected components over candidate pairs chain: template-like documents (newsletters,
    spam, listings, successive issues of a digest) that share 40-70% of their 5-grams link into one
    component, and documents sharing little end up removed as each other's duplicates. So by
    default (``verify_jaccard``) each candidate pair's exact shingle Jaccard is computed, pairs
    below ``jaccard_threshold`` are dropped, and ``clustering: star`` (Aslam et al. 2004, "The
    Star Clustering Algorithm") picks centers in order of their summed similarity to the others
    (ties: keep order) and puts each other document with its most similar center, so every
    removed document is verified against its cluster's center directly. Jaccard distance is a
    metric, so with ``jaccard_threshold`` 0.75 any two documents of a cluster have J >= 0.5: no
    pair the benchmark calls distinct can share a cluster. The kept document is then chosen by
    ``keep`` inside the cluster. ``kept_star`` makes the kept document the center (more clusters
    split: lower recall); ``components`` is the old connected-components behaviour.

    Chosen on ``benchmarks/neardup.py`` (real text from five sources; seven variant generators;
    quoting hard negatives; template and rolling-digest families), J>=0.8 pairs vs J<0.5 pairs:
    the defaults score precision 1.000 / recall 0.999; LSH pairs with connected components (the
    old default) 0.544 / 1.000; verified pairs with connected components 0.854 / 1.000 (J>=0.7)
    and 0.924 / 1.000 (J>=0.75); the kept document as center 1.000 / 0.947; DataTrove/FineWeb's
    14 x 8 without verification 0.899 / 0.995; datasketch's MinHashLSH(0.7) with its usual
    query-then-insert loop 0.984 / 0.927. Over thresholds the star clusters keep precision
    >= 0.998 and recall 0.999 from 0.65 to 0.8 (0.5: 0.873 / 0.990; 0.85: 1.000 / 0.891); 0.75 is
    the middle of that plateau and the value for which the J >= 0.5 guarantee holds. Verification
    re-reads and re-shingles the texts of documents with candidate pairs; its cost is in
    ``benchmarks/RESULTS.md`` (``verify_jaccard: false`` skips it: star clusters over unverified
    LSH pairs, precision 0.746 on the benchmark).

    Every document gets ``dup_cluster`` (the kept document's id) and ``dup_cluster_size``; all but
    one per cluster are rejected as ``near_duplicate`` (``keep``: first | longest | max_score).
    With ``against``, documents matching an earlier output or saved index are rejected as
    ``near_duplicate_of_index`` and the earlier data is untouched. The fitted workdir holds
    ``index/`` (band keys + ids of the kept documents) so this output can serve as an index, and
    ``report.json`` (cluster size distribution, example clusters).

    Partitions (``partition_docs``, default 1,000,000 documents): every phase after signatures is
    tasks over partitions (``_lsh_partitions.py``, ``_decide.py``), the same locally and on Ray. The default is a
    memory bound, not tuned on data: a bucketing task then holds ~24 MB (one band's keys of the
    partition, their sort order, node numbers), a label task 8 MB, a pair task its node range's
    pairs, which is what the former single-process phases held per band for the whole corpus
    at 1M documents. Smaller values give more, smaller tasks (more parallelism on a cluster, each
    re-reading its slice of every key file); the decisions do not depend on it.
    """

    name = "minhash_dedup"
    rules = (("near_duplicate_of_index", INDEX_DUPLICATE), ("near_duplicate", DUPLICATE))

    class Config(KeepPolicy):
        ngram: int = Field(5, ge=1, description="words per shingle")
        bands: int = Field(20, ge=1, description="LSH bands; with rows, sets the similarity at which pairs become candidates")
        rows: int = Field(6, ge=1, description="hashes per band (signature length = bands x rows)")
        seed: int = Field(1, description="seed of the hash permutations")
        verify_jaccard: bool = Field(True, description="confirm candidate pairs by exact Jaccard of their shingles")
        jaccard_threshold: float = Field(0.75, ge=0.0, le=1.0, description="pairs below this Jaccard are not duplicates (with verify_jaccard)")
        clustering: Literal["star", "kept_star", "components"] = Field("star", description="how verified pairs become clusters: star (each removed document is a verified pair of its kept one), kept_star, or connected components")
        against: list[str] = Field(default_factory=list, description="earlier gristmill outputs or index dirs")
        batch_rows: int = Field(8192, ge=1, description="rows per batch while computing signatures")
        partition_docs: int = Field(1_000_000, ge=1, description="documents per partition of the bucketing, pair, component and cluster tasks (bounds one task's memory)")

        @field_validator("against")
        @classmethod
        def _paths_exist(cls, v):
            for p in v:
                if not Path(p).exists():
                    raise ValueError(f"against: {p!r} does not exist (give a gristmill output dir or an index dir)")
            return v

    # ---------------------------------------------------------------- fit
    @classmethod
    def reads(cls, config) -> set[str]:
        return ({"url"} if getattr(config, "key", "text") == "url" else set()) | ({config.score_column} if config.score_column else set())

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
        prepare_workdir(wd, workdir_fingerprint(self.name, _NORM_VERSION, c.model_dump(), sources,
                                                index_dirs=[str(p) for p in index_dirs]), ctx.log)
        sig_dir = wd / "sig"
        sig_dir.mkdir(exist_ok=True)
        outs = [sig_dir / (f"{i:05d}" if i < len(shards) else f"against_{i - len(shards):05d}") for i in range(len(sources))]

        # Phase 1: signatures -> band keys per source file (skips files already done).
        cached = cache_index(self, sources) or [None] * len(sources)
        old_sig = Path(getattr(self, "refit_from", "") or ".") / "sig"
        todo = [
            (str(s), str(o), c.ngram, c.bands, c.rows, c.seed, c.score_column if i < len(shards) else None, c.batch_rows,
             _cache_files(old_sig, cached[i], stage_sources(self) if cached[i] is not None else 0))
            for i, (s, o) in enumerate(zip(sources, outs)) if not o.with_suffix(".meta.parquet").exists()
        ]
        if todo:
            ctx.log(f"minhash_dedup: signatures for {len(todo)} of {len(sources)} files")
            n_todo = sum(pq.ParquetFile(t[0]).metadata.num_rows for t in todo)
            with ctx.track("signatures", n_todo) as bar:
                for _ in run_tasks(_sign_source, todo, ctx.workers, progress=bar.report):
                    pass

        counts = np.array([pq.ParquetFile(o.with_suffix(".meta.parquet")).metadata.num_rows for o in outs], np.int64)
        starts = np.concatenate([[0], np.cumsum(counts)])
        n_new = int(starts[len(shards)])
        n_data = int(starts[-1])
        idx_counts = self._check_indexes(index_dirs)
        n_total = n_data + int(sum(idx_counts))
        # Key files and id files of all nodes in node order: shards, then `against` data, then indexes.
        key_files = [o.with_suffix(".keys.npy") for o in outs] + [d / "keys.npy" for d in index_dirs]
        id_files = [o.with_suffix(".meta.parquet") for o in outs] + [d / "ids.parquet" for d in index_dirs]
        id_starts = np.concatenate([starts, n_data + np.cumsum(idx_counts, dtype=np.int64)])
        n_p = n_partitions(n_total, c.partition_docs)
        rng = max(1, -(-n_total // n_p))  # nodes per node-range partition
        run = lambda fn, items: run_tasks(fn, items, ctx.workers)  # noqa: E731
        sig_metas = [str(o.with_suffix(".meta.parquet")) for o in outs] + [None] * len(index_dirs)

        # Phase 2: keys scattered by key partition (a task per key file), then one task per
        # (band, key partition) -> candidate pairs, split by node range.
        edge_dir = wd / "edges"
        edge_dir.mkdir(exist_ok=True)
        _release_arrow()
        scat = [edge_dir / f"keys_{i:05d}" for i in range(len(key_files))]
        todo_s = [(str(k), m, int(id_starts[i]), n_p, str(scat[i]))
                  for i, (k, m) in enumerate(zip(key_files, sig_metas)) if not scat[i].with_suffix(".offs.npy").exists()]
        for _ in run(scatter_task, todo_s):
            pass
        bucket_files = [edge_dir / f"b{j:03d}_{p:05d}" for j in range(c.bands) for p in range(n_p)]
        todo_b = [
            ([str(f) for f in scat], j, p, n_p, rng, str(edge_dir / f"b{j:03d}_{p:05d}"),
             _BUCKET_ANCHORS, _HUGE_BUCKET, _HUGE_BUCKET_ANCHORS)
            for j in range(c.bands) for p in range(n_p) if not (edge_dir / f"b{j:03d}_{p:05d}.offs.npy").exists()
        ]
        with ctx.track("LSH bands", len(todo_b), "buckets") as bar:
            for _ in run(bucket_task, todo_b):
                bar.advance(1)

        # Phase 3: unique candidate pairs per node range; exact Jaccard of each pair (optional).
        pair_dir = wd / "pairs"
        pair_dir.mkdir(exist_ok=True)
        pair_files = [pair_dir / f"q{q:05d}.npy" for q in range(n_p)]
        # a re-fit (select) takes the Jaccard of pairs the source run checked from its pair files
        old_checked = sorted(str(f) for f in (Path(self.refit_from) / "pairs").glob("q*.checked.npy")) \
            if getattr(self, "refit_from", None) else []
        todo_q = [
            ([str(f) for f in bucket_files], q, n_total, c.verify_jaccard, c.jaccard_threshold, [str(x) for x in sources],
             starts.tolist(), n_data, c.ngram, c.batch_rows, str(pair_dir / f"q{q:05d}"),
             [str(o.with_suffix(".meta.parquet")) for o in outs], old_checked)
            for q in range(n_p) if not pair_files[q].exists()
        ]
        with ctx.track("candidate pairs", len(todo_q), "partitions") as bar:
            for _ in run(pairs_task, todo_q):
                bar.advance(1)
        n_edges, dropped = 0, 0
        for f in pair_files:
            st = json.loads(f.with_suffix(".json").read_text())
            n_edges += st["pairs"]
            dropped += st["dropped"]
        if c.verify_jaccard:
            self.stats["pairs_rejected_by_jaccard"] += dropped

        # Phase 4: components, clusters per component group, keep policy, result.
        if not (wd / "result.parquet").exists():
            label_dir, gen = components(pair_files, n_total, rng, n_p, wd, run, ctx.log)
            grp_dir = wd / "groups"
            grp_dir.mkdir(exist_ok=True)
            list(run(group_task, [(str(f), str(label_dir), gen, rng, n_p, str(grp_dir / f"q{q:05d}"))
                                  for q, f in enumerate(pair_files) if not (grp_dir / f"q{q:05d}.offs.npy").exists()]))
            clu_dir = wd / "clusters"
            clu_dir.mkdir(exist_ok=True)
            prio = (_priority, (n_new, [str(f) for f in id_files[: len(shards)]], starts[: len(shards) + 1], c.keep))
            grp_files = [str(grp_dir / f"q{q:05d}") for q in range(n_p)]
            list(run(cluster_task, [(grp_files, g, c.clustering, c.verify_jaccard, n_new, prio, str(clu_dir / f"g{g:05d}.npy"))
                                    for g in range(n_p) if not (clu_dir / f"g{g:05d}.npy").exists()]))
            _release_arrow()
            self._decide(wd, outs, starts, n_new, n_p, [clu_dir / f"g{g:05d}.npy" for g in range(n_p)], n_edges,
                         id_files, id_starts, len(shards), run)
        write_shard_results(wd, shards)  # after result.parquet, with its own marker: a kill between them redoes only this
        report = json.loads((wd / "report.json").read_text())
        self.stats.update({k: v for k, v in report.items() if isinstance(v, int)})
        for k, v in report["cluster_size_distribution"].items():
            self.stats[f"cluster_size_{k}"] = v

    @staticmethod
    def refit_cache(workdir: Path) -> dict | None:
        """The phase-1 band keys and metadata (id, has_sig, length) per input that ``select`` re-fits
        from, and the Jaccard of every pair the run checked (``pairs/*.checked.npy``)."""
        if not (Path(workdir) / "result.parquet").exists():
            return None
        sig = Path(workdir) / "sig"
        return files_size(sorted(sig.glob("*.keys.npy")) + sorted(sig.glob("*.meta.parquet"))
                          + sorted((Path(workdir) / "pairs").glob("*.checked.npy")))

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

    def _check_indexes(self, dirs: list[Path]) -> list[int]:
        """Documents in each saved index (after checking it was built with this config). Its keys
        and ids stay on disk and are read like a shard's."""
        c = self.config
        counts = []
        for d in dirs:
            meta = json.loads((d / INDEX_MARKER).read_text())
            want = {"ngram": c.ngram, "bands": c.bands, "rows": c.rows, "seed": c.seed, "version": _NORM_VERSION}
            got = {k: meta.get(k) for k in want}
            if got != want:
                raise ValueError(f"against: index {d} was built with {got}, this step uses {want}; "
                                 "use the same ngram/bands/rows/seed or rebuild the index")
            n = pq.ParquetFile(d / "ids.parquet").metadata.num_rows
            shape = np.load(d / "keys.npy", mmap_mode="r").shape
            if shape != (c.bands, n):
                raise ValueError(f"against: index {d} is damaged: keys.npy has shape {shape}, ids.parquet {n} rows")
            counts.append(n)
        return counts

    def _decide(self, wd, outs, starts, n_new, n_p, cluster_files, n_edges, id_files, id_starts, n_shards, run) -> None:
        """Cluster labels -> keep decisions -> index/, report.json and result.parquet (written last:
        the fit's done-marker), as tasks over the component groups, then over id-hash ranges and
        shards (``_decide.py``). Only documents with a verified pair are in a group's rows; every
        other document is its own cluster."""
        c = self.config
        dd = wd / "decide"
        dd.mkdir(exist_ok=True)
        stems = [dd / f"g{g:05d}" for g in range(n_p)]
        # every group's statistics are needed for the report, so a resumed pass recomputes them
        # (cheap next to the phases before); its result files are rewritten identically
        todo = [(str(f), n_new, c.keep, bool(c.score_column), [str(x) for x in id_files], id_starts.tolist(), n_shards,
                 n_p, str(stem)) for f, stem in zip(cluster_files, stems)]
        stats = list(run(decide_task, todo))
        list(run(merge_task, [([str(s) for s in stems], r, str(dd / f"r{r:05d}.parquet"))
                              for r in range(n_p) if not (dd / f"r{r:05d}.parquet").exists()]))
        drops = [str(s.with_suffix(".drop.npy")) for s in stems]
        parts = [dd / f"index_{i:05d}" for i in range(n_shards)]
        list(run(index_task, [(str(outs[i].with_suffix(".keys.npy")), str(outs[i].with_suffix(".meta.parquet")),
                               int(starts[i]), int(starts[i + 1]), drops, str(parts[i])) for i in range(n_shards)]))
        _release_arrow()
        self._save_index(wd, parts)

        hist: dict[int, int] = {}
        for st in stats:
            for size, n in st["hist"]:
                hist[size] = hist.get(size, 0) + n
        # the largest clusters over all groups, by size then label, as one pass picks them
        ex = {label: ids for _, label, ids in sorted((e for st in stats for e in st["examples"]),
                                                     key=lambda e: (-e[0], e[1]))[:5]}
        sizes = np.array(sorted(hist), dtype=np.int64)
        report = cluster_report(sizes, ex, n_new, sum(st["removed"] for st in stats), {
            "removed_near_duplicate": sum(st["removed_near_duplicate"] for st in stats),
            "removed_near_duplicate_of_index": sum(st["removed_near_duplicate_of_index"] for st in stats),
            "candidate_edges": int(n_edges),
        }, counts=np.array([hist[s] for s in sizes], dtype=np.int64))
        atomic_write_json(wd / "report.json", report)
        # result.parquet: the id-hash ranges in order (globally sorted), streamed one at a time
        with atomic_path(wd / "result.parquet") as tmp, pq.ParquetWriter(tmp, RESULT_SCHEMA) as w:
            for r in range(n_p):
                w.write_table(pq.read_table(dd / f"r{r:05d}.parquet").cast(RESULT_SCHEMA))

    def _save_index(self, wd: Path, parts: list[Path]) -> None:
        """``index/``: the kept documents' band keys (band-major, as the shards' key files) and ids,
        streamed from the per-shard parts (``index_task``) band by band."""
        c = self.config
        d = wd / "index"
        d.mkdir(exist_ok=True)
        n_sel = sum(pq.ParquetFile(p.with_suffix(".ids.parquet")).metadata.num_rows for p in parts)
        # Appended band by band with plain writes: a writable memory map would keep every page
        # written (8 bytes x bands per kept document) resident in this process until it is closed.
        header = np.lib.format.header_data_from_array_1_0(np.empty((0, 0), np.uint64))
        header["shape"] = (c.bands, n_sel)
        with atomic_path(d / "keys.npy") as tmp, open(tmp, "wb") as f:
            np.lib.format.write_array_header_1_0(f, header)
            for j in range(c.bands):
                for p in parts:
                    f.write(_band(p.with_suffix(".keys.npy"), j).tobytes())
        with atomic_path(d / "ids.parquet") as tmp, pq.ParquetWriter(tmp, pa.schema([("id", pa.string())])) as w:
            for p in parts:
                w.write_table(pq.read_table(p.with_suffix(".ids.parquet")).cast(pa.schema([("id", pa.string())])))
        atomic_write_json(d / INDEX_MARKER, {
            "ngram": c.ngram, "bands": c.bands, "rows": c.rows, "seed": c.seed, "version": _NORM_VERSION,
            "documents": n_sel,
        })

    # ---------------------------------------------------------------- per batch
