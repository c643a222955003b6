"""MinHash dedup's global phases as tasks over partitions on disk, so that no task and not the
driver holds all documents' keys or all edges. Every function named ``*_task`` runs through
:func:`gristmill.engine.pool.run_tasks` (local worker processes, or Ray tasks with the same code)
and takes one picklable tuple; the driver only passes paths and counts and reads back small stats.

Partitions. With ``P`` partitions (``ceil(documents / partition_docs)``):

- *bucketing*: one scatter task per key file splits its keys, band by band, by ``key % P`` (stable,
  so in node order); task (band ``j``, key partition ``p``) reads its slice of every scattered
  file: a bucket (equal keys) lies in one task, and inside it documents stay in node order, so
  its pairs are exactly those of the former one-band sort. Every key is read twice in all;
- *pairs*: node range ``q`` (``R = ceil(documents / P)`` nodes each) holds the pairs whose smaller
  node is in the range; the bucketing tasks write their pairs sorted by ``q`` with the offsets of
  each range, and pair task ``q`` reads its slice of each file, makes the pairs unique (sorted by
  (a, b) exactly as the former global ``np.union1d``) and verifies their Jaccard;
- *connected components*: min-label union-find with pointer jumping (the algorithm of
  ``_unionfind.py``, whose result is the smallest node of each component) over labels stored as
  one file per node range; a hook pass runs one task per pair partition, a jump pass one task per
  label partition, until no pair joins two roots. A task holds one partition's pairs or labels
  plus one other label partition at a time;
- *clusters*: the pairs regrouped by component (the component label's node range), and star
  clustering run per group (``_star.star_clusters`` on the group's nodes renumbered in order):
  star's decisions in a component depend only on that component's nodes and pairs, so they are
  the global ones. A component larger than a partition still goes to one task whole (star
  clustering is a sequential greedy pass; connected components mode never needs this).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from gristmill.dedup._normalize import shingle_text
from gristmill.dedup._shingle import shingle_hashes
from gristmill.dedup._star import edge_jaccard, star_clusters, unique_sets
from gristmill.engine.atomic import atomic_path, atomic_save_npy, atomic_write_json

__all__ = ["n_partitions", "read_band_row", "scatter_task", "bucket_task", "pairs_task", "components", "group_task", "cluster_task"]


def n_partitions(n_total: int, partition_docs: int) -> int:
    return max(1, -(-n_total // max(1, partition_docs)))


def read_band_row(path: Path, j: int) -> np.ndarray:
    """Row ``j`` of a band-major ``.npy`` key file, read with plain file reads (no memory map, whose
    touched pages would count towards this process's RSS while it lives)."""
    with open(path, "rb") as f:
        version = np.lib.format.read_magic(f)
        read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, _, dtype = read(f)
        n = shape[1] if len(shape) == 2 else 0
        f.seek(f.tell() + j * n * dtype.itemsize)
        return np.fromfile(f, dtype=dtype, count=n)


def _save_split(path: Path, a: np.ndarray, b: np.ndarray, q: np.ndarray, n_q: int, extra: np.ndarray | None = None) -> None:
    """Pairs (a, b) sorted by their partition ``q`` (stable) with ``offsets`` of each partition."""
    order = np.argsort(q, kind="stable")
    cols = [a[order], b[order]] + ([] if extra is None else [extra[order]])
    atomic_save_npy(path.with_suffix(".pairs.npy"), np.stack(cols, axis=1))
    offs = np.searchsorted(q[order], np.arange(n_q + 1)).astype(np.int64)
    atomic_save_npy(path.with_suffix(".offs.npy"), offs)  # written last: the file's done-marker


def _read_slice(path: Path, q: int) -> np.ndarray:
    offs = np.load(path.with_suffix(".offs.npy"))
    mm = np.load(path.with_suffix(".pairs.npy"), mmap_mode="r")
    out = np.array(mm[offs[q] : offs[q + 1]])
    del mm
    return out


# ------------------------------------------------------------------ bucketing (phase 2)
def scatter_task(args: tuple) -> None:
    """One key file's keys split by key partition, band by band: per band, the keys of documents
    with shingles sorted (stably, so in node order) by ``key % n_p``, their global node numbers,
    and the offsets of each partition. A bucketing task then reads only its slice of each file."""
    key_file, sig_meta, first_node, n_p, out = args
    keys = np.load(key_file)
    bands, n = keys.shape if keys.ndim == 2 else (0, 0)
    ok = pq.read_table(sig_meta, columns=["has_sig"])["has_sig"].to_numpy() if sig_meta else np.ones(n, bool)
    idx = np.flatnonzero(ok)
    ks = np.empty((bands, len(idx)), np.uint64)
    nodes = np.empty((bands, len(idx)), np.int64)
    offs = np.empty((bands, n_p + 1), np.int64)
    for j in range(bands):
        k = keys[j, idx]
        part = (k % np.uint64(n_p)).astype(np.int64)
        order = np.argsort(part, kind="stable")
        ks[j], nodes[j] = k[order], idx[order] + first_node
        offs[j] = np.searchsorted(part[order], np.arange(n_p + 1))
    del keys
    out = Path(out)
    atomic_save_npy(out.with_suffix(".keys.npy"), ks)
    atomic_save_npy(out.with_suffix(".nodes.npy"), nodes)
    atomic_save_npy(out.with_suffix(".offs.npy"), offs)  # written last: the file's done-marker


def _slice(path: Path, j: int, lo: int, hi: int) -> np.ndarray:
    mm = np.load(path, mmap_mode="r")
    out = np.array(mm[j, lo:hi])
    del mm
    return out


def bucket_task(args: tuple) -> None:
    """Pairs of band ``j`` among the keys of partition ``p``: each later document of a bucket with
    each of the bucket's first ``anchors`` documents (``huge_anchors`` in buckets over ``huge``)."""
    scattered, j, p, n_p, rng, out, anchors, huge, huge_anchors = args
    keys, nodes = [], []
    for f in scattered:  # in node order: files in node order, each stably sorted
        f = Path(f)
        lo, hi = np.load(f.with_suffix(".offs.npy"))[j, p : p + 2]
        keys.append(_slice(f.with_suffix(".keys.npy"), j, lo, hi))
        nodes.append(_slice(f.with_suffix(".nodes.npy"), j, lo, hi))
    keys = np.concatenate(keys) if keys else np.zeros(0, np.uint64)
    node = np.concatenate(nodes) if nodes else np.zeros(0, np.int64)
    del nodes
    order = np.argsort(keys, kind="stable")  # stable: equal keys stay in node order
    ks = keys[order]
    del keys
    dup = np.flatnonzero(ks[1:] == ks[:-1]) + 1
    first = np.searchsorted(ks, ks[dup], side="left")
    is_huge = (np.searchsorted(ks, ks[dup], side="right") - first) > huge
    del ks
    r = dup - first
    sel = [(r > k) & ((k < huge_anchors) | ~is_huge) for k in range(min(anchors, int(r.max(initial=0))))]
    a = np.concatenate([order[first[m] + k] for k, m in enumerate(sel)] or [order[:0]])
    b = np.concatenate([order[dup[m]] for m in sel] or [order[:0]])
    a, b = node[a].astype(np.int64), node[b].astype(np.int64)
    _save_split(Path(out), a, b, np.minimum(a, b) // rng, n_p)


# ------------------------------------------------------------------ unique pairs + Jaccard (phase 3)
def _shingle_sets(need: np.ndarray, sources: list[str], starts: np.ndarray, ngram: int, batch_rows: int):
    hs, counts = [], []
    for i, src in enumerate(sources):
        lo, hi = int(starts[i]), int(starts[i + 1])
        mine = need[(need >= lo) & (need < hi)]
        if len(mine) == 0:
            continue
        # batch by batch, as in the signature phase: memory is one batch of text, not the file's
        # column; `mine` is sorted, so the documents come out in node order
        row = 0
        for batch in pq.ParquetFile(src).iter_batches(batch_size=batch_rows, columns=["text"]):
            k0, k1 = np.searchsorted(mine - lo, [row, row + len(batch)])
            if k1 > k0:
                texts = pc.fill_null(batch.column("text").take(pa.array(mine[k0:k1] - lo - row)), "").to_pylist()
                h, offs = unique_sets(*shingle_hashes([shingle_text(t) for t in texts], ngram))
                hs.append(h)
                counts.append(np.diff(offs))
            row += len(batch)
        pa.default_memory_pool().release_unused()
    sets = np.concatenate(hs) if hs else np.zeros(0, np.uint32)
    offsets = np.zeros(len(need) + 1, np.int64)
    if counts:
        np.cumsum(np.concatenate(counts), out=offsets[1:])
    return sets, offsets


# A verified pair, by its documents' id hashes (a < b): the Jaccard a run computed, which `select`
# re-uses when it re-fits the step over another set (a pair's similarity depends only on its two texts)
CHECKED = np.dtype([("a", "<u8"), ("b", "<u8"), ("sim", "<f8")])


def _node_id_hashes(nodes: np.ndarray, id_files: list[str], starts: np.ndarray) -> np.ndarray:
    """The id hash (:func:`~gristmill.dedup._clusters.id_hashes`) of each of ``nodes`` (sorted), from the per-source id files."""
    from gristmill.dedup._clusters import id_hashes

    out = np.zeros(len(nodes), np.uint64)
    for i, f in enumerate(id_files):
        lo, hi = int(starts[i]), int(starts[i + 1])
        m = (nodes >= lo) & (nodes < hi)
        if m.any():
            ids = pq.read_table(f, columns=["id"])["id"]
            out[m] = id_hashes(ids.take(pa.array(nodes[m] - lo)))
    return out


def _known_sims(a: np.ndarray, b: np.ndarray, cache_files: list[str]) -> np.ndarray:
    """The cached similarity of each pair (a[k], b[k]), NaN where the source run never checked it."""
    out = np.full(len(a), np.nan)
    cached = [np.load(f) for f in cache_files]
    c = np.concatenate(cached) if cached else np.zeros(0, CHECKED)
    if not len(c) or not len(a):
        return out
    # a pair as one 16-byte value: sorted and searched bytewise (an order, not the numeric one: only equality matters)
    def as_pairs(x, y):
        p = np.empty(len(x), np.dtype([("a", "<u8"), ("b", "<u8")]))
        p["a"], p["b"] = x, y
        return p.view(np.dtype((np.void, 16))).ravel()

    ck, qk = as_pairs(c["a"], c["b"]), as_pairs(a, b)
    order = np.argsort(ck, kind="stable")
    j = np.minimum(np.searchsorted(ck[order], qk), len(ck) - 1)
    hit = ck[order][j] == qk
    out[hit] = c["sim"][order[j[hit]]]
    return out


def pairs_task(args: tuple) -> int:
    """Unique pairs of node range ``q`` from every bucketing file; with ``verify``, their exact
    shingle Jaccard, dropping pairs below ``threshold`` (pairs with a saved-index node, which has
    no text, stay with similarity NaN). Every checked pair is saved by its documents' id hashes
    (:data:`CHECKED`); ``cache``: such files of a source run, whose pairs are not computed again.
    Returns the number of pairs dropped."""
    bucket_files, q, n_total, verify, threshold, sources, starts, n_data, ngram, batch_rows, out, id_files, cache = args
    base = np.int64(max(n_total, 1))
    code = np.zeros(0, np.int64)
    for f in bucket_files:
        e = _read_slice(Path(f), q)
        if len(e):
            code = np.union1d(code, np.minimum(e[:, 0], e[:, 1]) * base + np.maximum(e[:, 0], e[:, 1]))
    edges = np.stack([code // base, code % base], axis=1)
    del code
    sim = np.full(len(edges), np.nan)
    dropped = 0
    checked = np.zeros(0, CHECKED)
    n_cached = 0
    if verify and len(edges):
        checkable = edges[:, 1] < n_data
        ce = edges[checkable]
        nodes = np.unique(ce.ravel())
        hashes = _node_id_hashes(nodes, id_files, np.asarray(starts))
        ha, hb = hashes[np.searchsorted(nodes, ce[:, 0])], hashes[np.searchsorted(nodes, ce[:, 1])]
        checked = np.empty(len(ce), CHECKED)
        checked["a"], checked["b"] = np.minimum(ha, hb), np.maximum(ha, hb)
        sims = _known_sims(checked["a"], checked["b"], cache or [])
        todo = np.isnan(sims)
        n_cached = int(len(todo) - todo.sum())
        if todo.any():
            need = np.unique(ce[todo].ravel())
            sets, offsets = _shingle_sets(need, sources, np.asarray(starts), ngram, batch_rows)
            sims[todo] = edge_jaccard(np.searchsorted(need, ce[todo]), sets, offsets)
            del sets, offsets
        checked["sim"] = sims
        sim[checkable] = sims
        keep = ~(sim < threshold)  # NaN (unverifiable) stays
        dropped = int((~keep).sum())
        edges, sim = edges[keep], sim[keep]
    out = Path(out)
    atomic_save_npy(out.with_suffix(".checked.npy"), checked)
    atomic_save_npy(out.with_suffix(".sim.npy"), sim)
    atomic_write_json(out.with_suffix(".json"), {"dropped": dropped, "pairs": int(len(edges)), "cached": n_cached})
    atomic_save_npy(out.with_suffix(".npy"), edges)  # written last: the partition's done-marker
    return dropped


# ------------------------------------------------------------------ connected components
def _lookup(label_dir: Path, gen: int, nodes: np.ndarray, rng: int, own: tuple[int, np.ndarray] | None = None) -> np.ndarray:
    """Labels of ``nodes`` (any order) in generation ``gen``, loading one label partition at a time."""
    out = np.empty(len(nodes), np.int64)
    part = nodes // rng
    for k in np.unique(part):
        m = part == k
        if own is not None and k == own[0]:
            lab = own[1]
        else:
            lab = np.load(label_dir / f"g{gen:04d}_{int(k):05d}.npy")
        out[m] = lab[nodes[m] - k * rng]
        del lab
    return out


def hook_task(args: tuple) -> int:
    """For each pair of partition ``q`` whose endpoints have different roots, propose the larger
    root's new parent (the smaller root), written per label partition. Returns such pairs."""
    pair_file, label_dir, gen, rng, n_p, out = args
    e = np.load(pair_file)
    if not len(e):
        return 0
    label_dir = Path(label_dir)
    ru = _lookup(label_dir, gen, e[:, 0], rng)
    rv = _lookup(label_dir, gen, e[:, 1], rng)
    differ = ru != rv
    hi, lo = np.maximum(ru, rv)[differ], np.minimum(ru, rv)[differ]
    if len(hi):
        _save_split(Path(out), hi, lo, hi // rng, n_p)
    return int(differ.sum())


def jump_task(args: tuple) -> bool:
    """Label partition ``k``: apply the hook proposals (smallest wins), then one pointer jump
    ``L[v] = L[L[v]]`` against generation ``gen``; write generation ``gen + 1``. Returns whether
    anything changed."""
    label_dir, gen, k, rng, proposal_files = args
    label_dir = Path(label_dir)
    old = np.load(label_dir / f"g{gen:04d}_{k:05d}.npy")
    lab = old.copy()
    for f in proposal_files:
        if Path(f).with_suffix(".offs.npy").exists():
            p = _read_slice(Path(f), k)
            if len(p):
                np.minimum.at(lab, p[:, 0] - k * rng, p[:, 1])
    lab = _lookup(label_dir, gen, lab, rng, own=(k, lab))
    atomic_save_npy(label_dir / f"g{gen + 1:04d}_{k:05d}.npy", lab)
    return not np.array_equal(lab, old)


def _init_labels_task(args: tuple) -> None:
    label_dir, k, lo, hi = args
    atomic_save_npy(Path(label_dir) / f"g0000_{k:05d}.npy", np.arange(lo, hi, dtype=np.int64))


def components(pair_files: list[Path], n_total: int, rng: int, n_p: int, wd: Path, run, log=None) -> tuple[Path, int]:
    """Connected components over the pair partitions; the final labels (smallest node of each
    component) are in ``<dir>/g<gen>_<k>.npy``. Returns (dir, gen). ``run(fn, items)`` is the
    fan-out (``run_tasks`` with the step's workers). Restarts from scratch if interrupted."""
    d = wd / "cc"
    done = d / "done.json"
    if done.exists():
        return d, int(json.loads(done.read_text())["gen"])
    if d.exists():
        for f in d.iterdir():
            f.unlink() if f.is_file() else None
    d.mkdir(exist_ok=True)
    parts = [(str(d), k, k * rng, min(n_total, (k + 1) * rng)) for k in range(n_p)]
    list(run(_init_labels_task, parts))
    gen, rounds = 0, 0
    while True:
        # jump to a fixpoint: every label is a root
        while True:
            props = sorted(str(p) for p in d.glob(f"hook{gen:04d}_*.offs.npy"))
            props = [p[: -len(".offs.npy")] for p in props]
            changed = list(run(jump_task, [(str(d), gen, k, rng, props) for k in range(n_p)]))
            for f in d.glob(f"g{gen:04d}_*.npy"):
                f.unlink()
            for f in d.glob(f"hook{gen:04d}_*"):
                f.unlink()
            gen += 1
            if not any(changed):
                break
        rounds += 1
        joined = sum(run(hook_task, [(str(p), str(d), gen, rng, n_p, str(d / f"hook{gen:04d}_{q:05d}"))
                                     for q, p in enumerate(pair_files)]))
        if not joined:
            break
    if log is not None:
        log(f"minhash_dedup: connected components in {rounds} hook round(s), {gen} label generation(s)")
    atomic_write_json(done, {"gen": gen})
    return d, gen


# ------------------------------------------------------------------ clusters per component group
def group_task(args: tuple) -> None:
    """Pairs of partition ``q`` with their component label, regrouped by the label's node range."""
    pair_file, label_dir, gen, rng, n_p, out = args
    e = np.load(pair_file)
    sim = np.load(Path(pair_file).with_suffix(".sim.npy"))
    lab = _lookup(Path(label_dir), gen, e[:, 0], rng) if len(e) else np.zeros(0, np.int64)
    order = np.argsort(lab // rng, kind="stable")
    e, sim, lab = e[order], sim[order], lab[order]
    out = Path(out)
    atomic_save_npy(out.with_suffix(".sim.npy"), sim)
    atomic_save_npy(out.with_suffix(".pairs.npy"), np.stack([e[:, 0], e[:, 1], lab], axis=1) if len(e) else np.zeros((0, 3), np.int64))
    atomic_save_npy(out.with_suffix(".offs.npy"), np.searchsorted(lab // rng, np.arange(n_p + 1)).astype(np.int64))


def cluster_task(args: tuple) -> None:
    """Cluster label of every node with a pair whose component falls in group ``g``: the component
    (``components``) or its star center (``star_clusters`` on the group renumbered in node order).
    Writes (node, label) rows sorted by node."""
    group_files, g, mode, use_sim, n_new, prio, out = args
    es, ss = [], []
    for f in group_files:
        f = Path(f)
        offs = np.load(f.with_suffix(".offs.npy"))
        mm = np.load(f.with_suffix(".pairs.npy"), mmap_mode="r")
        es.append(np.array(mm[offs[g] : offs[g + 1]]))
        del mm
        sm = np.load(f.with_suffix(".sim.npy"), mmap_mode="r")
        ss.append(np.array(sm[offs[g] : offs[g + 1]]))
        del sm
    e = np.concatenate(es) if es else np.zeros((0, 3), np.int64)
    sim = np.concatenate(ss) if ss else np.zeros(0)
    del es, ss
    nodes, local = np.unique(e[:, :2], return_inverse=True)
    local = local.reshape(-1, 2)
    if mode == "components":
        lab = np.empty(len(nodes), np.int64)
        lab[local[:, 0]] = e[:, 2]
        lab[local[:, 1]] = e[:, 2]
    else:
        # Renumbered in node order, so rank ties and "fixed" (node >= n_new) are the global ones.
        fn, fargs = prio
        loc = star_clusters(len(nodes), local, lambda idx: fn(nodes[idx], *fargs), sim if use_sim else None,
                            fixed_from=int(np.searchsorted(nodes, n_new)),
                            centers="keep" if mode == "kept_star" else "connected")
        lab = nodes[loc]
    atomic_save_npy(Path(out), np.stack([nodes, lab], axis=1) if len(nodes) else np.zeros((0, 2), np.int64))
