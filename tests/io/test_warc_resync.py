"""A damaged WARC record costs that record only (issue 19 item 7): with Common Crawl's layout (one
gzip member per record) a truncated or corrupt member is quarantined with its offset and reason, the
bytes passed over are counted, and every other record is read; likewise in a plain WARC. Through
``gristmill run`` on a recipe, on WARCs written by warcio."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml

from gristmill.io.warc import iter_warc, write_warc

REPO = Path(__file__).resolve().parents[2]
N = 100
TOPICS = ("harbour", "orchard", "railway", "library", "glacier", "market", "lighthouse", "vineyard", "quarry", "bakery")


def page(i: int) -> bytes:
    t = TOPICS[i % len(TOPICS)]
    paras = "".join(
        f"<p>Visit {i}: the {t} near the old town was busy again this morning, and the people who work there "
        f"told us how the season had gone, what they expected of the winter, and why number {i * 7 + k} mattered to them.</p>"
        for k in range(4))
    return f"<!DOCTYPE html><html><head><title>Notes {i}</title></head><body><main><h1>The {t}, visit {i}</h1>{paras}</main></body></html>".encode()


def urls():
    return [f"https://notes.example.org/{i}" for i in range(N)]


def write(path: Path) -> list[int]:
    write_warc(path, [(u, page(i), None) for i, u in enumerate(urls())], warcinfo=False)
    offs = [info["offset"] for kind, info in iter_warc(path) if kind == "record"]
    assert len(offs) == N
    return offs


def gristmill_run(tmp_path: Path, warc: Path) -> tuple[dict, list[dict], list[str]]:
    recipe = {"input": {"paths": [str(warc)], "format": "warc"}, "steps": [{"html_extract": {}}],
              "output": {"path": str(tmp_path / "out")}}
    (tmp_path / "r.yaml").write_text(yaml.safe_dump(recipe))
    env = {**os.environ, "PYTHONPATH": str(REPO / "src") + os.pathsep + os.environ.get("PYTHONPATH", "")}
    r = subprocess.run([sys.executable, "-m", "gristmill.cli", "run", "r.yaml", "-w", "1", "--no-report"],
                       capture_output=True, text=True, cwd=tmp_path, env=env)
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr[-3000:]
    summary = json.loads((tmp_path / "out/summary.json").read_text())
    quarantine = [json.loads(l) for f in sorted((tmp_path / "out/quarantine").glob("*.jsonl")) for l in f.read_text().splitlines()]
    kept = pq.read_table(tmp_path / "out/data").column("url").to_pylist()
    return summary, quarantine, kept


@pytest.mark.parametrize("damage", ["truncated", "corrupt"])
def test_per_record_gzip_member_damage_costs_one_record(tmp_path, damage):
    good = tmp_path / "good.warc.gz"
    offs = write(good)
    data = good.read_bytes()
    a, b = offs[1], offs[2]  # member 2 of 100
    if damage == "truncated":  # the member loses its second half; member 3 follows at once
        bad = data[:a + (b - a) // 2] + data[b:]
        resume = a + (b - a) // 2
    else:  # bytes flipped inside the deflate data
        bad = bytearray(data)
        for j in range(a + 40, a + 90):
            bad[j] ^= 0x5A
        bad, resume = bytes(bad), b
    warc = tmp_path / "crawl.warc.gz"
    warc.write_bytes(bad)
    summary, quarantine, kept = gristmill_run(tmp_path, warc)
    assert summary["input"] == N and summary["quarantined"] == 1, summary
    assert sorted(kept) == sorted(u for i, u in enumerate(urls()) if i != 1)  # the other 99 are read and kept
    (q,) = quarantine
    # a member cut short and followed by the next reads as corrupt deflate data: the two cannot be told apart
    assert q["offset"] == a and q["kind"] == "corrupt", q
    assert "gzip member" in q["error"] and f"offset {resume}" in q["error"]
    assert summary["counters"]["read"]["warc_resync_skipped_bytes"] == resume - a


@pytest.mark.parametrize("damage", ["bytes_lost", "header_garbled"])
def test_plain_warc_with_a_corrupt_record_in_the_middle(tmp_path, damage):
    good = tmp_path / "good.warc"
    offs = write(good)
    data = good.read_bytes()
    m = N // 2
    a, b = offs[m], offs[m + 1]
    if damage == "bytes_lost":  # 60 payload bytes gone: Content-Length now reaches into the next record
        cut = b - 200
        bad = data[:cut] + data[cut + 60:]
    else:
        bad = data[:a] + b"WXRC/1.0\r\nWARC-Type: response" + data[a + 29:]
    warc = tmp_path / "crawl.warc"
    warc.write_bytes(bad)
    summary, quarantine, kept = gristmill_run(tmp_path, warc)
    assert summary["input"] == N and summary["quarantined"] == 1, summary
    assert sorted(kept) == sorted(u for i, u in enumerate(urls()) if i != m)
    (q,) = quarantine
    assert q["offset"] == a and q["kind"] == "corrupt", q
    assert summary["counters"]["read"]["warc_resync_skipped_bytes"] == b - a - (60 if damage == "bytes_lost" else 0)


def test_garbage_between_members_and_a_gzip_magic_inside_garbage(tmp_path):
    """Junk holding the gzip magic between two members is one quarantined region, not a lost tail."""
    good = tmp_path / "good.warc.gz"
    offs = write(good)
    data = good.read_bytes()
    junk = b"\x1f\x8b\x08" + os.urandom(500) + b"\x1f\x8b\x08\x00garbage"
    bad = data[:offs[10]] + junk + data[offs[10]:]
    path = tmp_path / "j.warc.gz"
    path.write_bytes(bad)
    ev = list(iter_warc(path))
    assert [k for k, _ in ev].count("record") == N
    (q,) = [i for k, i in ev if k == "quarantine"]
    assert q["offset"] == offs[10] and q["skipped_bytes"] == len(junk)


def _damaged(data: bytes, offs: list[int], victim: int, how: str, seed: int) -> bytes:
    import random as _r

    a = offs[victim]
    b = offs[victim + 1] if victim + 1 < len(offs) else len(data)
    rng = _r.Random(seed)
    if how == "cut":  # drop a stretch inside the member
        i = rng.randrange(a + 1, b - 1)
        j = rng.randrange(i + 1, b)
        return data[:i] + data[j:]
    if how == "flip":
        out = bytearray(data)
        for _ in range(rng.randint(1, 30)):
            out[rng.randrange(a + 10, b - 8)] ^= rng.randrange(1, 256)
        return bytes(out)
    return data[:a] + _junk(seed) + data[a:]  # junk inserted before the member


def _junk(seed: int) -> bytes:
    import random as _r

    rng = _r.Random(seed)
    return bytes(rng.randrange(256) for _ in range(rng.randint(1, 300)))


def test_any_damage_to_one_member_costs_at_most_that_record(tmp_path):
    """Property: whatever happens to one gzip member (bytes cut, bytes flipped, junk inserted before
    it), iter_warc never raises, every other record is read intact, and each damaged region is
    quarantined once with its offset."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    n = 30
    good = tmp_path / "g.warc.gz"
    write_warc(good, [(u, page(i), None) for i, u in enumerate(urls()[:n])], warcinfo=False)
    data = good.read_bytes()
    offs = [info["offset"] for kind, info in iter_warc(good) if kind == "record"]
    want = {u: page(i).decode() for i, u in enumerate(urls()[:n])}

    @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
    @given(victim=st.integers(0, n - 1), how=st.sampled_from(["cut", "flip", "junk"]), seed=st.integers(0, 10**6))
    def check(victim, how, seed):
        p = tmp_path / "d.warc.gz"
        p.write_bytes(_damaged(data, offs, victim, how, seed))
        ev = list(iter_warc(p))
        recs = {i["url"]: i["html"] for k, i in ev if k == "record"}
        q = [i for k, i in ev if k == "quarantine"]
        others = {u: h for u, h in want.items() if u != urls()[victim]}
        assert {u: recs.get(u) for u in others} == others  # every other record, intact
        if how == "junk":
            assert urls()[victim] in recs and len(q) == 1 and q[0]["offset"] == offs[victim]
        else:  # a flip may hit bytes gzip does not check (the header's mtime): then nothing is lost
            assert len(q) <= 1 and (q or urls()[victim] in recs)
            if q:
                assert q[0]["offset"] == offs[victim] and urls()[victim] not in recs

    check()


