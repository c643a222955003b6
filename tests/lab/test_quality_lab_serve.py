"""`gristmill quality annotate` against a real lab model behind `gristmill lab serve` (issue 12: the
annotation loop tested end to end against gristmill's own OpenAI-compatible server). The model is
trained for seconds, so it rarely writes "Educational score: N": every sampled document must still
be a row, with a score or the reason it has none, and the reply the model really gave."""
from __future__ import annotations

import json
import subprocess
import sys

import yaml
from typer.testing import CliRunner

from conftest import stdlib_docs, write_jsonl
from gristmill.cli import app
from gristmill.synth.selfplay import served


def test_quality_annotate_against_lab_serve(tmp_path):
    docs = [{"id": f"d{i}", "text": d["text"]} for i, d in enumerate(stdlib_docs(40))]
    write_jsonl(tmp_path / "docs.jsonl", docs)
    # a tiny model that has seen rubric-shaped text, trained in seconds
    write_jsonl(tmp_path / "train.jsonl", [{"text": d["text"][:400] + "\nEducational score: 3\n"} for d in docs])
    (tmp_path / "cfg.yaml").write_text(yaml.safe_dump({"model": {"preset": "tiny", "n_layer": 2, "d_model": 64, "n_head": 2},
                                                      "data": ["train.jsonl"], "seq_len": 96, "batch_size": 16,
                                                      "tokens": 20000, "threads": 1}))
    r = CliRunner().invoke(app, ["lab", "train", str(tmp_path / "cfg.yaml"), "-o", str(tmp_path / "run")])
    assert r.exit_code == 0, r.output
    with served(tmp_path / "run", "tiny") as base:
        p = subprocess.run([sys.executable, "-m", "gristmill", "quality", "annotate", str(tmp_path / "docs.jsonl"),
                            "--endpoint", base, "--model", "tiny", "-o", str(tmp_path / "ann"), "--sample", "6",
                            "--timeout", "120", "--retries", "0", "--concurrency", "2"], capture_output=True, text=True)
    assert p.returncode in (0, 1), p.stderr  # 1: nothing scored, said loudly
    rows = [json.loads(x) for x in (tmp_path / "ann" / "annotations.jsonl").read_text().splitlines()]
    assert len(rows) == 6 and len({r["id"] for r in rows}) == 6
    for row in rows:
        assert (row["score"] is not None) != (row["reason"] is not None), row
        assert row["reason"] in (None, "unparseable"), row  # the server answered every request
        assert isinstance(row["reply"], str)
    s = json.loads((tmp_path / "ann" / "summary.json").read_text())
    assert s["scored"] + sum(s["failed"].values()) == 6
