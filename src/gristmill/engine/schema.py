"""One schema for every parquet file of an output directory.

Inputs with different ``fields:``, steps restricted to some ``sources:`` and rows rejected at
different steps give per-shard files with different columns. Loaders that take a glob read them as
one table only when every file has the same schema: polars and ``datasets`` fail, and duckdb
silently uses the first file's columns. After a run, every file is rewritten (atomically, and
only if it differs) to the union schema, with nulls where a file lacks a column.
"""
from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from gristmill.engine.atomic import atomic_path

FIRST = ("id", "text", "source")
LAST = ("reject_step", "reject_reason")


def union_schema(schemas: list[pa.Schema]) -> pa.Schema:
    """Columns in order of first appearance (id, text, source first; reject columns last). A column
    with types that do not promote (an int in one input, a string in another) becomes a string."""
    fields: dict[str, list[pa.DataType]] = {}
    for s in schemas:
        for f in s:
            fields.setdefault(f.name, []).append(f.type)
    names = [n for n in FIRST if n in fields] + [n for n in fields if n not in FIRST + LAST] + [n for n in LAST if n in fields]
    out = []
    for n in names:
        types = [t for t in fields[n] if not pa.types.is_null(t)] or [pa.string()]
        try:
            t = pa.unify_schemas([pa.schema([(n, t)]) for t in types], promote_options="permissive").field(n).type
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
            t = pa.large_string() if any(pa.types.is_large_string(x) for x in types) else pa.string()
        out.append(pa.field(n, t))
    return pa.schema(out)


def _conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    cols = []
    for f in schema:
        if f.name not in table.column_names:
            cols.append(pa.nulls(table.num_rows, f.type))
            continue
        col = table.column(f.name)
        if col.type != f.type:
            try:
                col = col.cast(f.type)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):  # a non-promoting mix: written as text
                col = pa.array([None if v is None else str(v) for v in col.to_pylist()], f.type)
        cols.append(col)
    return pa.Table.from_arrays(cols, schema=schema)


def unify_dir(directory: Path, compression: str = "zstd") -> int:
    """Rewrite the parquet files of ``directory`` that differ from the union schema; returns how many."""
    files = sorted(Path(directory).glob("*.parquet"))
    if len(files) < 2:
        return 0
    schemas = [pq.read_schema(p).remove_metadata() for p in files]
    target = union_schema(schemas)
    n = 0
    for p, s in zip(files, schemas):
        if s.equals(target):
            continue
        table = _conform(pq.read_table(p).replace_schema_metadata(None), target)
        with atomic_path(p) as tmp:
            pq.write_table(table, tmp, compression=compression)
        n += 1
    return n
