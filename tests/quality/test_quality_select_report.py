"""Issue 20 item 9: `quality_select report:` printed nothing after the colon (its report is a
mapping of thresholds). Run through the CLI with a real trained model."""
from __future__ import annotations

import json
import random

from typer.testing import CliRunner

from conftest import stdlib_docs, write_jsonl
from gristmill.annotate.quality import QualityScore
from gristmill.cli import app


def _run(tmp_path, select: str):
    model = QualityScore.example_steps(tmp_path)[0]["quality_score"]["model"]
    rng = random.Random(0)
    docs = [{"id": f"p{i}", "text": d["text"]} for i, d in enumerate(stdlib_docs(60))]
    junk = [{"id": f"j{i}", "text": "".join(rng.choice("qwxzjk!$ 0123") for _ in range(300))} for i in range(40)]
    write_jsonl(tmp_path / "prose.jsonl", docs)
    write_jsonl(tmp_path / "junk.jsonl", junk)
    (tmp_path / "r.yaml").write_text(f"""
inputs:
  - paths: ["{tmp_path}/prose.jsonl"]
  - paths: ["{tmp_path}/junk.jsonl"]
steps:
  - quality_score: {{model: "{model}"}}
  - quality_select: {select}
output:
  path: {tmp_path}/out
""")
    r = CliRunner().invoke(app, ["run", str(tmp_path / "r.yaml"), "-w", "1", "--no-progress", "--no-report"], env={"COLUMNS": "200"})
    assert r.exit_code == 0, r.output
    return r.output, json.loads((tmp_path / "out/summary.json").read_text())


def test_top_percent_report_names_the_threshold(tmp_path):
    out, s = _run(tmp_path, "{top_percent: 50}")
    flat = " ".join(out.split())  # the console wraps at its width
    line = flat[flat.index("quality_select report:"):]
    rep = s["reports"]["quality_select"]
    assert line.split("report:", 1)[1].strip().startswith("rule="), line
    assert "rule=top_percent=50" in line and f"thresholds[all]={rep['thresholds']['*']:.6g}" in line
    assert "scored[all]=100" in line


def test_per_source_report_lists_each_source(tmp_path):
    out, s = _run(tmp_path, "{top_percent: 20, per_source: true}")
    flat = " ".join(out.split())  # the console wraps at its width
    line = flat[flat.index("quality_select report:"):]
    for src, thr in s["reports"]["quality_select"]["thresholds"].items():
        assert f"thresholds[{src}]={thr:.6g}" in line
    assert "scored[prose]=60" in line and "scored[junk]=40" in line
    r = CliRunner().invoke(app, ["stats", str(tmp_path / "out")], env={"COLUMNS": "200"})
    assert "thresholds[prose]=" in r.output
