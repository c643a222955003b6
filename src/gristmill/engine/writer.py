"""The parquet file of one shard's kept or rejected rows: written under a temporary name, renamed on close.

A shard's output exists under its final name only when the shard finished (engine/atomic.py), so a
resumed run never mistakes a half-written file for a finished one.
"""
from __future__ import annotations

import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from gristmill.engine.atomic import tmp_path

COMPRESSION = "zstd"


class ShardWriter:
    """A parquet file created on its first rows and renamed into place by :meth:`close`.

    ``private``: working columns of the caller (``select`` carries each row's original reason)
    that are dropped before writing, so no file has to be written twice to remove them."""

    def __init__(self, path: Path, private: tuple[str, ...] = ()):
        self.path = Path(path)
        self.tmp = tmp_path(self.path)
        self.private = private
        self.writer: pq.ParquetWriter | None = None
        self.rows = 0

    def write(self, table: pa.Table) -> None:
        if table.num_rows == 0:
            return
        if self.private:
            table = table.drop_columns([c for c in self.private if c in table.column_names])
        table = no_null_types(table)
        if self.writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.writer = pq.ParquetWriter(self.tmp, table.schema, compression=COMPRESSION)
        elif table.schema != self.writer.schema:
            table = conform(table, self.writer.schema, self.path)
        self.writer.write_table(table)
        self.rows += table.num_rows

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            os.replace(self.tmp, self.path)


def no_null_types(table: pa.Table) -> pa.Table:
    """Columns of Arrow's null type (a step that gave every row of a batch no value) as strings:
    a parquet column of null type cannot later take the values of the next batch."""
    for i, f in enumerate(table.schema):
        if pa.types.is_null(f.type):
            table = table.set_column(i, f.name, table.column(i).cast(pa.string()))
    return table


def conform(table: pa.Table, schema: pa.Schema, path: Path) -> pa.Table:
    """``table`` in the column order and types of the file's first batch; different columns are a step's bug."""
    if set(table.column_names) != set(schema.names):
        raise RuntimeError(f"{path}: batches of one shard have different columns ({sorted(set(table.column_names) ^ set(schema.names))}); "
                           "a step must add the same columns to every batch")
    return table.select(schema.names).cast(schema)
