"""Issue 19 (missing optional dependencies) and issue 20 item 4 (a missing column): the recipe check
reports both before any work, from what each step declares (recipe.py knows no step by name)."""
import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import stdlib_docs, write_jsonl
from gristmill.recipe import RecipeError, load_recipe

REPO = Path(__file__).resolve().parents[2]


def _recipe(tmp_path: Path, inputs, steps) -> Path:
    f = tmp_path / "r.yaml"
    f.write_text(yaml.safe_dump({"inputs": inputs, "steps": steps, "output": {"path": str(tmp_path / "out")}}, sort_keys=False))
    return f


def _html_docs(tmp_path: Path) -> Path:
    return write_jsonl(tmp_path / "pages.jsonl", [{"text": "", "html": f"<html><body><p>{d['text']}</p></body></html>", "url": f"https://x/{i}"}
                                                   for i, d in enumerate(stdlib_docs(5))])


def test_a_step_reading_an_undeclared_column_fails_at_load_with_a_fields_hint(tmp_path):
    pages = _html_docs(tmp_path)
    r = _recipe(tmp_path, [{"paths": [str(pages)]}], [{"html_extract": {}}])
    with pytest.raises(RecipeError) as e:
        load_recipe(r)
    msg = str(e.value)
    assert "line 5: steps.0.html_extract: no earlier step writes the column 'html'" in msg, msg
    assert "fields: [html]" in msg
    load_recipe(_recipe(tmp_path, [{"paths": [str(pages)], "fields": ["html"]}], [{"html_extract": {}}]))  # declared: fine
    # exact_dedup on url, and a selector on a score column: the writer is named
    r = _recipe(tmp_path, [{"paths": [str(pages)]}], [{"exact_dedup": {"key": "url"}}, {"quality_select": {"min_score": 0.5}}])
    with pytest.raises(RecipeError) as e:
        load_recipe(r)
    msg = str(e.value)
    assert "exact_dedup: no earlier step writes the column 'url'" in msg and "fields: [url]" in msg
    assert "quality_select: no earlier step writes the column 'quality_score'" in msg and "put 'quality_score: {...}' before" in msg


def test_the_column_check_is_per_input_and_respects_sources(tmp_path):
    pages = _html_docs(tmp_path)
    prose = write_jsonl(tmp_path / "prose.jsonl", stdlib_docs(5))
    two = [{"paths": [str(pages)], "source": "web", "fields": ["html"]}, {"paths": [str(prose)], "source": "books"}]
    with pytest.raises(RecipeError) as e:
        load_recipe(_recipe(tmp_path, two, [{"html_extract": {}}]))
    assert "input 1 (" in str(e.value) and "prose.jsonl" in str(e.value)
    load_recipe(_recipe(tmp_path, two, [{"html_extract": {"sources": ["web"]}}]))  # books never reach it


def test_a_missing_optional_package_is_reported_before_any_work(tmp_path):
    write_jsonl(tmp_path / "a.jsonl", stdlib_docs(20))
    r = _recipe(tmp_path, [{"paths": [str(tmp_path / "a.jsonl")]}], [{"min_length": {"min_words": 5}}, {"semantic_dedup": {}}])
    # sentence-transformers absent, as on a machine without the `semantic` extra (None in sys.modules
    # is how Python marks a module as not importable)
    code = ("import sys; sys.modules['sentence_transformers'] = None; sys.argv = ['gristmill', 'run', sys.argv[1], '-w', '1']; "
            "from gristmill.cli import main; main()")
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    res = subprocess.run([sys.executable, "-c", code, str(r)], capture_output=True, text=True, cwd=tmp_path, env=env, timeout=300)
    err = " ".join(res.stderr.split())
    assert res.returncode == 2 and "Traceback" not in res.stderr, res.stderr
    assert "steps.1.semantic_dedup: needs the Python package sentence_transformers" in err
    assert "pip install 'sentence-transformers>=3'" in err
    assert not (tmp_path / "out").exists()  # nothing ran


def test_recipe_py_names_no_step():
    """Issue 20: the recipe check knows no step by name; steps declare what they need."""
    from gristmill.step import all_steps

    src = (REPO / "src/gristmill/recipe.py").read_text()
    strings = {n.value for n in ast.walk(ast.parse(src)) if isinstance(n, ast.Constant) and isinstance(n.value, str)}
    assert not strings & set(all_steps()), strings & set(all_steps())


def test_third_party_steps_register_through_entry_points(tmp_path):
    """Issue 20: a package registers steps under the entry-point group gristmill.steps."""
    site = tmp_path / "site"
    (site / "shout_step").mkdir(parents=True)
    (site / "shout_step/__init__.py").write_text(
        "import pyarrow as pa, pyarrow.compute as pc\n"
        "from gristmill.step import Step, StepConfig, register\n"
        "class Cfg(StepConfig):\n    word: str = 'pickle'\n"
        "@register\nclass Shout(Step):\n    '''Rejects documents that mention a word.'''\n    name = 'no_word'\n    Config = Cfg\n"
        "    def select(self, table):\n"
        "        hit = pc.match_substring(pc.utf8_lower(table.column('text')), self.config.word)\n"
        "        return pc.if_else(hit, pa.scalar('has_word'), pa.scalar(None, pa.string()))\n")
    (site / "broken_step.py").write_text("raise RuntimeError('this plugin is broken')\n")
    dist = site / "shout_step-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: shout-step\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[gristmill.steps]\nno_word = shout_step\nbroken = broken_step\n")
    docs = stdlib_docs(30)
    write_jsonl(tmp_path / "a.jsonl", docs)
    r = _recipe(tmp_path, [{"paths": [str(tmp_path / "a.jsonl")]}], [{"no_word": {"word": "the"}}])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "src"), str(site)])}
    res = subprocess.run([sys.executable, "-m", "gristmill", "run", str(r), "-w", "1", "--no-report"], capture_output=True, text=True,
                         cwd=tmp_path, env=env, timeout=300)
    assert res.returncode == 0, res.stderr
    import json

    s = json.loads((tmp_path / "out/summary.json").read_text())
    assert s["rejected"] == {"no_word/has_word": sum("the" in d["text"].lower() for d in docs)}
    r = _recipe(tmp_path, [{"paths": [str(tmp_path / "a.jsonl")]}], [{"no_wrd": {}}])
    res = subprocess.run([sys.executable, "-m", "gristmill", "run", str(r)], capture_output=True, text=True, cwd=tmp_path, env=env, timeout=300)
    err = " ".join(res.stderr.split())
    assert res.returncode == 2 and "did you mean 'no_word'" in err and "step plugin 'broken' (broken_step, package shout-step) failed to load" in err
