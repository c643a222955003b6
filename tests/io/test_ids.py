"""Item 5 of issue 8: derived ids are unique across inputs; duplicate user ids fail before dedup."""
import json

import pyarrow.parquet as pq
import yaml
from typer.testing import CliRunner

from conftest import stdlib_docs, write_jsonl
from gristmill.cli import app


def write_recipe(tmp_path, inputs, steps):
    p = tmp_path / "r.yaml"
    p.write_text(yaml.safe_dump({"inputs": inputs, "steps": steps, "output": {"path": str(tmp_path / "out")}}, sort_keys=False))
    return p


def test_same_file_name_in_two_inputs_gives_distinct_ids_and_dedup_keeps_both(tmp_path):
    docs = stdlib_docs(40, min_words=5)
    for sub, part in (("a", docs[:20]), ("b", docs[20:])):
        (tmp_path / sub).mkdir()
        write_jsonl(tmp_path / sub / "data.jsonl", [{"text": d["text"]} for d in part])
    (tmp_path / "c").mkdir()
    (tmp_path / "c/data.parquet").parent.mkdir(exist_ok=True)
    import pyarrow as pa

    pq.write_table(pa.table({"text": [d["text"] for d in docs[:5]]}), tmp_path / "c/data.parquet")  # 5 true duplicates of a/
    rec = write_recipe(tmp_path, [{"paths": [str(tmp_path / "a/data.jsonl")]}, {"paths": [str(tmp_path / "b/data.jsonl")]},
                                  {"paths": [str(tmp_path / "c/*.parquet")], "format": "parquet"}],
                       [{"exact_dedup": {}}])
    r = CliRunner().invoke(app, ["run", str(rec), "-w", "1"])
    assert r.exit_code == 0, r.output
    s = json.loads((tmp_path / "out/summary.json").read_text())
    assert s["input"] == 45 and s["kept"] == 40 and s["rejected"] == {"exact_dedup/duplicate": 5}
    ids = pq.read_table(tmp_path / "out/data").column("id").to_pylist()
    assert len(set(ids)) == 40
    assert "a/data.jsonl:1" in ids and "b/data.jsonl:1" in ids
    rej = pq.read_table(tmp_path / "out/rejected").column("id").to_pylist()
    assert sorted(rej) == [f"data.parquet:{k}" for k in range(5)]  # no clash: its name is kept


def test_the_same_file_in_two_inputs_is_named_twice(tmp_path):
    write_jsonl(tmp_path / "data.jsonl", [{"text": d["text"]} for d in stdlib_docs(10, min_words=5)])
    rec = write_recipe(tmp_path, [{"paths": [str(tmp_path / "data.jsonl")], "source": "one"},
                                  {"paths": [str(tmp_path / "data.jsonl")], "source": "two"}], [])
    r = CliRunner().invoke(app, ["run", str(rec), "-w", "1"])
    assert r.exit_code == 0, r.output
    ids = pq.read_table(tmp_path / "out/data").column("id").to_pylist()
    assert len(ids) == 20 and len(set(ids)) == 20 and "input1/data.jsonl:1" in ids


def test_duplicate_user_ids_fail_before_the_global_steps(tmp_path):
    docs = stdlib_docs(30, min_words=5)
    write_jsonl(tmp_path / "a.jsonl", [{"id": f"doc{k}", "text": d["text"]} for k, d in enumerate(docs[:15])])
    write_jsonl(tmp_path / "b.jsonl", [{"id": f"doc{k + 12}", "text": d["text"]} for k, d in enumerate(docs[15:])])
    rec = write_recipe(tmp_path, [{"paths": [str(tmp_path / "*.jsonl")], "id_field": "id"}],
                       [{"min_length": {"min_words": 5}}, {"exact_dedup": {}}])
    r = CliRunner().invoke(app, ["run", str(rec), "-w", "1"])
    assert r.exit_code == 2
    out = " ".join(r.output.split())
    assert "id 'doc12' appears 2 times" in out and "a.jsonl" in out and "b.jsonl" in out and "2 more ids repeat" in out
    assert not list((tmp_path / "out/_work").glob("fit-*")) and not (tmp_path / "out/summary.json").exists()
    # ids repeated only across a reject and a keep are duplicates too; unique ids run through
    write_jsonl(tmp_path / "b.jsonl", [{"id": f"x{k}", "text": d["text"]} for k, d in enumerate(docs[15:])])
    r = CliRunner().invoke(app, ["run", str(rec), "-w", "1", "--fresh"])
    assert r.exit_code == 0, r.output
