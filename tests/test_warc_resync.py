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

REPO = Path(__file__).resolve().parents[1]
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
