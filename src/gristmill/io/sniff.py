"""What a file is, from its first bytes rather than its name.

A glob picks up what is in a folder, and names lie (a Parquet export called ``.jsonl``, a gzip file
without ``.gz``). Readers ask :func:`sniff` before reading, so that a file in the wrong format is
quarantined once with what it looks like and what to write in the recipe, and a compressed file is
decompressed whatever its name. Magic numbers: Parquet ``PAR1`` (Apache Parquet file format), gzip
``1f 8b`` (RFC 1952), zstd ``28 b5 2f fd`` (RFC 8878), WARC ``WARC/1.`` (ISO 28500), and the
Unicode byte-order marks (Unicode 15, section 23.8).
"""
from __future__ import annotations

from pathlib import Path

_MAGIC = (
    (b"PAR1", "parquet"),
    (b"\x1f\x8b", "gzip"),
    (b"\x28\xb5\x2f\xfd", "zstd"),
    (b"WARC/1.", "warc"),
    (b"\xff\xfe\x00\x00", "utf-32-le"),
    (b"\x00\x00\xfe\xff", "utf-32-be"),
    (b"\xff\xfe", "utf-16-le"),
    (b"\xfe\xff", "utf-16-be"),
)
HEAD = 16


def sniff_bytes(head: bytes, tail: bytes | None = None) -> str | None:
    """The format ``head`` (a file's first bytes) starts with, or None for anything else. Given the
    file's last bytes too, Parquet needs its footer magic as well (text may begin with "PAR1")."""
    for magic, kind in _MAGIC:
        if head.startswith(magic):
            if kind == "parquet" and tail is not None and not tail.endswith(b"PAR1"):
                return None
            return kind
    return None


def sniff(path: str | Path) -> str | None:
    try:
        with open(path, "rb") as fh:
            head = fh.read(HEAD)
            if head.startswith(b"PAR1"):
                fh.seek(-4, 2)
                return sniff_bytes(head, fh.read(4))
            return sniff_bytes(head)
    except OSError:
        return None


def compression(path: str | Path) -> str | None:
    """``gzip`` / ``zstd`` by content; by name only when the file cannot be opened."""
    kind = sniff(path)
    if kind in ("gzip", "zstd"):
        return kind
    return None


def wrong_format(kind: str | None, fmt: str) -> str | None:
    """For a file whose content is ``kind`` read as input format ``fmt``: the reason to quarantine it
    with, naming what it looks like and what to write in the recipe; None when it is readable."""
    if kind is None or kind == fmt or kind in ("gzip", "zstd"):
        return None
    if kind.startswith(("utf-16", "utf-32")):
        # Decoding by the BOM would need transcoding before lines can be found; byte-range shards
        # split at b"\n", which is not a line end in UTF-16. Converting once is cheaper and explicit.
        return (f"{kind.upper()} text (byte-order mark); {fmt} input must be UTF-8 (RFC 8259 section 8.1 for JSON): "
                f"convert it, e.g. iconv -f {kind.upper()} -t UTF-8 FILE > FILE.utf8")
    hint = {"parquet": "a Parquet file", "warc": "a WARC file"}.get(kind, kind)
    return f"binary file: looks like {hint}, not {'JSON Lines' if fmt == 'jsonl' else fmt}; put it in an input with format: {kind}"
