"""Decontamination precision through the CLI: labelled probes built from real text, the index's
precision and recall per benchmark, and the frequent-n-gram option that removes boilerplate flags."""
from __future__ import annotations

import json
import random

import pytest

from conftest import stdlib_docs, write_jsonl
from subprocess_cli import run_cli
from gristmill.annotate.contamination_probes import boilerplate

_cli = run_cli


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """Two benchmarks of real passages (stdlib docstrings); a third of their items carry licence
    text, a disclaimer, a quotation or a code idiom, as real benchmark items do. Hosts are other
    docstrings."""
    tmp = tmp_path_factory.mktemp("probes")
    docs = stdlib_docs(300, 60)
    rng = random.Random(3)
    bp = boilerplate()
    items = []
    for d in docs[:120]:
        w = d["text"].split()
        start = rng.randrange(0, max(1, len(w) - 45))
        t = " ".join(w[start:start + 45])
        if len(items) % 3 == 0:
            t = bp[len(items) % len(bp)]["text"] + "\n" + t
        items.append({"question": t, "answer": "A"})
    a = write_jsonl(tmp / "bench_a.jsonl", items[:60])
    b = write_jsonl(tmp / "bench_b.jsonl", items[60:])
    hosts = write_jsonl(tmp / "hosts.jsonl", [{"text": d["text"]} for d in docs[120:]])
    probes = tmp / "probes.jsonl"
    _cli("decontam", "probes", a, b, "--fields", "question", "--hosts", hosts, "-o", probes, "--per-benchmark", "15")
    return tmp, a, b, hosts, probes


def _eval(tmp, idx, probes) -> dict:
    return json.loads(_cli("decontam", "eval", idx, probes, "--json").stdout)


def test_probes_are_labelled_and_planted_in_real_text(setup):
    tmp, a, b, hosts, probes = setup
    rows = [json.loads(l) for l in probes.read_text().splitlines()]
    kinds = {(r["probe_label"], r["probe_kind"]) for r in rows}
    assert kinds == {("leak", "verbatim"), ("leak", "edited"), ("leak", "paraphrase"), ("clean", "boilerplate")}
    assert sum(r["probe_benchmark"] == "bench_a" and r["probe_kind"] == "verbatim" for r in rows) == 15
    assert len({r["id"] for r in rows}) == len(rows)
    host_texts = [json.loads(l)["text"] for l in hosts.read_text().splitlines()]
    assert all(any(h[:200] in r["text"] or h[-200:] in r["text"] for h in host_texts) for r in rows[:20])


def test_precision_and_recall_per_benchmark_with_and_without_frequent_ngrams(setup):
    tmp, a, b, hosts, probes = setup
    plain = tmp / "idx_plain"
    r = _cli("decontam", "index", a, b, "--fields", "question", "-o", plain, "--probes", probes)
    assert "precision" in r.stdout and "bench_a" in r.stdout
    ev = _eval(tmp, plain, probes)
    assert json.loads((plain / "meta.json").read_text())["probe_eval"]["benchmarks"] == ev["benchmarks"]
    for name in ("bench_a", "bench_b"):
        row = ev["benchmarks"][name]
        assert row["recall"] == 1.0  # verbatim and lightly edited leaks are all found
        assert row["recall_by_kind"]["paraphrase"] == 0.0  # the method's limit, reported, not hidden
    # boilerplate shared with benchmark items is flagged (an n-gram two benchmarks share belongs to
    # the first, so bench_a owns most of it)
    row = ev["benchmarks"]["bench_a"]
    assert row["precision"] < 0.6
    assert sum(c for s, c in row["false_positive_sources"].items() if not s.startswith("leak of")) >= 20
    assert ev["counters"]["contaminated_docs"] >= sum(r["flagged"] for r in ev["benchmarks"].values()) / 2

    # the corpus itself as the reference: boilerplate is in many of its documents, a leak in two
    filt = tmp / "idx_ref"
    r = _cli("decontam", "index", a, b, "--fields", "question", "-o", filt, "--reference", probes,
             "--reference", hosts, "--ignore-above", "2")
    assert "left out as frequent" in r.stdout
    ev2 = _eval(tmp, filt, probes)
    for name in ("bench_a", "bench_b"):
        before, after = ev["benchmarks"][name], ev2["benchmarks"][name]
        assert after["precision"] >= before["precision"] and after["precision"] >= 0.9
        assert after["recall"] >= 0.95
    assert ev2["benchmarks"]["bench_a"]["precision"] > ev["benchmarks"]["bench_a"]["precision"] + 0.3
    meta = json.loads((filt / "meta.json").read_text())
    assert meta["reference"]["ignored_ngrams"] > 0 and meta["reference"]["ignore_above"] == 2


def test_bad_probe_and_reference_files_fail_before_work(setup, tmp_path):
    tmp, a, b, hosts, probes = setup
    bad = write_jsonl(tmp_path / "bad.jsonl", [{"id": "x", "text": "hello"}])
    r = _cli("decontam", "index", a, "--fields", "question", "-o", tmp_path / "i", "--probes", bad, ok=False)
    assert r.returncode != 0 and "bad.jsonl line 1" in r.stdout + r.stderr and not (tmp_path / "i").exists()
    r = _cli("decontam", "index", a, "--fields", "question", "-o", tmp_path / "j", "--reference", a, ok=False)
    assert r.returncode != 0 and "--reference-field" in r.stdout + r.stderr
    r = _cli("decontam", "probes", a, "--fields", "question", "--hosts", a, "-o", tmp_path / "p.jsonl", ok=False)
    assert r.returncode != 0 and "host" in (r.stdout + r.stderr).lower()


def test_the_dataset_card_states_the_measured_precision(setup, tmp_path):
    """A run that decontaminates with a probed index: its card gives precision and recall per
    benchmark beside the contamination counters, and the frequent-n-gram setting."""
    tmp, a, b, hosts, probes = setup
    idx = tmp_path / "idx"
    _cli("decontam", "index", a, b, "--fields", "question", "-o", idx, "--reference", probes, "--ignore-above", "2",
         "--probes", probes)
    ev = json.loads((idx / "meta.json").read_text())["probe_eval"]["benchmarks"]
    recipe = tmp_path / "r.yaml"
    recipe.write_text(f"""
input: {{paths: ["{probes}"], id_field: id}}
steps:
  - decontaminate: {{index: "{idx}", action: drop}}
output: {{path: "{tmp_path}/out"}}
""")
    _cli("run", recipe, "-w", "1", "--no-report", "--no-progress")
    _cli("card", tmp_path / "out")
    card = (tmp_path / "out" / "README.md").read_text()
    section = card.split("## Decontamination", 1)[1].split("\n## ", 1)[0]
    assert "documents matched" in section  # the counters
    for name in ("bench_a", "bench_b"):
        assert f"{name}: precision {ev[name]['precision']:.3f}, recall {ev[name]['recall']:.3f}" in section
    assert "more than 2 of" in section and "left out of the index" in section
