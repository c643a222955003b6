"""Small Arrow helpers shared by steps (one place, so steps stay short)."""
from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


def texts(table: pa.Table, column: str = "text") -> list[str]:
    """The column as a Python list of str (nulls become "")."""
    return pc.fill_null(table.column(column), "").to_pylist()


# The one type of the ``text`` column, from the readers through every step to the output: Arrow's
# 64-bit-offset string, so a batch's text is never capped at 2 GiB and every batch of a run has one
# schema. ``with_column`` casts any ``text`` a step writes to it, so no step has to remember.
TEXT_TYPE = pa.large_string()


def with_column(table: pa.Table, name: str, values, type: pa.DataType | None = None) -> pa.Table:
    """Add or replace column ``name``. A ``text`` column always ends up as :data:`TEXT_TYPE`."""
    if name == "text":
        type = TEXT_TYPE
    arr = values if isinstance(values, (pa.Array, pa.ChunkedArray)) else pa.array(values, type=type)
    if name == "text" and arr.type != TEXT_TYPE:
        arr = arr.cast(TEXT_TYPE)
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
