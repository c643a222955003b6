"""Is a difference real? The statistics of gristmill.lab.significance against scipy.stats (or hand-computed
values where scipy is absent), and the verdicts through real `lab ablate` runs via the CLI."""
import json
import math
import random

import pytest
from typer.testing import CliRunner

from conftest import stdlib_docs, write_jsonl
from gristmill.cli import app
from gristmill.lab.significance import compare, seeds_needed, t_cdf, t_ppf, verdict_text

try:
    from scipy import stats
except ImportError:  # the hand-computed values below stand in
    stats = None

# Student t quantiles from printed tables (e.g. Abramowitz & Stegun 1964, Table 26.10)
T975 = {1: 12.706204736, 2: 4.302652730, 4: 2.776445105, 10: 2.228138852, 30: 2.042272456}


@pytest.mark.parametrize("df", [1, 2, 4, 10, 30])
def test_t_quantiles(df):
    assert t_ppf(0.975, df) == pytest.approx(T975[df], rel=1e-8)
    assert t_ppf(0.025, df) == pytest.approx(-T975[df], rel=1e-8)
    assert t_cdf(T975[df], df) == pytest.approx(0.975, abs=1e-10)
    if stats is not None:
        for p in (0.55, 0.8, 0.9, 0.995, 0.9995):
            for d in (df, df + 0.37):  # Welch's degrees of freedom are fractional
                assert t_ppf(p, d) == pytest.approx(float(stats.t.ppf(p, d)), rel=1e-8)


def test_paired_interval_matches_the_t_test():
    a = {0: 1.00, 1: 1.20, 2: 0.90, 3: 1.05}
    r = {0: 1.10, 1: 1.25, 2: 1.05, 3: 1.12}
    c = compare(a, r)
    assert c["paired"] and c["method"].startswith("paired t")
    ds = [a[k] - r[k] for k in a]
    m, sd = sum(ds) / 4, math.sqrt(sum((x - sum(ds) / 4) ** 2 for x in ds) / 3)
    h = T975[3] * sd / 2 if 3 in T975 else 3.182446305 * sd / 2  # t(0.975, 3) = 3.182446305
    assert c["diff_mean"] == pytest.approx(m) and c["ci"] == pytest.approx([m - h, m + h], rel=1e-8)
    if stats is not None:
        ci = stats.ttest_rel(list(a.values()), list(r.values())).confidence_interval()
        assert c["ci"] == pytest.approx([ci.low, ci.high], rel=1e-8)
    assert c["verdict"] == "better"  # every seed lower, the interval below 0


def test_unpaired_welch_interval_when_seeds_differ():
    a = {0: 1.0, 1: 2.0, 2: 3.0}
    r = {5: 1.0, 6: 1.5, 7: 1.2, 8: 3.0}
    c = compare(a, r)
    assert not c["paired"] and c["method"].startswith("Welch")
    if stats is not None:
        ci = stats.ttest_ind(list(a.values()), list(r.values()), equal_var=False).confidence_interval()
        assert c["ci"] == pytest.approx([ci.low, ci.high], rel=1e-8)
    else:  # hand-computed: Welch-Satterthwaite df = 4.31, interval -1.6808 .. 2.3308
        assert c["ci"] == pytest.approx([-1.68084, 2.33084], rel=1e-4)
    assert c["verdict"] == "within noise" and c["seeds_needed"] > 10


def test_direction_verdicts_and_one_seed():
    lo = {0: 1.0, 1: 1.01, 2: 0.99}
    hi = {0: 2.0, 1: 2.02, 2: 1.99}
    assert compare(hi, lo)["verdict"] == "worse"
    assert compare(hi, lo, lower_is_better=False)["verdict"] == "better"
    one = compare({0: 1.0}, {0: 2.0})
    assert one["verdict"] == "n/a (1 seed)" and one["ci"] is None and one["diff_mean"] == -1.0
    assert verdict_text(one) == "n/a (1 seed)"
    same = compare(lo, dict(lo))
    assert same["verdict"] == "within noise" and same["ci"] == [0.0, 0.0] and same["seeds_needed"] is None
    assert "no difference to resolve" in verdict_text(same)


def test_equal_differences_over_seeds_give_no_verdict():
    # two seeds whose accuracies differ by the same 0.010 (a coarse metric over few items): the t
    # interval has zero width; that is not evidence of a difference, so no verdict is given
    arm, ref = {0: 0.040, 1: 0.030}, {0: 0.030, 1: 0.020}
    for method in ("t", "bootstrap"):
        c = compare(arm, ref, lower_is_better=False, method=method)
        assert c["verdict"] == "n/a (no spread over seeds)" and c["ci"] is None
        assert abs(c["diff_mean"] - 0.010) < 1e-12 and verdict_text(c) == c["verdict"]
    unpaired = compare({0: 0.5, 1: 0.5}, {2: 0.4, 3: 0.4})
    assert unpaired["verdict"] == "n/a (no spread over seeds)"
    # one seed disagreeing a little restores the interval and the verdict
    assert compare({0: 0.041, 1: 0.030}, ref, lower_is_better=False)["ci"] is not None


