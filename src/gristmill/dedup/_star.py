"""Cluster candidate pairs so that every removed document is checked against its cluster's kept one.

Connected components over LSH candidate pairs chain: A~B and B~C put A and C in one cluster even
when A and C share little. Template-like text (newsletters, spam, listings that share 40-50% of
their word 5-grams) forms long chains, and whole families of different documents collapse into
one cluster. Star clustering (the greedy "center" clustering used for near-duplicate detection,
e.g. Broder 1997; Chierichetti et al. 2014 "Correlation clustering in MapReduce") fixes that:
documents are taken in keep-priority order, and each one either joins the best already-chosen
kept document ("center") it is directly paired with, or becomes a center itself. So a removed
document is always a verified neighbour of the kept document that represents it, and two removed
documents of one cluster are within Jaccard distance ``2 * (1 - threshold)`` of each other
(Jaccard distance is a metric): with threshold 0.75 no pair below J = 0.5 shares a cluster.

``edge_jaccard`` computes the exact shingle Jaccard of many pairs at once: the shingle sets of all
documents are put into one sorted array of (document, shingle) keys and every pair becomes a
vectorized membership test of the smaller set's shingles in the other document's keys.
"""
from __future__ import annotations

import numpy as np

from gristmill.dedup._shingle import mix64

__all__ = ["unique_sets", "edge_jaccard", "star_clusters"]

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def unique_sets(hashes: np.ndarray, offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-document sorted unique shingle hashes (CSR: ``hashes``, ``offsets``) in one lexsort."""
    n = len(offsets) - 1
    doc = np.repeat(np.arange(n, dtype=np.int64), np.diff(offsets))
    order = np.lexsort((hashes, doc))
    h, d = hashes[order], doc[order]
    keep = np.ones(len(h), dtype=bool)
    keep[1:] = (h[1:] != h[:-1]) | (d[1:] != d[:-1])
    out_offs = np.zeros(n + 1, np.int64)
    np.cumsum(np.bincount(d[keep], minlength=n), out=out_offs[1:])
    return h[keep], out_offs


def _keyed(h: np.ndarray, node: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        return mix64(h ^ (node.astype(np.uint64) * _GOLDEN))


def edge_jaccard(edges: np.ndarray, sets: np.ndarray, offsets: np.ndarray, chunk: int = 1 << 22) -> np.ndarray:
    """Exact Jaccard of each pair ``edges[i] = (a, b)`` of local document numbers, whose unique
    shingle hashes are ``sets[offsets[d]:offsets[d+1]]``. float64, NaN never (empty sets give 0).

    Work is the sum over pairs of the smaller set's size, ``chunk`` shingles at a time. A keyed
    hash of (document, shingle) collides with probability ~2^-64 per lookup."""
    edges = np.asarray(edges, dtype=np.int64).reshape(-1, 2)
    out = np.zeros(len(edges), dtype=np.float64)
    if not len(edges):
        return out
    size = np.diff(offsets)
    owner = np.repeat(np.arange(len(size), dtype=np.int64), size)
    table = np.sort(_keyed(sets, owner))
    a, b = edges[:, 0], edges[:, 1]
    swap = size[a] > size[b]
    a, b = np.where(swap, b, a), np.where(swap, a, b)
    work = np.cumsum(size[a])
    lo = 0
    while lo < len(edges):
        hi = int(np.searchsorted(work, (work[lo - 1] if lo else 0) + chunk, side="right"))
        hi = max(hi, lo + 1)
        ea, eb = a[lo:hi], b[lo:hi]
        cnt = size[ea]
        rep = np.repeat(np.arange(hi - lo), cnt)
        # positions of the smaller set's shingles: offsets[ea] + 0..cnt-1 for each pair
        first = np.zeros(hi - lo, np.int64)
        np.cumsum(cnt[:-1], out=first[1:])
        pos = np.arange(len(rep), dtype=np.int64) - first[rep] + offsets[ea][rep]
        q = _keyed(sets[pos], eb[rep])
        at = np.minimum(np.searchsorted(table, q), len(table) - 1)
        inter = np.bincount(rep[table[at] == q], minlength=hi - lo)
        union = size[ea] + size[eb] - inter
        out[lo:hi] = np.where(union > 0, inter / np.maximum(union, 1), 0.0)
        lo = hi
    return out


def star_clusters(
    n: int, edges: np.ndarray, priority, sim: np.ndarray | None = None, fixed_from: int | None = None,
    centers: str = "connected",
) -> np.ndarray:
    """Cluster label (the center's node number) of each of ``n`` nodes.

    ``edges``: (E, 2) node pairs that passed verification (or raw LSH candidates); ``sim``: their
    similarity (NaN: unverifiable, accepted but least preferred) or None. ``priority``: a function
    from the sorted array of nodes that have pairs to their sort key, smaller = kept first (ties by node number); earlier data and index nodes should sort
    first, so they are always centers. Each node, in priority order, joins the most similar
    center among its higher-priority neighbours (ties: the higher-priority center), or becomes a
    center. Nodes without edges are their own label. Nodes ``>= fixed_from`` (earlier data, saved
    indexes: already kept elsewhere) are always centers."""
    labels = np.arange(n, dtype=np.int64)
    edges = np.asarray(edges, dtype=np.int64).reshape(-1, 2)
    if not len(edges):
        return labels
    nodes, local = np.unique(edges, return_inverse=True)
    local = local.reshape(-1, 2)
    m = len(nodes)
    s = np.zeros(len(edges)) if sim is None else np.nan_to_num(np.asarray(sim, np.float64), nan=-1.0)
    fixed_mask = nodes >= (n if fixed_from is None else fixed_from)
    keys = [nodes, np.asarray(priority(nodes), np.float64)]
    if centers == "connected":
        # weighted degree: the sum of the pairs' similarities (1 each when unverified)
        w = np.ones(len(edges)) if sim is None else np.where(s < 0, 1.0, s)
        wdeg = np.bincount(local[:, 0], w, minlength=m) + np.bincount(local[:, 1], w, minlength=m)
        keys.append(-wdeg)
    keys.append(~fixed_mask)
    rank = np.empty(m, np.int64)
    rank[np.lexsort(keys)] = np.arange(m)
    # orient every pair from the later node (u) to the earlier one (v): u may join v
    ru, rv = rank[local[:, 0]], rank[local[:, 1]]
    later = np.where(ru > rv, ru, rv)
    earlier = np.where(ru > rv, rv, ru)
    # per u (in rank order) its candidates best first: similarity desc, then center rank asc
    order = np.lexsort((earlier, -s, later))
    later, earlier = later[order], earlier[order]
    bounds = np.searchsorted(later, np.arange(m + 1)).tolist()
    cand = earlier.tolist()
    center = list(range(m))  # by rank
    is_center = [True] * m
    fixed = fixed_mask[np.argsort(rank)].tolist()  # by rank
    for u in range(m):
        if fixed[u]:
            continue
        lo, hi = bounds[u], bounds[u + 1]
        for k in range(lo, hi):
            v = cand[k]
            if is_center[v]:
                center[u] = v
                is_center[u] = False
                break
    by_rank = np.empty(m, np.int64)
    by_rank[rank] = np.arange(m)  # rank -> local node
    labels[nodes[by_rank]] = nodes[by_rank[np.asarray(center, np.int64)]]
    return labels
