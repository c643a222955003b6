"""MinHash dedup's last phase, the keep decisions, as tasks over the cluster partitions.

A component of the candidate-pair graph lies whole in one component group (``cluster_task``
writes ``clusters/g<g>.npy``: (node, label) of every node with a verified pair), so everything the
decision needs is local to a group: cluster sizes, whether a component touches earlier data
(``against``), which member stays (``choose_keepers``), each cluster's name (the kept document's
id, or the earliest earlier document's). One :func:`decide_task` per group writes:

- ``decide/g<g>.arrow``: the result rows of the group (id hash, node, cluster name, size, code),
  sorted by id-hash range (``h * P >> 64``, so that ranges in order are globally sorted) with the
  offsets of each range in ``.offs.npy`` (written last: the done-marker);
- ``decide/g<g>.drop.npy``: the removed documents' nodes (sorted), for the index of kept documents;
- a small dict of statistics: the cluster-size histogram, removal counts, the group's five
  largest clusters (for ``report.json``'s examples, merged by size then label as one pass would).

Then :func:`merge_task` per id-hash range sorts the range's rows of every group as the former
single pass did (by id hash, ties in node order) and writes ``decide/r<r>.parquet``, and
:func:`index_task` per shard writes the shard's kept documents' band keys and ids for ``index/``.
The driver streams the range files into ``result.parquet`` and the shard parts into ``index/``,
one partition at a time: no task and not the driver holds all documents in clusters.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from gristmill.dedup._clusters import DUPLICATE, INDEX_DUPLICATE, choose_keepers
from gristmill.engine.atomic import atomic_path, atomic_save_npy, atomic_write_parquet

__all__ = ["gather", "hash_range", "decide_task", "merge_task", "index_task", "RESULT_SCHEMA"]

RESULT_SCHEMA = pa.schema([("id_hash", pa.uint64()), ("cluster", pa.string()), ("size", pa.int64()), ("code", pa.int8())])
_EXAMPLES, _PER_EXAMPLE = 5, 5  # as ``_clusters.examples``


def gather(files: list, starts: np.ndarray, nodes: np.ndarray, column: str) -> pa.Array:
    """``column`` of the given global ``nodes`` (any order), reading one parquet file at a time;
    ``starts[i]`` is the first node of ``files[i]``. Memory: the result plus one file's column."""
    files = [Path(f) for f in files]
    nodes = np.asarray(nodes, dtype=np.int64)
    order = np.argsort(nodes, kind="stable")
    sorted_nodes = nodes[order]
    src = np.searchsorted(starts, sorted_nodes, side="right") - 1
    bounds = np.searchsorted(src, np.arange(len(files) + 1))
    pieces = []
    for i in np.flatnonzero(np.diff(bounds)):
        col = pq.read_table(files[i], columns=[column])[column]
        pieces.append(col.take(pa.array(sorted_nodes[bounds[i] : bounds[i + 1]] - starts[i])))
    if not pieces:
        typ = pq.read_schema(files[0]).field(column).type if files else pa.string()
        return pa.array([], typ)
    got = pa.chunked_array(pieces).combine_chunks()
    inverse = np.empty_like(order)
    inverse[order] = np.arange(len(order))
    return got.take(pa.array(inverse))


def hash_range(h: np.ndarray, n_r: int) -> np.ndarray:
    """Range of each 64-bit hash among ``n_r`` equal ranges, monotone in the hash."""
    return (((np.asarray(h, np.uint64) >> np.uint64(32)) * np.uint64(n_r)) >> np.uint64(32)).astype(np.int64)


