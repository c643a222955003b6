"""`gristmill lab search` end to end through the CLI at a far smaller budget than the shipped quick config:
the mechanism (proxies, regression, prediction, validation, files, resumability, ranking fields), not
the accuracy of a search over a few seconds of training."""
import json
import random
import sysconfig
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from typer.testing import CliRunner

from conftest import stdlib_docs, write_jsonl
from gristmill.cli import app

CONFIG = """
sources:
  prose: {path: prose.parquet}
  code: code.jsonl
  spam: [spam.jsonl]
search:
  candidates: 4
  samples: 2000
  top_k: 20
  thresholds:
    - {source: prose, column: score, values: [0.0, 0.5]}
proxy: {model: {preset: tiny, n_layer: 1, d_model: 32, n_head: 2}, tokens: 1500}
target: {model: {preset: tiny, n_layer: 1, d_model: 32, n_head: 2}, tokens: 6000, seeds: [0, 1]}
eval: {heldout: [heldout/prose.jsonl], max_bytes: 3000, points: 2}
tokenizer: {train: {vocab_size: 300}}
seq_len: 32
batch_size: 4
threads: 1
workers: WORKERS
"""


def _corpus(tmp: Path) -> None:
    d = stdlib_docs(300)
    rng = random.Random(0)
    pq.write_table(pa.table({"text": [x["text"] for x in d[:200]], "score": [rng.random() for _ in range(200)]}),
                   tmp / "prose.parquet")
    (tmp / "heldout").mkdir()
    write_jsonl(tmp / "heldout" / "prose.jsonl", d[240:])
    root = Path(sysconfig.get_paths()["stdlib"])
    code = [{"text": p.read_text(encoding="utf-8", errors="replace")[:3000]} for p in sorted(root.glob("*.py"))[:60]]
    write_jsonl(tmp / "code.jsonl", code)
    spam = ["buy", "cheap", "click", "here", "now", "$$$", "FREE", "casino", "win", "LIMITED", "offer", "!!!"]
    write_jsonl(tmp / "spam.jsonl", [{"text": " ".join(rng.choice(spam) for _ in range(150))} for _ in range(150)])


