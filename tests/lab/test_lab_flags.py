"""Meaningless comparisons are flagged (issue 20 item 6): a run not clearly below its unigram baseline is
named in the table, the JSON and the plot of `lab train`, `lab eval` and `lab ablate`; a spread over one
seed prints n/a (JSON null), not ± 0."""
import json
import random

from typer.testing import CliRunner

from conftest import stdlib_docs, write_jsonl
from gristmill.cli import app

TINY = "model: {preset: tiny, n_layer: 2, d_model: 64, n_head: 2}\nthreads: 1\n"


def test_train_and_eval_flag_a_model_at_its_unigram_baseline(tmp_path):
    d = stdlib_docs(300)
    write_jsonl(tmp_path / "train.jsonl", d[:250])
    write_jsonl(tmp_path / "held.jsonl", d[250:])
    # two steps: the model is still near uniform over bytes (~8 bits), far above the unigram baseline
    (tmp_path / "cfg.yaml").write_text(TINY + "data: [train.jsonl]\nseq_len: 64\nbatch_size: 8\ntokens: 1000\n"
                                       "eval: {heldout: [held.jsonl], max_bytes: 3000}\n")
    r = CliRunner().invoke(app, ["lab", "train", str(tmp_path / "cfg.yaml"), "-o", str(tmp_path / "run")])
    assert r.exit_code == 0, r.output
    final = json.loads((tmp_path / "run" / "final.json").read_text())
    assert final["bpb"]["held"] > final["unigram_bpb"]["held"] and final["not_below_unigram"] == ["held"]
    assert "NOT below" in r.output and "not clearly below its unigram baseline" in r.output
    r = CliRunner().invoke(app, ["lab", "eval", str(tmp_path / "run"), "--data", str(tmp_path / "held.jsonl")])
    assert r.exit_code == 0 and "NOT below" in r.output
    assert json.loads((tmp_path / "run" / "eval.json").read_text())["not_below_unigram"] == ["held"]


def test_ablation_flags_arms_and_prints_na_for_one_seed(tmp_path):
    d = stdlib_docs(300)
    (tmp_path / "eval").mkdir()
    write_jsonl(tmp_path / "clean.jsonl", d[:220])
    write_jsonl(tmp_path / "eval" / "docs.jsonl", d[250:])
    rng = random.Random(0)
    write_jsonl(tmp_path / "junk.jsonl", [{"text": " ".join(rng.choice(["buy", "now", "FREE", "win"]) for _ in range(200))}
                                          for _ in range(100)])
    (tmp_path / "abl.yaml").write_text(TINY + """tokens: 1000
seeds: [0]
tokenizer: bytes
seq_len: 64
batch_size: 8
eval: {heldout: ["eval/*.jsonl"], max_bytes: 3000, points: 2}
arms: {clean: [clean.jsonl], junk: [junk.jsonl]}
""")
    r = CliRunner().invoke(app, ["lab", "ablate", str(tmp_path / "abl.yaml"), "-o", str(tmp_path / "out"), "--no-progress"])
    assert r.exit_code == 0, r.output
    res = json.loads((tmp_path / "out" / "results.json").read_text())
    clean = res["arms"]["clean"]
    assert clean["seeds"]["0"]["not_below_unigram"] == ["docs"] and clean["not_below_unigram"] == {"0": ["docs"]}
    # the junk arm's own baseline (spam byte frequencies) is worse still on clean text: the rule, not the arm name
    junk = res["arms"]["junk"]["seeds"]["0"]
    assert (junk["not_below_unigram"] == ["docs"]) == (junk["final_bpb"]["docs"] > 0.98 * junk["unigram_bpb"]["docs"])
    for a in res["arms"].values():
        assert a["final_bpb"]["docs"]["std"] is None and a["final_bpb"]["docs"]["n"] == 1
    assert "NOT below" in r.output and "± n/a" in r.output and "± 0.0000" not in r.output
    assert "warning" in r.output and (tmp_path / "out" / "bpb_docs.png").exists()
