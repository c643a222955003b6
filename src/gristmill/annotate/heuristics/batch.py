"""Arrow/numpy helpers the rule families share: the text column, splits, per-document sums,
first occurrences and duplicates, ratios, and typed output columns."""
from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from gristmill.arrow import TEXT_TYPE

from .chars import _SPLITLINES

def _text_column(table: pa.Table) -> pa.ChunkedArray:
    if "text" not in table.column_names:
        raise ValueError(f"heuristic steps need a 'text' column; the batch has {table.column_names}")
    col = table.column("text")
    if not pa.types.is_string(col.type) and not pa.types.is_large_string(col.type):
        raise ValueError(f"column 'text' must be a string column, got {col.type}; cast it in the reader")
    # One type inside the steps whatever the caller built (the readers give TEXT_TYPE already).
    return pc.fill_null(col, "").cast(TEXT_TYPE)


def _np(arr) -> np.ndarray:
    return np.asarray(arr.to_numpy(zero_copy_only=False))


def _split(text, pattern: str, regex: bool = True):
    """Split every document; return (flat pieces, pieces per document)."""
    lists = pc.split_pattern_regex(text, pattern) if regex else pc.split_pattern(text, pattern)
    if isinstance(lists, pa.ChunkedArray):
        lists = lists.combine_chunks() if lists.num_chunks else pa.array([], pa.list_(text.type))
    counts = _np(pc.list_value_length(lists)).astype(np.int64)
    return lists.flatten(), counts


def _per_doc_sum(values: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Sum a flat per-piece array back to one value per document."""
    out = np.zeros(len(counts), dtype=np.float64 if values.dtype.kind == "f" else np.int64)
    if len(values):
        np.add.at(out, np.repeat(np.arange(len(counts)), counts), values)
    return out


def _first_occurrence(doc: np.ndarray, key: np.ndarray) -> np.ndarray:
    """True where (doc, key) appears for the first time in order (the set-based loop of DataTrove).
    ``key`` are non-negative ids below 2**32 (dictionary indices)."""
    n = len(key)
    if n == 0:
        return np.zeros(0, dtype=bool)
    # Ids numbered by first appearance: an occurrence is the first exactly when its id exceeds
    # every id before it. Hash-based, so no lexsort (_first_occurrence_sorted is the reference).
    g = _first_appearance_ids((doc.astype(np.int64) << 32) | key.astype(np.int64))
    first = np.ones(n, dtype=bool)
    first[1:] = g[1:] > np.maximum.accumulate(g)[:-1]
    return first


def _first_occurrence_sorted(doc: np.ndarray, key: np.ndarray) -> np.ndarray:
    n = len(key)
    if n == 0:
        return np.zeros(0, dtype=bool)
    order = np.lexsort((np.arange(n), key, doc))
    d, k = doc[order], key[order]
    new = np.ones(n, dtype=bool)
    new[1:] = (d[1:] != d[:-1]) | (k[1:] != k[:-1])
    first = np.empty(n, dtype=bool)
    first[order] = new
    return first


def _duplicates(pieces: pa.Array, counts: np.ndarray, keep: np.ndarray | None = None):
    """Per document: number of duplicated pieces and their total length (DataTrove's find_duplicates)."""
    doc = np.repeat(np.arange(len(counts)), counts)
    ids = _np(pc.dictionary_encode(pieces).indices).astype(np.int64) if len(pieces) else np.zeros(0, np.int64)
    lengths = _np(pc.utf8_length(pieces)).astype(np.int64) if len(pieces) else np.zeros(0, np.int64)
    if keep is not None:
        doc, ids, lengths = doc[keep], ids[keep], lengths[keep]
    dup = ~_first_occurrence(doc, ids)
    n_dup = np.bincount(doc[dup], minlength=len(counts)).astype(np.int64)
    chars = np.bincount(doc[dup], weights=lengths[dup], minlength=len(counts)).astype(np.int64)
    return n_dup, chars


def _ratio(num, den) -> np.ndarray:
    num = np.asarray(num, dtype=np.float64)
    den = np.asarray(den, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)



def _first_appearance_ids(key: np.ndarray) -> np.ndarray:
    """Equal keys get equal ids, numbered 0, 1, ... in order of first appearance."""
    if len(key) == 0:
        return np.zeros(0, dtype=np.int64)
    # Arrow's dictionary encoding hashes (linear time) and numbers the dictionary in order of first
    # appearance, which is exactly this; ~3x faster than np.unique's sort plus the rank pass.
    # _first_appearance_ids_sorted is the reference (tests check both agree).
    return _np(pc.dictionary_encode(pa.array(key)).indices).astype(np.int64)


def _first_appearance_ids_sorted(key: np.ndarray) -> np.ndarray:
    if len(key) == 0:
        return np.zeros(0, dtype=np.int64)
    _, first, inv = np.unique(key, return_index=True, return_inverse=True)
    rank = np.empty(len(first), dtype=np.int64)
    rank[np.argsort(first)] = np.arange(len(first))
    return rank[inv.reshape(-1)]


def _n_splitlines(text, counts: np.ndarray) -> np.ndarray:
    """str.splitlines() drops the piece after a final line break, and returns [] for ""."""
    ends = _np(pc.match_substring_regex(text, f"(?:{_SPLITLINES})$")) | (_np(pc.utf8_length(text)) == 0)
    return counts - ends.astype(np.int64), ends


def _ends_with_any(arr, suffixes) -> np.ndarray:
    out = np.zeros(len(arr), dtype=bool)
    for s in suffixes:
        out |= _np(pc.ends_with(arr, s))
    return out


def _f64(x) -> pa.Array:
    return pa.array(np.asarray(x, dtype=np.float64), pa.float64())


def _i32(x) -> pa.Array:
    return pa.array(np.asarray(x, dtype=np.int64).astype(np.int32), pa.int32())


def _col(table: pa.Table, name: str, step: str) -> np.ndarray:
    if name not in table.column_names:
        raise ValueError(f"{step}: column {name!r} is missing; run the step's annotate before select "
                         f"(or keep its columns when re-selecting)")
    return _np(table.column(name))

