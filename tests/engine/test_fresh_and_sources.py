"""Items 3 and 7 of issue 8: --fresh only ever replaces a gristmill output; `sources:` must name an input."""
import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

from conftest import stdlib_docs, write_jsonl

REPO = Path(__file__).resolve().parents[2]


def cli(*args, cwd):
    env = {**os.environ, "PYTHONPATH": str(REPO / "src") + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.run([sys.executable, "-m", "gristmill.cli", *map(str, args)], capture_output=True, text=True, cwd=cwd, env=env)


def recipe(path: Path, inputs, out, steps=None):
    path.write_text(yaml.safe_dump({"input": inputs, "steps": steps or [{"min_length": {"min_words": 20}}],
                                    "output": {"path": str(out)}}, sort_keys=False))
    return path


def test_fresh_refuses_the_directory_holding_the_inputs(tmp_path):
    write_jsonl(tmp_path / "data.jsonl", stdlib_docs(30))
    (tmp_path / "notes.log").write_text("mine\n")
    recipe(tmp_path / "r.yaml", {"paths": ["data.jsonl"]}, ".")
    before = sorted(p.name for p in tmp_path.iterdir())
    r = cli("run", "r.yaml", "--fresh", "-w", "1", cwd=tmp_path)
    assert r.returncode == 2, r.stderr
    assert "--fresh refuses" in r.stderr and "Traceback" not in r.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # inputs, recipe and log untouched
    # an input inside the output directory protects it too, even when the output is named
    (tmp_path / "out/in").mkdir(parents=True)
    write_jsonl(tmp_path / "out/in/a.jsonl", stdlib_docs(10))
    recipe(tmp_path / "r2.yaml", {"paths": ["out/in/a.jsonl"]}, "out")
    r = cli("run", "r2.yaml", "--fresh", cwd=tmp_path)
    assert r.returncode == 2 and "an input of this run" in r.stderr and (tmp_path / "out/in/a.jsonl").exists()


def test_fresh_refuses_home_root_and_a_parent(tmp_path):
    write_jsonl(tmp_path / "a.jsonl", stdlib_docs(10))
    sub = tmp_path / "sub"
    sub.mkdir()
    recipe(sub / "r.yaml", {"paths": [str(tmp_path / "a.jsonl")]}, "..")
    for out in ("/", str(Path.home()), "..", "."):
        r = cli("run", "r.yaml", "-o", out, "--fresh", cwd=sub)
        assert r.returncode == 2 and "--fresh refuses" in r.stderr, (out, r.stderr)
    assert (tmp_path / "a.jsonl").exists() and (sub / "r.yaml").exists()


def test_fresh_on_a_user_directory_is_refused_and_the_message_is_accurate(tmp_path):
    write_jsonl(tmp_path / "a.jsonl", stdlib_docs(30))
    precious = tmp_path / "out/precious"
    precious.mkdir(parents=True)
    (precious / "thesis.tex").write_text("do not delete")
    recipe(tmp_path / "r.yaml", {"paths": [str(tmp_path / "a.jsonl")]}, precious)
    r = cli("run", "r.yaml", cwd=tmp_path)
    assert r.returncode == 2 and "is not a gristmill output" in r.stderr and "pass --fresh" not in r.stderr
    r = cli("run", "r.yaml", "--fresh", cwd=tmp_path)
    assert r.returncode == 2 and "not a gristmill output" in r.stderr
    assert (precious / "thesis.tex").read_text() == "do not delete"


def test_fresh_replaces_only_gristmills_own_files(tmp_path):
    write_jsonl(tmp_path / "a.jsonl", stdlib_docs(40))
    out = tmp_path / "out"
    recipe(tmp_path / "r.yaml", {"paths": [str(tmp_path / "a.jsonl")]}, out)
    assert cli("run", "r.yaml", "-w", "1", cwd=tmp_path).returncode == 0
    (out / "README.txt").write_text("my notes on this run")
    recipe(tmp_path / "r.yaml", {"paths": [str(tmp_path / "a.jsonl")]}, out, steps=[{"min_length": {"min_words": 5}}])
    r = cli("run", "r.yaml", "-w", "1", cwd=tmp_path)
    assert r.returncode == 2 and "different recipe" in r.stderr and "--fresh" in r.stderr
    r = cli("run", "r.yaml", "-w", "1", "--fresh", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert (out / "README.txt").read_text() == "my notes on this run"
    s = json.loads((out / "summary.json").read_text())
    assert s["input"] == 40 and s["kept"] == 40 - sum(s["rejected"].values())
    # select --fresh follows the same rule
    other = tmp_path / "mine"
    other.mkdir()
    (other / "keep.txt").write_text("x")
    r = cli("select", out, "-o", other, "--fresh", "--set", "min_length.min_words=30", cwd=tmp_path)
    assert r.returncode == 2 and "not a gristmill output" in r.stderr and (other / "keep.txt").exists()


def test_sources_naming_no_input_is_an_error_with_a_suggestion(tmp_path):
    write_jsonl(tmp_path / "email.jsonl", stdlib_docs(10))
    write_jsonl(tmp_path / "web.jsonl", stdlib_docs(10))
    r = recipe(tmp_path / "r.yaml", [{"paths": [str(tmp_path / "email.jsonl")]}, {"paths": [str(tmp_path / "web.jsonl")], "source": "crawl"}],
               tmp_path / "out", steps=[{"min_length": {"min_words": 20, "sources": ["emial"]}},
                                        {"min_length": {"min_words": 20, "sources": ["crawl"]}}])
    res = cli("run", r, cwd=tmp_path)
    assert res.returncode == 2
    assert "r.yaml line 10: steps.0.min_length.sources" in res.stderr and "no input has source 'emial' (did you mean 'email'?)" in res.stderr
    assert "crawl" in res.stderr and not (tmp_path / "out").exists()


def test_two_runs_on_one_output_the_second_is_refused_while_the_first_writes(tmp_path):
    """One writer per output directory: a second run (or select) on it fails at once, naming why,
    and the first run's output is untouched; once the holder is gone (even SIGKILLed) it resumes."""
    import signal
    import time

    write_jsonl(tmp_path / "a.jsonl", stdlib_docs(4000) * 6)
    recipe(tmp_path / "r.yaml", {"paths": ["a.jsonl"]}, "out", steps=[{"min_length": {"min_words": 20}}, {"gopher_quality": {}}])
    env = {**os.environ, "PYTHONPATH": str(REPO / "src") + os.pathsep + os.environ.get("PYTHONPATH", "")}
    first = subprocess.Popen([sys.executable, "-m", "gristmill.cli", "run", "r.yaml", "-w", "1", "--no-report"],
                             cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    try:
        deadline = time.time() + 120
        while not (tmp_path / "out/_manifest/plan.json").exists():
            assert first.poll() is None and time.time() < deadline, first.stderr.read()
            time.sleep(0.02)
        os.killpg(first.pid, signal.SIGSTOP)  # frozen mid-run: it holds the output
        assert not (tmp_path / "out/summary.json").exists()
        second = cli("run", "r.yaml", "-w", "1", cwd=tmp_path)
        assert second.returncode == 2 and "another gristmill process is writing" in second.stderr, second.stderr
        assert "Traceback" not in second.stderr
        fresh = cli("run", "r.yaml", "--fresh", cwd=tmp_path)  # --fresh must not delete a live run's files either
        assert fresh.returncode == 2 and (tmp_path / "out/_manifest/plan.json").exists()
        os.killpg(first.pid, signal.SIGKILL)  # the kernel drops the lock with its holder
        first.wait(30)
    finally:
        if first.poll() is None:
            os.killpg(first.pid, signal.SIGKILL)
            first.wait(30)
    resumed = cli("run", "r.yaml", "-w", "1", "--no-report", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    summary = json.loads((tmp_path / "out/summary.json").read_text())
    n = len((tmp_path / "a.jsonl").read_text().splitlines())
    assert summary["input"] == n and summary["kept"] + sum(summary["rejected"].values()) + summary["quarantined"] == n


def test_fresh_refuses_a_project_folder_with_its_own_summary_json_and_keeps_its_data(tmp_path):
    """Issue 19 item 9: a common file name (summary.json) does not make a folder a gristmill output;
    only gristmill's own manifest marker does."""
    write_jsonl(tmp_path / "a.jsonl", stdlib_docs(30))
    proj = tmp_path / "project"
    (proj / "data").mkdir(parents=True)
    (proj / "summary.json").write_text('{"accuracy": 0.91}')
    (proj / "data/train_labels.csv").write_text("id,label\n1,cat\n")
    recipe(tmp_path / "r.yaml", {"paths": [str(tmp_path / "a.jsonl")]}, proj)
    for args in (("--fresh",), ()):
        r = cli("run", "r.yaml", "-w", "1", "--no-report", *args, cwd=tmp_path)
        assert r.returncode == 2 and "not a gristmill output" in r.stderr, r.stderr
        assert (proj / "data/train_labels.csv").read_text() == "id,label\n1,cat\n"
        assert (proj / "summary.json").read_text() == '{"accuracy": 0.91}' and not (proj / "_manifest").exists()
    # nor does a _manifest/ folder that gristmill did not write
    (proj / "_manifest").mkdir()
    (proj / "_manifest/recipe.fingerprint").write_text("not a fingerprint of ours\n")
    r = cli("run", "r.yaml", "-w", "1", "--no-report", "--fresh", cwd=tmp_path)
    assert r.returncode == 2 and "not a gristmill output" in r.stderr
    assert (proj / "data/train_labels.csv").exists() and (proj / "_manifest/recipe.fingerprint").exists()


def test_fresh_still_recognises_outputs_with_a_manifest_and_the_marker_is_written(tmp_path):
    write_jsonl(tmp_path / "a.jsonl", stdlib_docs(30))
    out = tmp_path / "out"
    recipe(tmp_path / "r.yaml", {"paths": [str(tmp_path / "a.jsonl")]}, out)
    assert cli("run", "r.yaml", "-w", "1", "--no-report", cwd=tmp_path).returncode == 0
    marker = json.loads((out / "_manifest/format.json").read_text())
    assert marker["format"] == "gristmill-output" and marker["version"] >= 1
    # an output written before the marker existed (only _manifest/recipe.fingerprint) is still one
    (out / "_manifest/format.json").unlink()
    r = cli("run", "r.yaml", "-w", "1", "--no-report", "--fresh", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert (out / "_manifest/format.json").exists() and json.loads((out / "summary.json").read_text())["input"] == 30


def test_fresh_no_report_leaves_no_stale_report(tmp_path):
    """Issue 19 item 14: the old run's report.html (and mixture.json) must not survive --fresh --no-report."""
    write_jsonl(tmp_path / "a.jsonl", stdlib_docs(30))
    out = tmp_path / "out"
    recipe(tmp_path / "r.yaml", {"paths": [str(tmp_path / "a.jsonl")]}, out)
    assert cli("run", "r.yaml", "-w", "1", cwd=tmp_path).returncode == 0
    assert (out / "report.html").exists()
    (out / "mixture.json").write_text("{}")
    (out / "notes.txt").write_text("mine")
    recipe(tmp_path / "r.yaml", {"paths": [str(tmp_path / "a.jsonl")]}, out, steps=[{"min_length": {"min_words": 5}}])
    r = cli("run", "r.yaml", "-w", "1", "--fresh", "--no-report", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert not (out / "report.html").exists() and not (out / "mixture.json").exists()
    assert (out / "notes.txt").read_text() == "mine"
