"""`gristmill lab claims`: the mechanism at a budget of seconds (verdicts are not asserted: at this
budget they mean nothing). Fields per claim, one-seed `n/a`, resume, intervals with two seeds, the
architectures of equal parameters, and misconfigurations failing before any work."""
import json
import random

import pytest
import torch
from typer.testing import CliRunner

from conftest import stdlib_docs, write_jsonl
from gristmill.cli import app
from gristmill.lab.claims import CLAIMS, factoid_auc, verdict
from gristmill.lab.model import GPT, GPTConfig
from gristmill.lab.significance import compare

FIELDS = {"question", "arms", "metric", "values", "interval", "verdict", "budget", "diff_mean", "predicted"}


def _corpus(d):
    docs = stdlib_docs(160)
    d.mkdir()
    write_jsonl(d / "stdlib_a.jsonl", docs[0::2])
    write_jsonl(d / "stdlib_b.jsonl", docs[1::2])
    return d


@pytest.fixture(scope="module")
def first(tmp_path_factory):
    root = tmp_path_factory.mktemp("claims")
    corpus, out = _corpus(root / "corpus"), root / "out"
    r = CliRunner().invoke(app, ["lab", "claims", "--corpus", str(corpus), "-o", str(out), "--budget", "ci", "--seeds", "0"])
    assert r.exit_code == 0, r.output
    return corpus, out, json.loads((out / "claims.json").read_text())


@pytest.mark.slow
def test_every_claim_has_its_fields_and_one_seed_is_na(first):
    corpus, out, res = first
    assert list(res["claims"]) == list(CLAIMS)
    for name, c in res["claims"].items():
        assert FIELDS <= set(c), name
        t, k = c["arms"]["treatment"], c["arms"]["control"]
        assert set(c["values"]) == {t, k}
        assert list(c["values"][t]) == ["0"]
        assert c["verdict"] == "n/a (1 seed)" and c["interval"] is None, name
        assert c["budget"]["name"] == "ci" and c["budget"]["seeds"] == [0]
    # the 4x model trained four times the 1x model's tokens, both quantized and LoRA-recovered
    ex = res["claims"]["lora_recovery"]["extra"]["0"]
    assert set(ex) == {"1x", "4x"} and all({"fp32", "q2", "lora"} <= set(v) for v in ex.values())
    f4 = json.loads((out / "runs" / "tiny-clean-4x-s0" / "final.json").read_text())
    f1 = json.loads((out / "runs" / "tiny-clean-1x-s0" / "final.json").read_text())
    assert f4["tokens"] >= 4 * f1["tokens"] - 4 * 32 * 4
    # three architectures on curated data, raw vs curated on one, spreads along the curve
    arch = res["claims"]["architecture"]["extra"]["0"]
    assert {"deep", "wide", "gru", "tiny-curated", "tiny-raw"} <= set(arch["bpb"])
    assert len(arch["curve"]["data_spread"]) == len(arch["curve"]["tokens"]) >= 2
    # curation removed the planted junk: nothing gibberish-like is in curated
    cur = [json.loads(ln)["text"] for ln in (out / "data" / "curated.jsonl").read_text().splitlines()]
    raw = [json.loads(ln) for ln in (out / "data" / "raw.jsonl").read_text().splitlines()]
    assert len(cur) < len(raw) and not any("Click here to subscribe" in t for t in cur)
    for p in ("claims.png", "architecture_spread.png", "summary.md", "claims.html"):
        assert (out / p).stat().st_size > 0
    assert "| curation |" in (out / "summary.md").read_text()
    assert res["budget"]["threads"] == 1


