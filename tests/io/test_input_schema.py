"""A schema per input (issue 19 item 11): a carried field's type comes from its declaration
(``fields: {score: float64}``) or from a sample of the input, never from one batch. A valid JSONL file
whose int column turns 0.5 late, or whose float column is null at first, neither crashes the run nor
changes type; a value that does not fit is quarantined with its reason. Through the CLI on real files."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
PAD = "The weather by the sea was mild this week and the boats went out early each morning. " * 2


def cli(tmp_path: Path, recipe: dict, *extra) -> subprocess.CompletedProcess:
    (tmp_path / "r.yaml").write_text(yaml.safe_dump(recipe))
    env = {**os.environ, "PYTHONPATH": str(REPO / "src") + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.run([sys.executable, "-m", "gristmill.cli", "run", "r.yaml", "-w", "1", "--no-report", *extra],
                          capture_output=True, text=True, cwd=tmp_path, env=env)


def run_ok(tmp_path, recipe):
    r = cli(tmp_path, recipe)
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr[-3000:]
    out = tmp_path / recipe["output"]["path"]
    summary = json.loads((out / "summary.json").read_text())
    quarantine = [json.loads(l) for f in sorted((out / "quarantine").glob("*.jsonl")) for l in f.read_text().splitlines()]
    return summary, quarantine, pq.read_table(out / "data")


def test_int_column_that_turns_float_late_and_a_float_column_null_at_first(tmp_path):
    # 40k rows of ~200 bytes: the change of kind comes several 4 MB read blocks into the file
    n, switch = 42_000, 40_000
    with open(tmp_path / "a.jsonl", "w") as f:
        for i in range(n):
            f.write(json.dumps({"text": f"doc {i} {PAD}", "score": i if i < switch else i + 0.5,
                                "z": None if i < 25_000 else i / 4}) + "\n")
    summary, quarantine, t = run_ok(tmp_path, {"input": {"paths": ["a.jsonl"], "fields": ["score", "z"]},
                                               "steps": [{"normalize": {}}], "output": {"path": "out"}})
    assert quarantine == [] and summary["kept"] == n
    assert str(t.schema.field("score").type) == "double" and str(t.schema.field("z").type) == "double"
    t = t.sort_by("id")
    got = dict(zip(t.column("id").to_pylist(), t.column("score").to_pylist()))
    assert got["a.jsonl:1"] == 0.0 and got[f"a.jsonl:{switch}"] == switch - 1 and got[f"a.jsonl:{n}"] == n - 1 + 0.5
    zs = dict(zip(t.column("id").to_pylist(), t.column("z").to_pylist()))
    assert zs["a.jsonl:1"] is None and zs[f"a.jsonl:{n}"] == (n - 1) / 4


def test_declared_types_quarantine_what_does_not_fit_with_the_reason(tmp_path):
    recs = [{"text": f"doc {i} {PAD}", "score": i, "url": f"https://e.org/{i}", "tags": ["a", i]} for i in range(50)]
    recs[10]["score"] = 0.5  # not an int64
    recs[20]["url"] = 7  # not a string
    recs[30]["score"] = None  # null fits anything
    (tmp_path / "a.jsonl").write_text("".join(json.dumps(r) + "\n" for r in recs))
    summary, quarantine, t = run_ok(tmp_path, {"input": {"paths": ["a.jsonl"], "fields": {"score": "int", "url": "string", "tags": "json"}},
                                               "steps": [{"normalize": {}}], "output": {"path": "out"}})
    assert summary["input"] == 50 and summary["kept"] == 48 and summary["quarantined"] == 2
    by_line = {q["line"]: q for q in quarantine}
    assert set(by_line) == {11, 21} and {q["kind"] for q in quarantine} == {"bad_field"}
    assert "field 'score'" in by_line[11]["error"] and "int64 declared" in by_line[11]["error"] and "score: float64" in by_line[11]["error"]
    assert "field 'url'" in by_line[21]["error"] and "not string" in by_line[21]["error"]
    assert [str(t.schema.field(f).type) for f in ("score", "url", "tags")] == ["int64", "string", "string"]
    row = next(r for r in t.to_pylist() if r["id"] == "a.jsonl:2")
    assert row["score"] == 1 and json.loads(row["tags"]) == ["a", 1]
    lock = yaml.safe_load((tmp_path / "out/recipe.lock.yaml").read_text())
    assert lock["inputs"][0]["fields"] == {"score": "int64", "url": "string", "tags": "json"}


def test_every_shard_of_an_input_reads_a_field_with_one_type(tmp_path):
    """Split into 1 MB shards: the last shard's floats widen the field for all shards (the shard heads
    are sampled), so every output file agrees and nothing is lost."""
    n = 15_000
    with open(tmp_path / "a.jsonl", "w") as f:
        for i in range(n):
            f.write(json.dumps({"text": f"doc {i} {PAD}", "score": i if i < n - 100 else 0.25}) + "\n")
    summary, quarantine, t = run_ok(tmp_path, {"input": {"paths": ["a.jsonl"], "fields": ["score"]}, "steps": [{"normalize": {}}],
                                               "output": {"path": "out", "shard_mb": 1}})
    files = sorted((tmp_path / "out/data").glob("*.parquet"))
    assert len(files) >= 3
    assert {str(pq.read_schema(p).field("score").type) for p in files} == {"double"}
    assert quarantine == [] and summary["kept"] == n


def test_a_kind_change_past_the_sample_is_quarantined_not_a_crash(tmp_path, monkeypatch):
    """Past the sample, a value that does not fit the sampled type is quarantined with the fix."""
    from gristmill.engine.local import run
    from gristmill.io import readers
    from gristmill.recipe import recipe_from_dict

    monkeypatch.setattr(readers, "SAMPLE_RECORDS", 100)
    n = 30_000  # several read blocks: the fast path sees the int head alone
    with open(tmp_path / "a.jsonl", "w") as f:
        for i in range(n):
            f.write(json.dumps({"text": f"doc {i} {PAD}", "score": i if i != n - 5 else "n/a"}) + "\n")
    s = run(recipe_from_dict({"input": {"paths": [str(tmp_path / "a.jsonl")], "fields": ["score"]}, "steps": [{"normalize": {}}],
                              "output": {"path": str(tmp_path / "out")}}), workers=1, progress=False)
    assert s["input"] == n and s["kept"] == n - 1 and s["quarantined"] == 1
    (q,) = [json.loads(l) for f in (tmp_path / "out/quarantine").glob("*.jsonl") for l in f.read_text().splitlines()]
    assert q["line"] == n - 4 and q["kind"] == "bad_field"
    assert "sampled from the first records" in q["error"] and "score: json" in q["error"]
    assert str(pq.read_schema(next((tmp_path / "out/data").glob("*.parquet"))).field("score").type) == "int64"


def test_an_unknown_field_type_fails_before_any_work(tmp_path):
    (tmp_path / "a.jsonl").write_text(json.dumps({"text": "x"}) + "\n")
    r = cli(tmp_path, {"input": {"paths": ["a.jsonl"], "fields": {"score": "decimal"}}, "steps": [{"normalize": {}}], "output": {"path": "out"}})
    assert r.returncode != 0 and "Traceback" not in r.stderr
    assert "unknown field type 'decimal'" in r.stdout + r.stderr and "float64" in r.stdout + r.stderr
    assert not (tmp_path / "out/data").exists()


def test_declared_types_hold_for_parquet_inputs_too(tmp_path):
    import pyarrow as pa

    pq.write_table(pa.table({"text": [f"{k} {PAD}" for k in range(6)], "score": pa.array([1, 2, None, 4, 5, 6], pa.int32()),
                             "tag": ["a", "b", "c", "d", "e", "f"]}), tmp_path / "a.parquet")
    pq.write_table(pa.table({"text": [f"b{k} {PAD}" for k in range(3)], "score": [0.5, 1.5, 2.5], "tag": [1, 2, 3]}), tmp_path / "b.parquet")
    summary, quarantine, t = run_ok(tmp_path, {"input": {"paths": [str(tmp_path / "*.parquet")], "format": "parquet",
                                                         "fields": {"score": "float64", "tag": "string"}},
                                               "steps": [{"normalize": {}}], "output": {"path": "out"}})
    assert summary["input"] == 9 and summary["kept"] == 6 and summary["quarantined"] == 3
    assert {q["kind"] for q in quarantine} == {"bad_field"} and all("field 'tag'" in q["error"] for q in quarantine)
    assert str(t.schema.field("score").type) == "double" and str(t.schema.field("tag").type) == "string"


def test_schema_property_one_type_per_field_and_every_record_accounted(tmp_path):
    """Property, on the real readers over real files: whatever kinds a field takes (ints, floats,
    nulls, strings, lists, booleans, in any order), each record is either read with its value
    intact in the field's one type, or quarantined as bad_field; none is lost, nothing raises."""
    import pyarrow as pa
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    from gristmill.io.readers import Batch, Quarantined, plan_shards, read_shard
    from gristmill.recipe import InputSpec

    value = st.one_of(st.integers(-10**6, 10**6), st.floats(-1e6, 1e6, allow_nan=False), st.none(), st.text(max_size=5),
                      st.booleans(), st.lists(st.integers(0, 9), max_size=3))

    @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
    @given(vals=st.lists(value, min_size=1, max_size=300), declared=st.sampled_from([None, "float64", "int64", "string", "json"]),
           batch_rows=st.sampled_from([7, 1000]))
    def check(vals, declared, batch_rows):
        f = tmp_path / "p.jsonl"
        f.write_text("".join(json.dumps({"text": f"doc {k}", "v": v}) + "\n" for k, v in enumerate(vals)))
        spec = InputSpec(paths=[str(f)], fields={"v": declared} if declared else ["v"], id_field=False)
        (shard,) = plan_shards([spec], 1 << 30)
        kept, quarantined, types = {}, set(), set()
        for item in read_shard(shard, spec, batch_rows):
            if isinstance(item, Quarantined):
                assert item.kind == "bad_field" and "field 'v'" in item.error
                quarantined.add(item.line)
            else:
                assert isinstance(item, Batch)
                types.add(item.table.schema.field("v").type)
                for i, v in zip(item.table.column("id").to_pylist(), item.table.column("v").to_pylist()):
                    kept[int(i.split(":")[1])] = v
        assert len(types) <= 1 and not (types & {pa.null()})
        assert set(kept) | quarantined == set(range(1, len(vals) + 1)) and not set(kept) & quarantined
        for line, got in kept.items():
            orig = vals[line - 1]
            if orig is None:
                assert got is None
            elif isinstance(got, str) and not isinstance(orig, str):
                assert json.loads(got) == orig  # json: the value as JSON text
            else:
                assert got == orig and isinstance(got, bool) == isinstance(orig, bool)

    check()
