"""The foundation: recipes, readers and bad input, the ledger, outputs, resume."""
import gzip
import json
import multiprocessing as mp
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from conftest import stdlib_docs, write_jsonl
from gristmill.engine.local import run
from gristmill.engine.manifest import RecipeChanged
from gristmill.recipe import RecipeError, load_recipe
from gristmill.step import Step, StepConfig, register

GRISTMILL = [sys.executable, "-m", "gristmill.cli"]


def make_recipe(tmp_path, inputs, steps=None, **output):
    data = {"input": inputs, "steps": steps if steps is not None else [{"min_length": {"min_words": 20}}],
            "output": {"path": str(tmp_path / "out"), **output}}
    p = tmp_path / "recipe.yaml"
    p.write_text(yaml.safe_dump(data, sort_keys=False))
    return p


def ledger_holds(out: Path) -> dict:
    s = json.loads((out / "summary.json").read_text())
    assert s["input"] == s["kept"] + sum(s["rejected"].values()) + s["quarantined"]
    kept_rows = sum(pq.ParquetFile(p).metadata.num_rows for p in (out / "data").glob("*.parquet"))
    assert kept_rows == s["kept"]
    return s


# ------------------------------------------------------------------ recipe errors

def test_unknown_step_names_line_and_suggests(tmp_path, docs):
    write_jsonl(tmp_path / "a.jsonl", docs)
    p = tmp_path / "r.yaml"
    p.write_text(f"input:\n  paths: ['{tmp_path}/a.jsonl']\nsteps:\n  - normalize_whitespace: {{}}\n  - min_lenght: {{min_words: 5}}\n")
    with pytest.raises(RecipeError) as e:
        load_recipe(p)
    msg = str(e.value)
    assert f"{p} line 5" in msg and "min_lenght" in msg and "did you mean 'min_length'" in msg


def test_bad_parameter_names_line_and_parameters(tmp_path, docs):
    write_jsonl(tmp_path / "a.jsonl", docs)
    p = tmp_path / "r.yaml"
    p.write_text(f"input:\n  paths: ['{tmp_path}/a.jsonl']\nsteps:\n  - min_length:\n      min_wrds: 5\n  - min_length: {{min_words: many}}\n")
    with pytest.raises(RecipeError) as e:
        load_recipe(p)
    msg = str(e.value)
    assert "line 5" in msg and "min_wrds: unknown parameter" in msg and "parameters: min_words, max_words" in msg
    assert "line 6" in msg and "min_words" in msg and "integer" in msg


def test_missing_input_is_an_error_before_work(tmp_path):
    p = tmp_path / "r.yaml"
    p.write_text("input:\n  paths: ['nowhere/*.jsonl']\nsteps: []\n")
    with pytest.raises(RecipeError, match=r"line 2: input.paths.0: no jsonl input matches 'nowhere/\*.jsonl'"):
        load_recipe(p)
    r = subprocess.run([*GRISTMILL, "run", str(p)], capture_output=True, text=True)
    assert r.returncode == 2 and "no jsonl input matches" in r.stderr
    assert not (tmp_path / "out").exists()


def test_invalid_yaml_and_unknown_section(tmp_path):
    p = tmp_path / "r.yaml"
    p.write_text("input: [unclosed\n")
    with pytest.raises(RecipeError, match="not valid YAML"):
        load_recipe(p)
    p.write_text("input: {paths: [x]}\nstepz: []\n")
    with pytest.raises(RecipeError, match="stepz: unknown section"):
        load_recipe(p, check_inputs=False)


# ------------------------------------------------------------------ bad input, each quarantined

def _run_one(tmp_path, name, content: bytes, fmt="jsonl", **spec):
    d = tmp_path / "in"
    d.mkdir(exist_ok=True)
    good = stdlib_docs(20)
    write_jsonl(d / "good.jsonl", good)
    (d / name).write_bytes(content)
    rec = make_recipe(tmp_path, {"paths": [str(d / "good.jsonl"), str(d / name)], "format": fmt, **spec})
    s = run(load_recipe(rec), workers=1, progress=False)
    ledger_holds(tmp_path / "out")
    q = [json.loads(l) for p in sorted((tmp_path / "out/quarantine").glob("*.jsonl")) for l in open(p)]
    return s, q


