"""Is a difference between two arms real? Confidence intervals over seeds, a plain verdict, and the
number of seeds that would settle it.

Every lab comparison (`lab ablate`, `lab curriculum`, `lab search`) trains each arm under a few seeds.
An arm's difference against the reference arm is judged on the per-seed values:

* **paired by seed** when both arms ran the same seeds (the seed fixes the initialization and the
  data order, so arm-vs-reference differences on one seed share that noise): the Student-t interval
  on the paired differences, mean ± t(1-a/2, n-1) * sd / sqrt(n) (Student 1908; e.g. Wasserman,
  "All of Statistics", 2004, Sec. 10.1);
* **unpaired** otherwise: Welch's interval with Welch-Satterthwaite degrees of freedom (Welch 1947);
* optionally a **bootstrap** over seeds instead: the percentile interval of the mean paired
  difference over resampled seeds (Efron & Tibshirani 1993, "An Introduction to the Bootstrap",
  Ch. 13). With few seeds it is too narrow (it cannot see spread it did not sample), so the t
  interval is the default.

The verdict is "better" or "worse" when the whole interval lies on one side of zero (the direction
says whether lower is better), else "within noise"; with fewer than two seeds on a side, "n/a (1 seed)".
When within noise, `seeds_needed` is the number of paired seeds a two-sided paired t-test at the same
level would need to detect the observed mean difference at the observed spread with 80% power:
the smallest n with n >= ((t(1-a/2, n-1) + t(power, n-1)) * sd / |d|)^2 (the usual t-based
sample-size formula, Cohen 1988, "Statistical Power Analysis for the Behavioral Sciences", Ch. 2).
It is a planning figure taken from a noisy estimate of the spread, not a promise.

The t quantiles are computed here (regularized incomplete beta by continued fraction) so the lab
needs no scipy; tests check them against scipy.stats where it is installed.
"""
from __future__ import annotations

import math
import random
import statistics

LEVEL = 0.95   # two-sided confidence level of every interval
POWER = 0.8    # Cohen's (1988) conventional power for the seeds-needed estimate
MAX_SEEDS = 10_000  # past this, "more seeds" is not the answer: seeds_needed is reported as null
NA = "n/a (1 seed)"
# Every seed gave the same difference (or every run the same value): the t interval has zero width,
# which is not evidence of anything but a coarse metric (e.g. accuracy over few items); the noise is
# unmeasured, so no verdict is given until a seed disagrees.
NO_SPREAD = "n/a (no spread over seeds)"


# ---------------------------------------------------------------- Student t distribution

def _betacf(a: float, b: float, x: float) -> float:
    """Continued fraction of the incomplete beta function (modified Lentz's method)."""
    tiny = 1e-300
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 500):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < 1e-15:
            break
    return h


def betainc(a: float, b: float, x: float) -> float:
    """Regularized incomplete beta I_x(a, b)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    lbt = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(lbt) * _betacf(a, b, x) / a
    return 1.0 - math.exp(lbt) * _betacf(b, a, 1.0 - x) / b


def t_cdf(t: float, df: float) -> float:
    tail = 0.5 * betainc(df / 2.0, 0.5, df / (df + t * t))
    return 1.0 - tail if t > 0 else tail


def t_ppf(p: float, df: float) -> float:
    """Quantile of Student's t with `df` (> 0, may be fractional) degrees of freedom."""
    if not 0.0 < p < 1.0:
        raise ValueError(f"t_ppf: p must be in (0, 1), got {p}")
    if p == 0.5:
        return 0.0
    if p < 0.5:
        return -t_ppf(1.0 - p, df)
    lo, hi = 0.0, 1.0
    while t_cdf(hi, df) < p:
        lo, hi = hi, hi * 2.0
        if hi > 1e12:
            return math.inf
    for _ in range(200):  # bisection: the cdf is monotone, 200 halvings reach float precision
        mid = 0.5 * (lo + hi)
        if t_cdf(mid, df) < p:
            lo = mid
        else:
            hi = mid
        if hi - lo <= 1e-12 * max(1.0, hi):
            break
    return 0.5 * (lo + hi)


# ---------------------------------------------------------------- the comparison

def _clean(d: dict) -> dict:
    return {str(k): float(v) for k, v in d.items() if v is not None and math.isfinite(float(v))}


