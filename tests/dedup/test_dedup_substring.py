"""substring_dedup through `gristmill run`: planted repeats found, nothing else removed, first copy kept,
the same answer for any worker count and piece size, checked against a brute-force reference."""
import json
import random

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from conftest import stdlib_docs, write_jsonl
from gristmill.cli import app
from gristmill.dedup.substring import remove_token_spans, tokenize_spans

runner = CliRunner()


def reference(docs: list[dict], n: int) -> dict[str, tuple[str, int]]:
    """The definition, by brute force: a token goes iff a window of n tokens covering it (in one
    document) was seen earlier in corpus order. Returns id -> (new text, spans removed)."""
    seen, out = set(), {}
    for d in docs:
        text = d["text"]
        toks = tokenize_spans(text)
        words = [m.group() for m in toks]
        gone = [False] * len(words)
        for k in range(len(words) - n + 1):
            w = tuple(words[k:k + n])
            if w in seen:
                gone[k:k + n] = [True] * n
            else:
                seen.add(w)
        cut, k = [], 0
        while k < len(words):
            if gone[k]:
                j = k
                while j < len(words) and gone[j]:
                    j += 1
                cut.append((k, j))
                k = j
            else:
                k += 1
        out[d["id"]] = (remove_token_spans(text, toks, cut) if cut else text, len(cut))
    return out