def test_any_cut_or_junk_in_a_plain_warc_costs_at_most_that_record(tmp_path):
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    n = 30
    good = tmp_path / "g.warc"
    write_warc(good, [(u, page(i), None) for i, u in enumerate(urls()[:n])], warcinfo=False)
    data = good.read_bytes()
    offs = [info["offset"] for kind, info in iter_warc(good) if kind == "record"]
    want = {u: page(i).decode() for i, u in enumerate(urls()[:n])}

    @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
    @given(victim=st.integers(0, n - 1), how=st.sampled_from(["cut", "junk"]), seed=st.integers(0, 10**6))
    def check(victim, how, seed):
        p = tmp_path / "d.warc"
        p.write_bytes(_damaged(data, offs, victim, how, seed))
        ev = list(iter_warc(p))
        recs = {i["url"]: i["html"] for k, i in ev if k == "record"}
        q = [i for k, i in ev if k == "quarantine"]
        assert {u: recs.get(u) for u in want if u != urls()[victim]} == {u: h for u, h in want.items() if u != urls()[victim]}
        if how == "junk":
            # CR/LF bytes at the junk's start read as the blank lines that end a record: the junk begins after them
            lead = len(_junk(seed)) - len(_junk(seed).lstrip(b"\r\n"))
            assert recs[urls()[victim]] == want[urls()[victim]]
            if lead == len(_junk(seed)):
                assert not q and len(ev) == n
            else:
                assert len(q) == 1 and q[0]["offset"] == offs[victim] + lead
                assert len(ev) == n + 1
        else:
            # Cut lines out of a header that held no digest line any more can leave a record that
            # frames and parses (a response with no status line: skipped as http_status). What
            # must hold: one event for it, at its offset, and never a document with wrong text.
            assert len(ev) == n and recs.get(urls()[victim]) in (None, want[urls()[victim]])
            assert [i["offset"] for k, i in ev if i.get("offset") == offs[victim]] == [offs[victim]]

    check()


