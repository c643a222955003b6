"""`gristmill lab curriculum` end to end: web-like text, then verified arithmetic from `gristmill synth
generate`, in three arms (alone, replay, control) through the real CLI."""
import json

import pytest
from typer.testing import CliRunner

from conftest import stdlib_docs, write_jsonl
from gristmill.cli import app

CONFIG = """
model: {preset: tiny, n_layer: 2, d_model: 64, n_head: 2}
tokenizer: {train: {vocab_size: 512}}
seeds: [0, 1]
seq_len: 64
batch_size: 8
threads: 1
phase1: {data: [web.jsonl], tokens: 20000}
phase2: {data: [arith/train.jsonl], tokens: 8000}
replay: 0.25
eval:
  phase1_heldout: [heldout/web.jsonl]
  phase2_heldout: [arith/heldout.jsonl]
  phase2_items: [arith/heldout.jsonl]
  problems: 8
  max_bytes: 5000
  points: 4
"""


@pytest.fixture(scope="module")
def experiment(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("curriculum")
    d = stdlib_docs(300)
    (tmp / "heldout").mkdir()
    write_jsonl(tmp / "web.jsonl", d[:240])
    write_jsonl(tmp / "heldout" / "web.jsonl", d[260:])
    r = CliRunner().invoke(app, ["synth", "generate", "math.arithmetic", "--n", "400", "-o", str(tmp / "arith")])
    assert r.exit_code == 0, r.output
    (tmp / "cur.yaml").write_text(CONFIG)
    r = CliRunner().invoke(app, ["lab", "curriculum", str(tmp / "cur.yaml"), "-o", str(tmp / "out"), "--no-progress"])
    assert r.exit_code == 0, r.output
    return tmp, r.output, json.loads((tmp / "out" / "results.json").read_text())


def test_results_shape_plots_and_table(experiment):
    tmp, output, res = experiment
    assert set(res["arms"]) == {"alone", "replay", "control"} and set(res["phase1"]) == {"0", "1"}
    for arm, a in res["arms"].items():
        assert set(a["seeds"]) == {"0", "1"}
        for seed, s in a["seeds"].items():
            c = s["curve"]
            assert c["tokens"][0] == 0 and c["tokens"][-1] >= 8000 and len(c["tokens"]) >= 5
            assert len(c["phase1_mean_bpb"]) == len(c["phase2_mean_bpb"]) == len(c["tasks"]["items:steps"]["generate_acc"]) == len(c["tokens"])
            # every arm starts from its seed's phase-1 checkpoint: the first evaluation is phase 1's last
            assert c["phase1_mean_bpb"][0] == pytest.approx(res["phase1"][seed]["curve"]["phase1_mean_bpb"][-1])
            assert s["forgetting"] == pytest.approx(c["phase1_mean_bpb"][-1] - c["phase1_mean_bpb"][0])
        assert a["forgetting"]["n"] == 2 and a["gain_bpb"]["n"] == 2
    assert res["problems"]["items:answer"] == 8 and res["problems"]["items:steps"] > 8
    for name in ("forgetting_vs_tokens.png", "gain_vs_tokens.png", "forgetting_vs_gain.png"):
        assert (tmp / "out" / name).stat().st_size > 10_000
    summary = (tmp / "out" / "summary.md").read_text()
    assert "| replay |" in summary and "| control |" in summary
    # every run is checked against its unigram baseline, in the JSON and the table (issue 20 item 6)
    assert all("not_below_unigram" in s for s in res["phase1"].values())
    for a in res["arms"].values():
        assert all(isinstance(s["not_below_unigram"], list) for s in a["seeds"].values())
        assert "not_below_unigram" in a
    assert "vs unigram baseline" in summary
    # replay and control against alone over the two seeds: an interval and a verdict (lab/significance.py)
    assert "vs_alone" not in res["arms"]["alone"]
    for arm in ("replay", "control"):
        vs = res["arms"][arm]["vs_alone"]
        for key in ("forgetting", "gain_bpb", "phase2_bpb_end"):
            assert vs[key]["paired"] and len(vs[key]["ci"]) == 2 and vs[key]["verdict"] in ("better", "worse", "within noise")
        d = [res["arms"][arm]["seeds"][s]["forgetting"] - res["arms"]["alone"]["seeds"][s]["forgetting"] for s in ("0", "1")]
        assert vs["forgetting"]["diff_mean"] == pytest.approx(sum(d) / 2)
    assert "Differences against `alone` over seeds" in summary and "replay vs alone, forgetting:" in summary
    assert "forgetting" in output and "results.json" in output and "forgetting_vs_gain.png" in output


def test_phase2_learns_the_new_domain_against_the_control(experiment):
    _, _, res = experiment
    a = res["arms"]
    for arm in ("alone", "replay"):
        assert a[arm]["gain_bpb"]["min"] > 0.1  # every seed: new-domain bpb fell
        assert a[arm]["phase2_bpb_end"]["max"] < a["control"]["phase2_bpb_end"]["min"]


def test_arms_consumed_the_data_they_were_asked_for(experiment):
    tmp, _, res = experiment
    a = res["arms"]
    assert a["alone"]["consumed_share"] == {"new": 1.0}
    assert a["control"]["consumed_share"] == {"phase1": 1.0}
    for s in a["replay"]["seeds"].values():
        n = s["audit"]["sequences"]
        assert abs(s["audit"]["by_source"]["phase1"] - 0.25 * n) < 1  # the stratified draw: within one sequence
    # the replay arm trained on that mixture, and its phase-1 sequences are phase-1 documents
    cfg = json.loads((tmp / "out" / "runs" / "seed0" / "replay" / "config.json").read_text())
    assert cfg["mixture"] == res["mixtures"]["replay"] and cfg["init_from"].endswith("seed0/phase1")
    from gristmill.lab.tokenizer import LabTokenizer
    from gristmill.stream import MixtureDataset

    tok = LabTokenizer(res["tokenizer"])

    def corpus(path):  # every document, whitespace normalized
        return " ".join(" ".join(json.loads(ln)["text"].split()) for ln in path.read_text().splitlines())
    texts = {"phase1": corpus(tmp / "web.jsonl"), "new": corpus(tmp / "arith" / "train.jsonl")}
    seen = {"new": 0, "phase1": 0}
    checked = 0
    for ex, _ in zip(MixtureDataset(res["mixtures"]["replay"], tokenizer=res["tokenizer"], seq_len=64, seed=0), range(40)):
        ids = ex["input_ids"].tolist()
        cuts = [-1] + [i for i, t in enumerate(ids) if t == tok.eos_id] + [len(ids)]
        for a, b in zip(cuts, cuts[1:]):  # one piece per document
            words = tok.decode(ids[a + 1:b]).split()[1:-1]  # whole words only: a window cuts its first and last
            if len(words) >= 4:
                frag = " ".join(words)
                other = "new" if ex["source"] == "phase1" else "phase1"
                assert frag in texts[ex["source"]] and frag not in texts[other], (ex["source"], frag)
                checked += 1
        seen[ex["source"]] += 1
    assert seen == {"phase1": 10, "new": 30} and checked >= 30


def test_rerun_resumes_and_reproduces(experiment):
    tmp, _, res = experiment
    r = CliRunner().invoke(app, ["lab", "curriculum", str(tmp / "cur.yaml"), "-o", str(tmp / "out"), "--no-progress"])
    assert r.exit_code == 0, r.output
    again = json.loads((tmp / "out" / "results.json").read_text())
    assert again["arms"]["replay"]["forgetting"] == res["arms"]["replay"]["forgetting"]


@pytest.mark.parametrize("edit, expect", [
    ("replay: 0.25", "replay_share: 0.25|did you mean 'replay'"),
    ("  points: 4", "  pionts: 4|did you mean 'points'"),
    ("tokenizer: {train: {vocab_size: 512}}", "tokenizer: bytes|cannot stream a replay mixture"),
    ("replay: 0.25", "replay: 1.5|replay: Input should be less than 1"),
    ("phase2: {data: [arith/train.jsonl], tokens: 8000}", "phase2: {data: [arith/nope.jsonl], tokens: 8000}|phase2.data: arith/nope.jsonl: no such file"),
])
def test_bad_config_fails_with_a_clear_message(tmp_path, edit, expect):
    new, msg = expect.split("|")
    (tmp_path / "arith").mkdir()
    for f in ("web.jsonl", "heldout/web.jsonl", "arith/train.jsonl", "arith/heldout.jsonl"):
        (tmp_path / f).parent.mkdir(exist_ok=True)
        write_jsonl(tmp_path / f, [{"text": "x y z", "answer": "1"}])
    (tmp_path / "c.yaml").write_text(CONFIG.replace(edit, new))
    r = CliRunner().invoke(app, ["lab", "curriculum", str(tmp_path / "c.yaml"), "-o", str(tmp_path / "o")])
    assert r.exit_code == 2 and msg in r.output, r.output
    assert str(tmp_path / "c.yaml") in r.output.replace("\n", "")
