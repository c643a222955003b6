"""The lab under hostile and unusual conditions (issue 19 items 5 and 14, medium; issue 20 items 7, 9):
checkpoints never unpickle, a stream that ends early leaves one consistent model, a torn log line, a
kill before the first checkpoint, two trainers on one output, progress off a terminal."""
import json
import os
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from conftest import stdlib_docs, write_jsonl
from gristmill.cli import app

TINY = "model: {preset: tiny, n_layer: 2, d_model: 64, n_head: 2}\nthreads: 1\n"
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
CMD = [sys.executable, "-c", "from gristmill.cli import main; main()"]


class Evil:
    """A pickle payload: unpickling calls exec, which writes the marker file."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (exec, (f"open({self.marker!r}, 'w').write('pwned')",))


@pytest.fixture
def lab(tmp_path):
    d = stdlib_docs(300)
    write_jsonl(tmp_path / "train.jsonl", d[:250])
    write_jsonl(tmp_path / "held.jsonl", d[250:])
    return tmp_path


def cfg(lab, tokens=3000, extra=""):
    p = lab / "cfg.yaml"
    p.write_text(TINY + f"data: [train.jsonl]\nseq_len: 64\nbatch_size: 8\ntokens: {tokens}\nlog_every: 1\n"
                 "eval: {heldout: [held.jsonl], max_bytes: 3000}\n" + extra)
    return p


def log_records(run):
    return [json.loads(x) for x in (run / "log.jsonl").read_text().splitlines()]


def test_checkpoint_is_safetensors_and_json_and_a_pickle_is_never_loaded(lab):
    run = lab / "run"
    r = CliRunner().invoke(app, ["lab", "train", str(cfg(lab)), "-o", str(run)])
    assert r.exit_code == 0, r.output
    ck = run / "ckpt"
    assert sorted(p.name for p in ck.iterdir()) == ["meta.json", "model.safetensors", "optim.safetensors"]
    meta = json.loads((ck / "meta.json").read_text())
    assert meta["format"] == "gristmill-lab-checkpoint" and meta["step"] == json.loads((run / "final.json").read_text())["step"]
    assert isinstance(meta["rng"], list) and meta["schedule"]["tokens"] == 3000
    from safetensors.torch import load_file

    assert any(k.startswith("state.") for k in load_file(str(ck / "optim.safetensors")))
    assert not list(run.glob("*.pt"))

    # a run directory as an older gristmill (or an attacker) left it: config.json and a pickle ckpt.pt
    marker = lab / "marker"
    evil = lab / "evil"
    evil.mkdir()
    (evil / "config.json").write_text((run / "config.json").read_text())
    torch.save({"model": Evil(marker), "config": {}, "step": 0}, evil / "ckpt.pt")
    torch.load(evil / "ckpt.pt", weights_only=False)  # the payload is live: loading it the old way runs it
    assert marker.exists()
    marker.unlink()

    held = str(lab / "held.jsonl")
    attempts = [
        ["lab", "eval", str(evil), "--data", held],
        ["lab", "quantize", str(evil), "--bits", "8", "--method", "rtn", "-o", str(lab / "q")],
        ["lab", "serve", str(evil), "--port", "1"],
        ["lab", "train", str(cfg(lab)), "-o", str(evil)],  # resume
    ]
    for a in attempts:
        r = CliRunner().invoke(app, a)
        assert r.exit_code == 2, (a, r.output)
        assert "pickle" in r.output and "not loaded" in r.output, (a, r.output)
        assert not marker.exists(), a
    # init_from another run's weights
    c = cfg(lab, extra=f"init_from: {evil}\n")
    r = CliRunner().invoke(app, ["lab", "train", str(c), "-o", str(lab / "child")])
    assert r.exit_code == 2 and "pickle" in r.output and not marker.exists(), r.output
    # a ckpt.pt planted beside a real checkpoint is ignored by every reader
    torch.save({"model": Evil(marker)}, run / "ckpt.pt")
    r = CliRunner().invoke(app, ["lab", "eval", str(run), "--data", held])
    assert r.exit_code == 0, r.output
    assert not marker.exists()


def test_no_unpickling_loader_in_the_lab():
    src = Path(__file__).resolve().parents[2] / "src" / "gristmill"
    for p in src.rglob("*.py"):
        text = p.read_text()
        assert "weights_only=False" not in text, p
        if p.parent.name == "lab":
            assert "torch.load(" not in text and "import pickle" not in text, p


def test_checkpoint_swap_killed_between_renames_is_taken_back(lab):
    from gristmill.lab import checkpoint
    from gristmill.lab.train import load_run

    run = lab / "run"
    c = cfg(lab, extra="checkpoint_every_tokens: 1000\n")
    assert CliRunner().invoke(app, ["lab", "train", str(c), "-o", str(run)]).exit_code == 0
    final = json.loads((run / "final.json").read_text())
    before = load_run(run)[3]["step"]
    (run / "ckpt").rename(run / checkpoint.OLD)  # as a kill after `ckpt -> .ckpt.old`, before `.ckpt.new -> ckpt`
    (run / checkpoint.NEW).mkdir()  # a half-written new one: no meta.json
    assert load_run(run)[3]["step"] == before  # readers take the complete old one
    r = CliRunner().invoke(app, ["lab", "eval", str(run), "--data", str(lab / "held.jsonl")])
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(app, ["lab", "train", str(c), "-o", str(run)])  # the trainer finds the run done
    assert r.exit_code == 0 and json.loads((run / "final.json").read_text()) == final
    (run / "final.json").unlink()  # and one that must write again puts ckpt/ back in place
    r = CliRunner().invoke(app, ["lab", "train", str(c), "-o", str(run)])
    assert r.exit_code == 0, r.output
    assert (run / "ckpt" / "meta.json").is_file() and not (run / checkpoint.OLD).exists() and not (run / checkpoint.NEW).exists()


def tokenizer(lab) -> Path:
    from gristmill.stream.tokenizer import train_bpe

    t = lab / "tok.json"
    train_bpe([d["text"] for d in stdlib_docs(300)], 320, t)
    return t


def test_stream_that_ends_early_checkpoints_and_evaluates_the_step_reached(lab):
    import yaml

    (lab / "cur.yaml").write_text(yaml.safe_dump({"phases": [
        {"name": "only", "tokens": 64 * 40, "sources": [{"name": "web", "path": str(lab / "train.jsonl"), "weight": 1.0}]}],
        "allow_repeat": True}))
    c = lab / "short.yaml"
    c.write_text(TINY + f"mixture: cur.yaml\ntokenizer: {tokenizer(lab)}\nseq_len: 64\nbatch_size: 8\ntokens: 20000\n"
                 "log_every: 1\neval: {heldout: [held.jsonl], max_bytes: 3000}\n")
    run = lab / "run"
    r = CliRunner().invoke(app, ["lab", "train", str(c), "-o", str(run)])
    assert r.exit_code == 0, r.output
    assert "warning" in r.output and "stream ended" in r.output
    assert "phases hold 40 sequences" in r.output  # said before training, too
    final = json.loads((run / "final.json").read_text())
    meta = json.loads((run / "ckpt" / "meta.json").read_text())
    assert final["stopped_early"]["tokens_planned"] > final["tokens"] and final["step"] == 5
    assert meta["step"] == final["step"] and meta["tokens"] == final["tokens"]  # one model
    ev = [x for x in log_records(run) if x["kind"] == "eval"]
    assert ev[-1]["step"] == final["step"] and ev[-1]["bpb"] == final["bpb"]
    # a rerun finds the run done: nothing retrained, nothing appended
    log = (run / "log.jsonl").read_text()
    r = CliRunner().invoke(app, ["lab", "train", str(c), "-o", str(run)])
    assert r.exit_code == 0 and (run / "log.jsonl").read_text() == log


def test_torn_last_log_line_is_dropped_on_resume(lab):
    c = cfg(lab, extra="checkpoint_every_tokens: 1000\n")
    run = lab / "run"
    assert CliRunner().invoke(app, ["lab", "train", str(c), "-o", str(run)]).exit_code == 0
    good = (run / "log.jsonl").read_text()
    (run / "final.json").unlink()  # as a kill after the last checkpoint, while it wrote the log
    with open(run / "log.jsonl", "a") as f:
        f.write('{"kind": "train", "step": 7, "lo')
    r = CliRunner().invoke(app, ["lab", "train", str(c), "-o", str(run)])
    assert r.exit_code == 0, r.output
    assert (run / "log.jsonl").read_text() == good and (run / "final.json").exists()
    # a broken line in the middle is not a torn write: named, not silently dropped
    lines = good.splitlines()
    (run / "log.jsonl").write_text("\n".join(lines[:2] + ["{garbage"] + lines[2:]) + "\n")
    (run / "final.json").unlink()
    r = CliRunner().invoke(app, ["lab", "train", str(c), "-o", str(run)])
    assert r.exit_code == 2 and "line 3" in r.output


def test_two_trainers_on_one_output_refuse(lab):
    from gristmill.engine.manifest import exclusive_output

    run = lab / "run"
    with exclusive_output(run):  # the lock a running `lab train` (or `gristmill run`) holds
        r = CliRunner().invoke(app, ["lab", "train", str(cfg(lab)), "-o", str(run)])
    assert r.exit_code == 2 and "another gristmill process" in r.output
    assert not (run / "log.jsonl").exists()


def test_kill_before_first_checkpoint_does_not_duplicate_log_lines(lab):
    c = cfg(lab, tokens=12000, extra="checkpoint_every_tokens: 100000\n")
    run = lab / "run"
    p = subprocess.Popen(CMD + ["lab", "train", str(c), "-o", str(run), "--no-progress"], env=ENV,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 120
        while time.time() < deadline and p.poll() is None:
            if (run / "log.jsonl").exists() and sum(1 for x in (run / "log.jsonl").read_text().splitlines() if '"train"' in x) >= 3:
                break
            time.sleep(0.05)
        os.kill(p.pid, signal.SIGKILL)
        p.wait()
    finally:
        if p.poll() is None:
            p.kill()
    assert not (run / "ckpt").exists() and not (run / "final.json").exists()
    subprocess.run(CMD + ["lab", "train", str(c), "-o", str(run), "--no-progress"], env=ENV, check=True, capture_output=True)
    recs = log_records(run)
    keys = [(x["kind"], x["step"]) for x in recs]
    assert len(keys) == len(set(keys)), keys
    assert [x["step"] for x in recs if x["kind"] == "train"] == list(range(1, 25))


def test_progress_lines_off_a_terminal_and_no_torch_warning(lab):
    env = {**ENV, "GRISTMILL_PROGRESS_EVERY": "0"}
    p = subprocess.run(CMD + ["lab", "train", str(cfg(lab)), "-o", str(lab / "run")], env=env, capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    lines = [x for x in p.stderr.splitlines() if x.startswith("train: ")]
    assert len(lines) >= 3, p.stderr
    assert all("tokens/s" in x and "loss" in x for x in lines) and any("ETA" in x for x in lines)
    assert "UserWarning" not in p.stderr
    # with the bar (a terminal) the loss is shown from a detached value: no torch warning either
    from io import StringIO

    from rich.console import Console

    from gristmill.lab.config import load_config
    from gristmill.lab.train import train

    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        train(load_config(cfg(lab)), lab / "bar", base=lab, progress=True, console=Console(file=StringIO()))
    assert not [x for x in w if "requires_grad" in str(x.message)]


def test_mixture_stream_resumes_exactly_from_the_json_checkpoint(lab):
    """The MixtureDataset position crosses a checkpoint as JSON: a run interrupted mid-way and resumed
    logs the same losses as one never interrupted."""
    import yaml

    from gristmill.lab.config import load_config
    from gristmill.lab.train import read_log, train

    (lab / "mix.yaml").write_text(yaml.safe_dump({"allow_repeat": True, "sources": [
        {"name": "web", "path": str(lab / "train.jsonl"), "weight": 0.7}, {"name": "held", "path": str(lab / "held.jsonl"), "weight": 0.3}]}))
    c = lab / "mixcfg.yaml"
    c.write_text(TINY + f"mixture: mix.yaml\ntokenizer: {tokenizer(lab)}\nseq_len: 64\nbatch_size: 8\ntokens: 6000\nlog_every: 1\n"
                 "checkpoint_every_tokens: 1000\neval: {heldout: [held.jsonl], max_bytes: 2000, every_tokens: 2500}\n")
    cfg_ = load_config(c)
    train(cfg_, lab / "a", base=lab, progress=False)
    calls = []

    def interrupt(_model):
        calls.append(1)
        if len(calls) == 3:  # the evaluation after ~5,000 tokens: past two checkpoints, before the end
            raise KeyboardInterrupt
        return {}

    with pytest.raises(KeyboardInterrupt):
        train(cfg_, lab / "b", base=lab, progress=False, on_eval=interrupt)
    assert not (lab / "b" / "final.json").exists()
    assert json.loads((lab / "b" / "ckpt" / "meta.json").read_text())["stream"]["gristmill_mixture_state"]
    train(cfg_, lab / "b", base=lab, progress=False)
    la = [(r["step"], r["loss"]) for r in read_log(lab / "a") if r["kind"] == "train"]
    lb = [(r["step"], r["loss"]) for r in read_log(lab / "b") if r["kind"] == "train"]
    assert la == lb and len(la) == 12
