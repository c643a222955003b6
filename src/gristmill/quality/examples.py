"""Labelled examples for ``gristmill quality train``: texts from JSON Lines, Parquet or gristmill
output directories, optionally filtered by a ``where:`` expression over stored columns (the same
language as mixture files), so positives can be "the top of an earlier run's scores"."""
from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq


class ExamplesError(ValueError):
    pass


def _files(spec: str) -> list[Path]:
    """Files behind ``spec`` (gristmill.io.paths): a gristmill output means its kept documents."""
    from gristmill.io.paths import JSONL, PARQUET, PathsError, expand

    try:
        return [f for f, _ in expand(spec, PARQUET + JSONL)]
    except PathsError as e:
        if e.kind == "missing":
            raise ExamplesError(f"{spec}: no such file, directory or glob match") from None
        raise ExamplesError(f"{spec}: a directory with no data/, .parquet or .jsonl files") from None


def _table(path: Path) -> pa.Table:
    name = path.name
    if name.endswith(".parquet"):
        return pq.read_table(path)
    from gristmill.io.readers import json_lines  # gzip/zstd by content; a wrong format says what it is

    rows = []
    try:
        for n, line in json_lines(path):
            try:
                rows.append(json.loads(line))
            except (ValueError, RecursionError) as e:
                raise ExamplesError(f"{path} line {n}: not JSON ({e})") from None
    except ExamplesError:
        raise
    except ValueError as e:
        raise ExamplesError(str(e)) from None
    return pa.Table.from_pylist(rows) if rows else pa.table({})


def tables(specs: list[str], text_field: str = "text"):
    """``(path, table)`` for every non-empty file in ``specs``; a file without ``text_field`` is an error."""
    for spec in specs:
        for path in _files(spec):
            t = _table(path)
            if t.num_rows == 0:
                continue
            if text_field not in t.column_names:
                raise ExamplesError(f"{path}: no field {text_field!r} (fields: {', '.join(t.column_names[:15])}); "
                                    "set --text-field")
            yield path, t


def load_texts(specs: list[str], text_field: str = "text", where: str | None = None, limit: int | None = None,
               counts: Counter | None = None) -> list[str]:
    """Texts of every record in ``specs`` (files, directories, globs) that passes ``where``.

    ``counts`` (if given) receives ``read``, ``used`` and one count per reason a record was not used
    (``where``, ``no_text``, ``blank_text``, ``over_max_examples``), so read == used + the reasons."""
    from gristmill.mix.where import WhereError, compile_where

    counts = Counter() if counts is None else counts
    out: list[str] = []
    for path, t in tables(specs, text_field):
        counts["read"] += t.num_rows
        if where:
            try:
                kept = t.filter(compile_where(where, t.column_names))
            except WhereError as e:
                raise ExamplesError(f"{path}: --where {e}") from None
            counts["where"] += t.num_rows - kept.num_rows
            t = kept
        for x in t.column(text_field).to_pylist():
            if not isinstance(x, str):
                counts["no_text"] += 1  # null, missing in this record, or not a string
            elif not x.strip():
                counts["blank_text"] += 1
            else:
                out.append(x)
        if limit and len(out) >= limit:
            # the cap is a prefix: the rest of this file is counted, later files are not read
            counts["over_max_examples"] += len(out) - limit
            out = out[:limit]
            break
    counts["used"] = len(out)
    return out


def load_annotations(path: Path, text_field: str = "text", score_field: str = "score",
                     counts: Counter | None = None) -> tuple[list[str], list[float]]:
    """(texts, scores) from ``gristmill quality annotate`` output; rows without a score (failed
    calls, which the annotation file keeps with their error) are skipped, and counted in ``counts``
    (``read``, ``used``, ``no_score``, ``no_text``) as :func:`load_texts` does."""
    counts = Counter() if counts is None else counts
    texts, scores = [], []
    # an annotate output directory: its annotations, not its summary.json or cache
    spec = Path(path) / "annotations.jsonl" if (Path(path) / "annotations.jsonl").is_file() else path
    for p in _files(str(spec)):
        t = _table(p)
        if t.num_rows == 0:
            continue
        counts["read"] += t.num_rows
        for r in t.select([c for c in (text_field, score_field) if c in t.column_names]).to_pylist():
            s = r.get(score_field)
            if not isinstance(s, (int, float)) or isinstance(s, bool):
                counts["no_score"] += 1
            elif not isinstance(r.get(text_field), str):
                counts["no_text"] += 1
            else:
                texts.append(r[text_field])
                scores.append(float(s))
    counts["used"] = len(texts)
    if not texts:
        raise ExamplesError(f"{path}: no annotated rows with a {score_field!r} (did every call fail?)")
    return texts, scores
