"""Small Arrow helpers shared by steps (one place, so steps stay short)."""
from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


def texts(table: pa.Table, column: str = "text") -> list[str]:
    """The column as a Python list of str (nulls become "")."""
    return pc.fill_null(table.column(column), "").to_pylist()


def with_column(table: pa.Table, name: str, values, type: pa.DataType | None = None) -> pa.Table:
    """Add or replace column ``name``."""
    arr = values if isinstance(values, (pa.Array, pa.ChunkedArray)) else pa.array(values, type=type)
    idx = table.schema.get_field_index(name)
    if idx >= 0:
        return table.set_column(idx, name, arr)
    return table.append_column(name, arr)


def reasons_from_masks(n: int, rules: list[tuple[str, np.ndarray]]) -> pa.Array:
    """Turn boolean reject masks into a reason array; the first matching rule names the row."""
    out = np.full(n, None, dtype=object)
    for rule, mask in rules:
        sel = np.asarray(mask, dtype=bool) & (out == None)  # noqa: E711
        out[sel] = rule
    return pa.array(out, type=pa.string())
