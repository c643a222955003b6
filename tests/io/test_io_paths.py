"""One path expander for every consumer (issue 20, one document layer): a recipe input, a mixture
source, the lab and quality examples see the same files for the same patterns. A gristmill output
directory means its kept documents (data/), never its rejected/ ones; directories recurse."""
from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import yaml
from typer.testing import CliRunner

from gristmill.cli import app
from gristmill.io.paths import PARQUET, expand
from gristmill.lab.data import expand as lab_expand
from gristmill.mix.sources import expand_source_paths
from gristmill.quality.examples import _files as quality_files
from gristmill.recipe import InputSpec, expand_paths

PROSE = "Plain English prose about the weather and the sea, written by a person for other people to read. " * 3


def test_every_consumer_expands_a_run_output_and_a_tree_alike(tmp_path):
    (tmp_path / "raw/a/b").mkdir(parents=True)
    for k, p in enumerate(["raw/one.jsonl", "raw/a/two.jsonl", "raw/a/b/three.jsonl"]):
        (tmp_path / p).write_text("".join(json.dumps({"text": f"{p} {i} {PROSE}" if i else "too short"}) + "\n" for i in range(3 + k)))
    rec = tmp_path / "r.yaml"
    rec.write_text(yaml.safe_dump({"input": {"paths": [str(tmp_path / "raw")]}, "steps": [{"min_length": {"min_words": 25}}],
                                   "output": {"path": str(tmp_path / "out")}}))
    r = CliRunner().invoke(app, ["run", str(rec), "-w", "1", "--no-report"])
    assert r.exit_code == 0, r.output
    out = tmp_path / "out"
    data = sorted((out / "data").glob("*.parquet"))
    assert data and list((out / "rejected").glob("*.parquet"))  # the trap: rejected/ holds parquet too

    got_recipe = [f for f, _ in expand_paths(InputSpec(paths=[str(out)], format="parquet"))]
    assert got_recipe == data == expand_source_paths([str(out)]) == lab_expand([str(out)]) == quality_files(str(out))
    tree = sorted((tmp_path / "raw").rglob("*.jsonl"))
    assert sorted(f for f, _ in expand_paths(InputSpec(paths=[str(tmp_path / "raw")]))) == tree
    assert sorted(expand_source_paths([str(tmp_path / "raw")])) == sorted(lab_expand([str(tmp_path / "raw")])) == sorted(quality_files(str(tmp_path / "raw"))) == tree
    rels = dict((f.name, rel) for f, rel in expand([str(tmp_path / "raw")], (".jsonl",)))
    assert rels == {"one.jsonl": "one.jsonl", "two.jsonl": "a/two.jsonl", "three.jsonl": "a/b/three.jsonl"}

    # a second run reading the first one's output reads its kept documents only
    rec2 = tmp_path / "r2.yaml"
    rec2.write_text(yaml.safe_dump({"input": {"paths": [str(out)], "format": "parquet", "id_field": "id"}, "steps": [],
                                    "output": {"path": str(tmp_path / "out2")}}))
    r = CliRunner().invoke(app, ["run", str(rec2), "-w", "1", "--no-report"])
    assert r.exit_code == 0, r.output
    s1 = json.loads((out / "summary.json").read_text())
    s2 = json.loads((tmp_path / "out2/summary.json").read_text())
    assert s2["input"] == s1["kept"] and s2["kept"] == s1["kept"]


def test_a_folder_named_data_is_not_taken_for_a_run_output(tmp_path):
    """Only a directory with gristmill's own files (recipe.lock.yaml or summary.json) is an output."""
    (tmp_path / "proj/data").mkdir(parents=True)
    pq.write_table(pa.table({"text": ["a"]}), tmp_path / "proj/data/x.parquet")
    pq.write_table(pa.table({"text": ["b"]}), tmp_path / "proj/y.parquet")
    assert [f.name for f, _ in expand([str(tmp_path / "proj")], PARQUET)] == ["x.parquet", "y.parquet"]