@pytest.fixture(scope="module")
def search(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("search")
    _corpus(tmp)
    (tmp / "s.yaml").write_text(CONFIG.replace("WORKERS", "2"))
    r = CliRunner().invoke(app, ["lab", "search", str(tmp / "s.yaml"), "-o", str(tmp / "out")])
    assert r.exit_code == 0, (r.output, r.exception)
    return tmp, r


def test_outputs_and_ranking_fields(search):
    tmp, r = search
    out = tmp / "out"
    res = json.loads((out / "results.json").read_text())
    names = {"prose", "code", "spam"}
    assert set(res["sources"]) == names and abs(sum(s["natural_weight"] for s in res["sources"].values()) - 1) < 1e-9
    # natural weights follow the tokens each source holds
    tok = {n: s["tokens"] for n, s in res["sources"].items()}
    assert max(tok, key=tok.get) == max(res["sources"], key=lambda n: res["sources"][n]["natural_weight"])
    # 4 Dirichlet draws + natural + uniform, each one proxy run, each with a measured bpb and a LOO prediction
    assert [p["name"] for p in res["proxies"]] == ["natural", "uniform", "c000", "c001", "c002", "c003"]
    for p in res["proxies"]:
        assert abs(sum(p["weights"].values()) - 1) < 1e-6 and p["mean_bpb"] > 0 and isinstance(p["loo_pred"], float)
        assert (Path(p["run"]) / "final.json").exists() and Path(p["run"]).parent == out / "proxies"
        assert p["thresholds"][0]["source"] == "prose" and p["thresholds"][0]["where"] in ("score >= 0.0", "score >= 0.5")
    reg = res["regression"]
    assert set(reg["models"]) >= {"linear", "quadratic"} and reg["chosen"] in reg["models"]
    assert all(m["loo_rmse"] >= 0 for m in reg["models"].values())
    assert reg["models"][reg["chosen"]]["loo_mse"] == min(m["loo_mse"] for m in reg["models"].values())
    # validation: four mixtures, two seeds each, significance against natural, a rank correlation
    val = res["validation"]
    assert set(val) == {"predicted", "natural", "uniform", "best_proxy"}
    assert val["best_proxy"]["from"] == min((p for p in res["proxies"] if p["name"].startswith("c")),
                                            key=lambda p: p["mean_bpb"])["name"]
    for a, v in val.items():
        assert set(v["per_seed"]) == {"0", "1"} and v["target_bpb"]["n"] == 2
        assert all((out / "target" / a / f"seed{s}" / "final.json").exists() for s in (0, 1))
        if a != "natural":
            assert v["vs_natural"]["paired"] and v["vs_natural"]["verdict"] in ("better", "worse", "within noise")
    assert val["predicted"]["vs_uniform"]["verdict"] in ("better", "worse", "within noise")
    rk = res["ranking"]
    assert sorted(rk["by_target"]) == sorted(val) and rk["n"] == 4
    assert rk["spearman_proxy_target"] is None or -1 <= rk["spearman_proxy_target"] <= 1
    assert "2 local worker" in res["parallel"]
    flat = res["proxies_not_below_unigram"]
    assert flat["of"] == 6 and flat["n"] == sum(bool(p["not_below_unigram"]) for p in res["proxies"])
    assert (flat["n"] > 0) == ("proxies are not clearly below their unigram" in r.output)
    # the mixture file: what the stream reads, with the predicted weights
    mix = yaml.safe_load((out / "search.mix.yaml").read_text())
    w = {s["name"]: s["weight"] for s in mix["sources"]}
    for n, x in res["predicted"]["weights"].items():
        if x >= 1e-6:
            assert w[n] == pytest.approx(x, abs=1e-6)
    from gristmill.mix import plan
    from gristmill.stream import MixtureDataset

    # the search counted every source as the stream's plan does, before the workers forked: a proxy's
    # stream (same mixture, tokenizer and seed) recounts nothing
    known = len(plan._COUNTS)
    MixtureDataset(str(out / "mixtures" / "natural.yaml"), seed=0, tokens=1500)
    MixtureDataset(str(out / "mixtures" / "uniform.yaml"), seed=1, tokens=6000)
    assert len(plan._COUNTS) == known
    ds = MixtureDataset(str(out / "search.mix.yaml"), seq_len=32, tokens=2000)
    seen = {next(iter(ds))["source"] for _ in range(1)}
    assert seen <= set(w)
    for p in ("predicted_vs_measured.png", "loss_by_weight.png"):
        assert (out / p).stat().st_size > 10_000
    assert "proxy 1/" in r.output and "ETA" in r.output and "Spearman" in r.output and "vs natural" in r.output


def test_rerun_skips_finished_proxies_and_reproduces(search):
    tmp, _ = search
    out = tmp / "out"
    before = json.loads((out / "results.json").read_text())
    stamps = {p: p.stat().st_mtime_ns for p in out.glob("proxies/*/final.json")}
    r = CliRunner().invoke(app, ["lab", "search", str(tmp / "s.yaml"), "-o", str(out), "--workers", "1"])
    assert r.exit_code == 0, r.output
    assert "7 of 7 already finished (skipped)" not in r.output  # predicted is run after the fit, reported apart
    assert "6 of 6 already finished (skipped)" in r.output and "8 of 8 already finished" in r.output
    assert {p: p.stat().st_mtime_ns for p in out.glob("proxies/*/final.json")} == stamps
    after = json.loads((out / "results.json").read_text())
    assert after["predicted"] == before["predicted"] and after["validation"] == before["validation"]


def test_a_killed_proxy_resumes(search):
    """A proxy interrupted mid-run (its final.json gone, its checkpoint kept) is trained on, not skipped."""
    tmp, _ = search
    out = tmp / "out"
    before = json.loads((out / "proxies" / "c001" / "final.json").read_text())
    (out / "proxies" / "c001" / "final.json").unlink()
    r = CliRunner().invoke(app, ["lab", "search", str(tmp / "s.yaml"), "-o", str(out), "--workers", "1"])
    assert r.exit_code == 0, r.output
    assert "5 of 6 already finished" in r.output and "proxy 1/1: c001" in r.output
    # resumed at its last checkpoint: the same evaluation as before the kill, not an empty one
    assert json.loads((out / "proxies" / "c001" / "final.json").read_text())["bpb"] == before["bpb"]


@pytest.mark.parametrize("edit, expect", [
    (("tokens: 6000", "tokens: 3000"), "at least 4x proxy.tokens"),
    (("seeds: [0, 1]", "seeds: [0]"), "at least 2 seeds"),
    (("column: score", "column: nosuch"), "nosuch"),
    (("heldout: [heldout/prose.jsonl]", "heldout: [code.jsonl]"), "also a training source"),
    (("spam: [spam.jsonl]", "spam: [gone.jsonl]"), "sources.spam"),
    (("candidates: 4", "candidatez: 4"), "did you mean 'candidates'"),
])
def test_bad_configs_fail_before_any_training(tmp_path, edit, expect):
    _corpus(tmp_path)
    (tmp_path / "s.yaml").write_text(CONFIG.replace("WORKERS", "1").replace(*edit))
    r = CliRunner().invoke(app, ["lab", "search", str(tmp_path / "s.yaml"), "-o", str(tmp_path / "out")])
    assert r.exit_code == 2 and expect in r.output, r.output
    assert not (tmp_path / "out" / "proxies").exists()


def test_the_shipped_quick_config_is_valid():
    from gristmill.lab.config import load_config
    from gristmill.lab.search import SearchConfig

    cfg = load_config(Path(__file__).resolve().parents[2] / "recipes" / "lab-search-quick.yaml", model=SearchConfig)
    assert cfg.target.tokens >= 4 * cfg.proxy.tokens and len(cfg.target.seeds) >= 2 and cfg.proxy.model == "tiny"
    assert set(cfg.sources) == {"curated", "raw", "code"}


def test_spearman_and_exact_leave_one_out():
    import numpy as np

    from gristmill.lab.search import LAMBDAS, features, ridge_loo, spearman

    x, y = [1, 2, 2, 3, 5, 4], [2.0, 1.0, 3.0, 3.0, 6.0, 5.0]
    try:
        from scipy.stats import spearmanr
        assert spearman(x, y) == pytest.approx(spearmanr(x, y).statistic, abs=1e-12)
    except ImportError:  # hand-computed with average ranks for the ties
        assert spearman(x, y) == pytest.approx(0.8116794499, abs=1e-9)
    assert spearman([1, 2, 3], [3, 2, 1]) == pytest.approx(-1) and spearman([1, 2], [1, 2]) is None
    rng = np.random.default_rng(0)
    X = rng.dirichlet([1, 1, 1], size=12)
    yv = 3 - X[:, 0] + 0.5 * X[:, 1] ** 2 + rng.normal(0, 0.01, 12)
    for kind in ("linear", "quadratic"):
        fit = ridge_loo(X, yv, kind)
        assert fit["lambda"] in LAMBDAS
        # the closed-form leave-one-out prediction equals refitting without each point
        F = features(X, kind)
        D = np.eye(F.shape[1])
        D[0, 0] = 0
        for i in range(12):
            m = np.arange(12) != i
            w = np.linalg.pinv(F[m].T @ F[m] + fit["lambda"] * D) @ F[m].T @ yv[m]
            assert fit["loo_pred"][i] == pytest.approx(float(F[i] @ w), abs=1e-6)


def test_report_has_the_search_panel(search):
    """`gristmill report OUT` on a search output: validation table with seeds and verdicts, the rank
    correlation, predicted-against-measured charts, the proxies; values from results.json, escaped."""
    import base64
    import re

    tmp, _ = search
    out = tmp / "out"
    res = json.loads((out / "results.json").read_text())
    r = CliRunner().invoke(app, ["report", str(out)])
    assert r.exit_code == 0, r.output
    page = (out / "report.html").read_text()
    assert "validation at the target budget" in page and "vs natural (95% interval)" in page
    for arm in ("predicted", "natural", "uniform", "best_proxy"):
        assert f"{res['validation'][arm]['target_bpb']['mean']:.4f}" in page
        if arm != "natural":
            assert res["validation"][arm]["vs_natural"]["verdict"] in page
    rho = res["ranking"]["spearman_proxy_target"]
    assert ("n/a" if rho is None else f"{rho:.2f}") in page
    for p in res["proxies"]:
        assert f"{p['mean_bpb']:.4f}" in page
    charts = re.findall(r"src='data:image/svg\+xml;base64,([^']+)'", page)
    assert len(charts) == 2
    assert all(f">{a}<" in base64.b64decode(charts[1]).decode() for a in ("predicted", "natural", "uniform"))
    assert "<script" not in page
