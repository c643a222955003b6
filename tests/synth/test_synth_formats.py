"""Answer formats of the math generators (issue 22 part 2): every format of every item parses back and
is confirmed by sympy; a reversed answer is un-reversed before the check, so a wrong one, or a right one
left in the normal order, is rejected; the dataset writer and the CLI carry the format; the lab scores
a model in a format by decoding to that format's answer line."""
from __future__ import annotations

import json
import random

import pytest
import torch
from typer.testing import CliRunner

from gristmill.cli import app
from gristmill.lab.model import GPT, GPTConfig
from gristmill.lab.tasks import score_format
from gristmill.lab.tokenizer import LabTokenizer
from gristmill.synth import formats as F
from gristmill.synth.generators._verify import NotVerified
from gristmill.synth.registry import all_generators

MATH = ["math.arithmetic", "math.fractions", "math.linear", "math.word_problems"]


def _items(name, n=6):
    fn = all_generators()[name].fn
    out = []
    for d in range(1, 6):
        for s in range(n):
            try:
                out.append(fn(random.Random(1000 * d + s), d))
            except NotVerified:
                pass
    return out


@pytest.mark.parametrize("name", MATH)
def test_every_format_round_trips_and_verifies(name):
    items = _items(name)
    assert len(items) > 20
    for it in items:
        F.verify_all(it)  # raises on any format that does not parse back to a sympy-confirmed answer
        for fmt in F.FORMATS:
            # the record written to disk renders and checks the same way as the item
            assert F.render(it.to_record(), fmt) == F.render(it, fmt)
        assert F.check(it.to_record(), "reversed", F.render(it, "reversed"))[0]
        assert F.document(it, "answer") == f"{it.prompt}\nAnswer: {it.answer}"


def test_reversed_answers_are_unreversed_before_the_check():
    it = next(i for i in _items("math.arithmetic") if i.metadata["kind"] == "mul" and len(i.answer) >= 3
              and i.answer != i.answer[::-1])
    good = F.render(it, "reversed")
    assert good == f"Answer (reversed): {it.answer[::-1]}"
    assert F.parse("reversed", good) == it.answer
    assert F.check(it, "reversed", good) == (True, "ok")
    # the right digits in the normal order are a wrong reversed answer
    ok, why = F.check(it, "reversed", f"Answer (reversed): {it.answer}")
    assert not ok and why.startswith("wrong")
    # one digit off
    wrong = str(int(it.answer) + 1)[::-1]
    ok, why = F.check(it, "reversed", f"Answer (reversed): {wrong}")
    assert not ok and "sympy" in why
    # an `Answer:` line does not count for the reversed format, and vice versa
    assert F.check(it, "reversed", f"Answer: {it.answer}")[1].startswith("malformed")
    assert not F.check(it, "answer", good)[0]
    # a fraction reverses each digit run and keeps the bar and the sign in place
    assert F.reverse_digits("-12/305") == "-21/503" and F.reverse_digits(F.reverse_digits("x = -40, y = 7")) == "x = -40, y = 7"


def test_parse_never_hands_model_text_to_sympy():
    it = _items("math.arithmetic", 3)[0]
    for bad in ["Answer: __import__('os').system('touch /tmp/x')", "Answer: 2**10**10**10", "Answer: twelve",
                "Answer: " + "9" * 300, "Answer:", "no answer line", ""]:
        assert F.parse("answer", bad) is None
        assert F.check(it, "answer", bad)[1].startswith("malformed")
    # a leading zero (sympy's parser refuses "01") is malformed, not a crash; found by a model's output
    assert F.parse("answer", "Answer: 01") is None and F.check(it, "answer", "Answer: 01")[1].startswith("malformed")
    assert F.check(it, "reversed", "Answer (reversed): 10")[1].startswith("malformed")  # un-reversed: 01
    assert F.parse("reversed", "Answer (reversed): 0321") == "1230"  # a reversed answer may start with 0
    assert F.parse("worked", "Step 1: ...\nAnswer: 1,081.") == "1081"
    assert F.parse("answer", "Answer: 12\nAnswer: 13") == "12"  # the first answer line counts
    assert F.parse("answer", "x" * (F.MAX_COMPLETION + 10) + "\nAnswer: 5") is None  # bounded
    with pytest.raises(F.FormatError, match="did you mean 'reversed'"):
        F.render(it, "reverse")


