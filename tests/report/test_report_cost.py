"""Issue 24 part 2: the report is cheap enough to write after every run. Checked by what it does,
not by the clock: no matplotlib (its import and layout cost more than the curation of 4,000
documents), each chart a well-formed SVG with its labels escaped, words counted exactly, and the
sample drawn per reason from arrays (a bounded number per reason, each with its true reason)."""
from __future__ import annotations

import base64
import json
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from conftest import stdlib_docs, write_jsonl

GRISTMILL = [sys.executable, "-m", "gristmill"]


@pytest.fixture(scope="module")
def out(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cost")
    docs = stdlib_docs(200)
    # leading/trailing and repeated whitespace: a word count that splits into lists counts empties
    recs = [{"id": f"d{i}", "text": f"  {d['text']}\n\n  "} for i, d in enumerate(docs)]
    recs += [{"id": f"s{i}", "text": f" tiny <script>x</script> {i} "} for i in range(130)]
    write_jsonl(tmp / "a.jsonl", recs)
    (tmp / "r.yaml").write_text(f"""
inputs:
  - paths: ["{tmp}/a.jsonl"]
    id_field: id
steps:
  - gopher_quality: {{min_doc_words: 50}}
  - min_length: {{min_words: 120}}
output:
  path: {tmp}/out
  batch_rows: 50
""")
    r = subprocess.run(GRISTMILL + ["run", str(tmp / "r.yaml"), "-w", "1", "--no-progress", "--no-report"], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    return tmp / "out"


def test_report_does_not_import_matplotlib(out):
    code = ("import sys; from pathlib import Path; from gristmill.report.html import write_report; "
            f"write_report(Path({str(out)!r})); print('matplotlib' in sys.modules)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "False"


def test_charts_are_well_formed_svg_with_escaped_labels(out):
    from gristmill.report.html import write_report

    page = write_report(out).read_text()
    srcs = re.findall(r"src='(data:image/[^']+)'", page)
    assert len(srcs) >= 4
    summary = json.loads((out / "summary.json").read_text())
    texts = []
    for s in srcs:
        assert s.startswith("data:image/svg+xml;base64,")
        root = ET.fromstring(base64.b64decode(s.split(",", 1)[1]))  # raises on malformed XML
        assert root.tag.endswith("svg")
        assert not [e for e in root.iter() if e.tag.endswith("script") or any(a.startswith("on") for a in e.attrib)]
        texts.append(" ".join(t.text or "" for t in root.iter() if t.tag.endswith("text")))
    funnel = next(t for t in texts if "documents remaining after each step" in t)
    assert "gopher_quality" in funnel and "min_length" in funnel and f"{summary['kept']:,}" in funnel
    reasons = next(t for t in texts if "gopher_quality/too_few_words" in t)
    assert f"{summary['rejected']['gopher_quality/too_few_words']:,}" in reasons


def test_funnel_words_and_bytes_are_exact(out):
    from gristmill.report.collect import collect

    rep = collect(out)
    words = nbytes = 0
    for p in sorted((out / "data").glob("*.parquet")):
        for t in pq.read_table(p, columns=["text"]).column("text").to_pylist():
            words += len(t.split())
            nbytes += len(t.encode())
    assert rep.funnel[-1]["words"] == words and rep.funnel[-1]["bytes"] == nbytes
    first = 0
    for sub in ("data", "rejected"):
        for p in sorted((out / sub).glob("*.parquet")):
            first += sum(len(t.split()) for t in pq.read_table(p, columns=["text"]).column("text").to_pylist())
    assert rep.funnel[0]["words"] == first


def test_samples_bounded_per_reason_with_their_true_reason(out):
    from gristmill.report.collect import collect

    summary = json.loads((out / "summary.json").read_text())
    reason_of = {}
    for p in sorted((out / "rejected").glob("*.parquet")):
        t = pq.read_table(p, columns=["id", "reject_reason"])
        reason_of.update(zip(t.column("id").to_pylist(), t.column("reject_reason").to_pylist()))
    rep = collect(out, sample_per_reason=7, sample_kept=5, seed=3)
    rej = [s for s in rep.samples if s["outcome"] == "rejected"]
    for reason, n in summary["rejected"].items():
        mine = [s for s in rej if s["reason"] == reason]
        assert len(mine) == min(7, n), reason
        assert len({s["id"] for s in mine}) == len(mine)
    assert all(reason_of[s["id"]] == s["reason"] for s in rej)
    kept = [s for s in rep.samples if s["outcome"] == "kept"]
    assert len(kept) == min(5, summary["kept"]) and not {s["id"] for s in kept} & set(reason_of)
    # the same seed draws the same sample
    again = collect(out, sample_per_reason=7, sample_kept=5, seed=3)
    assert [s["id"] for s in again.samples] == [s["id"] for s in rep.samples]