def _sentence(rng: random.Random, n_tokens: int) -> str:
    vocab = ["amber", "quartz", "lattice", "meridian", "vellum", "cobalt", "tundra", "osprey", "fennel", "gravel",
             "harbor", "isotope", "juniper", "kestrel", "lumen", "marrow", "nickel", "opal", "prism", "quill"]
    words = [rng.choice(vocab) + str(rng.randrange(1000)) for _ in range(n_tokens // 2)]
    return " ".join(words)  # each word is a letter run + a digit run: 2 tokens


def _plant(docs: list[dict], plan: dict[int, list[str]], rng: random.Random) -> None:
    """Insert spans at spaces of the original text (never inside another planted span)."""
    for w, spans in plan.items():
        text = docs[w]["text"]
        cuts = [i for i, ch in enumerate(text) if ch == " "] or [len(text)]
        for i, span in sorted(((rng.choice(cuts), s) for s in spans), key=lambda x: -x[0]):
            text = text[:i] + " " + span + " " + text[i:]
        docs[w]["text"] = text


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("substr")
    rng = random.Random(7)
    docs = [dict(d) for d in stdlib_docs(240)]
    for d in docs:
        d["text"] = " ".join(d["text"].split())  # one line each: the jsonl round trip is exact
    planted, short, plan = [], [], {}  # planted: (span, [doc indices in corpus order])
    for s in range(12):
        span = _sentence(rng, 60 + 10 * s)  # 60..170 tokens: all >= 50
        where = sorted(rng.sample(range(len(docs)), 3))
        for w in where:
            plan.setdefault(w, []).append(span)
        planted.append((span, where))
    for s in range(6):
        span = _sentence(rng, 40)  # 40 tokens < 50: repeated, but too short to remove
        for w in sorted(rng.sample(range(len(docs)), 3)):
            plan.setdefault(w, []).append(span)
        short.append(span)
    _plant(docs, plan, rng)
    # one document that is, apart from the repeat, too short to keep
    docs.append({"id": "tiny", "text": "See also: " + planted[0][0]})
    # whole documents repeated back to back: a repeat ends exactly where the next one starts
    docs += [dict(docs[5], id=f"again{i}") for i in range(3)]
    half = len(docs) // 2
    write_jsonl(tmp / "a.jsonl", docs[:half])
    write_jsonl(tmp / "b.jsonl", docs[half:])
    return tmp, docs, planted, short


def _run(tmp, name, workers, cfg="{}"):
    recipe = tmp / f"{name}.yaml"
    recipe.write_text(f"""
inputs:
  - {{paths: ["{tmp}/a.jsonl"], id_field: id, source: a}}
  - {{paths: ["{tmp}/b.jsonl"], id_field: id, source: b}}
steps:
  - substring_dedup: {cfg}
output: {{path: "{tmp}/{name}"}}
""")
    r = runner.invoke(app, ["run", str(recipe), "-w", str(workers), "--no-report", "--no-progress"])
    assert r.exit_code == 0, r.output
    out = tmp / name
    kept = {row["id"]: row for row in pq.read_table(out / "data").to_pylist()}
    rej = {row["id"]: row for p in sorted((out / "rejected").glob("*.parquet")) for row in pq.read_table(p).to_pylist()}
    return kept, rej, json.loads((out / "summary.json").read_text())


def test_planted_spans_found_nothing_else_removed(corpus):
    tmp, docs, planted, short = corpus
    # memory_mb=1: pieces of 64 KB, so most repeats are found by the merge across pieces
    kept, rej, summary = _run(tmp, "small", 2, "{memory_mb: 1}")
    assert summary["reports"]["substring_dedup"]["pieces"] >= 4
    assert summary["reports"]["substring_dedup"]["repeated_windows_across_pieces"] > 0
    ref = reference(docs, 50)
    by_id = {d["id"]: d for d in docs}
    # exactly the reference: no false removal, no miss, anywhere in the corpus
    for i, (text, spans) in ref.items():
        row = kept.get(i) or rej[i]
        assert row["text"] == text, i
        assert row["substr_dup_spans"] == spans, i
        if i in rej:
            assert rej[i]["reject_reason"] == "substring_dedup/too_little_left"
            assert spans > 0 and len(text.split()) < 50
        else:
            assert spans == 0 or len(text.split()) >= 50
    assert "tiny" in rej  # lost its repeat, 2 words left
    for i in range(3):  # each copy loses all of itself, and nothing of its neighbour
        assert rej[f"again{i}"]["text"] == "" and rej[f"again{i}"]["substr_dup_spans"] == 1
    # planted spans: recall 1.0 on every later copy, the first copy kept whole
    for span, where in planted:
        first, *later = [docs[w]["id"] for w in where]
        assert span in (kept.get(first) or rej[first])["text"]
        for i in later:
            t = (kept.get(i) or rej[i])["text"]
            assert not set(span.split()) & set(t.split()), i  # no word of the span survives
    # repeats shorter than 50 tokens, and unrepeated text, are untouched
    for span in short:
        assert sum(span in r["text"] for r in [*kept.values(), *rej.values()]) == 3
    changed = {i for i, (_, s) in ref.items() if s}
    for i in set(by_id) - changed:
        assert kept[i]["text"] == by_id[i]["text"] and kept[i]["substr_dup_spans"] == 0
    assert summary["counters"]["substring_dedup"]["spans_removed"] == sum(s for _, s in ref.values())
    assert summary["input"] == summary["kept"] + sum(summary["rejected"].values())


def test_same_answer_for_workers_and_piece_sizes(corpus):
    tmp, docs, planted, short = corpus
    a = _run(tmp, "w1", 1, "{memory_mb: 1}")
    b = _run(tmp, "w2big", 2, "{}")  # one piece per shard: only shard pairs are merged
    assert b[2]["reports"]["substring_dedup"]["pieces"] == 2
    for x, y in ((a[0], b[0]), (a[1], b[1])):
        assert {i: (r["text"], r["substr_dup_spans"], r["substr_dup_tokens"]) for i, r in x.items()} == \
               {i: (r["text"], r["substr_dup_spans"], r["substr_dup_tokens"]) for i, r in y.items()}


def test_shorter_threshold_matches_reference(corpus):
    tmp, docs, planted, short = corpus
    kept, rej, _ = _run(tmp, "n20", 2, "{length: 20, memory_mb: 1, min_remaining_words: 0}")
    ref = reference(docs, 20)
    assert not rej
    assert {i: r["text"] for i, r in kept.items()} == {i: t for i, (t, _) in ref.items()}
    for span in short:  # now long enough: only the first copy stays
        assert sum(span in r["text"] for r in kept.values()) == 1


def test_bad_config_fails_before_work(tmp_path):
    (tmp_path / "x.jsonl").write_text('{"text": "a b c"}\n')
    (tmp_path / "r.yaml").write_text(f"""
input: {{paths: ["{tmp_path}/x.jsonl"]}}
steps:
  - substring_dedup: {{length: 1}}
output: {{path: "{tmp_path}/o"}}
""")
    r = runner.invoke(app, ["run", str(tmp_path / "r.yaml"), "--no-report"])
    assert r.exit_code == 2 and "length" in r.output
    assert not (tmp_path / "o").exists()
