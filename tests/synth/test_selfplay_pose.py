"""Pose and solve (synth/selfplay_pose.py) and the reversed answer format of the in-process loop:
the parser accepts exactly what the generator renders, and model text never reaches sympy as code."""
from __future__ import annotations

import pytest

from gristmill.synth.selfplay_pose import MAX_POSED_CHARS, learnable, parse_posed
from gristmill.synth.selfplay_rounds import draw, read_answer, render, verify


@pytest.mark.parametrize("difficulty", [1, 2, 3])
def test_generator_problems_parse_back_to_the_same_key_and_value(difficulty):
    """Every add/sub/mul/div prompt the generator writes is a well-formed posed problem with the
    generator's own key (so the key-hash split and novelty apply) and an expression sympy agrees on."""
    items = [it for it in draw("math.arithmetic", difficulty, 200, 11, 0.1, "train") if it.metadata["kind"] != "mixed"]
    assert len(items) > 100
    for it in items:
        got, why = parse_posed(it.prompt)
        assert got is not None, (it.prompt, why)
        assert got.key == it.key and got.metadata["kind"] == it.metadata["kind"]
        assert verify(got, it.answer) and not verify(got, str(int(it.answer) + 1))


@pytest.mark.parametrize("text, reason", [
    ("Add 12 + 7", "not_a_problem"),                 # no full stop: not the generator's form
    ("Add 12 +  7.", "not_a_problem"),
    ("Add 1234 + 7.", "not_canonical"),              # the generator writes 1,234
    ("Add 1,23 + 7.", "not_a_problem"),
    ("Add 012 + 7.", "not_canonical"),
    ("Subtract: 3 - 15.", "negative_difference"),
    ("Divide 17 by 2.", "inexact_division"),
    ("Divide 20 by 10.", "inexact_division"),        # the generator never divides by 10
    ("Divide 20 by 1.", "inexact_division"),
    ("Multiply 0 × 5.", "zero_operand"),
    ("Add 2 + 3.\nAnswer: 5", "not_a_problem"),
    ("Add __import__('os').system('true') + 1.", "not_a_problem"),
    ("Add " + "9" * 80 + " + 1.", "too_long"),
    ("Add 12345678 + 1.", "not_a_problem"),          # at most 7 digits per operand
    ("Add ٣ + 1.", "not_a_problem"),                 # non-ASCII digits are not integers here
])
def test_malformed_posed_problems_are_refused_with_a_reason(text, reason):
    item, why = parse_posed(text)
    assert item is None and why == reason


def test_posed_text_never_reaches_sympy_as_code(tmp_path):
    planted = tmp_path / "planted"
    for text in (f"Add __import__('pathlib').Path('{planted}').touch() + 1.",
                 f"Divide 6 by 2.__import__('pathlib').Path('{planted}').touch()",
                 "[" * 100_000, None, 12):
        assert parse_posed(text)[0] is None
    assert not planted.exists()
    ok, _ = parse_posed("Multiply 1,234 × 56.")
    assert ok.metadata["expression"] == "1234 * 56" and ok.difficulty == 3 and len("x" * MAX_POSED_CHARS) == 64


def test_learnable_keeps_problems_solved_sometimes():
    assert learnable([True, False, False]) == "kept"
    assert learnable([True, True]) == "trivial"
    assert learnable([False, False]) == "unsolved"
    assert learnable([]) == "unsolved"


def test_reversed_answers_round_trip_and_are_verified_by_sympy():
    """Lee et al. 2023's reversed output: 1,819 is written 9181; the verifier reads it back."""
    it = next(i for i in draw("math.arithmetic", 2, 50, 3, 0.1, "train") if int(i.answer) >= 1000)
    r = render(it.answer, "reversed")
    assert "," not in r and r == it.answer.replace(",", "")[::-1]
    assert read_answer(r, "reversed") == it.answer.replace(",", "")
    assert verify(it, r, "reversed") and verify(it, " " + r, "reversed")
    assert not verify(it, it.answer, "reversed") or it.answer == it.answer[::-1]
    assert not verify(it, r[:2] + "," + r[2:], "reversed")  # no separators in the reversed form
    assert render("-45", "reversed") == "-54" and read_answer("-54", "reversed") == "-45"
    assert render("1,819") == "1,819" and read_answer("1,819") == "1819"
    assert read_answer("9" * 65, "reversed") is None and read_answer("12a", "reversed") is None
    assert read_answer("٣", "reversed") is None and not verify(it, "٣")