@pytest.mark.slow
def test_resume_reuses_finished_runs_and_two_seeds_give_an_interval(first):
    corpus, out, _ = first
    log0 = (out / "runs" / "tiny-raw-s0" / "log.jsonl").read_text()
    seed0 = (out / "claims" / "curation" / "seed0.json").read_text()
    r = CliRunner().invoke(app, ["lab", "claims", "--corpus", str(corpus), "-o", str(out), "--budget", "ci",
                                 "--seeds", "0,1", "--claims", "curation,quant_fragility"])
    assert r.exit_code == 0, r.output
    assert (out / "runs" / "tiny-raw-s0" / "log.jsonl").read_text() == log0      # not retrained
    assert (out / "claims" / "curation" / "seed0.json").read_text() == seed0
    assert (out / "runs" / "tiny-raw-s1" / "final.json").exists()
    res = json.loads((out / "claims.json").read_text())
    assert list(res["claims"]) == ["curation", "quant_fragility"]
    for c in res["claims"].values():
        assert c["verdict"] in ("confirmed", "refuted", "within noise")
        lo, hi = c["interval"]
        assert lo <= c["diff_mean"] <= hi


def test_verdict_follows_the_predicted_direction():
    lower = compare({0: 1.0, 1: 1.1, 2: 1.05}, {0: 2.0, 1: 2.1, 2: 2.02}, lower_is_better=True)
    assert verdict(lower, "better") == "confirmed" and verdict(lower, "worse") == "refuted"
    noisy = compare({0: 1.0, 1: 3.0, 2: 1.0}, {0: 2.0, 1: 1.0, 2: 2.0})
    assert verdict(noisy, "better") == "within noise"
    assert verdict(compare({0: 1.0}, {0: 2.0}), "better") == "n/a (1 seed)"


def test_architectures_have_about_equal_parameters_and_the_gru_generates():
    n = {p: GPT(GPTConfig.preset(p, vocab_size=256, seq_len=32)).n_params(embedding=False) for p in ("tiny", "deep", "wide", "gru")}
    assert all(abs(v / n["tiny"] - 1) < 0.15 for v in n.values()), n
    torch.manual_seed(0)
    m = GPT(GPTConfig.preset("gru", vocab_size=256, seq_len=32, eos_id=0, doc_mask=True)).eval()
    assert not any(isinstance(b.attn, torch.nn.MultiheadAttention) for b in m.blocks)
    x = torch.randint(1, 256, (2, 16))
    # causal: a later token cannot change an earlier position's logits
    y = x.clone()
    y[:, 10:] = 7
    assert torch.allclose(m(x)[:, :10], m(y)[:, :10], atol=1e-5)
    assert m.generate([[1, 2, 3]], 5) == m.generate([[1, 2, 3]], 5, use_cache=False)
    with pytest.raises(ValueError, match="mixer"):
        GPT(GPTConfig(vocab_size=256, mixer="lstm"))


def test_factoid_auc_on_labelled_text(tmp_path):
    rng = random.Random(0)
    names = ["Smith", "Jones", "Atlanta", "Boston", "Friday", "Monday"]
    news = [{"id": f"n{i}", "genre": "news", "text": " ".join(
        f"On March {rng.randint(1, 28)}, {rng.randint(1950, 2020)} {rng.choice(names)} told {rng.choice(names)} the score was "
        f"{rng.randint(0, 9)}-{rng.randint(0, 9)}." for _ in range(12))} for i in range(20)]
    learned = [{"id": f"l{i}", "genre": "learned", "text": d["text"]} for i, d in enumerate(stdlib_docs(20))]
    write_jsonl(tmp_path / "brown.jsonl", news + learned)
    r = factoid_auc(tmp_path)
    assert r["brown news vs learned"]["n"] == 40 and r["brown news vs learned"]["auc"] > 0.9


@pytest.mark.parametrize("args, expect", [
    (["--claims", "curation,nope"], "unknown nope"),
    (["--budget", "huge"], "choose one of"),
    (["--seeds", "a,b"], "expected integers"),
])
def test_misconfiguration_fails_before_work(tmp_path, args, expect):
    corpus = _corpus(tmp_path / "c")
    out = tmp_path / "out"
    r = CliRunner().invoke(app, ["lab", "claims", "--corpus", str(corpus), "-o", str(out), *args])
    assert r.exit_code == 2 and expect in r.output, r.output
    assert not out.exists()


def test_missing_corpus_is_named(tmp_path):
    r = CliRunner().invoke(app, ["lab", "claims", "--corpus", str(tmp_path / "none"), "-o", str(tmp_path / "o"), "--budget", "ci"])
    assert r.exit_code == 2 and "not a folder" in r.output
