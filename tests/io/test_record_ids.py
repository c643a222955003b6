"""A record's own ``id`` is its document id (issue 20 item 5), so outputs join back to their sources;
``<file>:<line>`` (``<file>:<row>`` for Parquet) only where a record has none, and always with
``id_field: false``. Ids that repeat within a run fail it before any global step, naming the id and the
fix, because dedup and ``show`` look documents up by id. Through the CLI on real files."""
from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import yaml
from typer.testing import CliRunner

from gristmill.cli import app

PROSE = "Plain English prose about the weather and the sea, written by a person for other people to read. " * 3


def run(tmp_path, inputs, *extra):
    rec = tmp_path / "r.yaml"
    rec.write_text(yaml.safe_dump({"inputs": inputs, "steps": [{"exact_dedup": {}}], "output": {"path": str(tmp_path / "out")}}))
    return CliRunner().invoke(app, ["run", str(rec), "-w", "1", "--no-report", *extra])


def ids(tmp_path):
    return sorted(pq.read_table(tmp_path / "out/data").column("id").to_pylist())


def test_a_records_own_id_is_used_and_derived_only_where_it_has_none(tmp_path):
    clean = [{"id": f"mail-{k}", "text": f"{k} {PROSE}"} for k in range(5)]
    clean[3].pop("id")  # no id: derived
    (tmp_path / "clean.jsonl").write_text("".join(json.dumps(r) + "\n" for r in clean))
    # a malformed line sends this file's block down the record-by-record path: same rule there
    mixed = [json.dumps({"id": 17, "text": f"a {PROSE}"}), "{not json", json.dumps({"id": "", "text": f"b {PROSE}"}),
             json.dumps({"id": None, "text": f"c {PROSE}"}), json.dumps({"id": "m-4", "text": f"d {PROSE}"})]
    (tmp_path / "mixed.jsonl").write_text("\n".join(mixed) + "\n")
    pq.write_table(pa.table({"id": ["p0", None, "p2"], "text": [f"p{k} {PROSE}" for k in range(3)]}), tmp_path / "t.parquet")
    r = run(tmp_path, [{"paths": [str(tmp_path / "*.jsonl")]}, {"paths": [str(tmp_path / "t.parquet")], "format": "parquet"}])
    assert r.exit_code == 0, r.output
    assert ids(tmp_path) == sorted(["mail-0", "mail-1", "mail-2", "clean.jsonl:4", "mail-4",
                                    "17", "mixed.jsonl:3", "mixed.jsonl:4", "m-4", "p0", "t.parquet:1", "p2"])
    # id_field: false derives every id
    r = run(tmp_path, [{"paths": [str(tmp_path / "clean.jsonl")], "id_field": False}], "--fresh")
    assert r.exit_code == 0, r.output
    assert ids(tmp_path) == [f"clean.jsonl:{k}" for k in range(1, 6)]


def test_ids_that_repeat_fail_the_run_with_the_fix(tmp_path):
    (tmp_path / "a.jsonl").write_text("".join(json.dumps({"id": k % 3, "text": f"{k} {PROSE}"}) + "\n" for k in range(6)))
    r = run(tmp_path, [{"paths": [str(tmp_path / "a.jsonl")]}])
    assert r.exit_code == 2, r.output
    out = " ".join(r.output.split())
    assert "id '0' appears 2 times" in out and "id_field: false" in out
    assert not (tmp_path / "out/summary.json").exists()
    r = run(tmp_path, [{"paths": [str(tmp_path / "a.jsonl")], "id_field": False}], "--fresh")
    assert r.exit_code == 0, r.output
    assert len(ids(tmp_path)) == 6


def test_repeated_ids_without_a_global_step_are_reported_not_fatal(tmp_path):
    (tmp_path / "a.jsonl").write_text("".join(json.dumps({"id": k % 2, "text": f"{k} {PROSE}"}) + "\n" for k in range(4)))
    rec = tmp_path / "r.yaml"
    rec.write_text(yaml.safe_dump({"input": {"paths": [str(tmp_path / "a.jsonl")]}, "steps": [{"normalize": {}}],
                                   "output": {"path": str(tmp_path / "out")}}))
    r = CliRunner().invoke(app, ["run", str(rec), "-w", "1", "--no-report"])
    assert r.exit_code == 0, r.output
    out = " ".join(r.output.split())
    assert "warning:" in out and "id '0' appears 2 times" in out and "id_field: false" in out
    assert ids(tmp_path) == ["0", "0", "1", "1"]
