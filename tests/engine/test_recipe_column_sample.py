"""Issue 20 item 4: an input that declares no ``fields:`` is sampled (its first records, bounded) at
load, so a step whose input column is missing is reported before any work with what the data
holds: the column is in the records (declare it in ``fields:``) or it is not (the fields it has,
the nearest one)."""
import json

import yaml
from typer.testing import CliRunner

from conftest import write_jsonl
from gristmill.cli import app
from gristmill.io.preflight import sample_fields
from gristmill.io.spec import InputSpec


def _run(tmp_path, data, steps):
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(yaml.safe_dump({"input": {"paths": [str(data)]}, "steps": steps,
                                      "output": {"path": str(tmp_path / "out")}}, sort_keys=False))
    r = CliRunner().invoke(app, ["run", str(recipe)], terminal_width=400)
    return r.exit_code, " ".join(r.output.split())


def test_column_in_the_records_but_not_declared_names_the_file_and_the_fields_fix(tmp_path):
    data = write_jsonl(tmp_path / "pages.jsonl", [{"id": f"p{i}", "text": "", "html": f"<p>page {i} says hello</p>"} for i in range(30)])
    code, msg = _run(tmp_path, data, [{"html_extract": {}}])
    assert code == 2, msg
    assert "line 5: steps.0.html_extract: no earlier step writes the column 'html'" in msg
    assert "pages.jsonl's first records have 'html' (20 of 20), but the input declares no fields:" in msg
    assert "fields: [html]" in msg
    assert not (tmp_path / "out").exists()  # before any work


def test_column_missing_from_the_records_lists_their_fields_and_the_nearest(tmp_path):
    data = write_jsonl(tmp_path / "mail.jsonl", [{"id": f"m{i}", "text": "", "htm": "<p>hi</p>", "subject": "x"} for i in range(5)])
    code, msg = _run(tmp_path, data, [{"html_extract": {}}])
    assert code == 2, msg
    assert "the first 5 records of" in msg and "have no 'html' either (their fields: htm, id, subject, text; did you mean 'htm'?)" in msg
    # declaring a field the data does not have would only carry nulls: the hint points at the step's parameters
    assert "point html_extract at a field the records have" in msg and "gristmill steps html_extract" in msg
    assert not (tmp_path / "out").exists()
    # the step pointed at the field the records have: the recipe loads and runs
    spec = {"paths": [str(data)], "fields": ["htm"]}
    (tmp_path / "ok.yaml").write_text(yaml.safe_dump({"input": spec, "steps": [{"html_extract": {"html_column": "htm"}}],
                                                      "output": {"path": str(tmp_path / "ok")}}))
    r = CliRunner().invoke(app, ["run", str(tmp_path / "ok.yaml"), "-w", "1", "--no-report"], terminal_width=400)
    assert r.exit_code == 0, r.output
    assert json.loads((tmp_path / "ok" / "summary.json").read_text())["input"] == 5


def test_the_sample_is_bounded_in_records_and_bytes(tmp_path):
    many = write_jsonl(tmp_path / "many.jsonl", [{"text": "a", "k": i} for i in range(500)])
    first, n, seen = sample_fields(InputSpec(paths=[str(many)]), records=7, max_bytes=1 << 20)
    assert first == many and n == 7 and seen == {"text": 7, "k": 7}
    # a first record longer than the byte bound is not parsed (nor read whole): nothing is known from it
    huge = write_jsonl(tmp_path / "huge.jsonl", [{"text": "x" * (3 << 20), "html": "<p/>"}, {"text": "y", "html": "<p/>"}])
    _, n, seen = sample_fields(InputSpec(paths=[str(huge)]), records=20, max_bytes=1 << 20)
    assert n == 0 and seen == {}