def test_malformed_json_line(tmp_path, docs):
    lines = [json.dumps(d) for d in docs[:5]]
    lines.insert(2, '{"text": "unterminated')
    s, q = _run_one(tmp_path, "bad.jsonl", ("\n".join(lines) + "\n").encode())
    assert s["quarantined"] == 1 and q[0]["kind"] == "malformed_json" and q[0]["line"] == 3
    assert q[0]["path"].endswith("bad.jsonl") and "unterminated" in q[0]["raw"]
    assert s["input"] == 20 + 6


def test_invalid_utf8(tmp_path, docs):
    content = json.dumps(docs[0]).encode() + b"\n" + b'{"text": "caf\xe9 au lait"}\n'
    s, q = _run_one(tmp_path, "bad.jsonl", content)
    assert [x["kind"] for x in q] == ["invalid_utf8"] and q[0]["line"] == 2


def test_missing_and_non_string_text(tmp_path, docs):
    content = "\n".join([json.dumps({"body": "no text here"}), json.dumps({"text": ["a", "list"]}), json.dumps({"text": None}),
                         json.dumps(docs[0])]).encode() + b"\n"
    s, q = _run_one(tmp_path, "bad.jsonl", content)
    assert [x["kind"] for x in q] == ["bad_text_field"] * 3
    assert "missing" in q[0]["error"] and "list" in q[1]["error"]


