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

A truncated or corrupt file never raises. A damaged record is quarantined alone (with
``skipped_bytes``, how much was passed over) and reading resumes at the next record: the next gzip
member that decompresses to a ``WARC/1.`` line, or the next ``WARC/1.`` line in a plain file. Only a
file cut short ends iteration, since nothing follows the cut. Offsets are positions in the file as stored (compressed offsets for ``.warc.gz``), so
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
RAW_KEEP = 1024
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
            return f.read(RAW_KEEP)
    except OSError:
        return b""


_GZ_MAGIC = b"\x1f\x8b\x08"  # RFC 1952: ID1 ID2 and CM=8 (deflate), the only method gzip defines
_HEADER_MAX = 64 << 10  # a WARC header is a few hundred bytes; 64 KiB of "header" is not one
_RECORD_MAX = 256 << 20  # Common Crawl truncates payloads at 1 MiB; a larger record is held whole in memory
_CHUNK = 1 << 20
_READ = 1 << 16  # gzip input per read: a Common Crawl member is 5-50 KB


class _StreamError(Exception):
    """The gzip stream under a record broke (corrupt deflate data, bad CRC, or cut short)."""

    def __init__(self, kind: str, error: str):
        super().__init__(error)
        self.kind, self.error = kind, error


def iter_warc(path: str | os.PathLike, max_record_bytes: int = _RECORD_MAX) -> Iterator[tuple[str, dict]]:
    """Yield ``(kind, info)`` for every record of the WARC at ``path`` (see the module docstring).

    Records are framed here, not by warcio's iterator, so that damage is local: a record whose
    header is garbled or whose bytes do not end where its ``Content-Length`` says is quarantined,
    and reading resumes at the next ``WARC/1.`` header (plain files) or the next gzip member that
    starts a WARC record (``1f 8b 08``, Common Crawl's one member per record). The quarantine item
    carries ``skipped_bytes``, the bytes passed over to get there. warcio parses each framed record.
    """
    path = Path(path)
    with open(path, "rb") as fh:
        head = fh.read(8)
    # by content, not name: a .warc may be gzip and a .gz may not; a .gz that starts with junk is
    # still read as gzip members, so the junk is quarantined and the members after it are read
    gz = head.startswith(_GZ_MAGIC[:2]) or (path.name.endswith(".gz") and not head.startswith(b"WARC/1."))
    yield from (_iter_gzip(path, max_record_bytes) if gz else _iter_plain(path, max_record_bytes))


def _iter_plain(path: Path, max_record_bytes: int) -> Iterator[tuple[str, dict]]:
    with open(path, "rb") as fh:
        for kind, off, info in _frames(iter(lambda: fh.read(_CHUNK), b""), max_record_bytes):
            yield _event(kind, off, info, path)


def _iter_gzip(path: Path, max_record_bytes: int) -> Iterator[tuple[str, dict]]:
    size = path.stat().st_size
    with open(path, "rb") as fh:
        gz = _GzipFile(fh)
        while gz.more():
            pos = gz.pos
            held = None  # the last event of this member waits until the member's CRC proves it
            chunks = gz.member()
            try:
                for k, (kind, off, info) in enumerate(_frames(chunks, max_record_bytes)):
                    if held is not None:
                        yield held
                    held = _event(kind, pos, info, path, k)
                for _ in chunks:  # a record cut inside an intact member: read on to the member's end
                    pass
            except _StreamError as e:
                nxt = _next_member(fh, pos + 1, size)
                yield "quarantine", {"offset": pos, "kind": e.kind, "raw": _raw_at(path, pos), "skipped_bytes": nxt - pos,
                                     "error": f"{e.error} in the gzip member at offset {pos}"
                                              + (f"; resumed at the next member, offset {nxt}" if nxt < size else "")}
                gz.seek(nxt)
                continue
            if held is not None:
                yield held


def _event(kind: str, offset: int, info: dict, path: Path, k: int = 0) -> tuple[str, dict]:
    """Turn a framed item into a public event; ``offset`` is the file position (the gzip member's)."""
    if kind == "frame":
        return _parse_record(info["data"], path, offset, k)
    out = {"offset": offset, "kind": kind, "error": info["error"], "raw": _raw_at(path, offset)}
    if "skipped_bytes" in info:
        out["skipped_bytes"] = info["skipped_bytes"]
    return "quarantine", out


class _GzipFile:
    """A file of gzip members read one member at a time through one buffer: Common Crawl's files
    hold one small member per record, so each member must not cost a seek and a fresh read."""

    def __init__(self, fh):
        self.fh, self.buf, self.pos = fh, b"", 0  # pos: the file offset of buf[0]

    def seek(self, pos: int) -> None:
        self.fh.seek(pos)
        self.buf, self.pos = b"", pos

    def more(self) -> bool:
        if not self.buf:
            self.buf = self.fh.read(_READ)
        return bool(self.buf)

    def member(self) -> Iterator[bytes]:
        """Decompressed chunks of the member at ``pos``; afterwards ``pos`` is the next member's."""
        obj = zlib.decompressobj(wbits=31)  # 31: gzip framing, CRC32 and length checked at the end
        while not obj.eof:
            if not self.buf:
                self.buf = self.fh.read(_READ)
                if not self.buf:
                    raise _StreamError("truncated", "truncated gzip member (the file ends inside it)")
            data = self.buf
            try:
                out = obj.decompress(data)
            except zlib.error as e:
                raise _StreamError("corrupt", f"corrupt gzip data ({e})") from None
            used = len(data) - len(obj.unused_data) if obj.eof else len(data)
            self.buf, self.pos = data[used:], self.pos + used
            if out:
                yield out


