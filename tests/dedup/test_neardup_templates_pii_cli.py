"""Near-duplicate precision on template-like text, and PII redaction in many real-world formats,
both through the real readers and the `gristmill run` CLI.

Template-like documents (newsletters, spam, digests) share a long template but are different
documents; successive issues of a digest share most of their text with their neighbours and little
with issues further away. Pure connected components over LSH pairs chain them into one cluster;
the default star clustering over verified pairs must not. The text is real prose (stdlib
docstrings), the formats are real-world ones.
"""
from __future__ import annotations

import gzip
import itertools
import json
import random
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from conftest import stdlib_docs, write_jsonl
from gristmill.dedup._normalize import simplify_text
from gristmill.dedup._shingle import shingle_hashes
from gristmill.dedup._star import edge_jaccard, star_clusters, unique_sets
from gristmill.step import get_step

GRISTMILL = [sys.executable, "-m", "gristmill.cli"]


def _shingles(text: str) -> set:
    w = simplify_text(text).split()
    return {tuple(w[i : i + 5]) for i in range(max(len(w) - 4, 1))}


def _j(a: set, b: set) -> float:
    return len(a & b) / len(a | b)


def _template_corpus(seed: int = 3) -> tuple[list[dict], dict[str, str]]:
    """Records and each record's family (records of one family are near-duplicates)."""
    rng = random.Random(seed)
    texts = [d["text"] for d in stdlib_docs(300, 60)]
    words = " ".join(texts).split()
    recs, fam = [], {}
    # 1) one long template (a newsletter), 24 issues with different real fillers (J ~0.35-0.7)
    tpl = " ".join(words[:260])
    for k in range(24):
        start = 2000 + k * 400
        fill = " ".join(words[start : start + rng.randint(60, 240)])
        recs.append({"id": f"t{k}", "text": f"Weekly digest. Unsubscribe any time.\n\n{tpl}\n\nThis week: {fill}"})
    # 2) a rolling digest: issue k shows sections k..k+6 (neighbours J ~0.75, three apart < 0.5)
    secs = [" ".join(words[12000 + 70 * i : 12000 + 70 * (i + 1)]) for i in range(30)]
    for k in range(20):
        recs.append({"id": f"r{k}", "text": "Latest posts\n\n" + "\n\n".join(secs[k : k + 7])})
    for r in recs:
        fam[r["id"]] = r["id"]
    # 3) planted near-duplicates: a resent issue with a few edits, a copy with a new header
    for k in (2, 9, 17):
        w = recs[k]["text"].split(" ")
        for _ in range(3):
            w[rng.randrange(len(w))] = "edited"
        recs.append({"id": f"t{k}-edit", "text": " ".join(w)})
        fam[f"t{k}-edit"] = f"t{k}"
    recs.append({"id": "r5-copy", "text": "Forwarded message\n\n" + recs[24 + 5]["text"]})
    fam["r5-copy"] = "r5"
    rng.shuffle(recs)
    return recs, fam


