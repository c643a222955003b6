"""Readers: turn input files into Arrow batches of documents, and bad records into quarantine items.

Every reader yields a stream of :class:`Batch` (documents with ``id``, ``text``, ``source`` and any
carried fields) and :class:`Quarantined` (a record that could not be read, with where and why).
Nothing raises for bad data: a bad record is quarantined and reading goes on. Input is planned as
:class:`Shard` s so that workers can read in parallel and a finished shard is never read again.
"""
from __future__ import annotations

import io
import json
import os
import re
import zlib
from pathlib import Path
from typing import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pajson
import pyarrow.parquet as pq

# Batch, Quarantined, Counted and Shard are re-exported: the engine and the tests import them from here.
from gristmill.io import fields as fields_mod
from gristmill.io.fields import SAMPLE_BYTES, SAMPLE_RECORDS, SHARD_HEAD_BYTES, Sampler, conform, fit
from gristmill.io.sniff import compression, sniff, sniff_bytes, wrong_format
from gristmill.io.items import RAW_LIMIT, Batch, Counted, Quarantined, Shard, default_source  # noqa: F401
from gristmill.io.code_reader import read_code
from gristmill.io.code_tree import code_skipped
from gristmill.io.warc_reader import read_warc
from gristmill.io.spec import InputSpec, expand_paths

IMPLICIT_ID = "id"  # a record's own id, used when the input names no id_field (issue 20 item 5)

# ---------------------------------------------------------------------------------------------
# Planning


def unique_rels(per_input: list[list[tuple[Path, str]]]) -> list[list[tuple[Path, str]]]:
    """Make the relative names (the prefix of derived ids) unique across all inputs.

    Each input names its files relative to its own glob, so ``a/data.jsonl`` and ``b/data.jsonl`` in
    two inputs are both ``data.jsonl`` and their ids would collide (and exact dedup, which looks
    decisions up by id, would then drop a unique document). Colliding names are replaced by the path
    relative to the common directory of all inputs; a file listed by two inputs gets ``input<N>/``."""
    owners: dict[str, set] = {}
    for files in per_input:
        for f, rel in files:
            owners.setdefault(rel, set()).add(Path(f).resolve())
    clash = {rel for rel, fs in owners.items() if len(fs) > 1}
    if not clash:
        clash_files: set = set()
    else:
        clash_files = {f for rel in clash for f in owners[rel]}
    common = Path(os.path.commonpath([str(f.parent) for f in clash_files])) if clash_files else None
    out, seen = [], set()
    for ii, files in enumerate(per_input):
        mine = []
        for f, rel in files:
            if rel in clash:
                rel = Path(f).resolve().relative_to(common).as_posix()
            if rel in seen:  # the same file in two inputs: read twice, so named twice
                rel = f"input{ii}/{rel}"
            mine.append((f, rel))
        seen.update(r for _, r in mine)
        out.append(mine)
    return out


