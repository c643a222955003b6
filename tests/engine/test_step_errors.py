"""Items 2 and 8 of issue 8: a broken step or a misread input fails the run loudly; a rare bad
document is still quarantined. Through the real readers and the CLI (typer's runner, in process,
so the test steps registered here are visible)."""
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from typer.testing import CliRunner

from conftest import stdlib_docs, write_jsonl
from gristmill.cli import app
from gristmill.engine.local import StepFailed, run
from gristmill.recipe import RecipeError, load_recipe
from gristmill.step import Step, register


@register
class ExplodeOnMarked(Step):
    """Test step: raises on documents whose text holds the marker, as a buggy step would."""
    name = "explode_on_marked"

    def annotate(self, table):
        if any("EXPLODE" in t for t in table.column("text").to_pylist()):
            raise ValueError("cannot handle this document")
        return table


def corpus(tmp_path, n=300, bad=0, fmt="jsonl"):
    docs = stdlib_docs(n, min_words=5)
    assert len(docs) == n
    for d in docs[:bad]:
        d["text"] = "EXPLODE " + d["text"]
    if fmt == "parquet":
        pq.write_table(pa.Table.from_pylist(docs), tmp_path / "in.parquet")
        return tmp_path / "in.parquet"
    return write_jsonl(tmp_path / "in.jsonl", docs)


def recipe(tmp_path, path, fmt="jsonl", errors=None, **input_kw):
    data = {"input": {"paths": [str(path)], "format": fmt, "id_field": "id", **input_kw},
            "steps": [{"normalize": {}}, {"explode_on_marked": {}}, {"min_length": {"min_words": 5}}],
            "output": {"path": str(tmp_path / "out"), "batch_rows": 64}}
    if errors:
        data["errors"] = errors
    p = tmp_path / "r.yaml"
    p.write_text(yaml.safe_dump(data, sort_keys=False))
    return p


def cli(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_a_step_failing_on_every_document_fails_the_run(tmp_path, fmt):
    r = cli("run", recipe(tmp_path, corpus(tmp_path, bad=300, fmt=fmt), fmt), "-w", "1")
    assert r.exit_code == 4, r.output
    out = " ".join(r.output.split())
    assert "step 'explode_on_marked' raised on more than errors.max_step_errors=100" in out
    assert "Traceback (most recent call last)" in r.output and "ValueError: cannot handle this document" in r.output
    assert "not bad input" in out and not (tmp_path / "out/summary.json").exists()


def test_the_rate_limit_applies_per_shard_and_is_configurable(tmp_path):
    path = corpus(tmp_path, bad=15)  # 15 of 300: over max(10, 1% of 300)
    with pytest.raises(StepFailed, match=r"on 15 of 300 documents .*max_step_error_rate=0.01"):
        run(load_recipe(recipe(tmp_path, path)), workers=1, progress=False)
    s = run(load_recipe(recipe(tmp_path, path, errors={"min_step_errors": 20})), workers=1, progress=False, fresh=True)
    assert s["quarantine_errors"] == {"step_error": 15} and s["step_errors"] == {"explode_on_marked": 15}


def test_a_rare_bad_document_is_quarantined_and_shown(tmp_path):
    r = cli("run", recipe(tmp_path, corpus(tmp_path, bad=2)), "-w", "2")
    assert r.exit_code == 0, r.output
    s = json.loads((tmp_path / "out/summary.json").read_text())
    assert s["quarantined"] == 2 and s["quarantine_errors"] == {"step_error": 2} and s["kept"] + sum(s["rejected"].values()) == 298
    lines = r.output.splitlines()
    assert any(l.split("│")[1:3] and "quarantined" in l.split("│")[1] and l.split("│")[2].strip() == "2" for l in lines if "│" in l)
    assert any("step_error" in l and "a step raised" in l for l in lines)
    row = next(l for l in lines if "explode_on_marked" in l)
    # the two documents reached the step (in) and did not pass it (out): errors, not rejections
    assert [c.strip() for c in row.split("│")][1:6] == ["explode_on_marked", "300", "298", "0", "2"]
    # `stats` prints the same, and the quarantined total shows even without a per-kind breakdown
    s.pop("quarantine_errors")
    (tmp_path / "out/summary.json").write_text(json.dumps(s))
    r = cli("stats", tmp_path / "out")
    assert any("quarantined" in l and "│" in l and l.split("│")[2].strip() == "2" for l in r.output.splitlines())


def test_loosened_limits_let_a_broken_step_through_but_quarantine_over_half_still_fails(tmp_path):
    path = corpus(tmp_path, bad=300)
    loose = {"max_step_errors": 10_000, "max_step_error_rate": 1.0}
    r = cli("run", recipe(tmp_path, path, errors=loose), "-w", "1")
    assert r.exit_code == 4
    out = " ".join(r.output.split())
    assert "300 of 300 input records (100%) ended in quarantine" in out and "Most common cause: step_error (300 records)" in out
    assert "step explode_on_marked failed on this document" in out
    r2 = cli("run", recipe(tmp_path, path, errors=loose), "-w", "1")  # the finished run still says so
    assert r2.exit_code == 4
    r3 = cli("run", recipe(tmp_path, path, errors={**loose, "max_quarantine_fraction": 1.0}), "-w", "1", "--fresh")
    assert r3.exit_code == 0, r3.output


def test_most_records_unreadable_fails_naming_the_cause(tmp_path):
    good = stdlib_docs(40, min_words=5)
    lines = [json.dumps(d) for d in good] + [json.dumps({"id": f"n{i}", "text": i}) for i in range(100)]
    path = write_jsonl(tmp_path / "in.jsonl", lines)
    r = cli("run", recipe(tmp_path, path), "-w", "1")
    assert r.exit_code == 4
    out = " ".join(r.output.split())
    assert "100 of 140 input records (71%)" in out and "bad_text_field (100 records)" in out
    assert f"{path} line 41: text field 'text' is a int, not a string" in out


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
@pytest.mark.parametrize("key,value,hint", [("text_field", "txt", "did you mean 'text'?"), ("text_field", "body", ""),
                                            ("id_field", "doc_id", "did you mean 'id'?")])
def test_a_field_the_data_lacks_is_an_error_before_reading(tmp_path, fmt, key, value, hint):
    path = corpus(tmp_path, fmt=fmt)
    rec = recipe(tmp_path, path, fmt, **{key: value})
    with pytest.raises(RecipeError) as e:
        load_recipe(rec)
    msg = str(e.value)
    assert f"input.{key}: no record has the field {value!r}" in msg and hint in msg and str(path) in msg
    assert "id, text" in msg
    r = cli("run", rec)
    assert r.exit_code == 2 and not (tmp_path / "out").exists()


def test_a_broken_step_fails_the_run_from_worker_processes_too(tmp_path):
    docs = stdlib_docs(300, min_words=5)
    for k in range(4):  # four shards, two workers
        write_jsonl(tmp_path / f"part{k}.jsonl", [{**d, "text": "EXPLODE " + d["text"]} for d in docs[k * 75:(k + 1) * 75]])
    rec = recipe(tmp_path, tmp_path / "*.jsonl", errors={"min_step_errors": 5})
    r = cli("run", rec, "-w", "2")
    assert r.exit_code == 4, r.output
    out = " ".join(r.output.split())
    assert "step 'explode_on_marked' raised on 75 of 75 documents of shard" in out and "ValueError: cannot handle this document" in out
    assert not (tmp_path / "out/summary.json").exists()
