"""Issue 20 items 2 and 3: on a multi-source recipe, every step counts the same population (what
reached it), a step limited by ``sources:`` also says what it saw, and every source has its own
ledger (input, kept, rejected, quarantined, bytes, top reasons) in summary.json, `gristmill stats`
and the report. Run through the real CLI on real files."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

from conftest import stdlib_docs, write_jsonl

GRISTMILL = [sys.executable, "-m", "gristmill"]
N_MAIL, N_SHORT, N_PAGES, N_EMPTY = 60, 25, 40, 9


def _recipe(tmp: Path) -> Path:
    docs = stdlib_docs(N_MAIL + N_PAGES)
    mail = [{"id": f"m{i}", "text": d["text"]} for i, d in enumerate(docs[:N_MAIL])]
    mail += [{"id": f"s{i}", "text": f"thanks, see you at {i}"} for i in range(N_SHORT)]
    write_jsonl(tmp / "mail.jsonl", mail)
    with open(tmp / "mail.jsonl", "a") as f:
        f.write("{this line is not json\n")  # quarantined while reading: belongs to the mail source
    pages = []
    for i, d in enumerate(docs[N_MAIL:]):
        paras = "".join(f"<p>{p}</p>" for p in d["text"].split("\n\n"))
        pages.append({"id": f"p{i}", "text": "", "html": f"<html><body><nav><a href='/'>Home</a></nav><main>{paras}</main></body></html>"})
    pages += [{"id": f"e{i}", "text": "", "html": "<html><body><nav><a href='/'>Home</a></nav></body></html>"} for i in range(N_EMPTY)]
    write_jsonl(tmp / "pydocs.jsonl", pages)
    r = tmp / "r.yaml"
    r.write_text(f"""
inputs:
  - paths: ["{tmp}/mail.jsonl"]
    source: mail
    id_field: id
  - paths: ["{tmp}/pydocs.jsonl"]
    source: pydocs
    id_field: id
    fields: [html]
steps:
  - html_extract: {{sources: [pydocs]}}
  - normalize: {{}}
  - language_id: {{sources: [mail]}}
  - gopher_quality: {{sources: [mail]}}
  - exact_dedup: {{}}
output:
  path: {tmp}/out
  keep_rejected: true
