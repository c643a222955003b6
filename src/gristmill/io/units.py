"""Bounded read units of a JSON Lines file, for consumers that read documents by number.

A stream (``MixtureDataset``, ``gristmill stream``, lab training on a mixture) seeks to any document
by its number without reading the ones before it, so it needs each unit's record count up front, and
its memory is one unit per consumer. A whole JSONL file as one unit made that memory grow with the
file (a 117 MB file raised the first sequence's peak RSS from 360 to 749 MiB). Here an uncompressed
file is cut into line-aligned byte ranges of about :data:`UNIT_BYTES`, counted in one streaming pass
(blank lines are not records, as for Arrow's JSON reader), and a unit is parsed from its range alone,
as Parquet row groups are. A gzip or zstd file cannot be entered in the middle: it is one unit.
"""
from __future__ import annotations

import io
import re
from pathlib import Path

import pyarrow as pa
import pyarrow.json as pajson

from gristmill.io.readers import TruncatedStream, _iter_chunks, content_kind
from gristmill.io.sniff import compression, wrong_format

UNIT_BYTES = 8 << 20  # about a Parquet row group's worth of text (Arrow writes 1M rows / 64 MB at most)
# a literal first byte lets re skip ahead with a fast scan; "(?:^|\n)" tried a match at every byte (10x slower)
MAX_LINE = 256 << 20  # bounds the counting pass's memory; no curated document is near it
_WS_LINE = re.compile(rb"\n[ \t\r\f\v]+\n")
_WS_FIRST = re.compile(rb"[ \t\r\f\v]*\n")


class UnitError(ValueError):
    """A JSONL file that cannot be cut or read as counted (cut stream, changed since it was counted)."""


def _records_in(block: bytes) -> int:
    """Non-blank lines of ``block`` (whole lines, ending with a newline)."""
    if b"\n\n" not in block and not _WS_LINE.search(block) and not _WS_FIRST.match(block):
        return block.count(b"\n")
    return sum(1 for line in block.split(b"\n") if line.strip())


def jsonl_units(path: str | Path, unit_bytes: int | None = None) -> list[tuple[int, int | None, int]]:
    """``[(start, end, records)]``: line-aligned byte ranges of ``path`` and how many records each
    holds; ``end`` is None for a compressed file (one unit). Memory: one read chunk and one line."""
    unit_bytes = unit_bytes or UNIT_BYTES
    path = Path(path)
    comp = compression(path)
    units: list[tuple[int, int | None, int]] = []
    start = pos = n = 0
    carry = b""
    try:
        for chunk in _iter_chunks(path, chunk=min(unit_bytes, 1 << 22)):
            data = carry + chunk if carry else chunk
            k = data.rfind(b"\n")
            if k < 0:
                carry = data
                if len(carry) > MAX_LINE:
                    raise UnitError(f"{path}: a line of more than {MAX_LINE >> 20} MB at byte {pos}: not JSON Lines of documents "
                                    "(gristmill run quarantines records over input.max_doc_bytes, 10 MB)")
                continue
            block, carry = data[:k + 1], data[k + 1:]
            n += _records_in(block)
            pos += len(block)
            if not comp and pos - start >= unit_bytes:
                units.append((start, pos, n))
                start, n = pos, 0
    except TruncatedStream as e:
        raise UnitError(f"{path}: {e}") from None
    if carry.strip():
        n += 1
    pos += len(carry)
    if comp:
        return [(0, None, n)]
    if pos > start or not units:
        units.append((start, pos, n))
    return units


def read_jsonl_unit(path: str | Path, start: int, end: int | None, rows: int | None = None) -> pa.Table:
    """The records of one unit as a table; raises :class:`UnitError` when they are not the ``rows``
    counted (the file changed) or do not parse."""
    path = Path(path)
    try:
        data = b"".join(_iter_chunks(path, start, end))
    except TruncatedStream as e:
        raise UnitError(f"{path}: {e}") from None
    if not data.strip():
        t = pa.table({})
    else:
        try:
            t = pajson.read_json(io.BytesIO(data), read_options=pajson.ReadOptions(block_size=len(data) + 1))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as e:
            raise UnitError(f"{path}: bytes {start}-{end}: not JSON Lines Arrow can read ({e}); curate it with gristmill run first") from None
    if rows is not None and t.num_rows != rows:
        raise UnitError(f"{path}: bytes {start}-{end} hold {t.num_rows} records, {rows} were counted: the file changed while in use")
    return t


def jsonl_columns(path: str | Path, sample_bytes: int = 1 << 20) -> list[str]:
    """Column names of the first records (about ``sample_bytes``) of a JSONL file; a file in another
    format (Parquet, WARC, UTF-16 text) raises :class:`UnitError` saying what it looks like."""
    path = Path(path)
    why = wrong_format(content_kind(path), "jsonl")
    if why:
        raise UnitError(f"{path}: {why}")
    buf = b""
    try:
        for chunk in _iter_chunks(path, chunk=1 << 16):
            buf += chunk
            if len(buf) >= sample_bytes and b"\n" in buf:
                break
    except TruncatedStream:
        pass
    k = buf.rfind(b"\n")
    head = buf[:k + 1] if k >= 0 else buf
    if not head.strip():
        return []
    try:
        return pajson.read_json(io.BytesIO(head), read_options=pajson.ReadOptions(block_size=len(head) + 1)).column_names
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as e:
        raise UnitError(f"{path}: the first records are not JSON Lines Arrow can read ({e})") from None
