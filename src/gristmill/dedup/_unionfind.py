"""Connected components of a large edge list with numpy (vectorized union-find).

Memory is the parent array (8 bytes per node) plus the edges; no per-node Python objects. Each
round hooks every edge's larger root onto its smaller root (``np.minimum.at``) and then
compresses paths by pointer jumping until every node points at a root. Labels are the smallest
node index of each component, so the result does not depend on edge order.
"""
from __future__ import annotations

import numpy as np

__all__ = ["connected_components"]


def _compress(parent: np.ndarray) -> None:
    while True:
        grand = parent[parent]
        if np.array_equal(grand, parent):
            return
        parent[:] = grand


def connected_components(n: int, edges: np.ndarray | list[np.ndarray]) -> np.ndarray:
    """Label of each of ``n`` nodes: the smallest node index in its component (int64).

    ``edges`` is an (E, 2) integer array, or a list of them (processed one after another, so
    edges from many spill files need not be concatenated)."""
    parent = np.arange(n, dtype=np.int64)
    chunks = edges if isinstance(edges, list) else [edges]
    for e in chunks:
        e = np.asarray(e, dtype=np.int64).reshape(-1, 2)
        if len(e) == 0:
            continue
        if e.min() < 0 or e.max() >= n:
            raise ValueError(f"edge endpoint outside 0..{n - 1}")
        u, v = e[:, 0], e[:, 1]
        while True:
            ru, rv = parent[u], parent[v]
            differ = ru != rv
            if not differ.any():
                break
            ru, rv = ru[differ], rv[differ]
            u, v = u[differ], v[differ]
            lo, hi = np.minimum(ru, rv), np.maximum(ru, rv)
            np.minimum.at(parent, hi, lo)
            _compress(parent)
    _compress(parent)
    return parent