def decide_task(args: tuple) -> dict:
    """Keep decisions for one component group (see the module docstring). Returns its statistics."""
    cluster_file, n_new, keep, has_score, id_files, id_starts, n_shards, n_r, out = args
    id_starts = np.asarray(id_starts, np.int64)
    shard_files, shard_starts = id_files[:n_shards], id_starts[: n_shards + 1]
    nl = np.load(cluster_file)
    nl = nl[np.argsort(nl[:, 0], kind="stable")] if len(nl) else np.zeros((0, 2), np.int64)
    nodes, labels = nl[:, 0], nl[:, 1]
    new = nodes < n_new
    new_nodes, new_labels = nodes[new], labels[new]
    # A component touching earlier data (against) is already represented there ("tainted").
    ext_nodes, ext = nodes[~new], labels[~new]
    ul, cnt = np.unique(new_labels, return_counts=True)
    is_tainted = np.isin(new_labels, np.unique(ext))
    size_all = cnt[np.searchsorted(ul, new_labels)] if len(ul) else np.zeros(0, np.int64)
    sel = (size_all > 1) | is_tainted
    m, lab, size, idx_m = new_nodes[sel], new_labels[sel], size_all[sel], is_tainted[sel]
    fresh_labels = np.unique(lab[~idx_m])
    sizes = cnt[np.searchsorted(ul, fresh_labels)] if len(fresh_labels) else np.zeros(0, np.int64)
    ext_labels, ext_first = np.unique(ext, return_index=True)  # first occurrence: the earliest earlier document
    ext_first = ext_nodes[ext_first]

    kept = np.zeros(len(m), dtype=bool)
    sub = np.flatnonzero(~idx_m)
    if len(sub):
        length = gather(shard_files, shard_starts, m[sub], "length").to_numpy(zero_copy_only=False)
        score = gather(shard_files, shard_starts, m[sub], "score").to_numpy(zero_copy_only=False) if has_score else None
        kept[sub] = choose_keepers(lab[sub], keep, length, score)
    code = np.where(idx_m, INDEX_DUPLICATE, np.where(kept, 0, DUPLICATE)).astype(np.int8)

    # Cluster name: the kept document's id, or for matches of earlier data the earliest earlier
    # document in the component. Each named label once, then one sorted lookup.
    idx_labels = np.unique(lab[idx_m])
    rep_labels = np.concatenate([lab[kept], idx_labels])
    rep_nodes = np.concatenate([m[kept], ext_first[np.searchsorted(ext_labels, idx_labels)]]).astype(np.int64)
    by_label = np.argsort(rep_labels, kind="stable")
    rep_labels, rep_nodes = rep_labels[by_label], rep_nodes[by_label]
    rep_ids = gather(id_files, id_starts, rep_nodes, "id").cast(pa.string())
    clusters = rep_ids.take(pa.array(np.searchsorted(rep_labels, lab))) if len(m) else pa.array([], pa.string())
    id_hash = gather(shard_files, shard_starts, m, "id_hash").to_numpy(zero_copy_only=False).astype(np.uint64)

    r = hash_range(id_hash, n_r)
    order = np.argsort(r, kind="stable")  # stays in node order inside a range
    t = pa.table({"id_hash": pa.array(id_hash[order], pa.uint64()), "node": pa.array(m[order], pa.int64()),
                  "cluster": clusters.take(pa.array(order, pa.int64())), "size": pa.array(size[order], pa.int64()),
                  "code": pa.array(code[order], pa.int8())})
    out = Path(out)
    with atomic_path(out.with_suffix(".arrow")) as tmp, pa.OSFile(str(tmp), "wb") as f, pa.ipc.new_file(f, t.schema) as w:
        w.write_table(t)
    atomic_save_npy(out.with_suffix(".drop.npy"), np.sort(m[code != 0]))
    atomic_save_npy(out.with_suffix(".offs.npy"), np.searchsorted(r[order], np.arange(n_r + 1)).astype(np.int64))

    # The group's largest clusters among the new documents, as ``_clusters.examples`` picks them
    # (by size, ties by smaller label); the driver merges groups the same way.
    fl = lab[~idx_m]
    uniq, inv, counts = np.unique(fl, return_inverse=True, return_counts=True)
    fresh = m[~idx_m]
    ex = []
    for c in np.argsort(-counts, kind="stable")[:_EXAMPLES]:
        if counts[c] < 2:
            break
        members = fresh[np.flatnonzero(inv == c)[:_PER_EXAMPLE]]
        ex.append((int(counts[c]), int(uniq[c]), gather(id_files, id_starts, members, "id").cast(pa.string()).to_pylist()))
    hist_sizes, hist_counts = np.unique(sizes, return_counts=True)
    return {"hist": [[int(s), int(c)] for s, c in zip(hist_sizes, hist_counts)], "examples": ex,
            "removed": int((code != 0).sum()), "removed_near_duplicate": int((code == DUPLICATE).sum()),
            "removed_near_duplicate_of_index": int((code == INDEX_DUPLICATE).sum())}


def merge_task(args: tuple) -> None:
    """Id-hash range ``r`` of every group's result rows, sorted as one pass over all documents in
    clusters sorts them (by id hash, ties in node order): ``<out>.parquet``."""
    group_stems, r, out = args
    parts = []
    for stem in group_stems:
        stem = Path(stem)
        lo, hi = np.load(stem.with_suffix(".offs.npy"))[r : r + 2]
        if hi > lo:
            with pa.memory_map(str(stem.with_suffix(".arrow"))) as src:
                # copied out of the map (take), so the file is closed with nothing pointing into it
                parts.append(pa.ipc.open_file(src).read_all().slice(lo, hi - lo).combine_chunks().take(pa.array(np.arange(hi - lo))))
    t = pa.concat_tables(parts) if parts else RESULT_SCHEMA.empty_table().append_column("node", pa.array([], pa.int64()))
    order = np.lexsort((t["node"].to_numpy(), t["id_hash"].to_numpy())) if len(t) else np.zeros(0, np.int64)
    t = t.take(pa.array(order, pa.int64())).select(RESULT_SCHEMA.names).cast(RESULT_SCHEMA)
    atomic_write_parquet(Path(out), t)


def index_task(args: tuple) -> int:
    """Band keys and ids of one shard's kept documents (with a signature): ``<out>.keys.npy``
    (band-major) and ``<out>.ids.parquet``. Returns how many."""
    keys_file, meta_file, lo, hi, drop_files, out = args
    drop = []
    for f in drop_files:
        d = np.load(f, mmap_mode="r")
        a, b = np.searchsorted(d, [lo, hi])
        drop.append(np.array(d[a:b]))
        del d
    keep = pq.read_table(meta_file, columns=["has_sig"])["has_sig"].to_numpy(zero_copy_only=False).copy()
    if drop:
        keep[np.concatenate(drop) - lo] = False
    keys = np.load(keys_file)
    out = Path(out)
    atomic_save_npy(out.with_suffix(".keys.npy"), np.ascontiguousarray(keys[:, keep]) if keys.ndim == 2 else keys)
    ids = pq.read_table(meta_file, columns=["id"])["id"].combine_chunks()
    atomic_write_parquet(out.with_suffix(".ids.parquet"), pa.table({"id": ids.filter(pa.array(keep))}))
    return int(keep.sum())