def plan_shards(inputs: list[InputSpec], shard_bytes: int) -> list[Shard]:
    shards: list[Shard] = []
    unique_files = unique_rels([expand_paths(spec) for spec in inputs])

    def add(**kw):
        shards.append(Shard(shard_id=f"{len(shards):05d}", **kw))

    for ii, spec in enumerate(inputs):
        files = unique_files[ii]
        if spec.format in ("text", "code"):
            first = len(shards)
            group: list[tuple[str, str]] = []
            size = 0
            for f, rel in files:
                group.append((str(f), rel))
                size += f.stat().st_size
                if size >= shard_bytes or len(group) >= 5000:
                    add(input_index=ii, path=group[0][0], rel=group[0][1], files=group, size=size)
                    group, size = [], 0
            if group:
                add(input_index=ii, path=group[0][0], rel=group[0][1], files=group, size=size)
            skipped = code_skipped(spec.paths) if spec.format == "code" else None
            if skipped:  # counted once, by the input's first shard
                if len(shards) == first:
                    add(input_index=ii, path=str(spec.paths[0]), rel="", files=[], size=0)
                shards[first].counted = skipped
            continue
        for f, rel in files:
            size = f.stat().st_size
            if spec.format == "jsonl" and sniff(f) is None and size > shard_bytes:
                for start, end, line in _line_ranges(f, shard_bytes):
                    add(input_index=ii, path=str(f), rel=rel, start=start, end=end, first_line=line, size=end - start)
            elif spec.format == "parquet" and size > shard_bytes:
                try:
                    md = pq.ParquetFile(f).metadata
                except Exception:
                    add(input_index=ii, path=str(f), rel=rel, size=size)  # the reader quarantines it
                    continue
                start, acc = 0, 0
                for rg in range(md.num_row_groups):
                    acc += md.row_group(rg).total_byte_size
                    if acc >= shard_bytes or rg == md.num_row_groups - 1:
                        add(input_index=ii, path=str(f), rel=rel, start=start, end=rg + 1, size=acc)
                        start, acc = rg + 1, 0
            else:
                add(input_index=ii, path=str(f), rel=rel, size=size)
        if spec.format == "jsonl" and spec.fields:
            types = sample_field_types(spec, [s for s in shards if s.input_index == ii])
            for s in shards:
                if s.input_index == ii:
                    s.field_types = types
    return shards


