"""The lab's trainer through the real CLI: a short run lowers the loss, a killed run resumes
exactly, a seed is deterministic, and a bad config fails early with the field named."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from conftest import stdlib_docs, write_jsonl
from gristmill.cli import app

TINY = "model: {preset: tiny, n_layer: 2, d_model: 64, n_head: 2}\nthreads: 1\n"  # one thread: the test machine is shared


@pytest.fixture
def lab(tmp_path):
    d = stdlib_docs(300)
    write_jsonl(tmp_path / "train.jsonl", d[:250])
    write_jsonl(tmp_path / "held.jsonl", d[250:])
    return tmp_path


def cfg(lab, name="cfg.yaml", extra=""):
    p = lab / name
    p.write_text(TINY + "data: [train.jsonl]\nseq_len: 64\nbatch_size: 8\ntokens: 20000\nlog_every: 1\n"
                 "eval: {heldout: [held.jsonl], max_bytes: 8000}\n" + extra)
    return p


def losses(run):
    return {r["step"]: r["loss"] for r in map(json.loads, (run / "log.jsonl").read_text().splitlines()) if r["kind"] == "train"}


def evals(run):
    return [r for r in map(json.loads, (run / "log.jsonl").read_text().splitlines()) if r["kind"] == "eval"]


def test_short_run_lowers_loss_and_beats_unigram(lab):
    r = CliRunner().invoke(app, ["lab", "train", str(cfg(lab)), "-o", str(lab / "run")])
    assert r.exit_code == 0, r.output
    ev = evals(lab / "run")
    assert ev[0]["tokens"] == 0 and ev[-1]["tokens"] >= 20000
    assert ev[-1]["bpb"]["held"] < ev[0]["bpb"]["held"] - 1.5  # from ~8 bits (uniform over 257) down
    assert ev[-1]["bpb"]["held"] < ev[-1]["unigram_bpb"]["held"]  # learned more than byte frequencies
    ls = losses(lab / "run")
    assert ls[max(ls)] < ls[1] - 1.0
    final = json.loads((lab / "run" / "final.json").read_text())
    assert final["bpb"] == ev[-1]["bpb"] and "held" in r.output
    assert final["not_below_unigram"] == [] and "NOT below" not in r.output


def test_killed_run_resumes_exactly_and_seed_is_deterministic(lab):
    c = cfg(lab, extra="checkpoint_every_tokens: 1500\n")
    c.write_text(c.read_text().replace("tokens: 20000", "tokens: 12000").replace("max_bytes: 8000", "max_bytes: 3000"))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    cmd = [sys.executable, "-c", "from gristmill.cli import main; main()", "lab", "train", str(c), "--no-progress"]
    subprocess.run(cmd + ["-o", str(lab / "a")], check=True, env=env, capture_output=True)
    p = subprocess.Popen(cmd + ["-o", str(lab / "b")], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:  # kill -9 somewhere after a few checkpoints, mid-run
        deadline = time.time() + 120
        while time.time() < deadline and p.poll() is None:
            log = lab / "b" / "log.jsonl"
            if log.exists() and max(losses(lab / "b") or {0: 0}) >= 12:
                break
            time.sleep(0.05)
        os.kill(p.pid, signal.SIGKILL)
        p.wait()
    finally:
        if p.poll() is None:
            p.kill()
    assert not (lab / "b" / "final.json").exists(), "the run finished before it was killed"
    subprocess.run(cmd + ["-o", str(lab / "b")], check=True, env=env, capture_output=True)
    a, b = losses(lab / "a"), losses(lab / "b")
    assert a == b and len(a) == 24  # every step, same loss, as if never interrupted
    assert [e["bpb"] for e in evals(lab / "a")] == [e["bpb"] for e in evals(lab / "b")]
    # another seed gives another run
    subprocess.run(cmd + ["-o", str(lab / "c"), "--seed", "1"], check=True, env=env, capture_output=True)
    assert losses(lab / "c") != a


def test_bad_config_names_field(lab):
    p = cfg(lab, extra="learning_rate: 0.1\n")
    r = CliRunner().invoke(app, ["lab", "train", str(p), "-o", str(lab / "x")])
    assert r.exit_code == 2
    assert "line 9" in r.output and "learning_rate" in r.output
    p.write_text(TINY.replace("tiny", "tinny") + "data: [train.jsonl]\n")
    r = CliRunner().invoke(app, ["lab", "train", str(p), "-o", str(lab / "x")])
    assert r.exit_code == 2 and "did you mean 'tiny'" in r.output
    p.write_text(TINY + "data: [nope.jsonl]\n")
    r = CliRunner().invoke(app, ["lab", "train", str(p), "-o", str(lab / "y")])
    assert r.exit_code == 2 and "nope.jsonl: no such file" in r.output
    # a different config into an existing run refuses instead of mixing two runs
    CliRunner().invoke(app, ["lab", "train", str(cfg(lab)), "-o", str(lab / "r"), "--tokens", "2000"])
    r = CliRunner().invoke(app, ["lab", "train", str(cfg(lab)), "-o", str(lab / "r"), "--tokens", "3000"])
    assert r.exit_code == 2 and "different config" in r.output


def test_eval_bpb_and_tasks_with_contamination_check(lab):
    from gristmill.lab.tasks import problems, write_task_data

    # training text that contains 5 held-out arithmetic problems: eval must find and skip them
    held = problems("arithmetic", 30)
    leaked = [{"text": p.text} for p in held[:5]]
    write_jsonl(lab / "train.jsonl", stdlib_docs(250)[:200] + leaked + write_task_data("arithmetic", 50, seed=7))
    assert not {d["text"].split(" ?")[0] for d in write_task_data("arithmetic", 300, seed=7)} & {p.text.split(" ?")[0] for p in problems("arithmetic", 500)}
    r = CliRunner().invoke(app, ["lab", "train", str(cfg(lab)), "-o", str(lab / "run"), "--tokens", "5000"])
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(app, ["lab", "eval", str(lab / "run"), "--data", f"{lab / 'held.jsonl'},{lab / 'train.jsonl'}",
                                 "--tasks", "arithmetic,word_problems", "-n", "30", "--max-bytes", "20000"])
    assert r.exit_code == 0, r.output
    res = json.loads((lab / "run" / "eval.json").read_text())
    assert set(res["bpb"]) == {"held", "train"} and res["bpb"]["train"] < res["bpb"]["held"] < 8
    a = res["tasks"]["arithmetic"]
    assert a["contaminated_skipped"] == 5 and a["n"] == 25 and 0 <= a["rank_acc"] <= 1
    assert res["tasks"]["word_problems"]["contaminated_skipped"] == 0
    r = CliRunner().invoke(app, ["lab", "eval", str(lab / "run"), "--tasks", "arithmatic"])
    assert r.exit_code == 2 and "did you mean 'arithmetic'" in r.output


def test_task_scoring_recognises_a_model_that_knows_the_answers():
    """The scorer, not only the model, is under test: an oracle built from the answers gets 100%."""
    import torch

    from gristmill.lab.tasks import problems, score
    from gristmill.lab.tokenizer import LabTokenizer

    tok = LabTokenizer("bytes")
    probs = problems("word_problems", 10)
    table = {p.prompt: tok.encode(f" {p.answer}\n") for p in probs}

    class Oracle(torch.nn.Module):  # emits the answer's bytes after the prompt, then newline
        config = type("C", (), {"seq_len": 512})()

        def forward(self, idx):
            rows = []
            for row in idx.tolist():
                text = bytes(row).decode()
                logits = torch.full((len(row), 257), -10.0)
                for pos in range(len(row)):
                    pre = bytes(row[:pos + 1]).decode(errors="ignore")
                    for prompt, ans in table.items():
                        if pre.startswith(prompt) and len(pre) - len(prompt) < len(ans):
                            logits[pos, ans[len(pre) - len(prompt)]] = 10.0
                rows.append(logits)
                del text
            return torch.stack(rows)

        def generate(self, idx, n, temperature=0.0, **kw):  # the reference loop: no KV cache to keep
            from gristmill.lab.model import GPT

            return GPT.generate(self, idx, n, temperature, use_cache=False, **kw)

    res = score(Oracle(), tok, probs)
    assert res == {"n": 10, "generate_acc": 1.0, "rank_acc": 1.0}
