"""What a reader yields: :class:`Batch` (documents), :class:`Quarantined` (a record that could not
be read, with where and why) and :class:`Counted` (a record that is not a document), and the
:class:`Shard` it reads. Every reader module imports these from here, so no reader imports another.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

from gristmill.io.spec import InputSpec

RAW_LIMIT = 1024  # bytes of a bad record kept in quarantine: enough to see what it was


@dataclass
class Shard:
    """A unit of input work: a whole file, a line-aligned byte range of one, or row groups."""

    shard_id: str
    input_index: int
    path: str
    rel: str
    start: int = 0  # byte offset (jsonl range) or first row group (parquet)
    end: int | None = None
    first_line: int = 1  # line number of the first line at ``start`` (jsonl ranges)
    files: list[tuple[str, str]] = field(default_factory=list)  # text dirs: (path, rel) per document
    size: int = 0
    field_types: dict[str, str] | None = None  # one type per carried field of the input (gristmill.io.fields)
    counted: dict[str, int] | None = None  # what planning passed over (code trees: skipped dirs), counted by the reader


@dataclass
class Batch:
    table: pa.Table
    reject_reason: str | None = None  # set by readers that know a record is not a document (warc non-HTML)


@dataclass
class Counted:
    """Something a reader saw that is not a document (a WARC request record): counted, not a row."""

    key: str
    n: int = 1


@dataclass
class Quarantined:
    path: str
    line: int | None
    offset: int | None
    error: str
    raw: bytes | str = b""
    kind: str = "unreadable"  # short category for the summary: malformed_json, invalid_utf8, truncated, ...

    def to_json(self) -> str:
        raw = self.raw if isinstance(self.raw, str) else self.raw[:RAW_LIMIT].decode("utf-8", "replace")
        return json.dumps({"path": self.path, "line": self.line, "offset": self.offset, "kind": self.kind, "error": self.error,
                           "raw": raw[:RAW_LIMIT]}, ensure_ascii=False)


def default_source(spec: InputSpec, path: Path) -> str:
    if spec.source:
        return spec.source
    name = path.name
    for ext in (".gz", ".zst", ".zstd", ".jsonl", ".json", ".parquet", ".warc", ".txt", ".md"):
        if name.endswith(ext):
            name = name[: -len(ext)]
    return name or "input"
