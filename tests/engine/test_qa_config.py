"""Held-out QA (qa branch): misconfigurations a new user makes fail at load time, non-zero, naming
the line and the fix, instead of rejecting or nulling the whole corpus silently, or failing deep
in the run with a step traceback."""
import json

import yaml

from qa_cli import PROSE, cli


def test_misspelt_field_language_name_and_missing_score_column_fail_early(tmp_path):
    (tmp_path / "a.jsonl").write_text("".join(json.dumps({"id": f"d{i}", "text": f"{i} {PROSE}", "kind": "x"}) + "\n" for i in range(20)))
    (tmp_path / "r.yaml").write_text(yaml.safe_dump({
        "input": {"paths": ["a.jsonl"], "id_field": "id", "fields": ["knd"]},
        "steps": [{"language_id": {"languages": ["english"], "min_score": 65}}, {"quality_select": {"min_score": 0.5}}],
        "output": {"path": "out"}}, sort_keys=False))
    r = cli("run", "r.yaml", "-w", "1", cwd=tmp_path)
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    err = r.stderr
    # before: a column of nulls; every document rejected as wrong_language; every document rejected
    # as low_confidence (65 read as a percent); a KeyError traceback from each worker
    assert "input.fields: no record has the field 'knd' (did you mean 'kind'?)" in err
    assert "'english' is not a language code" in err and "did you mean 'en'" in err and "Value error" not in err
    assert "language_id.min_score: Input should be less than or equal to 1" in err
    assert "quality_select: no earlier step writes the column 'quality_score'" in err
    assert not (tmp_path / "out").exists()  # nothing ran