def test_scratchpad_is_digit_level_for_arithmetic():
    by_kind = {}
    for it in _items("math.arithmetic"):
        by_kind.setdefault(it.metadata["kind"], it)
    assert set(by_kind) == {"add", "sub", "mul", "div", "mixed"}
    it = by_kind["div"]
    pad = F.render(it, "scratchpad")
    n, d = (int(x) for x in it.metadata["expression"].split(" / "))
    assert pad.count(f"/{d}=") == len(str(n))  # one step per digit of the dividend
    assert pad.endswith(f"\nAnswer: {it.answer}")
    # each add step is one column: its written digit is the total's last digit
    assert F._pad_add([47, 85]) == ["7+5+0=12>2", "4+8+1=13>32", "c1>132"]
    assert F._pad_sub(502, 38) == ["2-0-8=4 b1>4", "0-1-3=6 b1>64", "5-1-0=4 b0>464"]
    assert F._pad_mul(47, 3) == ["x3: 7*3+0=21>1; 4*3+2=14>41; c1>141"]
    assert F._pad_div(2849, 7)[-1] == "49/7=7 r0>0407"


def test_dataset_and_cli_write_the_formats(tmp_path):
    r = CliRunner().invoke(app, ["synth", "generate", "math.arithmetic", "--n", "40", "-d", "1", "-o", str(tmp_path / "a"),
                                 "--format", "reversed,answer,scratchpad,worked"])
    assert r.exit_code == 0, r.output
    recs = [json.loads(x) for f in ("train.jsonl", "heldout.jsonl") for x in open(tmp_path / "a" / f)]
    assert len(recs) == 40
    for rec in recs:
        assert list(rec["formats"]) == ["reversed", "answer", "scratchpad", "worked"]
        assert rec["text"] == f"{rec['prompt']}\n{rec['formats']['reversed']}" and rec["metadata"]["format"] == "reversed"
        for fmt, completion in rec["formats"].items():
            assert F.check(rec, fmt, completion)[0]
    assert json.loads((tmp_path / "a" / "summary.json").read_text())["formats"] == ["reversed", "answer", "scratchpad", "worked"]
    # misconfigurations fail before any work, naming the fix
    r = CliRunner().invoke(app, ["synth", "generate", "math", "--n", "5", "-o", str(tmp_path / "b"), "--format", "scratch"])
    assert r.exit_code == 2 and "did you mean 'scratchpad'" in r.output and not (tmp_path / "b").exists()
    r = CliRunner().invoke(app, ["synth", "generate", "math.linear=1,code.expressions=1", "--n", "5", "-o", str(tmp_path / "c"),
                                 "--format", "answer"])
    assert r.exit_code == 2 and "math generators only" in r.output and not (tmp_path / "c").exists()


def _fit(docs, tok, steps=300):
    """A one-layer model that memorizes `docs` (seconds): a real model for the scorer to decode."""
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=tok.vocab_size, seq_len=64, n_layer=2, n_head=2, d_model=64, eos_id=tok.eos_id))
    seqs = [tok.encode(d) + [tok.eos_id] for d in docs]
    width = max(map(len, seqs))
    x = torch.tensor([s + [tok.eos_id] * (width - len(s)) for s in seqs])
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    for _ in range(steps):
        logits = model(x[:, :-1])
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), x[:, 1:].reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model


def test_score_format_decodes_to_the_formats_answer_line():
    torch.set_num_threads(1)
    tok = LabTokenizer("bytes")
    recs = [it.to_record() for it in _items("math.arithmetic", 2)[:4]]
    # the model has learned the reversed format of three problems and a wrong answer for the fourth
    docs = [F.document(r, "reversed") for r in recs[:3]]
    docs.append(f"{recs[3]['prompt']}\nAnswer (reversed): {F.reverse_digits(str(int(recs[3]['answer']) + 1))}")
    model = _fit(docs, tok)
    samples: list = []
    res = score_format(model, tok, recs, "reversed", samples=samples)
    assert res["n"] == 4 and res["generate_acc"] == 0.75, samples
    assert [s["correct"] for s in samples] == [True, True, True, False] and samples[3]["reason"].startswith("wrong")
    assert sum(v["n"] for v in res["by_difficulty"].values()) == 4 and sum(v["n"] for v in res["by_tag"].values()) == 4
    # the same model has no `Answer:` line: scored as answer-only, everything is malformed
    samples = []
    assert score_format(model, tok, recs, "answer", samples=samples)["generate_acc"] == 0.0
    assert all(s["reason"].startswith("malformed") for s in samples)
