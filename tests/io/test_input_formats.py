"""A file in the wrong format says what it looks like and what to write (issue 19, medium): a Parquet,
WARC or UTF-16 file in a JSON Lines input is quarantined once with the format it looks like and the
fix; gzip is read by content whatever the name; a UTF-8 byte-order mark is ignored; a UTF-16 text file
in a ``format: text`` input is decoded by its byte-order mark. Through the CLI on real files."""
from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from gristmill.io.warc import write_warc

REPO = Path(__file__).resolve().parents[2]
PROSE = "Plain English prose about the weather and the sea, written by a person for other people to read. " * 4


def run(tmp_path, inputs):
    (tmp_path / "r.yaml").write_text(yaml.safe_dump({"inputs": inputs, "steps": [{"normalize": {}}], "output": {"path": "out"}}))
    env = {**os.environ, "PYTHONPATH": str(REPO / "src") + os.pathsep + os.environ.get("PYTHONPATH", "")}
    r = subprocess.run([sys.executable, "-m", "gristmill.cli", "run", "r.yaml", "-w", "1", "--no-report"],
                       capture_output=True, text=True, cwd=tmp_path, env=env)
    assert r.returncode == 0 and "Traceback" not in r.stderr + r.stdout, r.stderr[-3000:]
    summary = json.loads((tmp_path / "out/summary.json").read_text())
    q = {Path(x["path"]).name: x for f in (tmp_path / "out/quarantine").glob("*.jsonl") for x in map(json.loads, f.read_text().splitlines())}
    return summary, q, sorted(pq.read_table(tmp_path / "out/data").column("id").to_pylist())


def test_files_in_the_wrong_format_name_what_they_look_like(tmp_path):
    d = tmp_path / "in"
    d.mkdir()
    lines = [json.dumps({"text": f"{i} {PROSE}"}) for i in range(3)]
    (d / "good.jsonl").write_text("\n".join(lines) + "\n")
    pq.write_table(pa.table({"text": [PROSE] * 5}), d / "export.jsonl")  # Parquet under a JSONL name
    write_warc(d / "crawl.jsonl", [("https://e.org/", b"<html><body>hi</body></html>", None)], gzip=True)
    (d / "wide.jsonl").write_bytes("\n".join(lines).encode("utf-16"))  # with its BOM
    (d / "bom.jsonl").write_bytes(b"\xef\xbb\xbf" + ("\n".join(lines) + "\n").encode())
    (d / "packed.jsonl").write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))  # gzip without .gz
    summary, q, kept = run(tmp_path, [{"paths": [str(d / "*.jsonl")]}])
    assert set(q) == {"export.jsonl", "crawl.jsonl", "wide.jsonl"}, q
    assert {x["kind"] for x in q.values()} == {"wrong_format"}
    assert "looks like a Parquet file" in q["export.jsonl"]["error"] and "format: parquet" in q["export.jsonl"]["error"]
    assert "looks like a WARC file" in q["crawl.jsonl"]["error"] and "format: warc" in q["crawl.jsonl"]["error"]
    assert "UTF-16-LE" in q["wide.jsonl"]["error"] and "iconv" in q["wide.jsonl"]["error"]
    assert kept == sorted(f"{n}.jsonl:{i}" for n in ("good", "bom", "packed") for i in (1, 2, 3))
    assert summary["input"] == 9 + 3


def test_utf16_text_files_are_decoded_by_their_bom_and_jsonl_given_as_parquet_says_so(tmp_path):
    d = tmp_path / "notes"
    d.mkdir()
    (d / "a.txt").write_bytes("Caf\u00e9 notes: ".encode("utf-16") + PROSE.encode("utf-16")[2:])
    (d / "b.txt").write_bytes(b"\xfe\xff" + PROSE.encode("utf-16-be"))
    pq.write_table(pa.table({"text": [PROSE]}), d / "c.txt")
    (tmp_path / "data.parquet").write_text(json.dumps({"text": PROSE}) + "\n")  # a stray file beside a good one
    pq.write_table(pa.table({"text": [PROSE]}), tmp_path / "a.parquet")
    summary, q, kept = run(tmp_path, [{"paths": [str(d)], "format": "text"},
                                      {"paths": [str(tmp_path / "*.parquet")], "format": "parquet"}])
    assert kept == ["a.parquet:0", "a.txt", "b.txt"]
    t = pq.read_table(tmp_path / "out/data").to_pylist()
    assert next(r for r in t if r["id"] == "a.txt")["text"].startswith("Caf\u00e9 notes: Plain English")
    assert set(q) == {"c.txt", "data.parquet"}
    assert "looks like a Parquet file" in q["c.txt"]["error"] and "format: parquet" in q["c.txt"]["error"]
    assert "format: jsonl" in q["data.parquet"]["error"]


