"""Read HTML pages out of WARC files (plain or gzip-per-record), and write small WARCs for tests.

:func:`iter_warc` yields one event per record, so that every record ends in exactly one place:

- ``("record", {...})`` an HTML response, decoded to ``str`` (fields ``id``, ``url``, ``fetch_time``,
  ``content_type``, ``charset``, ``html``, ``offset``);
- ``("skip", {"offset", "reason", ...})`` a record that is not a document (``not_response`` for
  warcinfo/request/metadata records, ``non_html`` for images, PDFs, DNS, ``http_status`` for
  redirects and errors). Counted, not quarantined;
- ``("quarantine", {"offset", "error", "raw"})`` a record that is broken: truncated, corrupt gzip,
  malformed headers, binary bytes labelled as HTML, text that decodes to mostly replacement
  characters. ``raw`` holds the first 1024 bytes, for a human to look at.

A truncated or corrupt file never raises: what came before the damage is yielded normally, the
damage is quarantined, and iteration stops (a WARC has no sync marker to resume from safely).
Offsets are positions in the file as stored (compressed offsets for ``.warc.gz``), so
``warcio``'s tools and ``dd`` can find the record.
"""
from __future__ import annotations

import io
import os
import re
import zlib
from pathlib import Path
from typing import Iterator

__all__ = ["iter_warc", "write_warc", "decode_html", "looks_binary", "HTML_TYPES"]

HTML_TYPES = ("text/html", "application/xhtml+xml")
_RAW_KEEP = 1024
# git's buffer_is_binary() (xdiff-interface.c) looks for a NUL in the first 8000 bytes.
_BINARY_SNIFF = 8000
_CONTROL = re.compile(rb"[\x00-\x08\x0e-\x1a\x1c-\x1f]")
_CONTROL_STR = re.compile(r"[\x00-\x08\x0e-\x1a\x1c-\x1f\ufffd]")
_META_CHARSET = re.compile(rb"<meta[^>]{0,200}?charset\s*=\s*[\"']?\s*([a-zA-Z0-9_.:-]+)", re.I)
_HTML_SNIFF = re.compile(rb"^\s*(<!--.*?-->\s*)*<(!doctype\s+html|html|head|body)\b", re.I | re.S)


def looks_binary(data: bytes | str) -> bool:
    """True when the start of ``data`` is not text: a NUL byte (git's rule), or more than 10% control
    characters / U+FFFD, which no real HTML page has (a page is markup plus prose)."""
    head = data[:_BINARY_SNIFF]
    if not head:
        return False
    if isinstance(head, bytes):
        if b"\x00" in head:
            return True
        bad = len(_CONTROL.findall(head))
    else:
        if "\x00" in head:
            return True
        bad = len(_CONTROL_STR.findall(head))
    return bad > 0.10 * len(head)


