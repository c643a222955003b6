"""The HTML report: every number matches summary.json, the page is self-contained, and in a real
browser (Debian's chromium driven by Playwright) the charts render, the reason filter works and a
document full of script payloads runs nothing."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

from conftest import stdlib_docs, write_jsonl
from gristmill.report import html, plots

GRISTMILL = [sys.executable, "-m", "gristmill"]
XSS = ('Dear reader, this page is a trap. <script>window.__pwned = 1; alert("x")</script> '
       '<img src=x onerror="window.__pwned = 2"> <svg onload="window.__pwned=3"></svg> '
       '</script><script>window.__pwned=4</script> and a few more words.')  # short: rejected, so sampled
ARTIFACTS = Path(os.environ.get("GRISTMILL_TEST_ARTIFACTS", Path(__file__).resolve().parents[2] / "test-artifacts"))


def _corpus(tmp: Path) -> Path:
    docs = stdlib_docs(160)
    recs = [{"id": f"d{i}", "text": d["text"]} for i, d in enumerate(docs)]
    recs += [{"id": f"dup{i}", "text": docs[i]["text"]} for i in range(12)]  # exact duplicates
    recs += [{"id": f"short{i}", "text": f"buy now {i}"} for i in range(15)]
    recs += [{"id": f"fr{i}", "text": "Le chat est assis sur le tapis et regarde la fenêtre pendant que la pluie tombe doucement sur la ville. " * 3}
             for i in range(8)]
    recs += [{"id": "xss", "text": XSS}]
    data = tmp / "in"
    data.mkdir()
    write_jsonl(data / "a.jsonl", recs)
    (data / "a.jsonl").open("a").write("{not json\n")
    recipe = tmp / "r.yaml"
    recipe.write_text(f"""
inputs:
  - paths: ["{data}/a.jsonl"]
    id_field: id
steps:
  - language_id: {{languages: [en]}}
  - gopher_quality: {{min_doc_words: 50}}
  - exact_dedup: {{}}
output:
  path: {tmp}/out
  keep_rejected: true