def test_truncated_gzip_keeps_what_came_before(tmp_path, docs):
    full = gzip.compress(("\n".join(json.dumps(d) for d in docs) + "\n").encode())
    s, q = _run_one(tmp_path, "cut.jsonl.gz", full[: len(full) // 2])
    assert [x["kind"] for x in q] == ["truncated"] and "gzip" in q[0]["error"]
    assert 20 < s["input"] - 1 < 20 + len(docs)  # some of the cut file's documents were read


def test_truncated_zstd(tmp_path, docs):
    import zstandard

    full = zstandard.ZstdCompressor().compress(("\n".join(json.dumps(d) for d in docs) + "\n").encode())
    s, q = _run_one(tmp_path, "cut.jsonl.zst", full[: len(full) // 2])
    assert [x["kind"] for x in q] == ["truncated"] and "zstd" in q[0]["error"]


def test_zstd_multi_frame_reads_everything(tmp_path, docs):
    import zstandard

    c = zstandard.ZstdCompressor()
    blob = b"".join(c.compress(("\n".join(json.dumps(d) for d in docs[i:i + 10]) + "\n").encode()) for i in range(0, 50, 10))
    s, q = _run_one(tmp_path, "ok.jsonl.zst", blob)
    assert q == [] and s["input"] == 20 + 50


def test_binary_junk(tmp_path):
    junk = bytes(range(256)) * 40 + b"\n" + os.urandom(0) + bytes(reversed(range(256))) * 10
    s, q = _run_one(tmp_path, "junk.jsonl", junk)
    assert s["quarantined"] == 1 and q[0]["kind"] == "binary" and "junk.jsonl" in q[0]["path"]
    assert s["input"] == 21


def test_empty_file(tmp_path):
    s, q = _run_one(tmp_path, "empty.jsonl", b"")
    assert [x["kind"] for x in q] == ["empty_file"] and s["input"] == 21


def test_single_50mb_document(tmp_path):
    big = json.dumps({"text": "word " * 10_000_000}).encode() + b"\n"
    assert len(big) > 50_000_000
    s, q = _run_one(tmp_path, "big.jsonl", big)
    assert [x["kind"] for x in q] == ["too_large"] and "max_doc_bytes" in q[0]["error"] and len(q[0]["raw"]) <= 1024


def test_text_directory_reader(tmp_path, docs):
    d = tmp_path / "txt"
    (d / "sub").mkdir(parents=True)
    for i, doc in enumerate(docs[:10]):
        (d / "sub" / f"{i}.txt").write_text(doc["text"])
    (d / "notes.md").write_text(docs[10]["text"])
    (d / "empty.txt").write_text("")
    (d / "latin1.txt").write_bytes("caf\xe9".encode("latin-1"))
    (d / "bin.txt").write_bytes(b"\x00\x01\x02" * 100)
    rec = make_recipe(tmp_path, {"paths": [str(d)], "format": "text", "source": "notes"}, steps=[])
    s = run(load_recipe(rec), workers=1, progress=False)
    ledger_holds(tmp_path / "out")
    assert s["kept"] == 11 and s["quarantine_errors"] == {"empty_file": 1, "invalid_utf8": 1, "binary": 1}
    t = pq.read_table(tmp_path / "out/data")
    assert "sub/3.txt" in t.column("id").to_pylist() and set(t.column("source").to_pylist()) == {"notes"}


def test_parquet_reader_and_row_group_shards(tmp_path, docs):
    t = pa.table({"doc_id": [f"p{i}" for i in range(len(docs))], "content": [d["text"] for d in docs],
                  "url": [f"https://example.org/{i}" for i in range(len(docs))]})
    pq.write_table(t, tmp_path / "in.parquet", row_group_size=50)
    rec = make_recipe(tmp_path, {"paths": [str(tmp_path / "in.parquet")], "format": "parquet", "text_field": "content",
                                 "id_field": "doc_id", "fields": ["url"]}, steps=[], shard_mb=0)
    # shard_mb must be > 0: the schema refuses a zero
    with pytest.raises(RecipeError, match="output.shard_mb"):
        load_recipe(rec)
    r = load_recipe(make_recipe(tmp_path, {"paths": [str(tmp_path / "in.parquet")], "format": "parquet", "text_field": "content",
                                           "id_field": "doc_id", "fields": ["url"]}, steps=[]))
    r.output.shard_mb = 1
    from gristmill.io.readers import plan_shards
    assert len(plan_shards(r.inputs, 20_000)) > 1  # row groups become shards
    s = run(r, workers=2, progress=False)
    out = pq.read_table(tmp_path / "out/data")
    assert s["kept"] == len(docs) and sorted(out.column("id").to_pylist()) == sorted(t.column("doc_id").to_pylist())
    assert out.column("url")[0].as_py().startswith("https://")


def test_large_jsonl_split_into_line_ranges(tmp_path):
    docs = stdlib_docs(300, min_words=5)
    write_jsonl(tmp_path / "big.jsonl", docs * 4)
    # the records carry ids (repeated 4x); id_field: false asks for the derived file:line ids tested here
    r = load_recipe(make_recipe(tmp_path, {"paths": [str(tmp_path / "big.jsonl")], "id_field": False}, steps=[]))
    from gristmill.io.readers import plan_shards
    shards = plan_shards(r.inputs, 100_000)
    assert len(shards) > 3
    run(r, workers=2, progress=False)
    ids = pq.read_table(tmp_path / "out/data").column("id").to_pylist()
    assert sorted(ids, key=lambda x: int(x.split(":")[1])) == [f"big.jsonl:{i}" for i in range(1, 1201)]


# ------------------------------------------------------------------ outputs

def test_outputs_and_lock_and_loaders(tmp_path, docs):
    write_jsonl(tmp_path / "a.jsonl", docs)
    rec = make_recipe(tmp_path, {"paths": [str(tmp_path / "a.jsonl")], "id_field": "id", "source": "stdlib"},
                      steps=[{"normalize_whitespace": {}}, {"min_length": {"min_words": 120}}])
    s = run(load_recipe(rec), workers=2, progress=False)
    out = tmp_path / "out"
    ledger_holds(out)
    assert s["rejected"]["min_length/too_short"] > 0 and s["kept"] > 0
    assert [st["step"] for st in s["steps"]] == ["normalize_whitespace", "min_length"]
    lock = yaml.safe_load((out / "recipe.lock.yaml").read_text())
    assert lock["steps"][1] == {"min_length": {"min_words": 120, "max_words": 100000}} and lock["gristmill_version"]
    rej = pq.read_table(out / "rejected")
    assert set(rej.column("reject_reason").to_pylist()) == {"min_length/too_short"}
    assert set(rej.column("reject_step").to_pylist()) == {"min_length"}
    assert pq.ParquetFile(next((out / "data").glob("*.parquet"))).metadata.row_group(0).column(0).compression == "ZSTD"
    import duckdb
    import polars as pl

    assert pl.read_parquet(str(out / "data/*.parquet")).height == s["kept"]
    assert duckdb.sql(f"select count(*) from '{out}/data/*.parquet'").fetchall()[0][0] == s["kept"]
    datasets = pytest.importorskip("datasets")
    ds = datasets.load_dataset("parquet", data_files=str(out / "data/*.parquet"), split="train", cache_dir=str(tmp_path / "hf"))
    assert len(ds) == s["kept"] and "word_count" in ds.column_names


def test_cli_show_and_stats(tmp_path, docs):
    write_jsonl(tmp_path / "a.jsonl", docs)
    rec = make_recipe(tmp_path, {"paths": [str(tmp_path / "a.jsonl")], "id_field": "id"}, steps=[{"min_length": {"min_words": 120}}])
    r = subprocess.run([*GRISTMILL, "run", str(rec), "--workers", "2"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "min_length/too_short" in r.stdout and "kept" in r.stdout
    r = subprocess.run([*GRISTMILL, "show", str(tmp_path / "out"), "--rejected", "--reason", "min_length", "-n", "2"], capture_output=True, text=True)
    assert r.returncode == 0 and "2 of" in r.stdout and "word_count" in r.stdout
    r = subprocess.run([*GRISTMILL, "stats", str(tmp_path / "out")], capture_output=True, text=True)
    assert r.returncode == 0 and "min_length/too_short" in r.stdout
    r = subprocess.run([*GRISTMILL, "stats", str(tmp_path)], capture_output=True, text=True)
    assert r.returncode == 2 and "no summary.json" in r.stderr


def test_step_that_raises_quarantines_only_the_bad_document(tmp_path, docs):
    write_jsonl(tmp_path / "a.jsonl", docs[:50] + [{"id": "poison", "text": "POISON " * 80}])
    rec = make_recipe(tmp_path, {"paths": [str(tmp_path / "a.jsonl")], "id_field": "id"}, steps=[{"explode_on_poison": {}}])
    s = run(load_recipe(rec), workers=1, progress=False)
    ledger_holds(tmp_path / "out")
    assert s["kept"] == 50 and s["quarantine_errors"] == {"step_error": 1}
    q = json.loads(next((tmp_path / "out/quarantine").glob("*.jsonl")).read_text())
    assert q["path"] == "poison" and "explode_on_poison" in q["error"]


@register
class ExplodeOnPoison(Step):
    """Test step: raises on one document, as a buggy third-party step would."""
    name = "explode_on_poison"

    def annotate(self, table):
        if any(t.startswith("POISON") for t in table.column("text").to_pylist()):
            raise ValueError("cannot digest poison")
        return table


@register
class SlowIdentity(Step):
    """Test step: keeps everything, slowly, so a run can be killed mid-way."""
    name = "slow_identity"

    class Config(StepConfig):
        seconds: float = 0.05

    def annotate(self, table):
        time.sleep(self.config.seconds)
        return table


# ------------------------------------------------------------------ resume

def _corpus(tmp_path, n_files=24):
    docs = stdlib_docs(400, min_words=10)
    d = tmp_path / "in"
    d.mkdir()
    for i in range(n_files):
        write_jsonl(d / f"part{i:02d}.jsonl", docs[(i * 37) % 300:(i * 37) % 300 + 60])
    return d


def _kept(out):
    t = pq.read_table(out / "data")
    return sorted(t.column("id").to_pylist())


def _run_in_child(recipe_path, out):
    run(load_recipe(recipe_path), out, workers=2, progress=False)


def _children(pid: int) -> list[str]:
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(stat.parent.name)
    return out


@pytest.mark.parametrize("victim", ["worker", "parent"])
def test_resume_after_sigkill_equals_uninterrupted(tmp_path, victim):
    d = _corpus(tmp_path)
    rec = make_recipe(tmp_path, {"paths": [str(d / "*.jsonl")]},
                      steps=[{"slow_identity": {"seconds": 0.15}}, {"min_length": {"min_words": 40}}], batch_rows=20)
    ref = tmp_path / "ref"
    run(load_recipe(rec), ref, workers=2, progress=False)

    out = tmp_path / "killed"
    ctx = mp.get_context("fork")
    p = ctx.Process(target=_run_in_child, args=(rec, out))
    p.start()
    deadline = time.time() + 60
    while len(list((out / "_manifest").glob("s0-*.json"))) < 3 and time.time() < deadline:
        time.sleep(0.05)
    children = _children(p.pid)
    if victim == "worker":
        assert children, "the run should have worker processes"
        os.kill(int(children[0]), signal.SIGKILL)
    else:
        os.kill(p.pid, signal.SIGKILL)
    p.join(30)
    assert p.exitcode != 0
    done = len(list((out / "_manifest").glob("s0-*.json")))
    assert 3 <= done < 24 and not (out / "summary.json").exists()
    time.sleep(0.5)  # orphaned workers of a killed parent die with it (PDEATHSIG)

    s = run(load_recipe(rec), out, workers=2, progress=False)
    ledger_holds(out)
    ref_s = json.loads((ref / "summary.json").read_text())
    assert _kept(out) == _kept(ref)
    for key in ("input", "kept", "rejected", "quarantined"):
        assert s[key] == ref_s[key]
    assert not list(out.rglob(".*.tmp"))


def test_changed_recipe_refuses_unless_fresh(tmp_path, docs):
    write_jsonl(tmp_path / "a.jsonl", docs)
    rec = make_recipe(tmp_path, {"paths": [str(tmp_path / "a.jsonl")]}, steps=[{"min_length": {"min_words": 20}}])
    run(load_recipe(rec), workers=1, progress=False)
    again = run(load_recipe(rec), workers=1, progress=False)  # same recipe: nothing to do
    assert again["kept"] > 0
    rec2 = make_recipe(tmp_path, {"paths": [str(tmp_path / "a.jsonl")]}, steps=[{"min_length": {"min_words": 200}}])
    with pytest.raises(RecipeChanged, match="different recipe.*--fresh"):
        run(load_recipe(rec2), workers=1, progress=False)
    s = run(load_recipe(rec2), workers=1, progress=False, fresh=True)
    assert s["kept"] < again["kept"]


# ------------------------------------------------------------------ re-selection from stored columns

def test_reselect_tightens_and_loosens_without_recompute(tmp_path, docs):
    write_jsonl(tmp_path / "a.jsonl", docs + ["{broken"])
    rec = make_recipe(tmp_path, {"paths": [str(tmp_path / "a.jsonl")], "id_field": "id"},
                      steps=[{"min_length": {"min_words": 100}}, {"normalize_whitespace": {}}])
    base = run(load_recipe(rec), workers=1, progress=False)
    out = tmp_path / "out"

    direct = {}
    for mw in (60, 200):  # the same recipe run from scratch is the ground truth
        r = load_recipe(make_recipe(tmp_path, {"paths": [str(tmp_path / "a.jsonl")], "id_field": "id"},
                                    steps=[{"min_length": {"min_words": mw}}, {"normalize_whitespace": {}}]))
        direct[mw] = run(r, tmp_path / f"direct{mw}", workers=1, progress=False)
    for mw, name in ((200, "tight"), (60, "loose")):
        p = subprocess.run([*GRISTMILL, "select", str(out), "-o", str(tmp_path / name), "--set", f"min_length.min_words={mw}"],
                           capture_output=True, text=True)
        assert p.returncode == 0, p.stderr
        s = json.loads((tmp_path / name / "summary.json").read_text())
        assert s["kept"] == direct[mw]["kept"] and s["rejected"] == direct[mw]["rejected"] and s["quarantined"] == 1
        assert _kept(tmp_path / name) == _kept(tmp_path / f"direct{mw}")
        ledger_holds(tmp_path / name)
    # rows newly let through were passed on to the later step, which annotated them
    loose = pq.read_table(tmp_path / "loose" / "data")
    assert "reject_reason" not in loose.column_names and "_orig_reason" not in loose.column_names
    assert base["kept"] < direct[60]["kept"]
    p = subprocess.run([*GRISTMILL, "select", str(out), "-o", str(tmp_path / "x"), "--set", "min_lenght.min_words=3"], capture_output=True, text=True)
    assert p.returncode == 2 and "no step 'min_lenght'" in p.stderr


def test_step_restricted_to_sources(tmp_path, docs):
    write_jsonl(tmp_path / "web.jsonl", docs[:40])
    write_jsonl(tmp_path / "code.jsonl", [{"id": f"c{i}", "text": "x = 1"} for i in range(30)])
    rec = make_recipe(tmp_path, {"paths": [str(tmp_path / "web.jsonl"), str(tmp_path / "code.jsonl")]},
                      steps=[{"min_length": {"min_words": 50, "sources": ["web"]}}], batch_rows=7)
    s = run(load_recipe(rec), workers=1, progress=False)
    ledger_holds(tmp_path / "out")
    t = pq.read_table(tmp_path / "out" / "data")
    code = t.filter(pa.compute.equal(t.column("source"), "code"))
    assert code.num_rows == 30 and code.column("word_count").null_count == 30  # untouched, column present as null
    web_kept = t.num_rows - 30
    assert web_kept + s["rejected"].get("min_length/too_short", 0) == 40
    lock = yaml.safe_load((tmp_path / "out" / "recipe.lock.yaml").read_text())
    assert lock["steps"][0]["min_length"]["sources"] == ["web"]


# ------------------------------------------------------------------ resume in the middle of a global (dedup) stage

def _run_in_own_group(recipe_path, out):
    os.setpgrp()  # so the test can kill the run and every process it started (spawned dedup workers too)
    run(load_recipe(recipe_path), out, workers=2, progress=False)


def test_resume_killed_during_dedup_clustering(tmp_path):
    docs = stdlib_docs(400, min_words=10)
    d = tmp_path / "in"
    d.mkdir()
    for i in range(12):  # overlapping slices: many exact and near duplicates across files
        part = [{"id": f"f{i}-{k}", "text": x["text"] + ("" if k % 3 else " (copy)")} for k, x in enumerate(docs[i * 20:i * 20 + 120])]
        write_jsonl(d / f"part{i:02d}.jsonl", part)
    rec = make_recipe(tmp_path, {"paths": [str(d / "*.jsonl")], "id_field": "id"},
                      steps=[{"min_length": {"min_words": 10}}, {"minhash_dedup": {}}, {"normalize_whitespace": {}}])
    ref = tmp_path / "ref"
    ref_s = run(load_recipe(rec), ref, workers=2, progress=False)
    assert ref_s["rejected"].get("minhash_dedup/near_duplicate", 0) > 100

    out = tmp_path / "killed"
    p = mp.get_context("fork").Process(target=_run_in_own_group, args=(rec, out))
    p.start()
    deadline = time.time() + 120
    sig = None
    while time.time() < deadline:
        fits = list((out / "_work").glob("fit-*/sig/*")) if (out / "_work").exists() else []
        if fits:
            sig = fits
            break
        time.sleep(0.01)
    assert sig, "the dedup fit should have started"
    os.killpg(p.pid, signal.SIGKILL)
    p.join(30)
    assert not (out / "_manifest" / "fit-01.json").exists() and not (out / "summary.json").exists()

    s = run(load_recipe(rec), out, workers=2, progress=False)
    ledger_holds(out)
    assert _kept(out) == _kept(ref)
    for key in ("input", "kept", "rejected", "quarantined"):
        assert s[key] == ref_s[key]
    assert s["reports"]["minhash_dedup"] == ref_s["reports"]["minhash_dedup"]


def test_readme_lists_every_step_and_the_two_commands():
    from gristmill.step import all_steps

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    missing = [n for n, c in all_steps().items() if c.__module__.startswith("gristmill.") and f"| `{n}` |" not in readme]
    assert not missing, f"README's table of steps lacks {missing}; paste `gristmill steps --markdown`"
    head = readme.split("\n## ")[0]
    assert "make demo" in head and "make test" in head
    ci = (Path(__file__).resolve().parents[2] / ".ci" / "run").read_text()
    assert "make test" in ci


def test_dedup_steps_in_a_recipe_and_show_cluster(tmp_path):
    """exact, paragraph and MinHash dedup as recipe steps through the engine, and `show --cluster`."""
    docs = stdlib_docs(120, min_words=40)
    footer = "This page is part of the stdlib notes. Report mistakes to the maintainers of this collection, please."
    recs = []
    for i, x in enumerate(docs):
        recs.append({"id": f"d{i}", "text": x["text"] + "\n\n" + footer})
    recs += [{"id": f"exact{i}", "text": docs[i]["text"] + "\n\n" + footer} for i in range(5)]
    recs += [{"id": f"near{i}", "text": docs[i]["text"].replace(" the ", " a ", 2) + "\n\n" + footer} for i in range(5, 10)]
    write_jsonl(tmp_path / "a.jsonl", recs)
    rec = make_recipe(tmp_path, {"paths": [str(tmp_path / "a.jsonl")], "id_field": "id"},
                      steps=[{"exact_dedup": {}}, {"minhash_dedup": {}}, {"paragraph_dedup": {}}])
    s = run(load_recipe(rec), workers=2, progress=False)
    ledger_holds(tmp_path / "out")
    assert s["rejected"]["exact_dedup/duplicate"] == 5
    assert s["rejected"]["minhash_dedup/near_duplicate"] >= 5
    kept = pq.read_table(tmp_path / "out" / "data")
    texts = kept.column("text").to_pylist()
    assert sum(footer in t for t in texts) == 1  # the shared footer paragraph stays only in its first document
    assert {"exact_dup_cluster", "dup_cluster", "para_dup_removed"} <= set(kept.column_names)
    near = pq.read_table(next((tmp_path / "out" / "rejected").glob("*minhash_dedup*.parquet")))
    cluster = str(near.column("dup_cluster")[0].as_py())
    r = subprocess.run([*GRISTMILL, "show", str(tmp_path / "out"), "--cluster", cluster], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "2 of 2 shown" in r.stdout or "of 2 shown" in r.stdout
    assert "minhash_dedup" in json.dumps(s["reports"])


def test_reselect_heuristic_thresholds_matches_a_fresh_run(tmp_path):
    """Tag-then-select on the real rules: new Gopher/FineWeb thresholds from stored columns equal a fresh run."""
    from gristmill.demo import build_demo_corpus

    build_demo_corpus(tmp_path / "c", n_docs=600)
    steps = [{"gopher_quality": {}}, {"fineweb_quality": {}}, {"pii": {}}]
    inp = {"paths": [str(tmp_path / "c" / "web.jsonl.gz")], "id_field": "id"}
    run(load_recipe(make_recipe(tmp_path, inp, steps)), workers=1, progress=False)
    new = [{"gopher_quality": {"min_alpha_words_ratio": 0.6, "min_doc_words": 80}}, {"fineweb_quality": {"char_duplicates_ratio": 0.1}}, {"pii": {}}]
    fresh = run(load_recipe(make_recipe(tmp_path, inp, new)), tmp_path / "fresh", workers=1, progress=False)
    p = subprocess.run([*GRISTMILL, "select", str(tmp_path / "out"), "-o", str(tmp_path / "re"),
                        "--set", "gopher_quality.min_alpha_words_ratio=0.6", "--set", "gopher_quality.min_doc_words=80",
                        "--set", "fineweb_quality.char_duplicates_ratio=0.1"], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    s = json.loads((tmp_path / "re" / "summary.json").read_text())
    assert s["rejected"] == fresh["rejected"] and s["kept"] == fresh["kept"]
    assert _kept(tmp_path / "re") == _kept(tmp_path / "fresh")


def test_dedup_counters_are_not_multiplied_by_shards(tmp_path):
    docs = stdlib_docs(60, min_words=20)
    for i in range(3):
        write_jsonl(tmp_path / f"p{i}.jsonl", [{"id": f"{i}-{k}", "text": d["text"]} for k, d in enumerate(docs)])
    rec = make_recipe(tmp_path, {"paths": [str(tmp_path / "p*.jsonl")], "id_field": "id"}, steps=[{"exact_dedup": {}}])
    s = run(load_recipe(rec), workers=2, progress=False)
    assert s["rejected"]["exact_dedup/duplicate"] == 120 == s["reports"]["exact_dedup"]["removed"]
    assert "removed" not in s["counters"].get("exact_dedup", {})
