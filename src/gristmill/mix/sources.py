"""Where a mixture source's documents live: files, read units and their row counts.

A source path is a gristmill output directory (its ``data/*.parquet``), a directory of parquet or
jsonl files, a file, or a glob. Each Parquet row group, and each line-aligned byte range of about
8 MB of a JSONL file (:mod:`gristmill.io.units`; a compressed JSONL file is one unit), is a *read
unit*. The units' row counts come from Parquet metadata (or one streaming count for JSONL), so a
stream can seek to any document by number without reading the ones before it, and holds one unit. A document's number in the source
(its *doc id*) is its position in the canonical order: files sorted, row groups and rows in order.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from gristmill.io.paths import JSONL, PARQUET, PathsError, expand
from gristmill.io.units import UnitError, jsonl_columns, jsonl_units, read_jsonl_unit
from gristmill.mix.where import compile_where



class SourceError(ValueError):
    """A source path that does not exist, holds no documents, or lacks a column."""


def expand_source_paths(patterns: list[str]) -> list[Path]:
    """Files behind the patterns (gristmill.io.paths): an output dir means its data/, a dir its parquet/jsonl files."""
    try:
        return [f for f, _ in expand(patterns, PARQUET + JSONL, filter_globs=True)]
    except PathsError as e:
        if e.kind == "missing":
            raise SourceError(f"path {e.pattern!r} does not exist (relative to the current directory {Path.cwd()})") from None
        raise SourceError(f"path {e.pattern!r} holds no parquet or jsonl files; give a gristmill output directory "
                          "(it reads OUT/data/*.parquet), parquet/jsonl files or a glob") from None


@dataclass
class Part:
    """One path-or-glob list with its filter: a source is one part, a replay source several."""

    paths: list[str]
    text_field: str = "text"
    where: str | None = None
    files: list[Path] = field(default_factory=list)
    # (file index, row group or -1 for a JSONL byte range, rows, JSONL start byte, JSONL end byte or None)
    units: list[tuple[int, int, int, int, int | None]] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)

    def scan(self) -> None:
        """List the files and units and check the columns; raises :class:`SourceError`."""
        self.files = expand_source_paths(self.paths)
        self.units, cols = [], None
        for i, f in enumerate(self.files):
            if f.name.endswith(PARQUET):
                try:
                    md = pq.ParquetFile(f).metadata
                except Exception as e:  # a broken file is a misconfiguration here, not a record to quarantine
                    raise SourceError(f"{f}: not a readable parquet file ({e})") from None
                fcols = list(md.schema.names)
                self.units += [(i, g, md.row_group(g).num_rows, 0, None) for g in range(md.num_row_groups)]
            else:
                try:
                    fcols = jsonl_columns(f)
                    self.units += [(i, -1, n, a, b) for a, b, n in jsonl_units(f)]
                except UnitError as e:
                    raise SourceError(str(e)) from None
            cols = fcols if cols is None else [c for c in cols if c in fcols]
        self.columns = cols or []
        if self.text_field not in self.columns:
            raise SourceError(f"the files of {self.paths} have no {self.text_field!r} column (columns: "
                              f"{', '.join(self.columns) or 'none'}); set text_field:")
        if self.where:
            compile_where(self.where, self.columns)  # raises WhereError naming the column
        if sum(u[2] for u in self.units) == 0:
            raise SourceError(f"path {self.paths} holds no documents (0 rows)")

    @cached_property
    def filter(self):
        return compile_where(self.where, self.columns) if self.where else None

    @property
    def read_columns(self) -> list[str]:
        from gristmill.mix.where import columns_of

        extra = columns_of(self.where) if self.where else []
        return [self.text_field] + [c for c in extra if c != self.text_field]

    def read_unit(self, u: int) -> pa.Table:
        fi, g, rows, a, b = self.units[u]
        f = self.files[fi]
        if g >= 0:
            return pq.ParquetFile(f).read_row_group(g, columns=self.read_columns)
        try:
            t = read_jsonl_unit(f, a, b, rows)
        except UnitError as e:
            raise SourceError(str(e)) from None
        # a column first seen in other records of the file is null in this range
        return pa.table({c: t.column(c) if c in t.column_names else pa.nulls(t.num_rows) for c in self.read_columns})


class SourceData:
    """All documents of one source (one or more parts) as one numbered sequence of read units."""

    def __init__(self, parts: list[Part]):
        self.parts = parts
        self.units = [(pi, u) for pi, p in enumerate(parts) for u in range(len(p.units))]
        self.rows = np.array([parts[pi].units[u][2] for pi, u in self.units], dtype=np.int64)
        self.first_id = np.concatenate([[0], np.cumsum(self.rows)[:-1]]).astype(np.int64)
        self.total_rows = int(self.rows.sum())

    def read(self, unit: int, rows: np.ndarray) -> tuple[list[str], np.ndarray]:
        """Texts and doc ids of ``rows`` of a unit that pass the part's filter (nulls dropped)."""
        pi, u = self.units[unit]
        return self.read_table(unit, self.parts[pi].read_unit(u), rows)

    def read_table(self, unit: int, table: pa.Table, rows: np.ndarray) -> tuple[list[str], np.ndarray]:
        """:meth:`read` on a unit already in memory."""
        part = self.parts[self.units[unit][0]]
        t = table.take(pa.array(rows, pa.int64()))
        keep = pc.is_valid(t.column(part.text_field))
        if part.filter is not None:
            keep = pc.and_(keep, pc.fill_null(_eval(t, part.filter), False))
        keep_np = keep.to_numpy(zero_copy_only=False)
        texts = t.column(part.text_field).filter(keep).to_pylist()
        return texts, (self.first_id[unit] + rows)[keep_np]


def _eval(table: pa.Table, expr) -> pa.ChunkedArray:
    """Evaluate a boolean Arrow expression row by row (null where the expression is null)."""
    import pyarrow.dataset as ds

    return ds.dataset(table).to_table(columns={"m": expr}).column("m")
