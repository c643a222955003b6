"""Worked solutions: every step of the arithmetic generator's working follows from the lines above
it and the problem's digits (what a small model can learn locally), and the lab scores a worked
solution by decoding it to its `Answer: N` line, per sub-kind; self-play trains on them and can start
from an existing run."""
from __future__ import annotations

import json
import random
import re
from pathlib import Path

import pytest
import torch
import yaml
from typer.testing import CliRunner

from gristmill.cli import app
from gristmill.lab.model import GPT, GPTConfig
from gristmill.lab.tasks import Problem, _answer_done, contaminated, score, score_worked
from gristmill.lab.tokenizer import LabTokenizer
from gristmill.synth.generators.arithmetic import arithmetic, column_sub, long_divide, long_multiply
from gristmill.synth.loop import LoopConfig
from gristmill.synth.selfplay import heldout_problems, pose_doc, solve_doc


def test_worked_steps_are_written_out():
    # long division: a step for every digit, leading zero quotient digits too, so the remainder carried
    # into each partial number is on the page; the quotient is read off the digits
    assert long_divide(308, 4) == [
        "Bring down 3: 3 ÷ 4 = 0 (since 4 × 0 = 0), remainder 3.",
        "Bring down 0: 30 ÷ 4 = 7 (since 4 × 7 = 28), remainder 2.",
        "Bring down 8: 28 ÷ 4 = 7 (since 4 × 7 = 28), remainder 0.",
        "The quotient digits are 0, 7, 7, so the quotient is 77."]
    # a product digit by digit with its carries, not 47 × 4 = 188 in one leap
    assert long_multiply(47, 4) == ["Multiply 47 by the ones digit 4: 7 × 4 = 28, write 8, carry 2; "
                                    "4 × 4 = 16, + 2 carried = 18, write 18; so 47 × 4 = 188 → 188."]
    # the 1 lent to the column on the right is its own step
    assert column_sub(78, 9) == ["Ones column: 8 is less than 9, so borrow 1 from the next column: 18 - 9 = 9.",
                                 "Tens column: 7 - 1 (lent) = 6; 6 - 0 = 6."]


@pytest.mark.parametrize("difficulty", [1, 2, 3])
def test_worked_solutions_hold_for_every_item(difficulty):
    rng = random.Random(difficulty)
    for _ in range(300):
        it = arithmetic(rng, difficulty)  # sympy verifies every answer inside the generator
        kind, lines = it.metadata["kind"], it.solution.splitlines()
        assert lines[-1] == f"Answer: {it.answer}" or lines[-1] == f"Answer: {int(it.answer):,}"
        if kind == "div":
            n, d = (int(x) for x in it.metadata["expression"].split(" / "))
            steps = [ln for ln in lines if ln.startswith("Bring down")]
            assert len(steps) == len(str(n))
            digits = [int(re.search(r"= (\d+) \(since", s).group(1)) for s in steps]
            assert int("".join(map(str, digits))) == int(it.answer)
        elif kind == "mul":
            a, b = (int(x) for x in it.metadata["expression"].split(" * "))
            for ln in lines:
                if ln.startswith("Multiply ") and " by the " in ln:
                    facts = re.findall(r"(\d) × (\d) = (\d+)", ln.split("; so ")[0].split(": ", 1)[1])
                    assert len(facts) == len(str(a)) and all(int(x) * int(y) == int(z) for x, y, z in facts)
        elif kind == "sub":
            for prev, ln in zip(lines, lines[1:]):
                if "borrow 1" in prev and ln.endswith("."):
                    assert "(lent)" in ln


def test_score_worked_reads_the_answer_line_per_kind():
    assert _answer_done("Ones column: 1 + 2 = 3; write 3.\nAnswer: 3\n")
    assert not _answer_done("Answer: 3")  # the number may go on: not done until the line ends
    tok = LabTokenizer("bytes")
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=tok.vocab_size, seq_len=64, n_layer=1, n_head=2, d_model=32, eos_id=tok.eos_id))
    lcfg = LoopConfig(endpoint={"base_url": "http://x/v1", "model": "m", "api": "completions"},
                      tasks={"source": "generator", "kind": "math"}, math_template="Problem: {prompt}")
    probs, keys = heldout_problems("math.arithmetic", 1, 8, 1_000_003, 0.1, lcfg, worked=True)
    assert all(p.worked and p.tag in {"add", "sub", "mul", "div"} and p.prompt.endswith(".\n\n") for p in probs)
    got: list = []
    res = score_worked(model, tok, probs, max_new_tokens=12, samples=got)
    assert res["n"] == 8 and sum(v["n"] for v in res["by_tag"].values()) == 8
    assert set(res["by_tag"]) == {p.tag for p in probs}
    assert len(got) == 8 and all(len(tok.encode(t)) <= 12 for _, t, _ in got)  # the budget holds
    assert score(model, tok, probs, max_new_tokens=12)["n"] == 8  # score() dispatches worked problems too
    # a held-out problem quoted in the pose format is still found in training text
    p = probs[0]
    q = p.prompt.strip().removeprefix("Problem: ")
    assert contaminated(probs, [f"Topic: add\n\nProblem: {q}\nSolution: ..."]) == {p.prompt}
    assert not contaminated(probs, ["Topic: add\n\nProblem: Add 1 + 1.\nSolution: ..."])


