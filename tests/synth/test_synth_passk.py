"""pass@k (Chen et al. 2021) of generated programs, judged in the real sandbox, on a planted set of
model outputs whose right answers are known; and the estimator against brute-force enumeration."""
from __future__ import annotations

import itertools
import random
from math import comb

import pytest

from gristmill.lab.tasks import CODE_HEAD, code_document
from gristmill.synth.evaluate import evaluate_programs, pass_at_k
from gristmill.synth.generators.code_expr import expressions


def test_pass_at_k_matches_enumeration():
    for n in range(1, 7):
        for c in range(n + 1):
            for k in range(1, n + 1):
                # the share of k-subsets of the n samples that hold at least one correct one
                samples = [1] * c + [0] * (n - c)
                hit = sum(any(s) for s in itertools.combinations(samples, k)) / comb(n, k)
                assert pass_at_k(n, c, k) == pytest.approx(hit, abs=1e-12)
    with pytest.raises(ValueError):
        pass_at_k(3, 4, 1)
    with pytest.raises(ValueError):
        pass_at_k(3, 1, 4)


def test_pass_at_k_counts_a_planted_output_set_in_the_sandbox():
    recs = [expressions(random.Random(s), 1).to_record() for s in (3, 5, 8)]
    assert all(code_document(r).startswith(r["prompt"] + CODE_HEAD) for r in recs)
    ref = [CODE_HEAD + r["metadata"]["expression"] + "\n" for r in recs]
    programs = [
        # 2 of 4 right: the reference twice (one sandbox run), a constant, a syntax error
        [ref[0], ref[0], CODE_HEAD + "0\n", CODE_HEAD + "sum(x for x in\n"],
        # none right: another problem's reference, and programs that try to fake the verdict
        [ref[1].replace("xs", "xs[:1]"), CODE_HEAD + "print('passed') or exit(0)\n",
         "len = lambda *a: 0\n" + CODE_HEAD + "[]\n", CODE_HEAD + "__import__('os')._exit(0)\n"],
        # all right: the reference and the same expression with other spacing
        [ref[2]] * 3 + [ref[2].replace("return ", "return  ")],
    ]
    assert ref[1] != programs[1][0]
    res = evaluate_programs(recs, programs, ks=(1, 2, 4), workers=2)
    assert [p["correct"] for p in res["problems"]] == [2, 0, 4]
    assert res["pass@k"][1] == pytest.approx((0.5 + 0 + 1) / 3)
    assert res["pass@k"][2] == pytest.approx((1 - comb(2, 2) / comb(4, 2) + 0 + 1) / 3)
    assert res["pass@k"][4] == pytest.approx(2 / 3)
    assert res["samples"] == 4 and sum(res["status"].values()) == 12 and res["status"]["passed"] == 6
    assert res["sandbox_runs"] == 3 + 4 + 2  # each distinct program of a problem runs once
    with pytest.raises(ValueError, match="same number of samples"):
        evaluate_programs(recs[:2], [programs[0], programs[1][:2]])
    with pytest.raises(ValueError, match="no structured test cases"):
        evaluate_programs([{"id": "x", "metadata": {}}], [[ref[0]]], ks=(1,))


def test_sampled_programs_from_a_real_model_are_judged_without_escaping():
    import torch

    from gristmill.lab.model import GPT, GPTConfig
    from gristmill.lab.tasks import sample_code
    from gristmill.lab.tokenizer import LabTokenizer

    torch.manual_seed(0)
    tok = LabTokenizer("bytes")
    model = GPT(GPTConfig(vocab_size=tok.vocab_size, seq_len=256, n_layer=1, n_head=2, d_model=32, eos_id=tok.eos_id))
    recs = [expressions(random.Random(s), 1).to_record() for s in (1, 2)]
    progs = sample_code(model, tok, recs, 3, temperature=1.0, max_new_tokens=12)
    assert [len(p) for p in progs] == [3, 3]
    assert all(p.startswith(CODE_HEAD) and p.endswith("\n") and p.count("\n") == 2 for ps in progs for p in ps)
    res = evaluate_programs(recs, progs, ks=(1, 3))
    # random bytes are programs that fail or do not parse: every sample gets a verdict, none passes
    assert sum(res["status"].values()) == 6 and res["pass@k"][3] == 0.0
