"""Look at the first records of each input before the corpus is read.

A ``text_field`` or ``id_field`` that the data does not have would otherwise quarantine every record,
one by one, through the whole corpus. The first records of the first few files show it at once,
and the error names the file, the fields that are there and the nearest one.
"""
from __future__ import annotations

import difflib
import json
from pathlib import Path

from gristmill.io.spec import InputSpec, expand_paths

FILES = 3  # files looked at per input: a misconfiguration shows in every file
RECORDS = 100  # records looked at per file


def field_problems(spec: InputSpec) -> list[tuple[str, str]]:
    """``[(field name in the recipe, message)]`` for a text_field / id_field / extra field that no
    examined record has."""
    wrong = _wrong_format(spec)
    if wrong:
        return [("format", wrong)]
    if spec.format not in ("jsonl", "parquet"):
        return []  # text and WARC inputs have no fields to name
    wanted = [("text_field", spec.text_field)] + ([("id_field", spec.id_field)] if spec.id_field else [])
    # a misspelt extra field would be carried as a column of nulls through the whole run
    wanted += [("fields", f) for f in spec.fields]
    first_file, n_records, seen = sample_fields(spec)
    if not n_records:
        return []
    out = []
    for key, name in wanted:
        if name in seen:
            continue
        close = difflib.get_close_matches(name, sorted(seen), n=1, cutoff=0.5)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        out.append((key, f"no record has the field {name!r}{hint}: looked at the first {n_records} records of "
                         f"{first_file} and the next files; their fields are {', '.join(sorted(seen)[:20])}; "
                         + (f"remove {name!r} from input.fields or fix its spelling" if key == "fields" else f"set input.{key}")))
    return out


def sample_fields(spec: InputSpec, files: int = FILES, records: int = RECORDS,
                  max_bytes: int = 16 << 20) -> tuple[Path | None, int, dict[str, int]]:
    """The fields of the first ``records`` records (at most ``max_bytes`` read) of each of the
    first ``files`` files of a JSON Lines or Parquet input: (first readable file, records looked
    at, field -> records having it). Bounded, so a check at load costs the same on any corpus."""
    seen: dict[str, int] = {}
    n_records = 0
    first_file = None
    if spec.format not in ("jsonl", "parquet"):
        return None, 0, seen
    for path, _ in expand_paths(spec)[:files]:
        fields = _first_fields(path, spec.format, records, max_bytes)
        if fields is None:
            continue  # unreadable: the reader quarantines it with its own reason
        first_file = first_file or path
        for rec_fields in fields:
            n_records += 1
            for f in rec_fields:
                seen[f] = seen.get(f, 0) + 1
    return first_file, n_records, seen


def _wrong_format(spec: InputSpec) -> str | None:
    """When every examined file of a JSON Lines or Parquet input is in another format (all Parquet,
    all WARC, all UTF-16), the input's ``format:`` is wrong: say so before any work. A single stray
    file among good ones is the reader's to quarantine."""
    from gristmill.io.readers import content_kind
    from gristmill.io.sniff import wrong_format

    if spec.format not in ("jsonl", "parquet"):
        return None
    files = [f for f, _ in expand_paths(spec)[:FILES]]
    kinds = [content_kind(f) for f in files]
    if not files:
        return None
    if spec.format == "jsonl":
        whys = [wrong_format(k, "jsonl") for k in kinds]
        if all(whys) and len(set(kinds)) == 1:
            return f"{files[0]}" + (f" and the next {len(files) - 1} files" if len(files) > 1 else "") + f": {whys[0]}"
        return None
    if all(k is None for k in kinds) and all(_starts_like_json(f) for f in files):
        return f"{files[0]}" + (f" and the next {len(files) - 1} files" if len(files) > 1 else "") + \
            ": text that looks like JSON Lines, not Parquet; write format: jsonl"
    return None


def _starts_like_json(path: Path) -> bool:
    try:
        with open(path, "rb") as fh:
            return fh.read(64).lstrip()[:1] == b"{"
    except OSError:
        return False


def _first_fields(path: Path, fmt: str, records: int = RECORDS, max_bytes: int = 16 << 20) -> list[list[str]] | None:
    if fmt == "parquet":
        import pyarrow.parquet as pq

        try:
            return [pq.ParquetFile(path).schema_arrow.names]
        except Exception:  # noqa: BLE001 - quarantined by the reader
            return None
    from gristmill.io.readers import TruncatedStream, _iter_chunks

    buf = b""
    try:
        for chunk in _iter_chunks(path, chunk=1 << 16):
            buf += chunk
            if buf.count(b"\n") >= records or len(buf) > max_bytes:
                break
    except TruncatedStream:
        pass
    out = []
    for raw in buf[:max_bytes].split(b"\n")[:records]:
        try:
            rec = json.loads(raw)
        except (ValueError, RecursionError):  # RecursionError: JSON nested too deeply
            continue  # a bad line, or the cut end of the buffer: the reader quarantines it
        if isinstance(rec, dict):
            out.append(list(rec))
    return out