def test_worked_documents():
    lcfg = LoopConfig(endpoint={"base_url": "http://x/v1", "model": "m", "api": "completions"},
                      tasks={"source": "generator", "kind": "math"}, math_template="Problem: {prompt}",
                      topic_math_template="Topic: {topic}")
    it = arithmetic(random.Random(4), 1)
    d = solve_doc(lcfg, it.prompt, it.answer, it.solution)
    assert d == f"Problem: {it.prompt}\n\n{it.solution}"  # the generator's working, ending in its Answer line
    assert solve_doc(lcfg, it.prompt, it.answer) == f"Problem: {it.prompt}\n\nAnswer: {it.answer}"
    pd = pose_doc(lcfg, it.metadata["kind"], it.prompt, it.metadata["expression"], it.answer, it.solution)
    work = it.solution.rsplit("\nAnswer:", 1)[0]
    assert pd == (f"Topic: {it.metadata['kind']}\n\nProblem: {it.prompt}\nSolution: {work}\n"
                  f"Expression: {it.metadata['expression']}\nAnswer: {it.answer}")
    assert Problem("q", 1, (1, 2)).tag == "" and not Problem("q", 1, (1, 2)).worked


def test_selfplay_starts_from_a_run(tmp_path):
    """`start_from`: round 0 is an existing run (scored, not retrained); round 1 continues from it."""
    r = CliRunner().invoke(app, ["synth", "generate", "math.arithmetic", "--n", "200", "-d", "1", "-o", str(tmp_path / "g")])
    assert r.exit_code == 0, r.output
    docs = [json.loads(x)["text"] for x in (tmp_path / "g" / "train.jsonl").read_text().splitlines()]
    (tmp_path / "t.jsonl").write_text("".join(json.dumps({"text": "Problem: " + d}) + "\n" for d in docs))
    model = {"preset": "tiny", "n_layer": 1, "d_model": 32, "n_head": 2}
    (tmp_path / "t.yaml").write_text(yaml.safe_dump({"model": model, "data": ["t.jsonl"], "seq_len": 64, "batch_size": 8,
                                                     "tokens": 3000, "threads": 1}))
    r = CliRunner().invoke(app, ["lab", "train", str(tmp_path / "t.yaml"), "-o", str(tmp_path / "base")])
    assert r.exit_code == 0, r.output
    cfg = {"rounds": 1, "start_from": "base", "seed_data": {"kind": "math.arithmetic", "n": 100, "difficulty": 1},
           "train": {"model": model, "seq_len": 64, "batch_size": 8, "tokens": 3000, "threads": 1}, "round_tokens": 600,
           "loop": {"endpoint": {"temperature": 1.0, "max_tokens": 8, "concurrency": 2, "timeout_s": 120, "seed": 0},
                    "tasks": {"source": "generator", "kind": "math.arithmetic", "difficulty": 1, "n": 4},
                    "math_template": "Problem: {prompt}"},
           "eval": {"n": 8, "max_new_tokens": 8}}
    (tmp_path / "sp.yaml").write_text(yaml.safe_dump(cfg))
    r = CliRunner().invoke(app, ["synth", "selfplay", str(tmp_path / "sp.yaml"), "-o", str(tmp_path / "out")])
    assert r.exit_code == 0, r.output
    res = json.loads((tmp_path / "out" / "results.json").read_text())
    r0, r1 = res["rounds"]
    assert r0["model"] == str((tmp_path / "base").resolve()) and not (tmp_path / "out" / "round_0" / "model").exists()
    assert r0["tokens"] == json.loads((tmp_path / "base" / "final.json").read_text())["tokens"]
    assert set(r0["eval"]["by_tag"]) <= {"add", "sub", "mul", "div"} and r0["eval"]["n"] + r0["eval"]["contaminated_skipped"] == 8
    samples = [json.loads(x) for x in (tmp_path / "out" / "round_0" / "eval_samples.jsonl").read_text().splitlines()]
    assert len(samples) == r0["eval"]["n"] and all({"prompt", "output", "correct", "tag"} <= set(s) for s in samples)
    if r1["trained"]:
        conf = json.loads((tmp_path / "out" / "round_1" / "model" / "config.json").read_text())
        assert conf["init_from"] == str((tmp_path / "base").resolve())
    else:
        assert r1["model"] == r0["model"]
    # a start_from that is not a finished run fails early, naming the file, the line and the fix
    cfg["start_from"] = "nope"
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(cfg))
    r = CliRunner().invoke(app, ["synth", "selfplay", str(tmp_path / "bad.yaml"), "-o", str(tmp_path / "o2")])
    assert r.exit_code == 2 and "bad.yaml line" in r.output and "start_from" in r.output and "not a finished lab run" in r.output