def _run_cli(tmp_path: Path, name: str, inputs: list[dict], steps: list[dict]) -> Path:
    out = tmp_path / f"out_{name}"
    rec = tmp_path / f"{name}.yaml"
    rec.write_text(yaml.safe_dump({"inputs": inputs, "steps": steps, "output": {"path": str(out), "keep_rejected": True}},
                                  sort_keys=False))
    r = subprocess.run([*GRISTMILL, "run", str(rec), "--workers", "1"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-3000:]
    return out


def _clusters(out: Path) -> dict[str, str]:
    cl = {}
    for p in list((out / "data").glob("*.parquet")) + list((out / "rejected").glob("*.parquet")):
        t = pq.read_table(p, columns=["id", "dup_cluster"])
        cl.update(zip(t["id"].to_pylist(), t["dup_cluster"].to_pylist()))
    return cl


@pytest.fixture(scope="module")
def template_corpus():
    return _template_corpus()


def test_templates_are_not_chained_into_clusters_by_default(tmp_path, template_corpus):
    recs, fam = template_corpus
    sh = {r["id"]: _shingles(r["text"]) for r in recs}
    pairs = list(itertools.combinations(sorted(sh), 2))
    js = {p: _j(sh[p[0]], sh[p[1]]) for p in pairs}
    assert sum(j < 0.5 for j in js.values()) > 300 and sum(0.6 <= j < 0.8 for j in js.values()) > 20  # the chain links
    half = len(recs) // 2
    src = tmp_path / "in"
    src.mkdir()
    write_jsonl(src / "a.jsonl", recs[:half])
    write_jsonl(src / "b.jsonl.gz", recs[half:], opener=gzip.open)
    inputs = [{"paths": [str(src)], "format": "jsonl", "id_field": "id"}]

    def bad_and_missed(cl):
        same = {p for p in pairs if cl[p[0]] == cl[p[1]]}
        bad = [p for p in same if js[p] < 0.5]
        missed = [p for p in pairs if js[p] >= 0.8 and p not in same]
        return bad, missed

    # the old behaviour (LSH pairs, connected components) chains different documents together
    old = _clusters(_run_cli(tmp_path, "old", inputs, [{"minhash_dedup": {"verify_jaccard": False, "clustering": "components"}}]))
    assert len(bad_and_missed(old)[0]) > 20
    # the defaults: no pair below J = 0.5 shares a cluster, and every planted near-duplicate is found
    out = _run_cli(tmp_path, "new", inputs, [{"minhash_dedup": {}}])
    cl = _clusters(out)
    bad, missed = bad_and_missed(cl)
    assert bad == [] and missed == []
    for i, f in fam.items():
        if f != i:
            assert cl[i] == cl[f]
    # star property: every cluster has a member within J >= 0.75 (the threshold) of all the others
    members: dict[str, list[str]] = {}
    for i, c in cl.items():
        members.setdefault(c, []).append(i)
    groups = [m for m in members.values() if len(m) > 1]
    assert groups and all(any(all(x == c or _j(sh[x], sh[c]) >= 0.75 for x in m) for c in m) for m in groups)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["rejected"]["minhash_dedup/near_duplicate"] == sum(len(m) - 1 for m in groups)
    assert summary["input"] == summary["kept"] + sum(summary["rejected"].values())
    lock = yaml.safe_load((out / "recipe.lock.yaml").read_text())
    assert "star" in json.dumps(lock) and "0.75" in json.dumps(lock)


def test_star_clusters_center_on_the_best_connected_document():
    # a chain 0-1-2-3-4 of similar pairs: connected components would give one cluster
    edges = [(0, 1), (1, 2), (2, 3), (3, 4)]
    sim = [0.8, 0.8, 0.8, 0.8]
    labels = star_clusters(6, edges, lambda nodes: [0.0] * len(nodes), sim)
    assert labels.tolist() == [1, 1, 1, 3, 3, 5]  # centers 1 and 3 (most pairs, earliest first)
    # an earlier (fixed) node is always a center, and a new node joins its most similar center
    labels = star_clusters(4, [(0, 1), (1, 3), (2, 3)], lambda n: [0.0] * len(n), [0.9, 0.95, 0.8], fixed_from=3)
    assert labels[3] == 3 and labels[1] == 3 and labels[2] == 3
    # "keep" centers: the kept document (smallest priority) is the center
    labels = star_clusters(3, [(0, 1), (1, 2)], lambda n: [2.0, 0.0, 1.0], None, centers="keep")
    assert labels.tolist() == [1, 1, 1]


def test_edge_jaccard_matches_python_sets():
    docs = [simplify_text(d["text"]) for d in stdlib_docs(40, 60)]
    rng = random.Random(0)
    docs += [" ".join(w if rng.random() > 0.05 else "x" for w in d.split()) for d in docs[:10]] + ["", "a b"]
    sets, offs = unique_sets(*shingle_hashes(docs, 5))
    pairs = [(i, j) for i in range(len(docs)) for j in range(len(docs)) if i < j and (j - i) % 7 in (0, 1)]
    pairs += [(i, 40 + i) for i in range(10)]
    got = edge_jaccard(pairs, sets, offs, chunk=5000)
    for (a, b), j in zip(pairs, got):
        sa, sb = _shingles(docs[a]) if docs[a] else set(), _shingles(docs[b]) if docs[b] else set()
        want = len(sa & sb) / len(sa | sb) if sa | sb else 0.0
        assert abs(j - want) < 1e-9, (a, b, j, want)


# ---------------------------------------------------------------- PII

P, E, I = "<PHONE_NUMBER>", "<EMAIL>", "<IP_ADDRESS>"
# (text, the same text redacted)
PII_CASES = [
    ("Call 817-271-9807 24 hours a day.", f"Call {P} 24 hours a day."),
    ("Call 1(800) 827-5722 today.", f"Call {P} today."),
    ("Phone-817-271-9807 is mine.", f"Phone-{P} is mine."),
    ("Tel.: +44 (0)20 7946 0958, Fax +49 30 901820.", f"Tel.: {P}, Fax {P}."),
    ("Reach us at (212) 736-3100 ext. 204 or 212.736.3101.", f"Reach us at {P} or {P}."),
    ("WhatsApp: +91 98765 43210; office 0033 1 42 68 53 00.", f"WhatsApp: {P}; office {P}."),
    ("Typeset: 617\u2013253\u20131000 and (+33) 1 42 68 53 00.", f"Typeset: {P} and {P}."),
    ("id 4152613880; call 4152613880 now", f"id 4152613880; call {P} now"),
    ("Mail jane.doe+news@mail.example.co.uk or <OMAR@ACME-CORP.COM>.", f"Mail {E} or <{E}>."),
    ("Blocked 8.8.4.4 and 2606:4700:4700::1111 at 12:30:45.", f"Blocked {I} and {I} at 12:30:45."),
]
# hard negatives: nothing in them may change
NEGATIVES = [
    "Released 2024-03-15, updated 03/15/2024 and 15.03.2024; the 1999-2001 series.",
    "It costs $1,299.99 (was USD 4,500.00, or 1 299,00 EUR).",
    "Python 3.11.7, v2.4.10, version 8.8.8.8 of the schema, build 10.0.19041.1.",
    "ISBN 978-3-16-148410-0, ISBN-13: 978 0 306 40615 7, ISBN 0-306-40615-2.",
    "From 9:30-17:00, at 14:05 and T12:30:45Z.",
    "Order #123-4567890-1234567, INV-2024-000123, PO 4500012345, ticket 2024-0042-117, SKU 123-456-78.",
    "At 40.7128, -74.0060 (40.7128\u00b0 N, 74.0060\u00b0 W), ZIP 94103-1234, pages 123-145, 1920 x 1080.",
    "Private hosts 127.0.0.1, 10.0.0.1, 192.168.1.1 and ::1 stay.",
]


def test_pii_formats_through_the_cli_and_readers(tmp_path):
    prose = [d["text"].split("\n\n")[0] for d in stdlib_docs(40, 60)]
    rng = random.Random(1)
    cases = PII_CASES + [(n, n) for n in NEGATIVES]
    recs, want = [], {}
    for k, (case, redacted) in enumerate(cases):
        before, after = rng.choice(prose), rng.choice(prose)
        recs.append({"id": f"d{k}", "text": f"{before}\n\n{case}\n\n{after}"})
        want[f"d{k}"] = f"{before}\n\n{redacted}\n\n{after}"
    # half as parquet, half as a directory of text files: both readers
    half = len(recs) // 2
    pq.write_table(pa.table({"id": [r["id"] for r in recs[:half]], "text": [r["text"] for r in recs[:half]]}),
                   tmp_path / "a.parquet")
    tdir = tmp_path / "txt"
    tdir.mkdir()
    for r in recs[half:]:
        (tdir / f"{r['id']}.txt").write_text(r["text"], encoding="utf-8")
    out = _run_cli(tmp_path, "pii", [{"paths": [str(tmp_path / "a.parquet")], "format": "parquet", "id_field": "id"},
                                     {"paths": [str(tdir)], "format": "text"}], [{"pii": {}}])
    got = pq.read_table(out / "data").to_pylist()
    assert len(got) == len(recs)
    for row in got:
        key = row["id"] if row["id"] in want else Path(row["id"].split(":")[0]).stem  # text reader ids name the file
        assert row["text"] == want[key], key
    summary = json.loads((out / "summary.json").read_text())
    assert summary["kept"] == len(recs)
    n = {k: sum(r.count(v) for _, r in PII_CASES) for k, v in (("phone_number", P), ("email", E), ("ip_address", I))}

    def counters(d):
        if isinstance(d, dict):
            if "phone_number" in d:
                return d
            for v in d.values():
                if (found := counters(v)) is not None:
                    return found
        return None

    c = counters(summary)
    assert {k: c[k] for k in n} == n and n["phone_number"] == 12


def test_pii_obfuscated_emails_are_an_option():
    cls = get_step("pii")
    text = "Write to john.smith at gmail dot com, j [at] acme-corp [dot] org or k(at)web(dot)de. We met at noon. Look at it."
    assert cls(cls.Config()).redact(text)[0] == text
    red, counts = cls(cls.Config(obfuscated_emails=True)).redact(text)
    assert red == "Write to <EMAIL>, <EMAIL> or <EMAIL>. We met at noon. Look at it."
    assert counts["email"] == 3
    with pytest.raises(Exception, match="phone_region: unknown region 'uk'.*did you mean 'GB'"):
        cls.Config(phone_region="uk")
    assert cls.Config(phone_region="gb").phone_region == "GB"


def test_a_huge_bucket_of_copies_stays_one_cluster_with_linear_pairs(tmp_path):
    docs = [d["text"] for d in stdlib_docs(30, 60)]
    texts = [docs[0]] * 1500 + docs[1:]
    p = tmp_path / "a.parquet"
    pq.write_table(pa.table({"id": [str(i) for i in range(len(texts))], "text": texts}), p)
    from gristmill.step import FitContext

    cls = get_step("minhash_dedup")
    step = cls(cls.Config())
    step.fit(FitContext(shards=[p], workdir=tmp_path / "wd", workers=1, log=lambda m: None))
    assert step.stats["largest_cluster"] == 1500 and step.stats["removed"] == 1499
    assert step.stats["candidate_edges"] <= 4 * 1500  # not the 1500*1499/2 pairs of the bucket