def test_bootstrap_interval_is_the_percentile_of_resampled_means():
    rng = random.Random(1)
    ref = {i: 1.0 + rng.gauss(0, 0.05) for i in range(12)}
    arm = {i: v - 0.1 + rng.gauss(0, 0.02) for i, v in ref.items()}
    b = compare(arm, ref, method="bootstrap", n_boot=4000)
    t = compare(arm, ref)
    assert b["method"].startswith("bootstrap") and b["verdict"] == t["verdict"] == "better"
    # 12 seeds: the percentile interval is close to the t interval (Efron & Tibshirani 1993, Ch. 13)
    assert b["ci"][0] == pytest.approx(t["ci"][0], abs=0.01) and b["ci"][1] == pytest.approx(t["ci"][1], abs=0.01)
    if stats is not None:
        ds = [arm[i] - ref[i] for i in ref]
        ci = stats.bootstrap((ds,), lambda x, axis: x.mean(axis=axis), n_resamples=4000, method="percentile",
                             random_state=0).confidence_interval
        assert b["ci"] == pytest.approx([ci.low, ci.high], abs=0.006)
    with pytest.raises(ValueError):
        compare(arm, ref, method="anova")


@pytest.mark.parametrize("effect", [0.3, 0.5, 1.0, 2.0])
def test_seeds_needed_reaches_the_power_it_claims(effect):
    n = seeds_needed(effect, 1.0)
    # the normal-theory count is a lower bound; the t-based one adds a few seeds for small n
    z = (1.959963985 + 0.841621234) ** 2 / effect ** 2
    assert n >= math.ceil(z) and n <= math.ceil(z) + 4
    if stats is not None:
        def power(k):
            tc = stats.t.ppf(0.975, k - 1)
            nc = effect * math.sqrt(k)
            return 1 - stats.nct.cdf(tc, k - 1, nc) + stats.nct.cdf(-tc, k - 1, nc)
        assert power(n) >= 0.79 and (n == 2 or power(n - 1) < 0.8)
    assert seeds_needed(0.0, 1.0) is None and seeds_needed(1e-9, 1.0) is None  # past MAX_SEEDS


ABLATE = """
model: {{preset: tiny, n_layer: 1, d_model: 32, n_head: 2}}
tokens: {tokens}
seeds: {seeds}
tokenizer: bytes
seq_len: 64
batch_size: 8
threads: 1
significance: {method}
eval:
  heldout: ["eval/*.jsonl"]
  max_bytes: 3000
  points: 3
arms:
  clean: [clean.jsonl]
  same: [clean.jsonl]
  junk: [junk.jsonl]
"""


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("sig")
    d = stdlib_docs(300)
    (tmp / "eval").mkdir()
    write_jsonl(tmp / "clean.jsonl", d[:220])
    write_jsonl(tmp / "eval" / "docs.jsonl", d[250:])
    rng = random.Random(0)
    spam = ["buy", "cheap", "click", "here", "now", "$$$", "FREE", "casino", "win", "LIMITED", "offer", "!!!"]
    write_jsonl(tmp / "junk.jsonl", [{"text": " ".join(rng.choice(spam) for _ in range(200))} for _ in range(200)])
    return tmp


def test_ablation_verdicts_in_table_json_and_plot(data):
    (data / "a.yaml").write_text(ABLATE.format(tokens=6000, seeds="[0, 1, 2]", method="t"))
    r = CliRunner().invoke(app, ["lab", "ablate", str(data / "a.yaml"), "-o", str(data / "out"), "--no-progress"])
    assert r.exit_code == 0, r.output
    res = json.loads((data / "out" / "results.json").read_text())
    assert "vs_first" not in res["arms"]["clean"]
    junk = res["arms"]["junk"]["vs_first"]
    assert junk["reference"] == "clean" and junk["mean"]["paired"] and junk["mean"]["n"] == 3
    # spam text is far from held-out prose on every seed: worse, with the interval above 0
    assert junk["mean"]["verdict"] == "worse" and junk["mean"]["ci"][0] > 0 and junk["docs"]["verdict"] == "worse"
    # the same data under the same seeds trains the same model: a zero difference, within noise
    same = res["arms"]["same"]["vs_first"]["mean"]
    assert same["verdict"] == "within noise" and same["diff_mean"] == 0 and same["ci"] == [0.0, 0.0]
    assert "difference against clean over seeds" in r.output and "worse: +" in r.output and "within noise: +0.0000" in r.output
    assert (data / "out" / "bpb_docs.png").stat().st_size > 10_000


def test_one_seed_ablation_says_na(data):
    (data / "b.yaml").write_text(ABLATE.format(tokens=3000, seeds="[0]", method="bootstrap"))
    r = CliRunner().invoke(app, ["lab", "ablate", str(data / "b.yaml"), "-o", str(data / "one"), "--no-progress"])
    assert r.exit_code == 0, r.output
    res = json.loads((data / "one" / "results.json").read_text())
    for arm in ("same", "junk"):
        v = res["arms"][arm]["vs_first"]["mean"]
        assert v["verdict"] == "n/a (1 seed)" and v["ci"] is None
    assert "n/a (1 seed)" in r.output