def _next_member(fh, start: int, size: int) -> int:
    """The offset of the next gzip member at or after ``start`` that begins a WARC record, else ``size``.

    The magic bytes also occur by chance inside compressed data, so a candidate counts only when
    its first decompressed bytes are a WARC version line."""
    pos = start
    while pos < size:
        fh.seek(pos)
        block = fh.read(_CHUNK + 2)
        i = block.find(_GZ_MAGIC)
        while i >= 0:
            fh.seek(pos + i)
            try:
                head = zlib.decompressobj(wbits=31).decompress(fh.read(64 << 10), 16)
            except zlib.error:
                head = b""
            if head.startswith(b"WARC/1."):
                return pos + i
            i = block.find(_GZ_MAGIC, i + 1)
        if len(block) <= 2:
            break
        pos += len(block) - 2  # overlap: a magic split across two reads is still found
    return size


_CONTENT_LENGTH = re.compile(rb"^content-length[ \t]*:[ \t]*(\d{1,19})[ \t]*\r?$", re.I | re.M)
# where a record can start: the version line, anywhere (junk before a header need not end with a newline)
_VERSION_LINE = re.compile(rb"WARC/1\.[01]\r\n")


def _frames(chunks: Iterator[bytes], max_record_bytes: int) -> Iterator[tuple[str, int, dict]]:
    """Split a decompressed WARC byte stream into records: ``("frame", offset, {"data"})`` or a bad
    region ``(kind, offset, {"error", "raw", "skipped_bytes"})``. Offsets are stream positions."""
    buf = bytearray()
    pos = 0  # stream position of buf[0]
    eof = False

    def fill(n: int) -> None:
        nonlocal eof
        while len(buf) < n and not eof:
            c = next(chunks, None)
            if c is None:
                eof = True
            else:
                buf.extend(c)

    def bad(kind: str, error: str):
        """Quarantine from ``pos`` and skip to the next header at a line start."""
        nonlocal pos
        raw = bytes(buf[:RAW_KEEP])
        skipped = 0
        while True:
            m = _VERSION_LINE.search(buf, 1)
            if m:
                del buf[: m.start()]
                skipped += m.start()
                break
            if eof:
                skipped += len(buf)
                buf.clear()
                break
            keep = min(len(buf), 10)  # a version line split across reads
            skipped += len(buf) - keep
            del buf[: len(buf) - keep]
            fill(len(buf) + _CHUNK)
        start = pos
        pos += skipped
        return kind, start, {"error": error + (f"; skipped {skipped} bytes to the next record" if buf else f"; skipped {skipped} bytes to the end"),
                             "raw": raw, "skipped_bytes": skipped}

    while True:
        fill(16)
        n = 0
        while n < len(buf) and buf[n] in b"\r\n":  # the blank lines that end a record (and stray ones)
            n += 1
            if n == len(buf):
                fill(len(buf) + 16)
        del buf[:n]
        pos += n
        fill(16)
        if not buf:
            return
        if not buf.startswith(b"WARC/1."):
            yield bad("corrupt", "not a WARC record (no WARC/1.x version line); gristmill reads WARC 1.0/1.1")
            continue
        hend = buf.find(b"\r\n\r\n")
        while hend < 0 and not eof and len(buf) < _HEADER_MAX:
            fill(len(buf) + 4096)
            hend = buf.find(b"\r\n\r\n", 0, _HEADER_MAX)
        if hend < 0:
            if eof:
                raw = bytes(buf[:RAW_KEEP])
                yield "truncated", pos, {"error": "truncated record (the file ends inside its header)", "raw": raw}
                return
            yield bad("corrupt", f"malformed WARC header (no blank line within {_HEADER_MAX} bytes)")
            continue
        m = _CONTENT_LENGTH.search(bytes(buf[:hend]))
        if not m:
            yield bad("corrupt", "malformed WARC header (no Content-Length)")
            continue
        length = int(m.group(1))
        need = hend + 4 + length + 4
        if length > max_record_bytes:
            yield bad("too_large", f"record of {length} bytes, over the {max_record_bytes}-byte limit")
            continue
        fill(need)
        if len(buf) < need:
            # the stream ends inside this record: what is missing is gone, nothing follows to resync to
            yield "truncated", pos, {"error": f"truncated record (payload shorter than Content-Length: {len(buf) - hend - 4} of {length} bytes)",
                                     "raw": bytes(buf[:RAW_KEEP])}
            return
        if buf[need - 4:need] != b"\r\n\r\n":
            yield bad("corrupt", f"record does not end where its Content-Length ({length}) says; bytes were lost or inserted")
            continue
        bad_digest = _digest_mismatch(bytes(buf[:hend]), bytes(buf[hend + 4:hend + 4 + length]))
        if bad_digest:
            # the record's bytes are where they should be but not what was written: this record only
            yield "corrupt", pos, {"error": bad_digest, "raw": bytes(buf[:RAW_KEEP])}
            del buf[:need]
            pos += need
            continue
        yield "frame", pos, {"data": bytes(buf[:need])}
        del buf[:need]
        pos += need