""")
    return recipe


@pytest.fixture(scope="module")
def run_out(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("report")
    recipe = _corpus(tmp)
    r = subprocess.run(GRISTMILL + ["run", str(recipe), "-w", "1", "--no-progress"], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "report:" in r.stdout
    return tmp / "out"


class _Collect(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self.cards: dict[str, str] = {}
        self.srcs: list[str] = []
        self.hrefs: list[str] = []
        self._table = None
        self._row = None
        self._cell = None
        self._card = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "table":
            self._table = a.get("class", "")
            self.tables[self._table] = []
        elif tag == "tr" and self._table is not None:
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = ""
        elif tag == "b" and "data-k" in a:
            self._card = a["data-k"]
            self.cards[self._card] = ""
        if "src" in a:
            self.srcs.append(a["src"])
        if "href" in a:
            self.hrefs.append(a["href"])

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self._row.append(self._cell.strip())
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.tables[self._table].append(self._row)
            self._row = None
        elif tag == "table":
            self._table = None
        elif tag == "b":
            self._card = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell += data
        if self._card is not None:
            self.cards[self._card] += data


def _num(s: str) -> int:
    return int(s.replace(",", ""))


def test_report_numbers_match_summary(run_out):
    summary = json.loads((run_out / "summary.json").read_text())
    page = (run_out / "report.html").read_text()
    p = _Collect()
    p.feed(page)
    assert _num(p.cards["input"]) == summary["input"]
    assert _num(p.cards["kept"]) == summary["kept"]
    assert _num(p.cards["rejected"]) == sum(summary["rejected"].values())
    assert _num(p.cards["quarantined"]) == summary["quarantined"] >= 1
    reasons = {r[0]: _num(r[1]) for r in p.tables["reasons"][1:]}
    expect = dict(summary["rejected"])
    expect.update({f"quarantined/{k}": v for k, v in summary["quarantine_errors"].items()})
    assert reasons == expect
    funnel = p.tables["funnel"][1:]
    assert [r[0] for r in funnel] == ["read"] + [s["step"] for s in summary["steps"]]
    assert [_num(r[1]) for r in funnel[1:]] == [s["out"] for s in summary["steps"]]
    assert _num(funnel[-1][1]) == summary["kept"]
    steps = p.tables["steps"][1:]
    assert [(r[0], _num(r[1]), _num(r[2]), _num(r[3])) for r in steps] == \
        [(s["step"], s["in"], s["out"], s["rejected"]) for s in summary["steps"]]
    # sensitivity rows come from re-running select on stored columns: loosening min_doc_words admits some
    sens = {r[0]: r for r in p.tables["sens"][1:]}
    assert "gopher_quality.min_doc_words" in sens


def test_report_is_self_contained_and_escaped(run_out):
    page = (run_out / "report.html").read_text()
    p = _Collect()
    p.feed(page)
    assert p.srcs and all(s.startswith("data:image/svg+xml;base64,") for s in p.srcs)
    assert all(h.startswith("#") for h in p.hrefs)
    # the payload's markup never appears as markup: only the page's own script tag exists
    assert page.count("<script") == 2  # the JSON data block and the page's script
    assert "<img src=x" not in page and "<svg onload" not in page
    assert len(page) < 3_000_000


def test_report_command_and_labels(run_out, tmp_path):
    labels = tmp_path / "labels.jsonl"
    ids = [f"short{i}" for i in range(15)] + [f"d{i}" for i in range(100)]
    write_jsonl(labels, [{"id": i, "should": "drop" if i.startswith("short") else "keep"} for i in ids])
    r = subprocess.run(GRISTMILL + ["report", str(run_out), "--labels", str(labels)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    p = _Collect()
    p.feed((run_out / "report.html").read_text())
    truth = {row[0]: row for row in p.tables["truth"][1:]}
    row = truth["gopher_quality/too_few_words"]
    assert _num(row[2]) == 15 and row[4] == "100.0%"  # all 15 short docs removed, all labelled for removal
    bad = subprocess.run(GRISTMILL + ["report", str(tmp_path)], capture_output=True, text=True)
    assert bad.returncode == 2 and "no summary.json" in " ".join(bad.stderr.split())


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def test_report_in_a_real_browser(run_out):
    exe = _chromium()
    if exe is None:
        pytest.skip("Debian's chromium is not installed (.ci/run installs it with apt-get; it could not here)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("playwright is not installed (pip install playwright)")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    summary = json.loads((run_out / "summary.json").read_text())
    with sync_playwright() as pw:
        try:
            browser = pw.chromium.launch(executable_path=exe, args=["--no-sandbox", "--disable-gpu"])
        except Exception as e:  # noqa: BLE001
            pytest.skip(f"chromium could not start here: {e}")
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            dialogs: list[str] = []
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto((run_out / "report.html").resolve().as_uri())
            page.wait_for_selector("#sample-list .sample")
            # charts decoded and laid out
            w = page.eval_on_selector("#funnel-chart", "img => img.complete && img.naturalWidth")
            assert w and w > 100
            assert page.locator("table.funnel tbody tr").count() == len(summary["steps"]) + 1
            assert page.locator("table.reasons tbody tr").count() == len(summary["rejected"]) + len(summary["quarantine_errors"])
            # filter by a reason: only that reason shows
            reason = "gopher_quality/too_few_words"
            page.select_option("#f-reason", reason)
            shown = page.eval_on_selector_all("#sample-list .sample", "els => els.map(e => e.dataset.reason)")
            assert shown and set(shown) == {reason}
            # clicking a reason link in the table filters too
            page.select_option("#f-reason", "")
            page.click(f"a.reason-link[data-reason='language_id/wrong_language']")
            shown = page.eval_on_selector_all("#sample-list .sample", "els => els.map(e => e.dataset.reason)")
            assert shown and set(shown) == {"language_id/wrong_language"}
            # the payload document is visible as text and ran nothing
            page.select_option("#f-reason", "")
            page.fill("#f-search", "this page is a trap")
            text = page.inner_text("#sample-list")
            assert "<script>window.__pwned = 1" in text and "onerror" in text
            assert page.evaluate("typeof window.__pwned") == "undefined"
            assert dialogs == [] and errors == []
            page.fill("#f-search", "")
            page.screenshot(path=str(ARTIFACTS / "report.png"), full_page=True)
        finally:
            browser.close()
    assert (ARTIFACTS / "report.png").stat().st_size > 10_000


# Held-out QA: Held-out QA (qa branch): the duplicate-cluster chart lists its size bins in numeric order (summary.json sorts keys as strings, so "1001+" came first and "2" fourth) with whole-number ticks.


def test_cluster_size_bins_are_in_numeric_order(run_out, monkeypatch):
    seen = []
    real = plots.bar_chart

    def spy(labels, values, xlabel, **kw):  # records what the report plots, then plots it for real
        seen.append((xlabel, list(labels)))
        return real(labels, values, xlabel, **kw)

    monkeypatch.setattr(plots, "bar_chart", spy)
    html.write_report(run_out)
    bins = [labels for xlabel, labels in seen if xlabel == "clusters by size"]
    assert bins, seen
    for labels in bins:
        assert labels == ["2", "3-5", "6-10", "11-100", "101-1000", "1001+"], labels
