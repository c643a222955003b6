"""Decontamination through the CLI: index benchmark files, plant their passages (verbatim and
edited) into real documents, and run recipes that drop, flag and redact them."""
from __future__ import annotations

import json
import random
import unicodedata
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from conftest import stdlib_docs, write_jsonl
from subprocess_cli import run_cli

_cli = run_cli


def _edit(passage: str, kind: str, rng: random.Random) -> str:
    words = passage.split()
    if kind == "verbatim":
        return passage
    if kind == "case":
        return passage.upper()
    if kind == "whitespace":
        return "\n  ".join(" ".join(words[i:i + 5]) for i in range(0, len(words), 5))
    if kind == "punctuation":
        return " ".join(w.strip(".,;:!?()\"'") + rng.choice(["", ",", ";", " -"]) for w in words)
    if kind == "words":  # two words changed, far apart
        w = list(words)
        w[len(w) // 3] = "zebra"
        w[2 * len(w) // 3] = "quokka"
        return " ".join(w)
    raise ValueError(kind)


def _grams(text: str, n: int = 13) -> set[tuple[str, ...]]:
    norm = "".join(ch if unicodedata.category(ch)[0] in "LMN" else " " for ch in text.lower()).split()
    return {tuple(norm[i:i + n]) for i in range(len(norm) - n + 1)}


KINDS = ["verbatim", "case", "whitespace", "punctuation", "words"]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("decontam")
    docs = stdlib_docs(260)
    bench_docs, corpus_docs = docs[:60], docs[60:]
    rng = random.Random(0)
    qa = [{"question": " ".join(d["text"].split()[:45]), "answer": rng.randint(1, 999), "choices": ["a", "b"]} for d in bench_docs[:30]]
    write_jsonl(tmp / "mathqa.jsonl", qa)
    pq.write_table(pa.table({"question": [" ".join(d["text"].split()[:45]) for d in bench_docs[30:]],
                             "answer": ["x"] * 30}), tmp / "trivia.parquet")
    records, planted = [], {}
    for i, d in enumerate(corpus_docs):
        text = d["text"]
        if i < 50:
            kind = KINDS[i % len(KINDS)]
            src = qa[i % 30]["question"] if i % 2 == 0 else " ".join(bench_docs[30 + i % 30]["text"].split()[:45])
            cut = len(text) // 2
            text = text[:cut] + "\n\n" + _edit(src, kind, rng) + "\n\n" + text[cut:]
            planted[f"c{i}"] = ("mathqa" if i % 2 == 0 else "trivia", kind)
        records.append({"id": f"c{i}", "text": text})
    write_jsonl(tmp / "corpus.jsonl", records)
    # an independent oracle: plain Python sets of normalized 13-grams (the stdlib's bz2/gzip/lzma
    # docstrings really do share sentences, so some unplanted documents are contaminated too)
    bench_grams = set()
    for q in qa:
        bench_grams |= _grams(f"{q['question']} {q['answer']}")
    for d in bench_docs[30:]:
        bench_grams |= _grams(" ".join(d["text"].split()[:45]) + " x")
    contaminated = {r["id"] for r in records if _grams(r["text"]) & bench_grams}
    assert set(planted) <= contaminated and len(contaminated) < len(planted) + 10
    r = _cli("decontam", "index", tmp / "mathqa.jsonl", tmp / "trivia.parquet", "--fields", "question,answer", "-o", tmp / "idx")
    assert "mathqa: 30 records" in r.stdout
    return tmp, planted, contaminated, len(records)


def _recipe(tmp: Path, name: str, action: str) -> Path:
    p = tmp / f"{name}.yaml"
    p.write_text(f"""
input: {{paths: ["{tmp}/corpus.jsonl"], id_field: id}}
steps:
  - decontaminate: {{index: "{tmp}/idx", action: {action}}}
output: {{path: "{tmp}/{name}", keep_rejected: true}}
""")
    return p


def test_drop_finds_every_planted_passage(world):
    tmp, planted, contaminated, n = world
    _cli("run", _recipe(tmp, "drop", "drop"), "-w", "1", "--no-progress", "--no-report")
    rej = pq.read_table(tmp / "drop" / "rejected")
    got = dict(zip(rej.column("id").to_pylist(), rej.column("reject_reason").to_pylist()))
    assert set(got) == contaminated  # every edit kind caught; no clean document flagged
    assert set(got.values()) == {"decontaminate/contaminated"}
    benches = {c[0]["benchmark"] for c in rej.column("contamination").to_pylist()}
    assert benches == {"mathqa", "trivia"}
    s = json.loads((tmp / "drop" / "summary.json").read_text())
    assert s["counters"]["decontaminate"]["contaminated_docs"] == len(contaminated)
    assert s["counters"]["decontaminate"]["benchmark:mathqa"] >= sum(1 for b, _ in planted.values() if b == "mathqa")
    assert s["kept"] == n - len(contaminated)


def test_flag_and_redact(world):
    tmp, planted, contaminated, n = world
    _cli("run", _recipe(tmp, "flag", "flag"), "-w", "1", "--no-progress", "--no-report")
    kept = pq.read_table(tmp / "flag" / "data")
    assert kept.num_rows == n
    flagged = {i for i, c in zip(kept.column("id").to_pylist(), kept.column("contamination_ngrams").to_pylist()) if c}
    assert flagged == contaminated
    _cli("run", _recipe(tmp, "redact", "redact"), "-w", "1", "--no-progress", "--no-report")
    red = pq.read_table(tmp / "redact" / "data")
    texts = dict(zip(red.column("id").to_pylist(), red.column("text").to_pylist()))
    assert len(texts) == n
    verbatim = [i for i, (_b, k) in planted.items() if k == "verbatim"]
    for i in verbatim:
        assert "[benchmark text removed]" in texts[i]
    # the redacted text shares no 13-gram with the benchmarks any more
    from gristmill.annotate.contamination import NgramIndex, ngram_hashes

    idx = NgramIndex(tmp / "idx")
    h, _rows, _pos = ngram_hashes(pa.array([texts[i] for i in planted], pa.large_string()), idx.n)
    assert (idx.lookup(h) >= 0).sum() == 0


def test_bad_index_and_fields_fail_loudly(world, tmp_path):
    tmp = world[0]
    bad = tmp_path / "r.yaml"
    bad.write_text(f"""
input: {{paths: ["{tmp}/corpus.jsonl"]}}
steps:
  - decontaminate: {{index: "{tmp_path}/nope"}}
output: {{path: "{tmp_path}/o"}}
""")
    r = _cli("run", bad, ok=False)
    assert r.returncode == 2 and "not a decontamination index" in " ".join(r.stderr.split())
    (tmp_path / "nope").mkdir()
    (tmp_path / "nope" / "meta.json").write_text('{"version": 1, "n": 13, "benchmarks": []}')
    (tmp_path / "nope" / "ngrams.npy").write_bytes(b"garbage")
    (tmp_path / "nope" / "owners.npy").write_bytes(b"garbage")
    r = _cli("run", bad, ok=False)
    assert r.returncode == 2 and "corrupt decontamination index" in " ".join(r.stderr.split())
    r = _cli("decontam", "index", tmp / "mathqa.jsonl", "--fields", "questoin", "-o", tmp_path / "i2", ok=False)
    assert r.returncode == 2 and "questoin" in r.stderr


def test_a_corrupt_index_fails_the_recipe_at_load_naming_file_and_problem(tmp_path):
    """Issue 19 item 13: n: 0, unsorted n-grams, sizes that disagree, a meta of the wrong shape: each
    fails before any work, naming the file and what is wrong (it used to decontaminate nothing)."""
    import shutil

    import numpy as np

    from gristmill.annotate.contamination import build_index
    from gristmill.recipe import RecipeError, load_recipe

    bench = write_jsonl(tmp_path / "bench.jsonl", [{"q": d["text"]} for d in stdlib_docs(20)])
    good = tmp_path / "good"
    build_index([bench], good, ["q"], n=8)
    write_jsonl(tmp_path / "c.jsonl", stdlib_docs(5))

    def meta(**kw):
        return lambda d: (d / "meta.json").write_text(json.dumps({**json.loads((good / "meta.json").read_text()), **kw}))

    def arr(name, f):
        return lambda d: np.save(d / name, f(np.load(good / name)))

    cases = {
        "n0": (meta(n=0), "meta.json", "n is 0"),
        "nstr": (meta(n="13"), "meta.json", "n is '13'"),
        "metalist": (lambda d: (d / "meta.json").write_text("[1, 2]"), "meta.json", "expected a JSON object, got list"),
        "nobench": (meta(benchmarks=[]), "meta.json", "benchmarks"),
        "unsorted": (arr("ngrams.npy", lambda h: h[::-1].copy()), "ngrams.npy", "not sorted"),
        "count": (arr("ngrams.npy", lambda h: h[:-3].copy()), "ngrams.npy", "meta.json says"),
        "owners": (arr("owners.npy", lambda o: o[:-1].copy()), "owners.npy", "entries for"),
        "ownerrange": (arr("owners.npy", lambda o: o + 5), "owners.npy", "names benchmark 5"),
        "dtype": (arr("ngrams.npy", lambda h: h.astype(np.int64)), "ngrams.npy", "int64"),
        "pickle": (lambda d: np.save(d / "owners.npy", np.array([{"x": 1}], dtype=object), allow_pickle=True), "owners.npy", "not a plain .npy"),
    }
    for name, (corrupt, file, what) in cases.items():
        d = tmp_path / name
        shutil.copytree(good, d)
        corrupt(d)
        r = tmp_path / f"{name}.yaml"
        r.write_text(f'input: {{paths: ["{tmp_path}/c.jsonl"]}}\nsteps:\n  - decontaminate: {{index: "{d}"}}\noutput: {{path: "{tmp_path}/o-{name}"}}\n')
        with pytest.raises(RecipeError) as e:
            load_recipe(r)
        msg = " ".join(str(e.value).split())
        assert f"{d}/{file}" in msg and what in msg and "corrupt decontamination index" in msg and "line 3" in msg, (name, msg)
    # through the CLI: exit 2, nothing written
    res = _cli("run", tmp_path / "unsorted.yaml", ok=False)
    assert res.returncode == 2 and "not sorted" in " ".join(res.stderr.split()) and not (tmp_path / "o-unsorted").exists()
    assert "Traceback" not in res.stderr
