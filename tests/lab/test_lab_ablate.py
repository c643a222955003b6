"""`gristmill lab ablate` end to end with the issue's YAML shape: a clean arm against a junk arm."""
import json
import random

from typer.testing import CliRunner

from conftest import stdlib_docs, write_jsonl
from gristmill.cli import app


def test_ablation_results_plots_and_table(tmp_path):
    d = stdlib_docs(300)
    (tmp_path / "eval").mkdir()
    write_jsonl(tmp_path / "clean.jsonl", d[:220])
    write_jsonl(tmp_path / "eval" / "docs.jsonl", d[250:])
    rng = random.Random(0)
    spam = ["buy", "cheap", "click", "here", "now", "$$$", "FREE", "casino", "win", "LIMITED", "offer", "!!!"]
    write_jsonl(tmp_path / "junk.jsonl", [{"text": " ".join(rng.choice(spam) for _ in range(200))} for _ in range(200)])
    (tmp_path / "abl.yaml").write_text("""
model: {preset: tiny, n_layer: 2, d_model: 64, n_head: 2}
tokens: 12_000
seeds: [0, 1]
tokenizer: bytes
seq_len: 64
batch_size: 8
threads: 1
eval:
  heldout: ["eval/*.jsonl"]
  max_bytes: 4000
  points: 4
arms:
  clean: [clean.jsonl]
  junk: [junk.jsonl]
""")
    r = CliRunner().invoke(app, ["lab", "ablate", str(tmp_path / "abl.yaml"), "-o", str(tmp_path / "out"), "--no-progress"])
    assert r.exit_code == 0, r.output
    res = json.loads((tmp_path / "out" / "results.json").read_text())
    clean, junk = res["arms"]["clean"], res["arms"]["junk"]
    for arm in (clean, junk):
        assert set(arm["seeds"]) == {"0", "1"}
        for s in arm["seeds"].values():
            assert s["curve"]["tokens"][0] == 0 and s["curve"]["tokens"][-1] >= 12_000
            assert len(s["curve"]["bpb"]["docs"]) == len(s["curve"]["tokens"]) >= 5
    assert clean["token_efficiency"]["mean"] == 1.0
    # junk never reaches clean text's held-out bpb: worse at the end, null efficiency
    assert junk["final_bpb"]["docs"]["mean"] > clean["final_bpb"]["docs"]["mean"]
    assert junk["token_efficiency"]["per_seed"] == [None, None]
    # seeds differ (the spread is real), and a rerun resumes finished runs instead of retraining
    assert clean["seeds"]["0"]["final_bpb"] != clean["seeds"]["1"]["final_bpb"]
    assert (tmp_path / "out" / "bpb_docs.png").stat().st_size > 10_000
    assert "tokens to reach clean's final bpb" in r.output
    r2 = CliRunner().invoke(app, ["lab", "ablate", str(tmp_path / "abl.yaml"), "-o", str(tmp_path / "out"), "--no-progress"])
    assert r2.exit_code == 0 and json.loads((tmp_path / "out" / "results.json").read_text())["arms"]["junk"]["final_bpb"] == junk["final_bpb"]


def test_ablation_config_errors(tmp_path):
    (tmp_path / "a.yaml").write_text("model: tiny\ntokens: 100\neval: {heldout: [x.jsonl]}\narms: {raw: nope.yaml}\nseedz: [1]\n")
    r = CliRunner().invoke(app, ["lab", "ablate", str(tmp_path / "a.yaml"), "-o", str(tmp_path / "o")])
    assert r.exit_code == 2 and "line 5" in r.output and "did you mean 'seeds'" in r.output
    (tmp_path / "a.yaml").write_text("model: tiny\ntokens: 100\neval: {heldout: [x.jsonl]}\narms: {raw: nope.yaml}\n")
    r = CliRunner().invoke(app, ["lab", "ablate", str(tmp_path / "a.yaml"), "-o", str(tmp_path / "o")])
    assert r.exit_code == 2 and "arms.raw" in r.output and "nope.yaml: no such file" in r.output


def test_lab_demo_runs_end_to_end(tmp_path):
    r = CliRunner().invoke(app, ["lab", "demo", "-o", str(tmp_path / "d"), "--tokens", "2000", "--seeds", "0",
                                 "--threads", "1", "--no-progress"])
    assert r.exit_code == 0, (r.output, r.exception)
    res = json.loads((tmp_path / "d" / "results.json").read_text())
    assert set(res["arms"]) == {"raw", "curated"} and 0 < res["curation"]["kept"] < res["curation"]["input"]
    held = {json.loads(x)["text"] for x in (tmp_path / "d" / "eval" / "heldout.jsonl").read_text().splitlines()}
    raw = {json.loads(x)["text"] for x in (tmp_path / "d" / "raw.jsonl").read_text().splitlines()}
    assert held and not held & raw  # the held-out set is unseen by both arms
    assert "raw against curated" in (tmp_path / "d" / "summary.md").read_text()
    assert (tmp_path / "d" / "bpb_heldout.png").exists() and "summary.md" in r.output
