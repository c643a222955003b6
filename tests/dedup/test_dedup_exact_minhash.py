"""exact_dedup and minhash_dedup on real text: Python stdlib sources as documents, with
deterministic near-duplicate variants whose clusters are known."""
from __future__ import annotations

import json
import os
import random
import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from gristmill.dedup._normalize import shingle_text, simplify_text
from gristmill.dedup._shingle import perm_params, shingle_hashes, signatures
from gristmill.dedup._unionfind import connected_components
from gristmill.step import FitContext, get_step

STDLIB = Path(os.__file__).parent


def _base_docs(n: int = 40) -> list[str]:
    docs = []
    for p in sorted(STDLIB.glob("*.py")):
        text = p.read_text(encoding="utf-8", errors="replace")
        words = text.split()
        if len(words) < 600:
            continue
        docs.append(" ".join(words[:600]))  # equal-ish sizes keep the test fast
        if len(docs) == n:
            break
    assert len(docs) == n
    return docs


def _variant(text: str, rng: random.Random, kind: str) -> str:
    w = text.split()
    if kind == "edit":  # 1.5% of words inserted, deleted or substituted: 5-gram Jaccard ~0.85
        for _ in range(max(1, len(w) // 200)):
            w.insert(rng.randrange(len(w)), "inserted")
            del w[rng.randrange(len(w))]
            w[rng.randrange(len(w))] = "substituted"
        return " ".join(w)
    if kind == "frame":
        return "Copyright notice: all rights reserved.\n" + text + "\nShare this page. Subscribe!"
    if kind == "case":
        return text.upper().replace(",", " ,").replace(".", "")
    raise ValueError(kind)


@pytest.fixture(scope="module")
def corpus():
    """(rows, truth): rows of (id, text); truth maps id -> base index (cluster)."""
    rng = random.Random(7)
    rows, truth = [], {}
    for i, base in enumerate(_base_docs()):
        rows.append((f"b{i}", base))
        truth[f"b{i}"] = i
        if i % 2 == 0:
            for kind in ("edit", "frame", "case"):
                rows.append((f"b{i}-{kind}", _variant(base, rng, kind)))
                truth[f"b{i}-{kind}"] = i
    return rows, truth


def _write_shards(tmp: Path, rows, n_shards=3, extra: dict | None = None) -> list[Path]:
    tmp.mkdir(parents=True, exist_ok=True)
    paths = []
    for s in range(n_shards):
        part = rows[s::n_shards]
        cols = {"id": [r[0] for r in part], "text": [r[1] for r in part], "source": ["stdlib"] * len(part)}
        for k, f in (extra or {}).items():
            cols[k] = [f(r) for r in part]
        p = tmp / f"shard{s}.parquet"
        pq.write_table(pa.table(cols), p)
        paths.append(p)
    return paths


def _run(step_name: str, shards, workdir, **cfg):
    cls = get_step(step_name)
    step = cls(cls.Config(**cfg))
    step.fit(FitContext(shards=list(shards), workdir=Path(workdir), workers=1, log=lambda m: None))
    worker = cls(cls.Config(**cfg))
    worker.bind(Path(workdir))
    out = []
    for p in shards:
        t = worker.annotate(pq.read_table(p))
        t = t.append_column("reason", worker.select(t))
        out.append(t)
    return step, (pa.concat_tables(out) if out else None)


# ---------------------------------------------------------------- building blocks

def test_shingles_match_python_ngrams_and_do_not_depend_on_batch():
    docs = [simplify_text(t) for t in _base_docs(5)] + ["", "one two", "a b c d e f"]
    h, offs = shingle_hashes(docs, 5)
    for d, text in enumerate(docs):
        w = text.split()
        expect = {tuple(w[i:i + 5]) for i in range(len(w) - 4)} or ({tuple(w)} if w else set())
        assert len(set(h[offs[d]:offs[d + 1]].tolist())) == len(expect)
    a, b = perm_params(64, 1)
    whole = signatures(h, offs, a, b, chunk_rows=97)
    alone = [signatures(*shingle_hashes([t], 5), a, b) for t in docs]
    assert np.array_equal(whole, np.vstack(alone))
    # the fast path (whitespace runs left in place) gives the same shingles
    raw = _base_docs(5) + ["", "One\ttwo\u00a0 three", " Ünï-cödé\u3000 ２０２４  "]
    fast = shingle_hashes([shingle_text(t) for t in raw], 5)
    slow = shingle_hashes([simplify_text(t) for t in raw], 5)
    assert np.array_equal(fast[0], slow[0]) and np.array_equal(fast[1], slow[1])
    # tiny chunks for the batch-wide hashing too
    h2, offs2 = shingle_hashes(docs, 5, chunk_bytes=1000)
    assert np.array_equal(h, h2) and np.array_equal(offs, offs2)


def test_connected_components_match_reference():
    rng = np.random.default_rng(3)
    n = 300
    edges = rng.integers(0, n, size=(200, 2))
    labels = connected_components(n, [edges[:100], edges[100:]])
    ref = list(range(n))

    def find(x):
        while ref[x] != x:
            x = ref[x]
        return x

    for u, v in edges:
        ru, rv = find(u), find(v)
        ref[max(ru, rv)] = min(ru, rv)
    assert [find(i) for i in range(n)] == labels.tolist()


# ---------------------------------------------------------------- minhash_dedup

def test_minhash_finds_known_clusters(tmp_path, corpus):
    rows, truth = corpus
    shards = _write_shards(tmp_path / "in", rows)
    step, out = _run("minhash_dedup", shards, tmp_path / "wd")
    ids = out["id"].to_pylist()
    cl = dict(zip(ids, out["dup_cluster"].to_pylist()))
    # same base <-> same cluster, in both directions
    for a in ids:
        for b in ids:
            assert (cl[a] == cl[b]) == (truth[a] == truth[b]), (a, b)
    reasons = out["reason"].to_pylist()
    kept = [i for i, r in zip(ids, reasons) if r is None]
    assert sorted(truth[i] for i in kept) == sorted(set(truth.values()))
    assert reasons.count("near_duplicate") == len(rows) - len(set(truth.values()))
    sizes = dict(zip(ids, out["dup_cluster_size"].to_pylist()))
    assert sizes["b0"] == 4 and sizes["b1"] == 1
    rep = json.loads((tmp_path / "wd" / "report.json").read_text())
    assert rep["cluster_size_distribution"]["3-5"] == 20 and rep["removed"] == 60
    assert step.stats["removed_near_duplicate"] == 60
    assert all(len(c) == 4 for c in rep["example_clusters"])


def test_minhash_keep_policies(tmp_path, corpus):
    rows, truth = corpus
    rows = [r for r in rows if truth[r[0]] < 4]
    score = {r[0]: (10.0 if r[0].endswith("-edit") else 1.0) for r in rows}
    shards = _write_shards(tmp_path / "in", rows, extra={"q": lambda r: score[r[0]]})
    kept = {}
    for keep in ("first", "longest", "max_score"):
        _, out = _run("minhash_dedup", shards, tmp_path / keep, keep=keep, score_column="q")
        kept[keep] = sorted(i for i, r in zip(out["id"].to_pylist(), out["reason"].to_pylist()) if r is None)
    assert kept["max_score"] == ["b0-edit", "b1", "b2-edit", "b3"]
    assert kept["longest"] == ["b0-frame", "b1", "b2-frame", "b3"]
    # first = earliest in shard order: shard0 holds rows 0,3,6..., so b0 (row 0) and b2-edit (row 7 -> shard1)...
    order = [r[0] for s in range(3) for r in rows[s::3]]
    expect = sorted({truth[i]: i for i in reversed(order)}.values())
    assert kept["first"] == expect


def test_minhash_verify_jaccard_drops_shared_passage_pairs(tmp_path):
    a, b = _base_docs(2)
    shared = " ".join(a.split()[:300])
    # hard negative: two different documents quoting the same passage (true Jaccard ~0.3)
    rows = [("x", shared + " " + " ".join(a.split()[300:])), ("y", shared + " " + b)]
    shards = _write_shards(tmp_path / "in", rows, n_shards=1)
    loose = dict(bands=60, rows=2)  # candidate-happy LSH: P(0.3) ~ 1
    _, out = _run("minhash_dedup", shards, tmp_path / "nov", verify_jaccard=False, **loose)
    assert out["reason"].to_pylist() == [None, "near_duplicate"]
    _, out = _run("minhash_dedup", shards, tmp_path / "ver", **loose)  # verification is the default
    assert out["reason"].to_pylist() == [None, None]
    assert out["dup_cluster_size"].to_pylist() == [1, 1]


def test_minhash_against_index_and_output_dir(tmp_path, corpus):
    rows, truth = corpus
    old = [r for r in rows if truth[r[0]] < 10 and "-" not in r[0]]
    new = [r for r in rows if truth[r[0]] >= 10 or "-" in r[0]]
    old_shards = _write_shards(tmp_path / "old" / "data", old, n_shards=2)
    _run("minhash_dedup", old_shards, tmp_path / "old_wd")
    new_shards = _write_shards(tmp_path / "new", new)
    for against in (tmp_path / "old_wd" / "index", tmp_path / "old"):
        _, out = _run("minhash_dedup", new_shards, tmp_path / f"wd_{against.name}", against=[str(against)])
        got = dict(zip(out["id"].to_pylist(), out["reason"].to_pylist()))
        for i, r in got.items():
            if truth[i] < 10:
                assert r == "near_duplicate_of_index", i
                assert out.filter(pc.equal(out["id"], i))["dup_cluster"][0].as_py() == f"b{truth[i]}"
            else:
                assert r in (None, "near_duplicate"), i
        assert sorted(truth[i] for i, r in got.items() if r is None) == list(range(10, 40))
    with pytest.raises(ValueError, match="neither a gristmill output"):
        (tmp_path / "empty").mkdir()
        _run("minhash_dedup", new_shards, tmp_path / "wd_bad", against=[str(tmp_path / "empty")])
    with pytest.raises(ValueError, match="was built with"):
        _run("minhash_dedup", new_shards, tmp_path / "wd_mis", against=[str(tmp_path / "old_wd" / "index")], rows=5)


def test_minhash_resume_from_partial_workdir(tmp_path, corpus):
    rows, _ = corpus
    shards = _write_shards(tmp_path / "in", rows)
    _, clean = _run("minhash_dedup", shards, tmp_path / "clean", verify_jaccard=True)
    # a workdir as left by a run killed during the band phase: two shards signed, some bands done,
    # a half-written temp file, nothing later
    part = tmp_path / "partial"
    shutil.copytree(tmp_path / "clean", part)
    for f in list((part / "sig").glob("00002.*")) + list((part / "edges").glob("b01*")):
        f.unlink()
    for f in ("result.parquet", "report.json"):
        (part / f).unlink()
    for d in ("index", "pairs", "groups", "clusters"):
        shutil.rmtree(part / d)
    (part / "cc" / "done.json").unlink()  # killed inside connected components: its files stay
    (part / "edges" / "b019_00000.offs.npy.tmp.npy").write_bytes(b"garbage")
    _, resumed = _run("minhash_dedup", shards, part, verify_jaccard=True)
    assert resumed.equals(clean)
    assert pq.read_table(part / "result.parquet").equals(pq.read_table(tmp_path / "clean" / "result.parquet"))
    # a workdir from a different config is not reused
    _, other = _run("minhash_dedup", shards, part, keep="longest")
    assert json.loads((part / "fit.json").read_text())["config"]["keep"] == "longest"
    assert other["reason"].to_pylist().count("near_duplicate") == 60


def test_minhash_empty_input(tmp_path):
    empty = tmp_path / "e.parquet"
    pq.write_table(pa.table({"id": pa.array([], pa.string()), "text": pa.array([], pa.string()),
                             "source": pa.array([], pa.string())}), empty)
    for shards in ([], [empty]):
        step, out = _run("minhash_dedup", shards, tmp_path / f"wd{len(shards)}")
        assert step.stats["documents"] == 0
    t = get_step("minhash_dedup")()
    t.bind(tmp_path / "wd1")
    res = t.annotate(pq.read_table(empty))
    assert res.schema.field("dup_cluster").type == pa.string()
    assert res.schema.field("dup_cluster_size").type == pa.int64()
    assert len(t.select(res)) == 0


def test_minhash_errors_name_the_input(tmp_path):
    p = tmp_path / "x.parquet"
    pq.write_table(pa.table({"id": ["a"], "body": ["t"]}), p)
    with pytest.raises(ValueError, match=r"x.parquet: missing column\(s\) \['text'\]"):
        _run("minhash_dedup", [p], tmp_path / "wd")
    with pytest.raises(ValueError, match="max_score needs score_column"):
        get_step("minhash_dedup").Config(keep="max_score")


# ---------------------------------------------------------------- exact_dedup

def test_exact_dedup_normalized_text_and_keep(tmp_path, corpus):
    rows, truth = corpus
    docs = _base_docs(6)
    rows = [
        ("a", docs[0]), ("a-ws", docs[0].replace(" ", "  \n")), ("a-case", docs[0].upper()),
        ("a-edit", _variant(docs[0], random.Random(1), "edit")),  # near, not exact
        ("b", docs[1]), ("b-punct", docs[1].replace(".", "")), ("c", docs[2]),
    ]
    shards = _write_shards(tmp_path / "in", rows, n_shards=2, extra={"q": lambda r: float(len(r[0]))})
    step, out = _run("exact_dedup", shards, tmp_path / "wd")
    got = dict(zip(out["id"].to_pylist(), zip(out["exact_dup_cluster"].to_pylist(),
                                            out["exact_dup_cluster_size"].to_pylist(), out["reason"].to_pylist())))
    assert got["a"] == ("a", 3, None) and got["a-ws"] == ("a", 3, "duplicate") and got["a-case"] == ("a", 3, "duplicate")
    assert got["a-edit"] == ("a-edit", 1, None) and got["c"] == ("c", 1, None)
    assert got["b"] == ("b", 2, None) and got["b-punct"][2] == "duplicate"
    assert step.stats["removed"] == 3
    _, out = _run("exact_dedup", shards, tmp_path / "wd2", keep="max_score", score_column="q", partitions=4)
    kept = sorted(i for i, r in zip(out["id"].to_pylist(), out["reason"].to_pylist()) if r is None)
    assert kept == ["a-case", "a-edit", "b-punct", "c"]
    _, out = _run("exact_dedup", shards, tmp_path / "wd3", lowercase=False)
    assert dict(zip(out["id"].to_pylist(), out["reason"].to_pylist()))["a-case"] is None


def test_exact_dedup_by_url_and_errors(tmp_path):
    rows = [("1", "x"), ("2", "y"), ("3", "z"), ("4", "w")]
    urls = {"1": "http://a", "2": "http://a", "3": None, "4": None}
    shards = _write_shards(tmp_path / "in", rows, n_shards=1, extra={"url": lambda r: urls[r[0]]})
    _, out = _run("exact_dedup", shards, tmp_path / "wd", key="url")
    assert out["reason"].to_pylist() == [None, "duplicate", None, None]
    nourl = _write_shards(tmp_path / "in2", rows, n_shards=1)
    with pytest.raises(ValueError, match=r"shard0.parquet: missing column\(s\) \['url'\].*key: text"):
        _run("exact_dedup", nourl, tmp_path / "wd2", key="url")


def test_exact_dedup_resume_and_empty(tmp_path, corpus):
    rows, _ = corpus
    rows = rows + [(r[0] + "-copy", r[1]) for r in rows[:10]]
    shards = _write_shards(tmp_path / "in", rows)
    _, clean = _run("exact_dedup", shards, tmp_path / "clean", partitions=4)
    expect = len(rows) - len({" ".join(simplify_text(r[1]).split()) for r in rows})
    part = tmp_path / "partial"
    shutil.copytree(tmp_path / "clean", part)
    (part / "spill" / "00001.arrow").unlink()
    for f in list((part / "groups").glob("000[23].parquet")) + [part / "result.parquet"]:
        f.unlink()
    _, resumed = _run("exact_dedup", shards, part, partitions=4)
    assert resumed.equals(clean)
    assert clean["reason"].to_pylist().count("duplicate") == expect >= 10
    step, out = _run("exact_dedup", [], tmp_path / "none")
    assert step.stats["documents"] == 0
