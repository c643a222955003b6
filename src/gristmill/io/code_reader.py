"""The ``code`` input format: a repository tree of source files, one document per file.

Which files are read and their language: :mod:`gristmill.io.code_tree` (extension and ``#!``
tables, skipped directories). Each document carries ``path`` and ``language``. A binary,
non-UTF-8 or oversize file is quarantined with its reason; an empty file or one of no known
language is counted (``counters.read.code_empty_file``, ``code_unknown_language``).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator

import pyarrow as pa

from gristmill.io.code_tree import language_of
from gristmill.io.items import RAW_LIMIT, Batch, Counted, Quarantined, Shard, default_source
from gristmill.io.spec import InputSpec

CODE_FIELDS = ("path", "language")


def read_code(shard: Shard, spec: InputSpec, batch_rows: int) -> Iterator[Batch | Quarantined | Counted]:
    source = default_source(spec, Path(spec.paths[0].rstrip("/")))
    for key, n in (shard.counted or {}).items():
        yield Counted(key, n)
    rows: dict[str, list] = {"id": [], "text": [], "path": [], "language": []}
    nbytes = 0

    def flush() -> Batch:
        n = len(rows["id"])
        t = pa.table({"id": pa.array(rows["id"], pa.string()), "text": pa.array(rows["text"], pa.large_string()),
                      "source": pa.array([source] * n, pa.string()), "path": pa.array(rows["path"], pa.string()),
                      "language": pa.array(rows["language"], pa.string())})
        for v in rows.values():
            v.clear()
        return Batch(t)

    for p, rel in shard.files:
        try:
            size = os.path.getsize(p)
            with open(p, "rb") as fh:
                raw = fh.read(min(size, spec.max_doc_bytes) + 1)
        except OSError as e:
            yield Quarantined(p, None, None, f"cannot read: {e}", kind="unreadable")
            continue
        lang = language_of(Path(p).name, raw[:256])
        if lang is None:
            yield Counted("code_unknown_language")
            continue
        if len(raw) > spec.max_doc_bytes:
            yield Quarantined(p, None, 0, f"file is {size / 1e6:.1f} MB, over input.max_doc_bytes={spec.max_doc_bytes} "
                              "(The Stack drops files over 1 MB: set max_doc_bytes to match)", raw[:RAW_LIMIT], "too_large")
            continue
        if b"\x00" in raw[:8192]:
            yield Quarantined(p, None, 0, f"binary file (NUL bytes) with a {lang} name", raw[:RAW_LIMIT], "binary")
            continue
        if not raw.strip():
            yield Counted("code_empty_file")
            continue
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as e:
            yield Quarantined(p, None, e.start, f"invalid UTF-8 at byte {e.start}; not read as {lang}", raw[:RAW_LIMIT], "invalid_utf8")
            continue
        for k, v in (("id", rel), ("text", text), ("path", rel), ("language", lang)):
            rows[k].append(v)
        nbytes += len(raw)
        if len(rows["id"]) >= batch_rows or nbytes >= 64 << 20:
            yield flush()
            nbytes = 0
    if rows["id"]:
        yield flush()
