"""Cluster verified candidate pairs so that every removed document is checked against its center.

Connected components over LSH candidate pairs chain: A~B and B~C put A and C in one cluster even
when A and C share little. Template-like text (newsletters, spam, listings that share 40-50% of
their word 5-grams; successive issues of a digest) forms long chains, and whole families of
different documents collapse into one cluster. Star clustering (Aslam, Pelekhov and Rus 2004,
"The Star Clustering Algorithm for Static and Dynamic Information Organization") fixes that:
documents are taken in order of how connected they are (the sum of their pairs' similarities),
and each one either joins the most similar already-chosen center it is directly paired with, or
becomes a center itself. So a removed document is always a verified neighbour of its center,
and two documents of one cluster are within Jaccard distance ``2 * (1 - threshold)`` of each
other (Jaccard distance is a metric): with threshold 0.75 no pair below J = 0.5 shares a cluster.
Ordering centers by connectedness rather than by the keep policy puts the original of a family
of variants at the center, so two variants that are far from each other but close to the
original stay together (on ``benchmarks/neardup.py``: recall 0.999 against 0.947).

``edge_jaccard`` computes the shingle Jaccard of many pairs at once with a vectorized merge of the
pairs' sorted shingle sets.
"""
from __future__ import annotations

import numpy as np


__all__ = ["unique_sets", "edge_jaccard", "star_clusters"]

def unique_sets(hashes: np.ndarray, offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-document sorted unique shingle hashes, folded to 32 bits (CSR: ``sets``, ``offsets``).

    32 bits are plenty for a Jaccard estimate: two different shingles of a pair collide with
    probability 2^-32, so a pair of 1,000-shingle documents gains a false common shingle once in
    ~4,000 pairs. One sort of (document << 32 | hash) keys replaces a lexsort."""
    n = len(offsets) - 1
    doc = np.repeat(np.arange(n, dtype=np.uint64), np.diff(offsets))
    h32 = (hashes ^ (hashes >> np.uint64(32))) & np.uint64(0xFFFFFFFF)
    keys = np.sort((doc << np.uint64(32)) | h32)
    keep = np.ones(len(keys), dtype=bool)
    keep[1:] = keys[1:] != keys[:-1]
    keys = keys[keep]
    out_offs = np.zeros(n + 1, np.int64)
    np.cumsum(np.bincount((keys >> np.uint64(32)).astype(np.int64), minlength=n), out=out_offs[1:])
    return (keys & np.uint64(0xFFFFFFFF)).astype(np.uint32), out_offs


def _gather_segments(sets: np.ndarray, offsets: np.ndarray, docs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The sets of ``docs`` one after another, each value keyed by its segment's number in the
    high 32 bits: sorted, since the segments are in order and each set is sorted."""
    size = offsets[docs + 1] - offsets[docs]
    out_start = np.zeros(len(docs), np.int64)
    np.cumsum(size[:-1], out=out_start[1:])
    seg = np.repeat(np.arange(len(docs), dtype=np.uint64), size)
    pos = np.repeat(offsets[docs] - out_start, size) + np.arange(int(size.sum()), dtype=np.int64)
    return (seg << np.uint64(32)) | sets[pos], seg


def edge_jaccard(edges: np.ndarray, sets: np.ndarray, offsets: np.ndarray, chunk: int = 1 << 22) -> np.ndarray:
    """Exact Jaccard (over 32-bit shingle hashes) of each pair ``edges[i] = (a, b)`` of local
    document numbers, whose sorted unique hashes are ``sets[offsets[d]:offsets[d+1]]``; 0 for
    two empty sets.

    Vectorized: for a chunk of pairs, the larger sets are laid out one after another under the
    pair's number in the high 32 bits (already sorted, no sort needed) and the smaller sets'
    keys, sorted the same way, are looked up in them with one binary search. Work is the sum
    over pairs of both sets' sizes, ``chunk`` entries at a time."""
    edges = np.asarray(edges, dtype=np.int64).reshape(-1, 2)
    out = np.zeros(len(edges), dtype=np.float64)
    if not len(edges):
        return out
    size = np.diff(offsets)
    a, b = edges[:, 0], edges[:, 1]
    small = size[a] <= size[b]
    a, b = np.where(small, a, b), np.where(small, b, a)
    work = np.cumsum(size[a] + size[b])
    lo = 0
    while lo < len(edges):
        hi = int(np.searchsorted(work, (work[lo - 1] if lo else 0) + chunk, side="right"))
        hi = max(hi, lo + 1)
        big_keys, _ = _gather_segments(sets, offsets, b[lo:hi])
        small_keys, pair = _gather_segments(sets, offsets, a[lo:hi])
        if len(big_keys) and len(small_keys):
            at = np.minimum(np.searchsorted(big_keys, small_keys), len(big_keys) - 1)
            inter = np.bincount(pair[big_keys[at] == small_keys].astype(np.int64), minlength=hi - lo)
        else:
            inter = np.zeros(hi - lo, np.int64)
        union = size[a[lo:hi]] + size[b[lo:hi]] - inter
        out[lo:hi] = np.where(union > 0, inter / np.maximum(union, 1), 0.0)
        lo = hi
    return out


def star_clusters(
    n: int, edges: np.ndarray, priority, sim: np.ndarray | None = None, fixed_from: int | None = None,
    centers: str = "connected",
) -> np.ndarray:
    """Cluster label (the center's node number) of each of ``n`` nodes.

    ``edges``: (E, 2) node pairs that passed verification (or raw LSH candidates); ``sim``: their
    similarity (NaN: unverifiable, accepted but least preferred) or None (all alike).
    ``priority``: a function from the sorted array of nodes that have pairs to their keep-order
    key (smaller is kept first). Nodes are visited with ``fixed_from`` and later nodes (earlier
    data, saved indexes: already kept elsewhere, always centers) first, then by summed
    similarity of their pairs, highest first (``centers="connected"``; ``"keep"``: skip this
    key, so the kept document is the center), then by keep order, then node number. Each node
    joins the most similar center among the nodes visited before it that it has a pair with
    (ties: the one visited first), or becomes a center. Nodes without pairs are their own label."""
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