_BLOCK_DIGEST = re.compile(rb"^warc-block-digest[ \t]*:[ \t]*([a-z0-9-]+):([^\r\n]*)\r?$", re.I | re.M)


def _digest_mismatch(header: bytes, block) -> str | None:
    """The reason when the header's ``WARC-Block-Digest`` (ISO 28500 section 5.8; ``sha1:`` in base32
    as Common Crawl and warcio write it, or base16) does not match the block; None when it matches
    or cannot be checked (absent, or an algorithm hashlib lacks)."""
    import base64
    import hashlib

    m = _BLOCK_DIGEST.search(header)
    if not m:
        return None
    algo, value = m.group(1).decode().lower().replace("-", ""), m.group(2).decode("latin-1").strip()
    try:
        h = hashlib.new(algo, block).digest()
    except (ValueError, TypeError):
        return None
    if value.upper() in (base64.b32encode(h).decode(), h.hex().upper()):
        return None
    return f"block digest mismatch ({algo}): the record's bytes changed after it was written"


def _parse_record(data: bytes, path: Path, offset: int, k: int = 0) -> tuple[str, dict]:
    from warcio.archiveiterator import ArchiveIterator

    try:
        rec = next(iter(ArchiveIterator(io.BytesIO(data))))
        return _one_record(rec, path, offset, data, k)
    except Exception as e:  # noqa: BLE001 - warcio on a framed but malformed record: that record only
        return "quarantine", {"offset": offset, "kind": "corrupt", "raw": data[:RAW_KEEP],
                              "error": f"malformed WARC record ({type(e).__name__}: {str(e).strip()[:200]})"}


def _one_record(rec, path: Path, offset: int, data: bytes, k: int = 0) -> tuple[str, dict]:
    if not str(rec.format).startswith("warc"):
        # warcio falls back to the old ARC format for any line of text, so junk "parses" as ARC.
        return "quarantine", {"offset": offset, "kind": "corrupt", "raw": data[:RAW_KEEP],
                              "error": f"not a WARC record (read as {rec.format}); gristmill reads WARC 1.0/1.1 only"}
    rtype = rec.rec_type
    if not rtype:
        return "quarantine", {"offset": offset, "error": "malformed WARC header (no WARC-Type)", "raw": data[:RAW_KEEP]}
    if rtype != "response":
        return "skip", {"offset": offset, "reason": "not_response", "warc_type": rtype}
    url = rec.rec_headers.get_header("WARC-Target-URI") or ""
    if rec.http_headers is None:  # dns:, whois: and other non-HTTP responses
        return "skip", {"offset": offset, "reason": "non_html", "url": url, "content_type": ""}
    status = rec.http_headers.get_statuscode() or ""
    content_type = rec.http_headers.get_header("Content-Type") or ""
    mime = content_type.split(";")[0].strip().lower()
    if mime and mime not in HTML_TYPES:
        return "skip", {"offset": offset, "reason": "non_html", "url": url, "content_type": mime}
    if not status.startswith("2"):
        return "skip", {"offset": offset, "reason": "http_status", "url": url, "status": status}
    try:
        payload = rec.content_stream().read()
    except Exception as e:  # content-encoding gzip/brotli or chunking broken inside the payload
        return "quarantine", {"offset": offset, "error": f"unreadable payload ({type(e).__name__}: {e})"[:300],
                              "raw": data[:RAW_KEEP]}
    if not mime and not _HTML_SNIFF.match(payload[:1024]):
        return "skip", {"offset": offset, "reason": "non_html", "url": url, "content_type": ""}
    if looks_binary(payload):
        return "quarantine", {"offset": offset, "kind": "binary", "error": f"binary payload labelled {mime or 'untyped'}", "raw": payload[:RAW_KEEP]}
    try:
        html, charset = decode_html(payload, _charset_of(content_type))
    except UnicodeDecodeError as e:
        return "quarantine", {"offset": offset, "kind": "undecodable", "error": f"undecodable payload: {e.reason}", "raw": payload[:RAW_KEEP]}
    rid = (rec.rec_headers.get_header("WARC-Record-ID") or "").strip("<>")
    if not rid:
        rid = f"{path.name}@{offset}" + (f".{k}" if k else "")
    return "record", {"id": rid, "url": url, "fetch_time": rec.rec_headers.get_header("WARC-Date") or "",
                      "content_type": mime or "text/html", "charset": charset, "html": html, "offset": offset}


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