def seeds_needed(diff: float, sd: float, level: float = LEVEL, power: float = POWER) -> int | None:
    """Paired seeds a two-sided t-test at `level` needs to detect `diff` at spread `sd` with `power`
    (Cohen 1988: the smallest n >= ((t_{1-a/2,n-1} + t_{power,n-1}) sd/d)^2).
    None when there is no difference to detect or it would take more than MAX_SEEDS."""
    if diff == 0 or not math.isfinite(diff) or sd is None or not math.isfinite(sd):
        return None
    if sd == 0:
        return 2
    alpha = 1.0 - level
    ratio = (sd / diff) ** 2
    # the smallest n with n >= f(n); f(n) >= the normal-theory n, so the search starts there
    k = max(2, math.floor((_z(1 - alpha / 2) + _z(power)) ** 2 * ratio))
    while k <= MAX_SEEDS:
        if k >= (t_ppf(1 - alpha / 2, k - 1) + t_ppf(power, k - 1)) ** 2 * ratio:
            return k
        k += 1 if k < 100 else max(1, k // 50)
    return None


def _z(p: float) -> float:
    return statistics.NormalDist().inv_cdf(p)


def compare(arm: dict, ref: dict, lower_is_better: bool = True, method: str = "t", level: float = LEVEL,
            n_boot: int = 10_000, boot_seed: int = 0) -> dict:
    """`arm` and `ref`: seed -> value. The difference is arm - ref; the verdict says whether the arm is
    better or worse than the reference beyond seed-to-seed noise (see the module docstring)."""
    if method not in ("t", "bootstrap"):
        raise ValueError(f"method {method!r}: choose t or bootstrap")
    a, r = _clean(arm), _clean(ref)
    common = sorted(set(a) & set(r))
    paired = len(common) >= 2 and len(common) == len(a) == len(r)
    out = {"n_arm": len(a), "n_ref": len(r), "paired": paired, "level": level,
           "lower_is_better": lower_is_better, "method": None, "diff_mean": None, "ci": None,
           "sd_diff": None, "verdict": NA, "seeds_needed": None}
    if a and r:
        out["diff_mean"] = statistics.fmean(a.values()) - statistics.fmean(r.values())
    if len(a) < 2 or len(r) < 2:
        return out
    alpha = 1 - level
    if paired:
        ds = [a[s] - r[s] for s in common]
        n, d = len(ds), statistics.fmean(ds)
        sd = statistics.stdev(ds)
        out.update(diff_mean=d, sd_diff=sd, n=n)
        if method == "bootstrap":
            rng = random.Random(boot_seed)
            means = sorted(statistics.fmean(rng.choices(ds, k=n)) for _ in range(n_boot))
            lo = means[int(math.floor(alpha / 2 * (n_boot - 1)))]
            hi = means[int(math.ceil((1 - alpha / 2) * (n_boot - 1)))]
            out["method"] = f"bootstrap percentile over {n} paired seeds ({n_boot} resamples)"
        else:
            h = t_ppf(1 - alpha / 2, n - 1) * sd / math.sqrt(n)
            lo, hi = d - h, d + h
            out["method"] = f"paired t over {n} seeds"
        needed_sd = sd
    else:
        xa, xr = list(a.values()), list(r.values())
        va, vr = statistics.variance(xa) / len(xa), statistics.variance(xr) / len(xr)
        d = statistics.fmean(xa) - statistics.fmean(xr)
        se = math.sqrt(va + vr)
        out.update(diff_mean=d, sd_diff=math.sqrt(statistics.variance(xa) + statistics.variance(xr)))
        if method == "bootstrap":
            rng = random.Random(boot_seed)
            means = sorted(statistics.fmean(rng.choices(xa, k=len(xa))) - statistics.fmean(rng.choices(xr, k=len(xr)))
                           for _ in range(n_boot))
            lo = means[int(math.floor(alpha / 2 * (n_boot - 1)))]
            hi = means[int(math.ceil((1 - alpha / 2) * (n_boot - 1)))]
            out["method"] = f"bootstrap percentile, unpaired ({len(xa)} vs {len(xr)} seeds, {n_boot} resamples)"
        else:
            if se == 0:
                dof = len(xa) + len(xr) - 2
            else:  # Welch-Satterthwaite
                dof = (va + vr) ** 2 / (va ** 2 / (len(xa) - 1) + vr ** 2 / (len(xr) - 1))
            h = t_ppf(1 - alpha / 2, dof) * se
            lo, hi = d - h, d + h
            out["method"] = f"Welch t, unpaired ({len(xa)} vs {len(xr)} seeds)"
        # a paired design's spread of a difference is unknown here; two independent arms' is used
        needed_sd = out["sd_diff"]
    if d != 0 and hi - lo <= 1e-9 * abs(d):  # float rounding of equal differences is not spread
        out["verdict"] = NO_SPREAD
        return out
    out["ci"] = [lo, hi]
    if lo > 0 or hi < 0:
        worse = lo > 0 if lower_is_better else hi < 0
        out["verdict"] = "worse" if worse else "better"
    else:
        out["verdict"] = "within noise"
        out["seeds_needed"] = seeds_needed(d, needed_sd, level)
    return out


def verdict_text(c: dict | None, fmt: str = "{:+.4f}") -> str:
    """One cell: `better: -0.0123 [-0.020, -0.004]`, `within noise (~9 seeds)`, `n/a (1 seed)`."""
    if not c:
        return "reference"
    if c["ci"] is None:
        return c["verdict"]
    s = f"{c['verdict']}: {fmt.format(c['diff_mean'])} [{fmt.format(c['ci'][0])}, {fmt.format(c['ci'][1])}]"
    if c["verdict"] == "within noise":
        if c["seeds_needed"]:
            s += f" (~{c['seeds_needed']} seeds to resolve)"
        elif c["diff_mean"] == 0:
            s += " (no difference to resolve)"
        else:
            s += f" (> {MAX_SEEDS:,} seeds to resolve)"
    return s


def compare_arms(per_seed: dict[str, dict], reference: str, lower_is_better: bool = True, method: str = "t") -> dict:
    """{arm: compare(arm, reference)} for every arm but the reference (per_seed: arm -> seed -> value)."""
    return {arm: compare(v, per_seed[reference], lower_is_better, method) for arm, v in per_seed.items() if arm != reference}