""")
    return r


@pytest.fixture(scope="module")
def run_out(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("sources")
    r = subprocess.run(GRISTMILL + ["run", str(_recipe(tmp)), "-w", "2", "--no-progress"], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    return tmp / "out"


def test_every_step_counts_the_same_population(run_out):
    s = json.loads((run_out / "summary.json").read_text())
    steps = s["steps"]
    read_rejected = sum(n for k, n in s["rejected"].items() if k.startswith("read/"))
    assert steps[0]["in"] == s["input"] - s["quarantined"] - read_rejected == N_MAIL + N_SHORT + N_PAGES + N_EMPTY
    for a, b in zip(steps, steps[1:]):
        assert b["in"] == a["out"], (a, b)
    assert steps[-1]["out"] == s["kept"]
    for st in steps:
        assert st["rejected"] == st["in"] - st["out"] - st["step_errors"]
        assert st["rejected"] == sum(n for k, n in s["rejected"].items() if k.split("/")[0] == st["step"])
    html, norm, lang, gopher, dedup = steps
    # what a scoped step saw: its own sources only, the rest passed it untouched
    assert html["sources"] == ["pydocs"] and html["scope_in"] == N_PAGES + N_EMPTY
    assert html["scope_in"] - html["scope_out"] == html["rejected"] >= N_EMPTY
    assert lang["sources"] == gopher["sources"] == ["mail"] and lang["scope_in"] == N_MAIL + N_SHORT
    assert gopher["scope_in"] == lang["scope_out"]
    assert "sources" not in norm and "sources" not in dedup


def test_per_source_ledger_in_summary(run_out):
    s = json.loads((run_out / "summary.json").read_text())
    src = s["sources"]
    assert set(src) == {"mail", "pydocs"}
    assert src["mail"]["input"] == N_MAIL + N_SHORT + 1 and src["mail"]["quarantined"] == 1
    assert src["pydocs"]["input"] == N_PAGES + N_EMPTY and src["pydocs"]["quarantined"] == 0
    for e in src.values():
        assert e["input"] == e["kept"] + e["rejected"] + e["quarantined"]
        assert sum(e["top_reasons"].values()) + e["other_reasons"] == e["rejected"]
        assert e["bytes_in"] > e["bytes_kept"] > 0
    for k in ("input", "kept", "quarantined"):
        assert sum(e[k] for e in src.values()) == s[k]
    assert sum(e["rejected"] for e in src.values()) == sum(s["rejected"].values())
    # reasons belong to the source that suffered them: html extraction only ever saw pages
    assert all(not r.startswith("html_extract/") for r in src["mail"]["top_reasons"])
    assert src["pydocs"]["top_reasons"].get("html_extract/empty_extraction", 0) >= N_EMPTY
    assert src["mail"]["top_reasons"].get("gopher_quality/too_few_words", 0) >= N_SHORT
    # bytes in of the pages are their HTML as read, bytes kept the text as written
    kept_bytes = {}
    import pyarrow.parquet as pq
    import pyarrow.compute as pc
    for p in (run_out / "data").glob("*.parquet"):
        t = pq.read_table(p, columns=["source", "text"])
        for name in ("mail", "pydocs"):
            sub = t.filter(pc.equal(t.column("source"), name))
            kept_bytes[name] = kept_bytes.get(name, 0) + int(pc.sum(pc.binary_length(sub.column("text"))).as_py() or 0)
    assert {k: e["bytes_kept"] for k, e in src.items()} == kept_bytes


def test_stats_prints_per_source(run_out):
    r = subprocess.run(GRISTMILL + ["stats", str(run_out)], capture_output=True, text=True, env={**os.environ, "COLUMNS": "220"})
    assert r.returncode == 0, r.stderr
    s = json.loads((run_out / "summary.json").read_text())
    table = r.stdout[r.stdout.index("by source"):]
    for name, e in s["sources"].items():
        line = next(l for l in table.splitlines() if f" {name} " in l)
        assert f"{e['input']:,}" in line and f"{e['kept']:,}" in line
        top = next(iter(e["top_reasons"]))
        assert top in line
    assert "scope" in r.stdout and "pydocs" in r.stdout[r.stdout.index("steps"):]


class _Tables(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self.cur = self.cell = None

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.cur = self.tables.setdefault(dict(attrs).get("class", ""), [])
        elif tag == "tr" and self.cur is not None:
            self.cur.append([])
        elif tag in ("td", "th") and self.cur is not None:
            self.cell = ""

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self.cell is not None:
            self.cur[-1].append(self.cell.strip())
            self.cell = None
        elif tag == "table":
            self.cur = None

    def handle_data(self, data):
        if self.cell is not None:
            self.cell += data


def test_report_funnel_and_sources(run_out):
    s = json.loads((run_out / "summary.json").read_text())
    p = _Tables()
    p.feed((run_out / "report.html").read_text())
    funnel = p.tables["funnel"][1:]
    docs = [int(r[1].replace(",", "")) for r in funnel]
    assert docs == sorted(docs, reverse=True), funnel  # no dip and recovery
    assert all(not r[2].startswith("-") and "−" not in r[2] for r in funnel)
    assert [r[0] for r in funnel] == ["read"] + [st["step"] for st in s["steps"]]
    html_row = funnel[1]
    st = s["steps"][0]
    assert html_row[3] == "pydocs" and html_row[4] == f"{st['scope_in']:,} → {st['scope_out']:,}"
    assert int(html_row[2].replace(",", "")) == st["rejected"]
    rows = {r[0]: r for r in p.tables["sources"][1:]}
    for name, e in s["sources"].items():
        assert rows[name][1:6] == [f"{e['input']:,}", f"{e['kept']:,}", f"{100 * e['kept'] / e['input']:.1f}%",
                                   f"{e['rejected']:,}", f"{e['quarantined']:,}"]
        assert next(iter(e["top_reasons"])) in rows[name][8]


def test_demo_recipe_source_limited_steps_count_like_the_others(tmp_path):
    """The packaged demo recipe limits language_id and three rule families to `web`: they count
    every document that reached them, and say what they saw within web."""
    import yaml

    from gristmill.demo import build_demo_corpus

    corpus = tmp_path / "c"
    build_demo_corpus(corpus, n_docs=600)
    recipe = yaml.safe_load((Path(__file__).resolve().parents[2] / "recipes" / "demo.yaml").read_text())
    for inp in recipe["inputs"]:
        inp["paths"] = [str(corpus / p) for p in inp["paths"]]
    recipe["output"]["path"] = str(tmp_path / "out")
    (tmp_path / "demo.yaml").write_text(yaml.safe_dump(recipe))
    r = subprocess.run(GRISTMILL + ["run", str(tmp_path / "demo.yaml"), "-w", "2", "--no-progress", "--no-report"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    s = json.loads((tmp_path / "out" / "summary.json").read_text())
    steps = s["steps"]
    for a, b in zip(steps, steps[1:]):
        assert b["in"] == a["out"], (a, b)
    assert steps[-1]["out"] == s["kept"]
    lang = next(st for st in steps if st["step"] == "language_id")
    web = s["sources"]["web"]["input"] - s["sources"]["web"]["quarantined"]
    assert lang["sources"] == ["web"] and lang["in"] == steps[0]["out"] and lang["scope_in"] <= web < lang["in"]
    for e in s["sources"].values():
        assert e["input"] == e["kept"] + e["rejected"] + e["quarantined"]


def test_select_keeps_the_per_source_ledger(run_out, tmp_path):
    r = subprocess.run(GRISTMILL + ["select", str(run_out), "-o", str(tmp_path / "re"), "--set", "gopher_quality.min_doc_words=20"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    s = json.loads((tmp_path / "re" / "summary.json").read_text())
    src = json.loads((run_out / "summary.json").read_text())["sources"]
    assert set(s["sources"]) == set(src)
    for name, e in s["sources"].items():
        assert e["input"] == src[name]["input"] and e["quarantined"] == src[name]["quarantined"]
        assert e["input"] == e["kept"] + e["rejected"] + e["quarantined"]
        assert e["bytes_in"] == src[name]["bytes_in"]
    assert s["sources"]["mail"]["kept"] >= src["mail"]["kept"]  # a lower minimum keeps at least as many
    for a, b in zip(s["steps"], s["steps"][1:]):
        assert b["in"] == a["out"]
