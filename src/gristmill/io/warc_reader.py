"""The ``warc`` input format: HTML responses become documents for ``html_extract``.

Parsing lives in :mod:`gristmill.io.warc`; this module turns its items into the engine's batches.
A response that is not HTML is a record but not a document: it is rejected as ``read/non_html``
(so it still shows in the ledger). Request and metadata records are not documents at all and
are only counted (``counters.read.warc_<reason>``). A damaged record is quarantined and reading resumes
at the next record; the bytes passed over are counted in ``counters.read.warc_resync_skipped_bytes``.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pyarrow as pa

from gristmill.io.items import Batch, Counted, Quarantined, Shard, default_source
from gristmill.io.spec import InputSpec

WARC_FIELDS = ("url", "fetch_time", "content_type", "html")


def read_warc(shard: Shard, spec: InputSpec, batch_rows: int) -> Iterator[Batch | Quarantined | Counted]:
    from gristmill.io.warc import iter_warc

    path = Path(shard.path)
    source = default_source(spec, path)
    docs: list[dict] = []
    rejected: list[dict] = []
    nbytes = 0

    def flush(rows: list[dict], reason: str | None) -> Batch:
        cols = {"id": pa.array([r["id"] for r in rows], pa.string()),
                "text": pa.array([""] * len(rows), pa.large_string()),
                "source": pa.array([source] * len(rows), pa.string())}
        for f in WARC_FIELDS:
            cols[f] = pa.array([r.get(f) or "" for r in rows], pa.large_string() if f == "html" else pa.string())
        return Batch(pa.table(cols), reject_reason=reason)

    any_item = False
    for kind, item in iter_warc(path):
        any_item = True
        if kind == "record":
            docs.append(item)
            nbytes += len(item.get("html") or "")
            if len(docs) >= batch_rows or nbytes >= 64 << 20:
                yield flush(docs, None)
                docs, nbytes = [], 0
        elif kind == "skip":
            if item.get("reason") == "non_html":
                rejected.append({"id": item.get("id") or f"{shard.rel}@{item.get('offset')}", **item})
                if len(rejected) >= batch_rows:
                    yield flush(rejected, "non_html")
                    rejected = []
            else:
                yield Counted(f"warc_{item.get('reason', 'skipped')}")
        elif kind == "quarantine":
            if item.get("skipped_bytes"):
                yield Counted("warc_resync_skipped_bytes", item["skipped_bytes"])
            yield Quarantined(str(path), None, item.get("offset"), item.get("error", "unreadable WARC record"),
                              item.get("raw", b""), item.get("kind", "bad_warc_record"))
    if docs:
        yield flush(docs, None)
    if rejected:
        yield flush(rejected, "non_html")
    if not any_item:
        yield Quarantined(str(path), None, 0, "empty WARC file: no records", kind="empty_file")