def decode_html(data: bytes, http_charset: str | None = None) -> tuple[str, str]:
    """Decode an HTML payload; return ``(text, encoding used)``.

    Order follows the WHATWG encoding sniffing algorithm (BOM, transport charset, ``<meta>``, then a
    guess), except that a declared charset must decode strictly: servers often declare UTF-8 and send
    cp1252, and then the guess wins. The guess is resiliparse's uchardet with WHATWG label mapping
    (latin-1 is read as windows-1252, as browsers do). Raises ``UnicodeDecodeError`` when nothing
    decodes cleanly and the lenient decode is mostly replacement characters.
    """
    from resiliparse.parse.encoding import bytes_to_str, detect_encoding, map_encoding_to_html5

    for bom, enc in ((b"\xef\xbb\xbf", "utf-8"), (b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be")):
        if data.startswith(bom):
            try:
                return data[len(bom):].decode(enc), enc
            except UnicodeDecodeError:
                break
    candidates = []
    if http_charset:
        candidates.append(map_encoding_to_html5(http_charset.strip().strip("\"'"), fallback_utf8=False) or http_charset)
    meta = _META_CHARSET.search(data[:4096])  # WHATWG prescans 1024 bytes; real pages put it later
    if meta:
        label = meta.group(1).decode("ascii", "replace")
        candidates.append(map_encoding_to_html5(label, fallback_utf8=False) or label)
    candidates.append("utf-8")
    guess = detect_encoding(data)
    candidates.append(guess)
    for enc in dict.fromkeys(c for c in candidates if c):
        try:
            return data.decode(enc), enc
        except (UnicodeDecodeError, LookupError):
            continue
    text = bytes_to_str(data, guess or "utf-8", errors="replace", fallback_encodings=("utf-8", "windows-1252"))
    if text.count("\ufffd") > 0.10 * max(1, len(text)):
        raise UnicodeDecodeError(guess or "utf-8", data[:16], 0, min(len(data), 16), "mostly undecodable bytes")
    return text, (guess or "utf-8") + "+replace"


def _charset_of(content_type: str) -> str | None:
    m = re.search(r"charset\s*=\s*([^\s;]+)", content_type, re.I)
    return m.group(1) if m else None


def _raw_at(path: Path, offset: int) -> bytes:
    try:
        with open(path, "rb") as f:
            f.seek(offset)
            return f.read(_RAW_KEEP)
    except OSError:
        return b""


def iter_warc(path: str | os.PathLike) -> Iterator[tuple[str, dict]]:
    """Yield ``(kind, info)`` for every record of the WARC at ``path`` (see the module docstring)."""
    from warcio.archiveiterator import ArchiveIterator
    from warcio.exceptions import ArchiveLoadFailed

    path = Path(path)
    size = path.stat().st_size
    with open(path, "rb") as fh:
        it = ArchiveIterator(fh)
        offset = 0
        try:
            for rec in it:
                offset = it.offset
                kind, info = _one_record(rec, path, offset)
                # The record's true length is known only once its payload is consumed.
                if kind != "quarantine" and getattr(rec.raw_stream, "limit", 0) > 0:
                    kind, info = "quarantine", {"offset": offset, "kind": "truncated", "error": "truncated record (payload shorter than Content-Length)",
                                                "raw": _raw_at(path, offset)}
                yield kind, info
                if kind == "quarantine" and info.get("kind") in ("truncated", "corrupt"):
                    return  # no way to find the next record boundary safely
        except (ArchiveLoadFailed, zlib.error, EOFError, ValueError, OSError, AttributeError, IndexError) as e:
            # warcio cannot resync after a corrupt header or gzip member; quarantine the rest.
            offset = getattr(it, "offset", offset)
            yield "quarantine", {"offset": offset, "kind": "corrupt", "error": f"corrupt WARC ({type(e).__name__}: {str(e).strip()[:200]})",
                                 "raw": _raw_at(path, offset)}
            return
        end = getattr(it, "offset", size)
        if end < size:
            # A gzip member cut short is dropped silently by warcio; its bytes are still in the file.
            yield "quarantine", {"offset": end, "kind": "truncated", "error": f"truncated WARC: {size - end} trailing bytes do not form a record",
                                 "raw": _raw_at(path, end)}


def _one_record(rec, path: Path, offset: int) -> tuple[str, dict]:
    if not str(rec.format).startswith("warc"):
        # warcio falls back to the old ARC format for any line of text, so junk "parses" as ARC.
        return "quarantine", {"offset": offset, "kind": "corrupt", "raw": _raw_at(path, offset),
                              "error": f"not a WARC record (read as {rec.format}); gristmill reads WARC 1.0/1.1 only"}
    rtype = rec.rec_type
    if not rtype:
        return "quarantine", {"offset": offset, "error": "malformed WARC header (no WARC-Type)", "raw": _raw_at(path, offset)}
    if rtype != "response":
        _drain(rec)
        return "skip", {"offset": offset, "reason": "not_response", "warc_type": rtype}
    url = rec.rec_headers.get_header("WARC-Target-URI") or ""
    if rec.http_headers is None:  # dns:, whois: and other non-HTTP responses
        _drain(rec)
        return "skip", {"offset": offset, "reason": "non_html", "url": url, "content_type": ""}
    status = rec.http_headers.get_statuscode() or ""
    content_type = rec.http_headers.get_header("Content-Type") or ""
    mime = content_type.split(";")[0].strip().lower()
    if mime and mime not in HTML_TYPES:
        _drain(rec)
        return "skip", {"offset": offset, "reason": "non_html", "url": url, "content_type": mime}
    if not status.startswith("2"):
        _drain(rec)
        return "skip", {"offset": offset, "reason": "http_status", "url": url, "status": status}
    try:
        payload = rec.content_stream().read()
    except Exception as e:  # content-encoding gzip/brotli or chunking broken inside the payload
        return "quarantine", {"offset": offset, "error": f"unreadable payload ({type(e).__name__}: {e})"[:300],
                              "raw": _raw_at(path, offset)}
    if not mime and not _HTML_SNIFF.match(payload[:1024]):
        return "skip", {"offset": offset, "reason": "non_html", "url": url, "content_type": ""}
    if looks_binary(payload):
        return "quarantine", {"offset": offset, "kind": "binary", "error": f"binary payload labelled {mime or 'untyped'}", "raw": payload[:_RAW_KEEP]}
    try:
        html, charset = decode_html(payload, _charset_of(content_type))
    except UnicodeDecodeError as e:
        return "quarantine", {"offset": offset, "kind": "undecodable", "error": f"undecodable payload: {e.reason}", "raw": payload[:_RAW_KEEP]}
    rid = (rec.rec_headers.get_header("WARC-Record-ID") or "").strip("<>")
    if not rid:
        rid = f"{path.name}@{offset}"
    return "record", {"id": rid, "url": url, "fetch_time": rec.rec_headers.get_header("WARC-Date") or "",
                      "content_type": mime or "text/html", "charset": charset, "html": html, "offset": offset}


def _drain(rec) -> None:
    # Reading to the end lets the truncation check (LimitReader.limit) see skipped records too.
    stream = rec.raw_stream
    while stream.read(1 << 16):
        pass


def write_warc(path: str | os.PathLike, pages: list[tuple[str, bytes, dict | list | None]], gzip: bool | None = None,
               warcinfo: bool = True) -> Path:
    """Write ``pages`` (``(url, body_bytes, http_headers)``) as WARC response records; gzip per record
    when ``path`` ends with ``.gz`` (or ``gzip=True``). ``http_headers`` is a dict or list of pairs;
    ``Content-Type`` defaults to ``text/html; charset=utf-8`` only when no headers are given, so tests
    can write pages with no charset or no type at all. A ``":status"`` key sets the status line."""
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    path = Path(path)
    gz = str(path).endswith(".gz") if gzip is None else gzip
    with open(path, "wb") as out:
        writer = WARCWriter(out, gzip=gz)
        if warcinfo:
            writer.write_record(writer.create_warcinfo_record(path.name, {"software": "gristmill tests"}))
        for url, body, headers in pages:
            pairs = list(headers.items()) if isinstance(headers, dict) else list(headers or [])
            if headers is None:
                pairs = [("Content-Type", "text/html; charset=utf-8")]
            status = "200 OK"
            for k, v in list(pairs):
                if k == ":status":
                    status = v
                    pairs.remove((k, v))
            http = StatusAndHeaders(status, pairs + [("Content-Length", str(len(body)))], protocol="HTTP/1.1")
            writer.write_record(writer.create_warc_record(url, "response", payload=io.BytesIO(body), http_headers=http))
    return path
