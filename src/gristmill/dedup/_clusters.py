"""Shared machinery of the global dedup steps: the workdir fingerprint, the id hash, keep policy,
the fitted result (what ``annotate`` looks up per document) and the cluster report.

The fitted result stores only documents in clusters of two or more, keyed by a 64-bit hash of the
document id, so a worker's lookup table is proportional to the duplicates, not to the corpus.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import ClassVar, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import xxhash
from pydantic import Field

from gristmill.arrow import reasons_from_masks, with_column
from gristmill.engine.atomic import atomic_save_npy, atomic_write_json, atomic_write_parquet
from pydantic import model_validator

from gristmill.step import GlobalStep, StepConfig

__all__ = [
    "KEEP", "DUPLICATE", "INDEX_DUPLICATE", "atomic_save_npy", "atomic_write_json", "atomic_write_parquet", "prepare_workdir",
    "workdir_fingerprint", "id_hashes", "choose_keepers", "write_result", "ClusterLookup", "cluster_report", "examples",
    "shard_rows", "write_shard_results",
]

KEEP, DUPLICATE, INDEX_DUPLICATE = 0, 1, 2


def workdir_fingerprint(step: str, version: int, config: dict, sources, **extra) -> dict:
    """What a fitted workdir was made from: the step, its state format ``version``, the settings that
    change the result, and each input file with its size and mtime (a rewritten input is a new input)."""
    files = [Path(p) for p in sources]
    return {"step": step, "version": version, "config": config,
            "sources": [[str(p), p.stat().st_size, p.stat().st_mtime_ns] for p in files], **extra}


def prepare_workdir(workdir: Path, fingerprint: dict, log=None) -> bool:
    """Keep checkpoints only if they were made from the same fingerprint; otherwise empty the
    workdir (private to the step), so a resumed fit can never mix state from two different runs.
    Returns True when earlier checkpoints are kept."""
    workdir.mkdir(parents=True, exist_ok=True)
    fp = workdir / "fit.json"
    same = False
    if fp.exists():
        try:
            same = json.loads(fp.read_text()) == fingerprint
        except ValueError:
            same = False
    if same:
        return True
    children = [c for c in workdir.iterdir() if c.name != "fit.json"]
    if children and log is not None:
        log(f"{workdir} holds state for different inputs or settings; refitting")
    for child in children:
        shutil.rmtree(child) if child.is_dir() else child.unlink()
    atomic_write_json(fp, fingerprint)
    return False


def shard_rows(paths: list[Path]) -> np.ndarray:
    return np.array([pq.ParquetFile(p).metadata.num_rows for p in paths], dtype=np.int64)


def id_hashes(ids) -> np.ndarray:
    """64-bit hash (xxh3-64 of the UTF-8 id; nulls hash as "") of each id: how every dedup step's
    fitted state refers to a document, so workers look decisions up without holding the ids."""
    if isinstance(ids, (pa.Array, pa.ChunkedArray)):
        ids = ids.to_pylist()
    h = xxhash.xxh3_64_intdigest
    return np.fromiter((h((i or "").encode()) for i in ids), dtype=np.uint64, count=len(ids))


def key_range(files, key: str, lo: int, hi: int | None, dtype: np.dtype) -> np.ndarray:
    """The rows of several ``.npy`` spills, each sorted by field ``key``, whose key is in ``[lo, hi)``
    (``hi=None``: to the end), concatenated: one hash-range partition, read memory-mapped."""
    chunks = []
    for f in files:
        a = np.load(f, mmap_mode="r")
        i = int(np.searchsorted(a[key], np.uint64(lo), side="left"))
        j = len(a) if hi is None else int(np.searchsorted(a[key], np.uint64(hi), side="left"))
        if j > i:
            chunks.append(np.array(a[i:j]))
    return np.concatenate(chunks) if chunks else np.empty(0, dtype)


def choose_keepers(labels: np.ndarray, keep: str, length: np.ndarray, score: np.ndarray | None) -> np.ndarray:
    """Boolean mask: the one member kept in each component (label). ``first`` keeps the earliest
    document in input order, ``longest`` the longest text, ``max_score`` the highest score; ties
    go to the earliest, so the choice is deterministic. NaN scores lose."""
    n = len(labels)
    order_key = np.arange(n)
    if keep == "first":
        primary = np.zeros(n)
    elif keep == "longest":
        primary = -np.asarray(length, dtype=np.float64)
    else:
        s = np.asarray(score, dtype=np.float64)
        primary = -np.where(np.isnan(s), -np.inf, s)
    order = np.lexsort((order_key, primary, labels))
    first = np.ones(n, dtype=bool)
    first[1:] = labels[order][1:] != labels[order][:-1]
    kept = np.zeros(n, dtype=bool)
    kept[order[first]] = True
    return kept


def write_result(workdir: Path, id_hash: np.ndarray, cluster, size: np.ndarray, code: np.ndarray) -> None:
    """``cluster``: the cluster name (kept document's id) of each row, a list or an Arrow array."""
    order = np.argsort(id_hash, kind="stable")
    cluster = cluster if isinstance(cluster, (pa.Array, pa.ChunkedArray)) else pa.array(cluster, pa.string())
    t = pa.table({
        "id_hash": pa.array(id_hash[order], pa.uint64()),
        "cluster": cluster.cast(pa.string()).take(pa.array(order, pa.int64())),
        "size": pa.array(size[order], pa.int64()),
        "code": pa.array(code[order], pa.int8()),
    })
    atomic_write_parquet(workdir / "result.parquet", t)


def write_shard_results(workdir: Path, shards) -> None:
    """``result/NNNNN.parquet``: the rows of ``result.parquet`` whose documents are in fit input
    ``NNNNN`` (``shards[i]``), and ``result/shards.json`` (written last: the partitions' done-marker)
    naming each input with its size and mtime. A shard task then loads only its own part
    (:class:`ClusterLookup`), so a worker's memory follows its shard, not the corpus's clustered
    documents (issue 24 part 4; benchmarks/bench_dedup_lookup.py). Each part keeps every result row
    whose id hash occurs in its input, in the file's order, so a lookup finds the row the whole
    file gives, also when one id hash is in several inputs. Idempotent: a resumed fit skips it."""
    wd = Path(workdir)
    d = wd / "result"
    if (d / "shards.json").exists() or not (wd / "result.parquet").exists():
        return
    d.mkdir(exist_ok=True)
    t = pq.read_table(wd / "result.parquet")
    h = t["id_hash"].to_numpy()
    # write_result and minhash's streamed ranges store the file sorted by id hash (ClusterLookup's
    # search needs it too); searching it costs a shard's size per part, not the corpus's
    if not bool(np.all(h[1:] >= h[:-1])):
        raise RuntimeError(f"{wd / 'result.parquet'} is not sorted by id_hash; delete {wd} to refit")
    entries = []
    for i, p in enumerate(map(Path, shards)):
        mine = np.unique(id_hashes(pq.read_table(p, columns=["id"])["id"]))
        lo, hi = np.searchsorted(h, mine, "left"), np.searchsorted(h, mine, "right")
        n = hi - lo
        idx = np.arange(int(n.sum()), dtype=np.int64) - np.repeat(np.cumsum(n) - n, n) + np.repeat(lo, n)
        atomic_write_parquet(d / f"{i:05d}.parquet", t.take(pa.array(idx, pa.int64())))
        st = p.stat()
        entries.append([str(p), st.st_size, st.st_mtime_ns, f"{i:05d}.parquet"])
    atomic_write_json(d / "shards.json", {"version": 1, "shards": entries})


def shard_result(workdir: Path, shard) -> Path:
    """The part of the fitted result for the fit input ``shard`` (``write_shard_results``), or the
    whole ``result.parquet`` when there is no part for it: a workdir fitted before the parts
    existed, an input the fit did not read as such (scoped to some sources, ``select``), or a file
    changed since (its size or mtime differs): whole is slower, never wrong."""
    wd = Path(workdir)
    whole = wd / "result.parquet"
    index = wd / "result" / "shards.json"
    if shard is None or not index.exists():
        return whole
    try:
        entries = json.loads(index.read_text())["shards"]
        st = Path(shard).stat()
    except (OSError, ValueError, KeyError, TypeError):
        return whole
    for path, size, mtime, name in entries:
        if path == str(shard) and size == st.st_size and mtime == st.st_mtime_ns and (wd / "result" / name).exists():
            return wd / "result" / name
    return whole


class ClusterLookup:
    """What a worker needs to annotate a batch: cluster, size and decision by document id.
    ``shard``: the fit input the batches come from, to load only its part of the result."""

    def __init__(self, workdir: Path, shard=None):
        path = Path(workdir) / "result.parquet"
        if not path.exists():
            raise RuntimeError(f"{workdir}: no fitted dedup state (result.parquet); fit() must run before annotate()")
        self.path = shard_result(workdir, shard)
        t = pq.read_table(self.path)
        self.id_hash = t["id_hash"].to_numpy()
        self.cluster = t["cluster"].combine_chunks()
        self.size = t["size"].to_numpy()
        self.code = t["code"].to_numpy()

    def lookup(self, ids: pa.ChunkedArray | pa.Array) -> tuple[pa.Array, np.ndarray, np.ndarray]:
        ids = pa.chunked_array([ids]) if isinstance(ids, pa.Array) else ids
        ids = ids.combine_chunks() if ids.num_chunks else pa.array([], pa.string())
        h = id_hashes(ids)
        pos = np.searchsorted(self.id_hash, h)
        pos_c = np.minimum(pos, max(len(self.id_hash) - 1, 0))
        found = (pos < len(self.id_hash)) & (self.id_hash[pos_c] == h) if len(self.id_hash) else np.zeros(len(h), bool)
        size = np.where(found, self.size[pos_c] if len(self.size) else 1, 1).astype(np.int64)
        code = np.where(found, self.code[pos_c] if len(self.code) else 0, 0).astype(np.int8)
        if found.any():
            # vectorized: documents not in a cluster name their own cluster
            cluster = pc.if_else(pa.array(found), self.cluster.take(pa.array(pos_c)), ids.cast(pa.string()))
        else:
            cluster = ids.cast(pa.string())
        return cluster, size, code


def cluster_report(sizes: np.ndarray, members: dict[int, list[str]], n_docs: int, removed: int, extra: dict | None = None,
                   counts: np.ndarray | None = None) -> dict:
    """Cluster size distribution (clusters of 2+) and the largest clusters' ids. ``counts``: how
    many clusters have each size in ``sizes`` (a histogram), instead of one size per cluster."""
    sizes = np.asarray(sizes, dtype=np.int64)
    counts = np.ones(len(sizes), np.int64) if counts is None else np.asarray(counts, dtype=np.int64)
    bins = [(2, 2), (3, 5), (6, 10), (11, 100), (101, 1000), (1001, None)]
    dist = {}
    for lo, hi in bins:
        m = (sizes >= lo) if hi is None else ((sizes >= lo) & (sizes <= hi))
        dist[f"{lo}+" if hi is None else (str(lo) if lo == hi else f"{lo}-{hi}")] = int(counts[m].sum())
    out = {
        "documents": int(n_docs),
        "clusters": int(counts.sum()),
        "documents_in_clusters": int((sizes * counts).sum()) if len(sizes) else 0,
        "removed": int(removed),
        "largest_cluster": int(sizes.max()) if len(sizes) else 0,
        "cluster_size_distribution": dist,
        "example_clusters": [ids for ids in members.values()],
    }
    out.update(extra or {})
    return out


def examples(labels: np.ndarray, ids_of, n: int = 5, per: int = 5) -> dict[int, list[str]]:
    """Ids of the ``n`` largest clusters (up to ``per`` members each); ``ids_of(idx)`` gives ids."""
    if len(labels) == 0:
        return {}
    uniq, inv, counts = np.unique(labels, return_inverse=True, return_counts=True)
    big = np.argsort(-counts, kind="stable")[:n]
    out = {}
    for c in big:
        if counts[c] < 2:
            break
        members = np.flatnonzero(inv == c)[:per]
        out[int(uniq[c])] = ids_of(members)
    return out


class ClusterDedupStep(GlobalStep):
    """The per-batch half shared by the cluster-based dedup steps: annotate each document's cluster
    and its size from the fitted ``result.parquet``, and reject by the decision stored there."""

    cluster_column: ClassVar[str] = "dup_cluster"
    rules: ClassVar[tuple[tuple[str, int], ...]] = (("duplicate", DUPLICATE),)

    def _lookup(self) -> ClusterLookup:
        # one table per shard task: the engine names the task's input in ``shard_input`` (engine/shard.py)
        shard = getattr(self, "shard_input", None)
        if getattr(self, "_table", None) is None or getattr(self, "_table_shard", None) != shard:
            self._table = None  # the last shard's part is freed before the next is read
            self._table = ClusterLookup(self.fitted_file("result.parquet").parent, shard)
            self._table_shard = shard
        return self._table

    def annotate(self, table: pa.Table) -> pa.Table:
        cluster, size, _ = self._lookup().lookup(table["id"])
        table = with_column(table, self.cluster_column, cluster, pa.string())
        return with_column(table, f"{self.cluster_column}_size", pa.array(size, pa.int64()))

    def select(self, table: pa.Table) -> pa.Array:
        _, _, code = self._lookup().lookup(table["id"])
        return reasons_from_masks(len(table), [(rule, code == c) for rule, c in self.rules])


class KeepPolicy(StepConfig):
    """Which document of a duplicate cluster stays: the first in stable order, the longest, or the
    one with the highest value of ``score_column`` (e.g. a quality score)."""

    keep: Literal["first", "longest", "max_score"] = Field("first", description="which member of a duplicate cluster stays: first, longest or max_score")
    score_column: str | None = Field(None, description="the column that keep: max_score maximizes")

    @model_validator(mode="after")
    def _score_needed(self):
        if self.keep == "max_score" and not self.score_column:
            raise ValueError("keep: max_score needs score_column (the column to maximize)")
        return self
