"""recipe.lock.yaml is a recipe: running it reproduces the run; a lock made by another version of a
step is refused with what to review (the dataset card prints the lock as the way to reproduce)."""
import json

import yaml
from typer.testing import CliRunner

from conftest import stdlib_docs, write_jsonl
from gristmill.cli import app

runner = CliRunner()


def test_a_lock_runs_as_a_recipe_and_a_changed_step_version_is_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_jsonl(tmp_path / "docs.jsonl", stdlib_docs(80, 20))
    (tmp_path / "r.yaml").write_text(yaml.safe_dump({
        "input": {"paths": ["docs.jsonl"]}, "steps": [{"min_length": {"min_words": 60}}, {"exact_dedup": {}}],
        "output": {"path": "out/a"}}))
    assert runner.invoke(app, ["run", "r.yaml", "-w", "1", "--no-report"]).exit_code == 0
    lock = tmp_path / "out/a/recipe.lock.yaml"
    r = runner.invoke(app, ["run", str(lock), "-o", "out/b", "-w", "1", "--no-report"])
    assert r.exit_code == 0, r.output
    a, b = (json.loads((tmp_path / f"out/{x}/summary.json").read_text()) for x in "ab")
    assert (a["kept"], a["rejected"]) == (b["kept"], b["rejected"])
    data = yaml.safe_load(lock.read_text())
    data["step_versions"]["min_length"] = 99
    (tmp_path / "old.lock.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    r = runner.invoke(app, ["run", "old.lock.yaml", "-o", "out/c", "-w", "1", "--no-report"])
    assert r.exit_code == 2 and "version 99 of min_length" in r.output
    assert not (tmp_path / "out/c/data").exists()
