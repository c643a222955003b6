"""Held-out QA (qa branch): re-running a recipe after its input changed must not report the old
counts as a finished run (the new records were in no output) nor resume over changed byte ranges."""
import json

import pytest
import yaml

from gristmill.engine.local import run
from gristmill.engine.manifest import RecipeChanged
from gristmill.recipe import load_recipe
from qa_cli import PROSE, cli


def test_a_changed_input_is_refused_on_resume_and_fresh_reads_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    rec = lambda i: json.dumps({"id": f"d{i}", "text": f"{i} {PROSE}"}) + "\n"
    (tmp_path / "a.jsonl").write_text("".join(rec(i) for i in range(20)))
    (tmp_path / "r.yaml").write_text(yaml.safe_dump({"input": {"paths": ["a.jsonl"], "id_field": "id"},
                                                     "steps": [{"exact_dedup": {}}], "output": {"path": "out"}}))
    quiet = dict(workers=1, progress=False, log=lambda m: None)
    assert run(load_recipe("r.yaml"), **quiet)["input"] == 20
    assert run(load_recipe("r.yaml"), **quiet)["input"] == 20  # unchanged input: a finished run stays finished
    with open(tmp_path / "a.jsonl", "a") as f:
        f.write("".join(rec(i) for i in range(20, 30)))
    with pytest.raises(RecipeChanged, match="input a.jsonl changed"):
        run(load_recipe("r.yaml"), **quiet)  # before: 'already complete', input 20, 10 records in no output
    r = cli("run", "r.yaml", "-w", "1", "--no-report", cwd=tmp_path)
    assert r.returncode == 2 and "--fresh" in r.stderr and "Traceback" not in r.stderr, r.stderr
    assert run(load_recipe("r.yaml"), fresh=True, **quiet)["input"] == 30