def _cc_record(i: int) -> bytes:
    """A response record with Common Crawl's header order (Content-Length is not the last header)
    and its real block digest (sha1, base32), written by hand rather than by warcio."""
    import base64
    import hashlib

    body = page(i)
    block = (b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=UTF-8\r\nContent-Length: " + str(len(body)).encode()
             + b"\r\n\r\n" + body)
    digest = base64.b32encode(hashlib.sha1(block).digest()).decode()
    head = (f"WARC/1.0\r\nWARC-Type: response\r\nWARC-Date: 2024-02-21T10:00:{i % 60:02d}Z\r\n"
            f"WARC-Record-ID: <urn:uuid:00000000-0000-0000-0000-{i:012d}>\r\nContent-Length: {len(block)}\r\n"
            "Content-Type: application/http; msgtype=response\r\nWARC-IP-Address: 192.0.2.1\r\n"
            f"WARC-Target-URI: {urls()[i]}\r\nWARC-Block-Digest: sha1:{digest}\r\nWARC-Identified-Payload-Type: text/html\r\n\r\n")
    return head.encode() + block + b"\r\n\r\n"


def test_common_crawl_header_order_and_block_digests(tmp_path):
    import gzip

    recs = [_cc_record(i) for i in range(20)]
    (tmp_path / "cc.warc.gz").write_bytes(b"".join(gzip.compress(r) for r in recs))
    (tmp_path / "cc.warc").write_bytes(b"".join(recs))
    for name in ("cc.warc.gz", "cc.warc"):
        got = [i["url"] for k, i in iter_warc(tmp_path / name) if k == "record"]
        assert got == urls()[:20], name
    # one flipped payload byte in a plain WARC: the digest says so, and only that record is quarantined
    bad = bytearray(b"".join(recs))
    at = sum(map(len, recs[:7])) + len(recs[7]) - 40
    bad[at] ^= 0x20
    (tmp_path / "flip.warc").write_bytes(bytes(bad))
    ev = list(iter_warc(tmp_path / "flip.warc"))
    assert [i["url"] for k, i in ev if k == "record"] == [u for j, u in enumerate(urls()[:20]) if j != 7]
    (q,) = [i for k, i in ev if k == "quarantine"]
    assert q["offset"] == sum(map(len, recs[:7])) and "digest mismatch" in q["error"]