def test_decontam_index_reads_through_the_same_layer(tmp_path):
    """`decontam index` expands paths and reads JSON Lines as recipes do: a directory and zstd work,
    a UTF-16 file is a one-line error naming it, not a UnicodeDecodeError traceback."""
    import zstandard

    d = tmp_path / "bench"
    d.mkdir()
    qs = [{"question": f"What is the capital of country number {k} in the atlas of the world today?"} for k in range(20)]
    (d / "quiz.jsonl.zst").write_bytes(zstandard.ZstdCompressor().compress("".join(json.dumps(q) + "\n" for q in qs).encode()))
    env = {**os.environ, "PYTHONPATH": str(REPO / "src") + os.pathsep + os.environ.get("PYTHONPATH", "")}
    r = subprocess.run([sys.executable, "-m", "gristmill.cli", "decontam", "index", str(d), "--fields", "question", "--n", "8",
                        "-o", str(tmp_path / "idx")], capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "quiz: 20 records" in r.stdout
    (d / "wide.jsonl").write_bytes("".join(json.dumps(q) + "\n" for q in qs).encode("utf-16"))
    r = subprocess.run([sys.executable, "-m", "gristmill.cli", "decontam", "index", str(d), "--fields", "question",
                        "-o", str(tmp_path / "idx2")], capture_output=True, text=True, env=env)
    err = " ".join(r.stderr.split())
    assert r.returncode == 2 and "Traceback" not in r.stderr and "wide.jsonl" in err and "UTF-16" in err, r.stderr[-2000:]


def test_lab_and_quality_examples_read_jsonl_through_the_same_layer(tmp_path):
    """The lab's text files and quality's example files: compressed by content, and a file in the
    wrong format or a bad line is a ValueError naming the file and line, never a traceback of another kind."""
    import pytest
    import zstandard

    from gristmill.lab.data import read_texts
    from gristmill.quality.examples import ExamplesError, load_texts

    body = "".join(json.dumps({"text": f"{k} {PROSE}"}) + "\n" for k in range(4))
    (tmp_path / "z.jsonl").write_bytes(zstandard.ZstdCompressor().compress(body.encode()))  # zstd without .zst
    assert len(read_texts([str(tmp_path / "z.jsonl")])) == 4
    assert len(load_texts([str(tmp_path / "z.jsonl")])) == 4
    (tmp_path / "w.jsonl").write_bytes(body.encode("utf-16"))
    with pytest.raises(ValueError, match="w.jsonl.*UTF-16"):
        read_texts([str(tmp_path / "w.jsonl")])
    with pytest.raises(ExamplesError, match="w.jsonl.*UTF-16"):
        load_texts([str(tmp_path / "w.jsonl")])
    (tmp_path / "l.jsonl").write_text(body + "[1, 2]\n")
    with pytest.raises(ValueError, match="l.jsonl line 5: no string field 'text'"):
        read_texts([str(tmp_path / "l.jsonl")])


def test_an_input_whose_files_are_all_in_another_format_fails_before_any_work(tmp_path):
    d = tmp_path / "in"
    d.mkdir()
    for k in range(2):
        pq.write_table(pa.table({"text": [PROSE] * 3}), d / f"part{k}.jsonl")
    (tmp_path / "j.parquet").write_text(json.dumps({"text": PROSE}) + "\n")
    for inputs, want in (([{"paths": [str(d / "*.jsonl")]}], "looks like a Parquet file"),
                         ([{"paths": [str(tmp_path / "j.parquet")], "format": "parquet"}], "write format: jsonl")):
        (tmp_path / "r.yaml").write_text(yaml.safe_dump({"inputs": inputs, "steps": [{"normalize": {}}], "output": {"path": "out"}}))
        env = {**os.environ, "PYTHONPATH": str(REPO / "src") + os.pathsep + os.environ.get("PYTHONPATH", "")}
        r = subprocess.run([sys.executable, "-m", "gristmill.cli", "run", "r.yaml", "-w", "1", "--no-report"],
                           capture_output=True, text=True, cwd=tmp_path, env=env)
        err = " ".join((r.stdout + r.stderr).split())
        assert r.returncode == 2 and "Traceback" not in err and want in err and "r.yaml line" in err, err[-2000:]
        assert not (tmp_path / "out/data").exists()