def sample_field_types(spec: InputSpec, shards: list[Shard]) -> dict[str, str]:
    """One type per carried field of a JSON Lines input (see :mod:`gristmill.io.fields`): the declared
    one, else the widest kind in the first records of the input and the head of each shard."""
    declared = spec.declared_field_types()
    todo = [f for f in spec.fields if f not in declared]
    if not todo:
        return dict(declared)
    sampler = Sampler(todo)
    budget_rec, budget_bytes = SAMPLE_RECORDS, SAMPLE_BYTES
    heads = set()
    for sh in shards:  # the input's first records, in file order, up to the budget
        if budget_rec <= 0 or budget_bytes <= 0:
            break
        n, nb = _sample_range(Path(sh.path), sh.start, sh.end, sampler, budget_rec, budget_bytes)
        budget_rec, budget_bytes = budget_rec - n, budget_bytes - nb
        heads.add(sh.shard_id)
    # and the head of other shards (64 at most, evenly spaced: planning stays seconds on a TB
    # input), so a change of kind late in the input is seen
    rest = [sh for sh in shards if sh.shard_id not in heads]
    for sh in rest[:: max(1, -(-len(rest) // 64))]:
        _sample_range(Path(sh.path), sh.start, sh.end, sampler, SAMPLE_RECORDS, SHARD_HEAD_BYTES)
    return sampler.resolved(declared)


def _sample_range(path: Path, start: int, end: int | None, sampler: Sampler, max_rec: int, max_bytes: int) -> tuple[int, int]:
    n = nb = 0
    for item in _iter_lines(path, start, end, 1, chunk=min(max_bytes, 1 << 22)):
        if isinstance(item, Quarantined):
            break
        for raw in item[1].split(b"\n"):
            nb += len(raw) + 1
            try:
                rec = json.loads(raw)
            except (ValueError, RecursionError):
                continue  # the reader quarantines it
            if isinstance(rec, dict):
                sampler.add(rec)
                n += 1
            if n >= max_rec or nb >= max_bytes:
                return n, nb
    return n, nb


def _line_ranges(path: Path, shard_bytes: int) -> list[tuple[int, int, int]]:
    """Split a file into byte ranges that start at line starts, with each range's first line number."""
    ranges = []
    start, line = 0, 1
    size = path.stat().st_size
    with open(path, "rb") as fh:
        while start < size:
            target = start + shard_bytes
            if target >= size:
                ranges.append((start, size, line))
                break
            # count lines up to target, then extend to the next newline
            fh.seek(start)
            n = 0
            pos = start
            while pos < target:
                chunk = fh.read(min(1 << 24, target - pos))
                n += chunk.count(b"\n")
                pos += len(chunk)
            rest = b""
            while True:
                c = fh.read(1 << 16)
                if not c:
                    break
                k = c.find(b"\n")
                if k >= 0:
                    rest += c[: k + 1]
                    break
                rest += c
            end = target + len(rest)
            n += rest.count(b"\n")
            ranges.append((start, end, line))
            start, line = end, line + n
    return ranges


def _compression(path: Path) -> str | None:
    """By content, not name: a gzip file need not be called .gz (gristmill.io.sniff)."""
    return compression(path)


# ---------------------------------------------------------------------------------------------
# Byte streams


class TruncatedStream(Exception):
    pass


def _iter_chunks(path: Path, start: int = 0, end: int | None = None, chunk: int = 1 << 22) -> Iterator[bytes]:
    """Decompressed byte chunks. Raises TruncatedStream (after yielding what was readable) on a cut stream."""
    comp = _compression(path)
    with open(path, "rb") as fh:
        if comp is None:
            fh.seek(start)
            remaining = None if end is None else end - start
            while remaining is None or remaining > 0:
                b = fh.read(chunk if remaining is None else min(chunk, remaining))
                if not b:
                    return
                if remaining is not None:
                    remaining -= len(b)
                yield b
        else:
            # Decompress incrementally, so that everything before a cut is still read; a stream
            # whose last member/frame does not end is truncated.
            if comp == "gzip":
                new_obj, errors, label = (lambda: zlib.decompressobj(wbits=31)), (zlib.error,), "gzip"
            else:
                import zstandard

                dctx = zstandard.ZstdDecompressor()
                new_obj, errors, label = dctx.decompressobj, (zstandard.ZstdError,), "zstd"
            obj = new_obj()
            at_boundary = True  # nothing started: an empty stream, or a clean end after a member
            try:
                while True:
                    b = fh.read(chunk)
                    if not b:
                        break
                    while b:
                        at_boundary = False
                        out = obj.decompress(b)
                        if out:
                            yield out
                        b = b""
                        if obj.eof:  # a member ended; the rest of the chunk starts the next one
                            b, obj, at_boundary = obj.unused_data, new_obj(), True
            except errors as e:
                raise TruncatedStream(f"{label} stream is corrupt: {e}") from None
            if not at_boundary:
                raise TruncatedStream(f"{label} stream is truncated (the last {'member' if label == 'gzip' else 'frame'} does not end)")


def _iter_lines(path: Path, start: int, end: int | None, first_line: int, chunk: int = 1 << 22) -> Iterator[tuple[int, list[bytes]] | Quarantined]:
    """Yield (first line number, block of whole lines as bytes) and finally a Quarantined for a cut stream."""
    line = first_line
    buf = b""
    try:
        for chunk in _iter_chunks(path, start, end, chunk):
            buf += chunk
            k = buf.rfind(b"\n")
            if k < 0:
                continue
            block, buf = buf[: k + 1], buf[k + 1 :]
            yield line, block
            line += block.count(b"\n")
    except TruncatedStream as e:
        yield Quarantined(str(path), line, None, f"{e}; the lines before line {line} were read", buf[:RAW_LIMIT], "truncated")
        return
    if buf:
        yield line, buf


def json_lines(path: str | os.PathLike) -> Iterator[tuple[int, bytes]]:
    """``(line number, line)`` of every non-blank line of a JSON Lines file (plain, gzip or zstd by
    content), for tools that read a whole file strictly (benchmark indexes, examples). Raises
    ValueError naming the file for a cut stream or a file in another format."""
    path = Path(path)
    why = wrong_format(content_kind(path), "jsonl")
    if why:
        raise ValueError(f"{path}: {why}")
    first = True
    for item in _iter_lines(path, 0, None, 1):
        if isinstance(item, Quarantined):
            raise ValueError(f"{path}: {item.error}")
        line, block = item
        if first and block.startswith(b"\xef\xbb\xbf"):
            block = block[3:]
        first = False
        for k, raw in enumerate(block.split(b"\n")):
            if raw.strip():
                yield line + k, raw


# ---------------------------------------------------------------------------------------------
# Readers


def read_shard(shard: Shard, spec: InputSpec, batch_rows: int) -> Iterator[Batch | Quarantined]:
    path = Path(shard.path)
    if spec.format == "jsonl":
        yield from _read_jsonl(shard, spec, batch_rows)
    elif spec.format == "parquet":
        yield from _read_parquet(shard, spec, batch_rows)
    elif spec.format == "text":
        yield from _read_text(shard, spec, batch_rows)
    elif spec.format == "warc":
        yield from read_warc(shard, spec, batch_rows)
    elif spec.format == "code":
        yield from read_code(shard, spec, batch_rows)
    else:  # pragma: no cover - the recipe schema forbids it
        raise ValueError(f"{path}: unknown format {spec.format}")


class _Rows:
    """Accumulates documents and emits Arrow batches of a bounded size."""

    def __init__(self, spec: InputSpec, source: str, batch_rows: int, types: dict[str, str] | None = None):
        self.spec, self.source, self.batch_rows, self.types = spec, source, batch_rows, types
        self.ids: list[str] = []
        self.texts: list[str] = []
        self.extra: dict[str, list] = {f: [] for f in spec.fields}
        self.nbytes = 0

    def check(self, record: dict) -> tuple[dict | None, str | None]:
        """The record's carried values in their field types, or a reason one does not fit."""
        if self.types is None:
            return {f: record.get(f) for f in self.extra}, None
        out = {}
        for f in self.extra:
            out[f], why = fit(record.get(f), self.types[f])
            if why:
                how = "declared" if f in self.spec.declared_field_types() else "sampled from the first records of this input"
                wider = fields_mod.widen(self.types[f], fields_mod.kind_of(record.get(f)))
                return None, f"field {f!r}: {why} ({self.types[f]} {how}); to keep it, declare fields: {{{f}: {wider}}}"
        return out, None

    def add(self, id_: str, text: str, values: dict | None = None):
        self.ids.append(id_)
        self.texts.append(text)
        self.nbytes += len(text)
        for f in self.extra:
            self.extra[f].append(None if values is None else values.get(f))

    def full(self) -> bool:
        return len(self.ids) >= self.batch_rows or self.nbytes >= 64 << 20

    def flush(self) -> Batch | None:
        if not self.ids:
            return None
        cols = {"id": pa.array(self.ids, pa.string()), "text": pa.array(self.texts, pa.large_string()),
                "source": pa.array([self.source] * len(self.ids), pa.string())}
        for f, vals in self.extra.items():
            cols[f] = _carried(vals) if self.types is None else pa.array(vals, fields_mod.arrow_type(self.types[f]))
        self.__init__(self.spec, self.source, self.batch_rows, self.types)
        return Batch(pa.table(cols))


def _carried(vals: list) -> pa.Array:
    """A carried field as Arrow; values of mixed or nested type become JSON strings, not errors."""
    try:
        arr = pa.array(vals)
        if pa.types.is_null(arr.type):
            return arr.cast(pa.string())
        return arr
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return pa.array([None if v is None else (v if isinstance(v, str) else json.dumps(v)) for v in vals], pa.string())


def _doc_id(record: dict, spec: InputSpec, rel: str, line: int) -> str | None:
    """The record's own id (``id_field``, or by default its ``id`` when it has a usable one), so that
    outputs join back to their sources; else the derived ``<file>:<line>``. None: a required
    ``id_field`` is missing. ``id_field: false`` always derives."""
    if spec.id_field:
        v = record.get(spec.id_field)
        if isinstance(v, (str, int)) and not isinstance(v, bool):
            return str(v)
        return None
    if spec.id_field is None:
        v = record.get(IMPLICIT_ID)
        if (isinstance(v, str) and v) or (isinstance(v, int) and not isinstance(v, bool)):
            return str(v)
    return f"{rel}:{line}"


def _implicit_ids(t: pa.Table, derived: list[str]) -> pa.Array | None:
    """A table's ``id`` column as ids, with the derived id where a record has none; None: a type
    that needs the record-by-record path."""
    col = t.column(IMPLICIT_ID).combine_chunks()
    if pa.types.is_null(col.type):
        return pa.array(derived, pa.string())
    if not (pa.types.is_string(col.type) or pa.types.is_large_string(col.type) or pa.types.is_integer(col.type)):
        return None
    col = col.cast(pa.string())
    missing = pc.or_kleene(pc.is_null(col), pc.equal(col, ""))
    return pc.if_else(missing, pa.array(derived, pa.string()), col) if pc.any(missing).as_py() else col


def _read_jsonl(shard: Shard, spec: InputSpec, batch_rows: int) -> Iterator[Batch | Quarantined]:
    path = Path(shard.path)
    source = default_source(spec, path)
    rows = _Rows(spec, source, batch_rows, shard.field_types)
    seen_any = False
    if shard.start == 0:
        why = wrong_format(content_kind(path), "jsonl")
        if why:
            with open(path, "rb") as fh:
                raw = fh.read(RAW_LIMIT)
            yield Quarantined(str(path), None, 0, f"{why}; or remove it from the input paths", raw, "wrong_format")
            return
    for item in _iter_lines(path, shard.start, shard.end, shard.first_line):
        if isinstance(item, Quarantined):
            yield item
            seen_any = True
            continue
        first, block = item
        if not seen_any and shard.start == 0 and block.startswith(b"\xef\xbb\xbf"):
            block = block[3:]  # a UTF-8 byte-order mark: RFC 8259 section 8.1 lets a parser ignore it
        if not seen_any and b"\x00" in block[:8192]:
            # JSON never holds a raw NUL byte: this is a binary file in the glob, quarantined once
            # as a whole rather than as thousands of "lines".
            yield Quarantined(str(path), first, shard.start, "binary file (NUL bytes), not JSON Lines; remove it from the input paths",
                              block[:RAW_LIMIT], "binary")
            return
        seen_any = True
        fast = _fast_block(block, spec, shard.rel, first, source, shard.field_types)
        if fast is not None:
            b = rows.flush()
            if b:
                yield b
            yield fast
            continue
        for k, raw in enumerate(block.split(b"\n")):
            q = _parse_line(raw, spec, shard.rel, first + k, str(path), rows)
            if q is not None:
                yield q
            elif rows.full():
                yield rows.flush()
    b = rows.flush()
    if b:
        yield b
    if not seen_any and shard.start == 0:
        yield Quarantined(str(path), 0, 0, "empty file: no records; remove it or check how it was written", kind="empty_file")


def content_kind(path: Path) -> str | None:
    """What the file holds (gristmill.io.sniff), looking inside gzip and zstd."""
    kind = sniff(path)
    if kind in ("gzip", "zstd"):
        try:
            head = next(_iter_chunks(path, chunk=1 << 16), b"")
        except TruncatedStream:
            return None  # the line reader quarantines the cut stream with its own reason
        return sniff_bytes(head)
    return kind


_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def _parse_line(raw: bytes, spec: InputSpec, rel: str, line: int, path: str, rows: _Rows) -> Quarantined | None:
    if not raw.strip():
        return None  # a blank line is not a record
    if len(raw) > spec.max_doc_bytes:
        return Quarantined(path, line, None, f"record is {len(raw) / 1e6:.1f} MB, over input.max_doc_bytes="
                           f"{spec.max_doc_bytes}; raise max_doc_bytes to keep it", raw[:RAW_LIMIT], "too_large")
    try:
        s = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        return Quarantined(path, line, None, f"invalid UTF-8 at byte {e.start} of the line", raw[:RAW_LIMIT], "invalid_utf8")
    try:
        rec = json.loads(s)
    except json.JSONDecodeError as e:
        return Quarantined(path, line, None, f"malformed JSON: {e.msg} at column {e.colno}", raw[:RAW_LIMIT], "malformed_json")
    except RecursionError:
        # json's C decoder recurses per nesting level: a line of 100k '[' is hostile or broken input
        return Quarantined(path, line, None, "malformed JSON: nested too deeply to parse", raw[:RAW_LIMIT], "malformed_json")
    if not isinstance(rec, dict):
        return Quarantined(path, line, None, f"a JSON {type(rec).__name__}, not an object", raw[:RAW_LIMIT], "malformed_json")
    if _SURROGATE_ESCAPE.search(raw):
        # JSON may escape a lone UTF-16 surrogate ("\ud800"); json.loads accepts it, but the string
        # has no UTF-8 form, so Arrow would fail the whole batch later. A pair is one character.
        try:
            json.dumps(rec, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError as e:
            return Quarantined(path, line, None, f"invalid UTF-8: a lone surrogate escape ({e.object[e.start]!r}) in a string",
                               raw[:RAW_LIMIT], "invalid_utf8")
    text = rec.get(spec.text_field)
    if not isinstance(text, str):
        what = "missing" if text is None else f"a {type(text).__name__}, not a string"
        return Quarantined(path, line, None, f"text field {spec.text_field!r} is {what}; set input.text_field", raw[:RAW_LIMIT], "bad_text_field")
    id_ = _doc_id(rec, spec, rel, line)
    if id_ is None:
        return Quarantined(path, line, None, f"id field {spec.id_field!r} is missing or not a string/int", raw[:RAW_LIMIT], "bad_id_field")
    values, why = rows.check(rec)
    if why:
        return Quarantined(path, line, None, why, raw[:RAW_LIMIT], "bad_field")
    rows.add(id_, text, values)
    return None


def _fast_block(block: bytes, spec: InputSpec, rel: str, first: int, source: str, types: dict[str, str] | None = None) -> Batch | None:
    """Parse a block of lines with Arrow's JSON reader; None means 'take the careful path'.

    The careful per-line path is exact about every bad record; this one is several times faster
    and is used only when the whole block is clean, which is the common case."""
    # Blank lines would shift line numbers (Arrow skips them); a long block may hide an oversize line.
    if not block.strip() or block.startswith(b"\n") or b"\n\n" in block or len(block) > spec.max_doc_bytes:
        return None
    n_lines = block.count(b"\n") + (not block.endswith(b"\n"))
    try:
        # the fields' resolved types parse directly; "infer" keeps text, id and everything else as before
        explicit = pa.schema([(f, fields_mod.arrow_type(ty)) for f, ty in (types or {}).items() if ty != "json"])
        t = pajson.read_json(io.BytesIO(block), read_options=pajson.ReadOptions(block_size=len(block) + 1),
                             parse_options=pajson.ParseOptions(explicit_schema=explicit, unexpected_field_behavior="infer"))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, OverflowError):
        return None
    if t.num_rows != n_lines or spec.text_field not in t.column_names:
        return None
    try:  # Arrow's JSON reader does not reject invalid UTF-8 by itself
        t.validate(full=True)
    except pa.ArrowInvalid:
        return None
    text = t.column(spec.text_field)
    if not (pa.types.is_string(text.type) or pa.types.is_large_string(text.type)) or text.null_count:
        return None
    if spec.id_field:
        if spec.id_field not in t.column_names:
            return None
        ids = t.column(spec.id_field)
        if ids.null_count or not (pa.types.is_string(ids.type) or pa.types.is_integer(ids.type)):
            return None
        ids = ids.cast(pa.string())
    elif spec.id_field is None and IMPLICIT_ID in t.column_names:
        ids = _implicit_ids(t, [f"{rel}:{first + k}" for k in range(n_lines)])
        if ids is None:
            return None
    else:
        ids = pa.array([f"{rel}:{first + k}" for k in range(n_lines)], pa.string())
    cols = {"id": ids, "text": text.cast(pa.large_string()), "source": pa.array([source] * n_lines, pa.string())}
    for f in spec.fields:
        if types is not None:
            col = conform(t.column(f), types[f]) if f in t.column_names else pa.nulls(n_lines, fields_mod.arrow_type(types[f]))
            if col is None:
                return None  # a value that needs widening, or does not fit: record by record
            cols[f] = col
        elif f in t.column_names:
            col = t.column(f)
            if pa.types.is_struct(col.type) or pa.types.is_list(col.type):
                return None  # nested: the careful path turns it into JSON strings consistently
            cols[f] = col.cast(pa.string()) if pa.types.is_null(col.type) else col
        else:
            cols[f] = pa.nulls(n_lines, pa.string())
    return Batch(pa.table(cols).combine_chunks())


def _read_parquet(shard: Shard, spec: InputSpec, batch_rows: int) -> Iterator[Batch | Quarantined]:
    path = Path(shard.path)
    source = default_source(spec, path)
    try:
        pf = pq.ParquetFile(path)
    except Exception as e:  # noqa: BLE001 - any unreadable file is quarantined, not fatal
        with open(path, "rb") as fh:
            raw = fh.read(RAW_LIMIT)
        looks = sniff_bytes(raw[:16])
        hint = f"; it looks like {looks}, not Parquet" if looks and looks != "parquet" else (
            "; it looks like text (JSON Lines?): use format: jsonl" if raw[:1] in (b"{", b"[") else "")
        yield Quarantined(str(path), None, 0, f"not a readable parquet file: {e}{hint}", raw, "unreadable")
        return
    md = pf.metadata
    if md.num_rows == 0:
        yield Quarantined(str(path), 0, 0, "empty file: no rows", kind="empty_file")
        return
    if spec.text_field not in pf.schema_arrow.names:
        yield Quarantined(str(path), None, 0, f"no column {spec.text_field!r} (columns: {pf.schema_arrow.names}); set input.text_field", kind="bad_text_field")
        return
    groups = list(range(shard.start, shard.end if shard.end is not None else md.num_row_groups))
    row0 = sum(md.row_group(g).num_rows for g in range(groups[0])) if groups else 0
    implicit = IMPLICIT_ID if spec.id_field is None else None
    cols = list(dict.fromkeys(c for c in [spec.text_field, spec.id_field or implicit, *spec.fields] if c and c in pf.schema_arrow.names))
    for g in groups:
        end = row0 + md.row_group(g).num_rows
        try:
            for rb in pf.iter_batches(batch_size=batch_rows, row_groups=[g], columns=cols):
                yield from _parquet_batch(pa.Table.from_batches([rb]), row0, path, shard, spec, source)
                row0 += rb.num_rows
        except Exception as e:  # noqa: BLE001 - a corrupt row group: keep what was read, quarantine each row of the rest
            # The ledger counts rows: every row the file says it holds ends as a record, and the
            # next row group is read as usual.
            for r in range(row0, end):
                yield Quarantined(str(path), None, r, f"row {r}: in corrupt row group {g} of the parquet file: {e}", kind="truncated")
        row0 = end


def _parquet_batch(t: pa.Table, row0: int, path: Path, shard: Shard, spec: InputSpec, source: str) -> Iterator[Batch | Quarantined]:
    n = t.num_rows
    text = t.column(spec.text_field)
    if not (pa.types.is_string(text.type) or pa.types.is_large_string(text.type)):
        yield Quarantined(str(path), None, row0, f"column {spec.text_field!r} is {text.type}, not a string; set input.text_field", kind="bad_text_field")
        return
    text = text.cast(pa.large_string())
    derived = [f"{shard.rel}:{row0 + k}" for k in range(n)]
    if spec.id_field:
        ids = t.column(spec.id_field).cast(pa.string())
    elif spec.id_field is None and IMPLICIT_ID in t.column_names:
        ids = _implicit_ids(t, derived)
        ids = pa.array(derived, pa.string()) if ids is None else ids
    else:
        ids = pa.array(derived, pa.string())
    bad = pa.compute.or_(pa.compute.is_null(text), pa.compute.is_null(ids)).to_numpy(zero_copy_only=False)
    # a null text has a null length: fill it, or the mask holds None and `bad | big` fails
    big = pa.compute.fill_null(pa.compute.greater(pa.compute.binary_length(text), spec.max_doc_bytes), False).to_numpy(zero_copy_only=False)
    out = {"id": ids, "text": text, "source": pa.array([source] * n, pa.string())}
    misfit: dict[int, str] = {}
    declared = spec.declared_field_types()
    for f in spec.fields:
        col = t.column(f) if f in t.column_names else None
        if f not in declared:
            out[f] = col if col is not None else pa.nulls(n, pa.string())
            continue
        typ = declared[f]
        conformed = pa.nulls(n, fields_mod.arrow_type(typ)) if col is None else conform(col, typ)
        if conformed is None:  # value by value: what does not fit is quarantined with its reason
            vals = []
            for k, v in enumerate(col.to_pylist()):
                v2, why = fit(v, typ)
                if why:
                    misfit.setdefault(k, f"field {f!r}: {why} ({typ} declared)")
                vals.append(v2)
            conformed = pa.array(vals, fields_mod.arrow_type(typ))
        out[f] = conformed
    for k in np.flatnonzero(bad | big).tolist() + [k for k in sorted(misfit) if not (bad[k] or big[k])]:
        msg, kind = (("null text or id", "bad_text_field") if bad[k] else
                     (f"document over input.max_doc_bytes={spec.max_doc_bytes}", "too_large") if big[k] else (misfit[k], "bad_field"))
        yield Quarantined(str(path), None, row0 + k, f"row {row0 + k}: {msg}", (text[k].as_py() or "")[:RAW_LIMIT], kind)
    keep = ~(bad | big)
    if misfit:
        keep[list(misfit)] = False
    table = pa.table(out)
    if not keep.all():
        table = table.filter(pa.array(keep))
    if table.num_rows:
        yield Batch(table)


def _read_text(shard: Shard, spec: InputSpec, batch_rows: int) -> Iterator[Batch | Quarantined]:
    rows = _Rows(spec, default_source(spec, Path(spec.paths[0].rstrip("/"))), batch_rows)  # the directory's name
    for p, rel in shard.files:
        try:
            size = os.path.getsize(p)
            if size > spec.max_doc_bytes:
                with open(p, "rb") as fh:
                    raw = fh.read(RAW_LIMIT)
                yield Quarantined(p, None, 0, f"file is {size / 1e6:.1f} MB, over input.max_doc_bytes={spec.max_doc_bytes}", raw, "too_large")
                continue
            with open(p, "rb") as fh:
                raw = fh.read()
        except OSError as e:
            yield Quarantined(p, None, None, f"cannot read: {e}", kind="unreadable")
            continue
        if not raw.strip():
            yield Quarantined(p, None, 0, "empty file", kind="empty_file")
            continue
        kind = sniff_bytes(raw[:16], raw[-4:])
        # A whole text file is in memory, so UTF-16/32 is decoded by its byte-order mark (a JSONL
        # file is quarantined instead: its byte-range shards split at b"\n").
        enc = kind if kind and kind.startswith("utf-") else "utf-8-sig"
        if enc == "utf-8-sig":
            why = wrong_format(kind, "text") or ("binary file (NUL bytes), not text" if b"\x00" in raw[:8192] else None)
            if why:
                yield Quarantined(p, None, 0, why, raw[:RAW_LIMIT], "wrong_format" if kind else "binary")
                continue
        try:
            text = raw.decode(enc)
            if enc != "utf-8-sig":
                text = text.lstrip("\ufeff")
        except UnicodeDecodeError as e:
            yield Quarantined(p, None, e.start, f"invalid UTF-8 at byte {e.start}; convert the file to UTF-8", raw[:RAW_LIMIT], "invalid_utf8")
            continue
        rows.add(rel, text)
        if rows.full():
            yield rows.flush()
    b = rows.flush()
    if b:
        yield b
