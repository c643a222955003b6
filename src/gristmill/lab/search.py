"""`gristmill lab search`: choose mixture weights (and optionally `where:` thresholds) with proxy models.

RegMix (Liu et al. 2024, "RegMix: Data Mixture as Regression for Language Model Pre-training"): train
many small proxy models on randomly drawn mixtures, fit a regression from mixture to held-out loss,
predict the best mixture over many more draws, and train that one at the real budget. Here:

1. **sources**: gristmill outputs or files, each with an optional `where:` filter over stored columns;
   the natural mixture weights each source by the tokens it holds (counted with the search's tokenizer
   as the stream's plan counts them, gristmill.mix.plan).
2. **candidates**: `search.candidates` mixtures drawn from a Dirichlet centred on the natural token
   distribution, its concentration scaled by a factor drawn log-uniformly from [0.1, 5] so that both
   near-natural and extreme mixtures are tried (RegMix Sec. 3.1 samples around the token distribution
   with such a scale); plus the natural and the uniform mixtures. With `search.thresholds`, every
   candidate also draws one value per threshold (`column >= value` added to that source's filter).
3. **proxies**: one `lab train` run per candidate under OUT/proxies/NAME (the `proxy:` model and token
   budget), in parallel over `workers` local processes (gristmill.engine.pool). A run is resumable
   and a finished one is skipped on a rerun.
4. **regression** from candidate to mean held-out bits per byte: ridge regression on the weights
   (linear) and on the weights with their pairwise products (quadratic), the ridge penalty and the
   model chosen by exact leave-one-out error (Allen 1974, PRESS: e_i / (1 - h_ii)); LightGBM (RegMix's
   choice) joins the comparison when it is installed, by refitting leave-one-out. RegMix found linear
   fits worse than LightGBM at 512 proxies; with tens of proxies the quadratic ridge is the usual
   middle ground, and the LOO error says which fits better here.
5. **prediction** over `search.samples` fresh draws; the predicted mixture is the mean of the
   `search.top_k` best predicted draws (RegMix averages its top predictions rather than trusting one
   point of a noisy regression).
6. **validation** at the `target:` budget (>= 4x the proxy's tokens, or a larger preset) with >= 2
   seeds: the predicted mixture, the natural one, uniform weights and the best proxy seen; each
   against natural with a confidence interval over seeds and a verdict (gristmill.lab.significance),
   and the Spearman rank correlation of proxy against target bpb over the validated mixtures.

Outputs: OUT/results.json, OUT/search.mix.yaml (the predicted mixture; `gristmill.stream` reads it),
OUT/mixtures/*.yaml, OUT/predicted_vs_measured.png, OUT/loss_by_weight.png.
"""
from __future__ import annotations

import glob
import hashlib
import json
import math
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Literal, Optional, Union

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from gristmill.lab.ablate import _resolve, _spread, pm
from gristmill.lab.config import ConfigError, load_config

SCALE = (0.1, 5.0)  # RegMix's range of the Dirichlet concentration scale
VALIDATED = ("predicted", "natural", "uniform", "best_proxy")


class SourceConf(BaseModel):
    model_config = ConfigDict(extra="forbid")
    path: list[str] = Field(min_length=1)
    where: Optional[str] = None
    text_field: str = "text"

    @field_validator("path", mode="before")
    @classmethod
    def _one(cls, v):
        return [v] if isinstance(v, str) else v


class Threshold(BaseModel):
    model_config = ConfigDict(extra="forbid")
    source: str
    column: str
    values: list[float] = Field(min_length=2)  # each candidate draws one: `column >= value`


class SearchSpace(BaseModel):
    """`samples: 100_000` and `top_k: 100`: RegMix predicts over a large random pool and averages its
    top 100 predictions; `candidates: 16` is what a CPU budget affords (RegMix trained 512)."""
    model_config = ConfigDict(extra="forbid")
    candidates: int = Field(16, ge=4)
    samples: int = Field(100_000, ge=100)
    top_k: int = Field(100, ge=1)
    thresholds: list[Threshold] = []


class Budget(BaseModel):
    model_config = ConfigDict(extra="forbid")
    model: Union[str, dict] = "tiny"
    tokens: int = Field(..., ge=1)
    seeds: list[int] = Field([0], min_length=1)


class SearchEval(BaseModel):
    model_config = ConfigDict(extra="forbid")
    heldout: list[str] = Field(min_length=1)
    max_bytes: int = Field(50_000, ge=1000)
    points: int = Field(4, ge=1)  # evaluations per run (the final one decides)


class SearchConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    sources: dict[str, Union[str, list[str], SourceConf]] = Field(min_length=2)
    search: SearchSpace = SearchSpace()
    proxy: Budget
    target: Budget
    eval: SearchEval
    tokenizer: Union[str, dict] = {"train": {"vocab_size": 4096}}
    seq_len: int = Field(256, ge=8)
    batch_size: int = Field(16, ge=1)
    lr: Optional[float] = Field(None, gt=0)
    seed: int = 0
    workers: int = Field(1, ge=1)
    threads: Optional[int] = None  # torch threads per worker; default: the cores divided among workers
    precision: Literal["auto", "bf16", "fp32"] = "auto"
    significance: Literal["t", "bootstrap"] = "t"

    @model_validator(mode="after")
    def _budgets(self):
        if len(self.target.seeds) < 2:
            raise ValueError("target.seeds: validate with at least 2 seeds, so a difference can be told from seed noise")
        if self.target.tokens < 4 * self.proxy.tokens and self.target.model == self.proxy.model:
            raise ValueError(f"target.tokens ({self.target.tokens:,}) must be at least 4x proxy.tokens "
                             f"({self.proxy.tokens:,}), or target.model a larger model: otherwise nothing is extrapolated")
        names = set(self.sources)
        for t in self.search.thresholds:
            if t.source not in names:
                raise ValueError(f"search.thresholds: source {t.source!r} is not one of sources ({', '.join(names)})")
        return self


# ---------------------------------------------------------------- statistics

def spearman(x: list[float], y: list[float]) -> float | None:
    """Spearman's rank correlation (average ranks for ties); None with fewer than 3 points or no spread."""
    if len(x) != len(y) or len(x) < 3:
        return None

    def ranks(v):
        order = sorted(range(len(v)), key=lambda i: v[i])
        r = [0.0] * len(v)
        i = 0
        while i < len(v):
            j = i
            while j + 1 < len(v) and v[order[j + 1]] == v[order[i]]:
                j += 1
            for k in range(i, j + 1):
                r[order[k]] = (i + j) / 2 + 1
            i = j + 1
        return r
    rx, ry = ranks(x), ranks(y)
    mx, my = statistics.fmean(rx), statistics.fmean(ry)
    sxy = sum((a - mx) * (b - my) for a, b in zip(rx, ry))
    sxx, syy = sum((a - mx) ** 2 for a in rx), sum((b - my) ** 2 for b in ry)
    return None if sxx == 0 or syy == 0 else sxy / math.sqrt(sxx * syy)


def features(X: np.ndarray, kind: str) -> np.ndarray:
    """Design matrix with an intercept column: linear = [1, x]; quadratic adds x_i * x_j (i <= j)."""
    cols = [np.ones((len(X), 1)), X]
    if kind == "quadratic":
        k = X.shape[1]
        cols.append(np.stack([X[:, i] * X[:, j] for i in range(k) for j in range(i, k)], axis=1))
    return np.concatenate(cols, axis=1)


LAMBDAS = (1e-6, 1e-4, 1e-3, 1e-2, 0.1, 1.0, 10.0)


def ridge_loo(X: np.ndarray, y: np.ndarray, kind: str) -> dict:
    """Ridge (intercept unpenalized) with the penalty chosen by exact leave-one-out error (PRESS)."""
    F = features(X, kind)
    D = np.eye(F.shape[1])
    D[0, 0] = 0.0
    best = None
    for lam in LAMBDAS:
        A = F.T @ F + lam * D
        try:
            Ainv = np.linalg.pinv(A)
        except np.linalg.LinAlgError:
            continue
        w = Ainv @ F.T @ y
        h = np.einsum("ij,jk,ik->i", F, Ainv, F)
        resid = y - F @ w
        loo = resid / np.clip(1 - h, 1e-9, None)
        mse = float(np.mean(loo ** 2))
        if best is None or mse < best["loo_mse"]:
            best = {"kind": kind, "lambda": lam, "loo_mse": mse, "coef": w.tolist(), "loo_pred": (y - loo).tolist()}
    best["loo_rmse"] = math.sqrt(best["loo_mse"])
    best["loo_spearman"] = spearman(best["loo_pred"], y.tolist())
    return best


def lightgbm_loo(X: np.ndarray, y: np.ndarray) -> dict | None:
    """RegMix's regressor, when installed: LOO by refitting (N is small). None when not installed."""
    try:
        import lightgbm
    except ImportError:
        return None
    params = dict(n_estimators=200, learning_rate=0.05, num_leaves=7, min_child_samples=2, verbose=-1)
    pred = []
    for i in range(len(y)):
        m = np.arange(len(y)) != i
        pred.append(float(lightgbm.LGBMRegressor(**params).fit(X[m], y[m]).predict(X[i:i + 1])[0]))
    loo = y - np.array(pred)
    model = lightgbm.LGBMRegressor(**params).fit(X, y)
    return {"kind": "lightgbm", "loo_mse": float(np.mean(loo ** 2)), "loo_rmse": float(np.sqrt(np.mean(loo ** 2))),
            "loo_pred": pred, "loo_spearman": spearman(pred, y.tolist()), "_model": model}


def predict(fit: dict, X: np.ndarray) -> np.ndarray:
    if fit["kind"] == "lightgbm":
        return fit["_model"].predict(X)
    return features(X, fit["kind"]) @ np.array(fit["coef"])


# ---------------------------------------------------------------- sources, candidates, mixtures

def _sources(cfg: SearchConfig, base: Path, config: Path) -> dict[str, SourceConf]:
    out = {}
    for name, v in cfg.sources.items():
        sc = v if isinstance(v, SourceConf) else SourceConf(path=v)
        paths = [_resolve(p, base) for p in sc.path]
        for p in paths:
            if not glob.glob(p):
                raise ConfigError(f"{config}: sources.{name}: {p}: no such file")
        out[name] = sc.model_copy(update={"path": paths})
    return out


def _where(src: SourceConf, thr: dict[str, float], name: str, cfg: SearchConfig) -> str | None:
    parts = [f"({src.where})"] if src.where else []
    for i, t in enumerate(cfg.search.thresholds):
        if t.source == name:
            parts.append(f"{t.column} >= {thr[str(i)]!r}")
    return " and ".join(parts) or None


def mixture_dict(cand: dict, srcs: dict[str, SourceConf], cfg: SearchConfig, tok_spec: str) -> dict:
    """A single-phase mixture file for a candidate. Repetition is allowed: a small source given a large
    weight at the target budget is re-read rather than failing the run (RegMix also lets sources repeat)."""
    return {"allow_repeat": True, "tokenizer": tok_spec, "seq_len": cfg.seq_len, "seed": cfg.seed, "sources": [
        {"name": n, "path": s.path, **({"where": w} if (w := _where(s, cand.get("thresholds", {}), n, cfg)) else {}),
         "text_field": s.text_field, "weight": round(float(cand["weights"][n]), 6)}
        for n, s in srcs.items() if cand["weights"][n] >= 1e-6]}


def count_tokens(mixes: list[dict], tok_spec: str, seeds: list[int]) -> dict[str, dict]:
    """Documents and tokens of each source after its filter, counted as the stream's plan counts them
    (gristmill.mix.plan: exact for small sources, a seeded 10,000-document sample scaled by rows for large
    ones). Counting every distinct (source, filter) of `mixes` here, for every seed a run will use, fills the
    plan's in-process memo before the workers fork: each proxy's `MixtureDataset` then recounts nothing
    (on a 4M-token corpus that recount was most of a 50k-token proxy's time). Returns the first mixture's."""
    from gristmill.mix.plan import SAMPLE_DOCS, counted_source
    from gristmill.mix.spec import mixture_from_dict
    from gristmill.stream.tokenizer import load_tokenizer

    hf, _ = load_tokenizer(tok_spec)
    out: dict[str, dict] = {}
    for k, d in enumerate(mixes):
        for src in mixture_from_dict(d).phases[0].sources:
            for seed in seeds:
                docs, ntok, exact = counted_source(src, hf, SAMPLE_DOCS, seed)
                if k == 0 and seed == seeds[0]:
                    if ntok == 0:
                        raise ConfigError(f"sources.{src.name}: no documents pass its filter")
                    out[src.name] = {"documents": docs, "tokens": ntok, "exact": exact}
    return out


def draw(rng: np.random.Generator, natural: np.ndarray, n: int) -> np.ndarray:
    """n mixtures from a Dirichlet centred on the natural distribution, concentration scale log-uniform
    in SCALE (RegMix Sec. 3.1)."""
    scale = np.exp(rng.uniform(math.log(SCALE[0]), math.log(SCALE[1]), size=n))
    alpha = np.clip(natural[None, :] * scale[:, None] * len(natural), 1e-3, None)
    g = rng.gamma(alpha)
    g = np.where(g.sum(1, keepdims=True) > 0, g, 1.0)
    return g / g.sum(1, keepdims=True)


def candidates(cfg: SearchConfig, names: list[str], natural: np.ndarray) -> list[dict]:
    rng = np.random.default_rng(cfg.seed)
    W = draw(rng, natural, cfg.search.candidates)
    first = {str(i): t.values[0] for i, t in enumerate(cfg.search.thresholds)}
    out = [{"name": "natural", "weights": dict(zip(names, natural.tolist())), "thresholds": first},
           {"name": "uniform", "weights": {n: 1 / len(names) for n in names}, "thresholds": first}]
    for i, w in enumerate(W):
        thr = {str(j): float(rng.choice(t.values)) for j, t in enumerate(cfg.search.thresholds)}
        out.append({"name": f"c{i:03d}", "weights": dict(zip(names, w.tolist())), "thresholds": thr})
    return out


def vector(c: dict, names: list[str], cfg: SearchConfig) -> list[float]:
    """Regression features: the weights, then each threshold scaled to [0, 1] over its values."""
    v = [c["weights"][n] for n in names]
    for j, t in enumerate(cfg.search.thresholds):
        lo, hi = min(t.values), max(t.values)
        v.append((c["thresholds"][str(j)] - lo) / (hi - lo) if hi > lo else 0.0)
    return v


# ---------------------------------------------------------------- running

def _train_task(task: dict) -> dict:
    """One lab run (a worker process): returns its name, seed and final evaluation."""
    from gristmill.lab.config import TrainConfig
    from gristmill.lab.train import train

    t0 = time.perf_counter()
    final = train(TrainConfig.model_validate(task["config"]), Path(task["run"]), base=Path(task["base"]), progress=False)
    return {"name": task["name"], "seed": task["seed"], "run": task["run"], "bpb": final["bpb"],
            "unigram_bpb": final["unigram_bpb"], "not_below_unigram": final.get("not_below_unigram", []),
            "tokens": final["tokens"], "mean_bpb": statistics.fmean(final["bpb"].values()),
            "seconds": time.perf_counter() - t0, "pid": os.getpid()}  # which process trained it (local pool or Ray)


def _finished(run: Path) -> dict | None:
    f = run / "final.json"
    if not f.exists():
        return None
    try:
        final = json.loads(f.read_text())
    except ValueError:
        return None
    return final if final.get("bpb") else None


def _run_all(tasks: list[dict], workers: int, what: str, say) -> dict[tuple, dict]:
    """Run the tasks (finished runs are read, not retrained) with progress lines and an ETA."""
    from gristmill.engine.pool import run_tasks

    done: dict[tuple, dict] = {}
    todo = []
    for t in tasks:
        final = _finished(Path(t["run"]))
        if final is not None and Path(t["run"], "config.json").exists() and _same_config(t):
            done[(t["name"], t["seed"])] = {"name": t["name"], "seed": t["seed"], "run": t["run"], "bpb": final["bpb"],
                                            "unigram_bpb": final["unigram_bpb"], "tokens": final["tokens"],
                                            "not_below_unigram": final.get("not_below_unigram", []),
                                            "mean_bpb": statistics.fmean(final["bpb"].values()), "seconds": 0.0, "skipped": True}
        else:
            todo.append(t)
    if done:
        say(f"{what}: {len(done)} of {len(tasks)} already finished (skipped)")
    if not todo:
        return done
    say(f"{what}: training {len(todo)} run(s) on {min(workers, len(todo))} worker(s)")
    t0 = time.perf_counter()
    for k, r in enumerate(run_tasks(_train_task, todo, workers), 1):
        done[(r["name"], r["seed"])] = r
        el = time.perf_counter() - t0
        eta = el / k * (len(todo) - k)
        say(f"{what} {k}/{len(todo)}: {r['name']}" + (f" seed {r['seed']}" if what == "target" else "")
            + f" mean held-out bpb {r['mean_bpb']:.4f} ({r['seconds']:.0f} s); elapsed {el:.0f} s, ETA {eta:.0f} s")
    return done


def _same_config(task: dict) -> bool:
    """A finished run is reused only when it was trained with this very config (as `lab train` checks)."""
    try:
        held = json.loads(Path(task["run"], "config.json").read_text())
    except ValueError:
        return False
    pub = {k: v for k, v in held.items() if not k.startswith("_")}
    from gristmill.lab.config import TrainConfig

    return pub == TrainConfig.model_validate(task["config"]).model_dump(mode="json")


def _tokenizer(cfg: SearchConfig, srcs: dict[str, SourceConf], base: Path, out: Path, config: Path) -> str:
    if isinstance(cfg.tokenizer, str):
        t = _resolve(cfg.tokenizer, base)
        if cfg.tokenizer == "bytes" or not Path(t).is_file():
            raise ConfigError(f"{config}: tokenizer: {cfg.tokenizer!r}: give a tokenizers JSON file or train: {{vocab_size: N}} "
                              "(mixtures stream through MixtureDataset, which reads tokenizers files)")
        return t
    spec = cfg.tokenizer.get("train") if set(cfg.tokenizer) == {"train"} and isinstance(cfg.tokenizer.get("train"), dict) else None
    if spec is None or set(spec) - {"vocab_size"} or not isinstance(spec.get("vocab_size", 4096), int) or spec.get("vocab_size", 4096) < 300:
        raise ConfigError(f"{config}: tokenizer: expected a tokenizers JSON file or train: {{vocab_size: N >= 300}}, got {cfg.tokenizer!r}")
    target = out / "tokenizer.json"
    if not target.exists():
        from gristmill.mix.spec import mixture_from_dict
        from gristmill.stream.tokenizer import train_bpe

        mix = mixture_from_dict({"sources": [{"name": n, "path": s.path, "text_field": s.text_field, "weight": 1,
                                              **({"where": s.where} if s.where else {})} for n, s in srcs.items()]})

        def texts():  # every source contributes, up to 2 MB each, so no source is split into more tokens by construction
            for src in mix.phases[0].sources:
                n = 0
                for u in range(len(src.data.units)):
                    for t in src.data.read(u, np.arange(src.data.rows[u]))[0]:
                        yield t
                        n += len(t)
                        if n > 2_000_000:
                            break
                    if n > 2_000_000:
                        break
        from gristmill.engine.atomic import atomic_path

        with atomic_path(target) as tmp:
            train_bpe(texts(), int(spec.get("vocab_size", 4096)), tmp)
    return str(target)


def _fingerprint(cfg: SearchConfig, srcs) -> str:
    d = cfg.model_dump(mode="json", exclude={"target", "workers", "threads", "significance"})
    d["sources"] = {n: s.model_dump(mode="json") for n, s in srcs.items()}
    return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:16]


def run_search(config: Path, out: Path, console=None, workers: int | None = None, engine: str = "local") -> dict:
    """The search; ``engine="ray"`` when the caller routes gristmill.engine.pool through Ray
    (``gristmill lab search --engine ray``): every proxy and target run is then one Ray task."""
    from gristmill.engine.atomic import atomic_write_text
    from gristmill.lab.significance import compare
    from gristmill.mix.spec import MixtureError, mixture_from_dict

    cfg: SearchConfig = load_config(config, model=SearchConfig)
    workers = workers or cfg.workers
    base = config.parent.resolve()
    out = Path(out).resolve()
    t_start = time.perf_counter()

    def say(msg: str) -> None:
        if console is not None:
            console.print(msg, highlight=False)
        else:
            print(msg, file=sys.stderr, flush=True)

    srcs = _sources(cfg, base, config)
    heldout = [_resolve(h, base) for h in cfg.eval.heldout]
    for h in heldout:
        if not glob.glob(h):
            raise ConfigError(f"{config}: eval.heldout: {h}: no such file")
    train_files = {os.path.realpath(f) for s in srcs.values() for p in s.path for f in glob.glob(p)}
    leak = [h for h in heldout for f in glob.glob(h) if os.path.realpath(f) in train_files]
    if leak:
        raise ConfigError(f"{config}: eval.heldout: {leak[0]} is also a training source; hold out data no source contains")
    for i, t in enumerate(cfg.search.thresholds):  # every threshold value must filter a real column
        for v in t.values:
            probe = {"weights": {n: 1.0 for n in srcs}, "thresholds": {str(j): (v if j == i else u.values[0])
                                                                       for j, u in enumerate(cfg.search.thresholds)}}
            try:
                mixture_from_dict(mixture_dict(probe, srcs, cfg, "bytes"))
            except MixtureError as e:
                raise ConfigError(f"{config}: search.thresholds[{i}] ({t.column} >= {v}): {e}") from None
    out.mkdir(parents=True, exist_ok=True)
    fp = _fingerprint(cfg, srcs)
    state_file = out / "search.json"
    if state_file.exists() and json.loads(state_file.read_text()).get("fingerprint") != fp:
        raise ConfigError(f"{out} holds a search with a different config (sources, search, proxy, eval or tokenizer "
                          "changed); use another -o")
    atomic_write_text(state_file, json.dumps({"fingerprint": fp}))

    tok_spec = _tokenizer(cfg, srcs, base, out, config)
    names = list(srcs)
    seeds = sorted({cfg.proxy.seeds[0], *cfg.target.seeds})
    # the natural mixture counts each source under its filter and the first value of each threshold
    every = {"weights": {n: 1.0 for n in names}, "thresholds": {str(j): u.values[0] for j, u in enumerate(cfg.search.thresholds)}}
    variants = [every] + [{"weights": every["weights"], "thresholds": {str(j): (v if j == i else u.values[0])
                                                                      for j, u in enumerate(cfg.search.thresholds)}}
                          for i, t in enumerate(cfg.search.thresholds) for v in t.values]
    say("counting the tokens each source holds (the natural mixture)")
    avail = count_tokens([mixture_dict(c, srcs, cfg, tok_spec) for c in variants], tok_spec, seeds)
    atomic_write_text(out / "sources.json", json.dumps(avail, indent=2))
    total = sum(avail[n]["tokens"] for n in names)
    natural = np.array([avail[n]["tokens"] / total for n in names])
    cands = candidates(cfg, names, natural)
    if engine == "ray":  # a task reserves GRISTMILL_RAY_TASK_CPUS of its node, so it uses that many threads
        from gristmill.engine.ray_engine import task_resources

        threads = cfg.threads or max(1, int(task_resources()[0]))
    else:
        threads = cfg.threads or max(1, (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1) // workers)

    def write_mix(c: dict) -> str:
        p = out / "mixtures" / f"{c['name']}.yaml"
        p.parent.mkdir(parents=True, exist_ok=True)
        d = mixture_dict(c, srcs, cfg, tok_spec)
        try:
            mixture_from_dict(d, str(p))
        except MixtureError as e:
            raise ConfigError(f"{config}: candidate {c['name']}: {e}") from None
        text = yaml.safe_dump(d, sort_keys=False)
        if not p.exists() or p.read_text() != text:
            atomic_write_text(p, text)
        return str(p)

    def task(c: dict, budget: Budget, seed: int, run: Path) -> dict:
        conf = {"model": budget.model, "mixture": write_mix(c), "tokenizer": tok_spec, "seq_len": cfg.seq_len,
                "batch_size": cfg.batch_size, "tokens": budget.tokens, "seed": seed, "threads": threads,
                "precision": cfg.precision, **({"lr": cfg.lr} if cfg.lr else {}),
                "eval": {"heldout": heldout, "max_bytes": cfg.eval.max_bytes,
                         "every_tokens": max(1, budget.tokens // cfg.eval.points)}}
        return {"name": c["name"], "seed": seed, "run": str(run), "base": str(base), "config": conf}

    pseed = cfg.proxy.seeds[0]  # a proxy is one run: RegMix spends seeds on more mixtures, not on repeats
    say(f"search: {len(cands)} proxies ({cfg.search.candidates} Dirichlet draws + natural + uniform) of "
        f"{cfg.proxy.tokens:,} tokens; sources " + ", ".join(f"{n} {avail[n]['tokens']:,} tokens" for n in names))
    proxies = _run_all([task(c, cfg.proxy, pseed, out / "proxies" / c["name"]) for c in cands], workers, "proxy", say)

    # ---- fit and predict
    X = np.array([vector(c, names, cfg) for c in cands])
    y = np.array([proxies[(c["name"], pseed)]["mean_bpb"] for c in cands])
    fits = {k: ridge_loo(X, y, k) for k in ("linear", "quadratic")}
    lg = lightgbm_loo(X, y)
    if lg is not None:
        fits["lightgbm"] = lg
    chosen = min(fits, key=lambda k: fits[k]["loo_mse"])
    rng = np.random.default_rng(cfg.seed + 1)
    pool = [{"weights": dict(zip(names, w.tolist())),
             "thresholds": {str(j): float(rng.choice(t.values)) for j, t in enumerate(cfg.search.thresholds)}}
            for w in draw(rng, natural, cfg.search.samples)]
    P = predict(fits[chosen], np.array([vector(c, names, cfg) for c in pool]))
    top = np.argsort(P)[:cfg.search.top_k]
    w_pred = {n: float(statistics.fmean(pool[i]["weights"][n] for i in top)) for n in names}
    thr_pred = {}
    for j, t in enumerate(cfg.search.thresholds):  # the value most of the top draws chose
        vals = [pool[i]["thresholds"][str(j)] for i in top]
        thr_pred[str(j)] = max(t.values, key=vals.count)
    predicted = {"name": "predicted", "weights": w_pred, "thresholds": thr_pred}
    pred_bpb = float(predict(fits[chosen], np.array([vector(predicted, names, cfg)]))[0])
    drawn = [c for c in cands if c["name"].startswith("c")]
    best = min(drawn, key=lambda c: proxies[(c["name"], pseed)]["mean_bpb"])
    best_proxy = {**best, "name": "best_proxy", "from": best["name"]}
    say(f"fit: {chosen} regression (LOO RMSE " + ", ".join(f"{k} {v['loo_rmse']:.4f}" for k, v in fits.items())
        + f"); predicted mixture {', '.join(f'{n} {w:.3f}' for n, w in w_pred.items())}, predicted bpb {pred_bpb:.4f}")
    extra = _run_all([task(predicted, cfg.proxy, pseed, out / "proxies" / "predicted")], workers, "proxy", say)
    proxies.update(extra)

    # ---- validate at the target budget
    arms = {"predicted": predicted, "natural": cands[0], "uniform": cands[1], "best_proxy": best_proxy}
    tasks = [task(c, cfg.target, s, out / "target" / a / f"seed{s}") for a, c in arms.items() for s in cfg.target.seeds]
    target = _run_all(tasks, workers, "target", say)
    proxy_of = {"predicted": "predicted", "natural": "natural", "uniform": "uniform", "best_proxy": best["name"]}
    validation: dict = {}
    for a in arms:
        per = {str(s): target[(a, s)]["mean_bpb"] for s in cfg.target.seeds}
        validation[a] = {"weights": arms[a]["weights"], "thresholds": _thr_readable(arms[a], cfg),
                         "mixture": str(out / "mixtures" / f"{a}.yaml"),
                         "proxy_bpb": proxies[(proxy_of[a], pseed)]["mean_bpb"],
                         "target_bpb": _spread(list(per.values())), "per_seed": per,
                         "per_set": {k: _spread([target[(a, s)]["bpb"][k] for s in cfg.target.seeds])
                                     for k in target[(a, cfg.target.seeds[0])]["bpb"]},
                         "not_below_unigram": {str(s): target[(a, s)]["not_below_unigram"] for s in cfg.target.seeds
                                               if target[(a, s)]["not_below_unigram"]}}
        if a == "best_proxy":
            validation[a]["from"] = best["name"]
    for a in arms:
        if a != "natural":
            validation[a]["vs_natural"] = compare(validation[a]["per_seed"], validation["natural"]["per_seed"],
                                                  method=cfg.significance)
    validation["predicted"]["vs_uniform"] = compare(validation["predicted"]["per_seed"], validation["uniform"]["per_seed"],
                                                    method=cfg.significance)
    validation["predicted"]["vs_best_proxy"] = compare(validation["predicted"]["per_seed"],
                                                       validation["best_proxy"]["per_seed"], method=cfg.significance)
    rho = spearman([validation[a]["proxy_bpb"] for a in arms], [validation[a]["target_bpb"]["mean"] for a in arms])

    results = {
        "config": cfg.model_dump(mode="json"), "tokenizer": tok_spec, "workers": workers, "threads_per_worker": threads,
        "sources": {n: {**avail[n], "natural_weight": float(natural[i]), "path": srcs[n].path, "where": srcs[n].where}
                    for i, n in enumerate(names)},
        "proxies": [{"name": c["name"], "weights": c["weights"], "thresholds": _thr_readable(c, cfg),
                     "mean_bpb": proxies[(c["name"], pseed)]["mean_bpb"], "bpb": proxies[(c["name"], pseed)]["bpb"],
                     "loo_pred": fits[chosen]["loo_pred"][i], "run": proxies[(c["name"], pseed)]["run"],
                     "not_below_unigram": proxies[(c["name"], pseed)]["not_below_unigram"],
                     "pid": proxies[(c["name"], pseed)].get("pid")}
                    for i, c in enumerate(cands)],
        "regression": {"chosen": chosen, "by": "leave-one-out mean squared error over the proxies",
                       "models": {k: {kk: vv for kk, vv in v.items() if not kk.startswith("_") and kk not in ("loo_pred",)}
                                  for k, v in fits.items()},
                       "lightgbm": "used" if lg is not None else "not installed (pip install lightgbm to compare it)",
                       "samples": cfg.search.samples, "top_k": cfg.search.top_k},
        "predicted": {"weights": w_pred, "thresholds": _thr_readable(predicted, cfg), "predicted_bpb": pred_bpb,
                      "proxy_bpb": proxies[("predicted", pseed)]["mean_bpb"]},
        "validation": validation,
        "ranking": {"by_target": sorted(arms, key=lambda a: validation[a]["target_bpb"]["mean"]),
                    "by_proxy": sorted(arms, key=lambda a: validation[a]["proxy_bpb"]),
                    "spearman_proxy_target": rho, "n": len(arms),
                    "note": "Spearman rank correlation of proxy bpb against target bpb (mean over seeds) over the validated "
                            "mixtures; with 4 points only 1.0 and -1.0 are far from chance"},
        "engine": engine,
        "parallel": (f"{workers} Ray task(s) in flight (gristmill.engine.ray_engine), {threads} torch thread(s) each" if engine == "ray"
                     else f"{workers} local worker process(es) (gristmill.engine.pool), {threads} torch thread(s) each"),
    }
    flat = [p["name"] for p in results["proxies"] if p["not_below_unigram"]]
    # proxies that learned nothing beyond token frequencies rank mixtures by how well their unigram
    # distribution fits the held-out text: the regression then says little (lab/evaluate.py, UNIGRAM_MARGIN)
    results["proxies_not_below_unigram"] = {"n": len(flat), "of": len(results["proxies"]), "names": flat}
    mix_text = yaml.safe_dump({**mixture_dict(predicted, srcs, cfg, tok_spec), "seed": cfg.seed}, sort_keys=False)
    atomic_write_text(out / "search.mix.yaml", "# the mixture predicted best by `gristmill lab search` (results.json)\n" + mix_text)
    results["mixture"] = str(out / "search.mix.yaml")
    results["plots"] = plot_search(results, out)
    results["seconds"] = time.perf_counter() - t_start
    atomic_write_text(out / "results.json", json.dumps(results, indent=2))
    return results


def _thr_readable(c: dict, cfg: SearchConfig) -> list[dict]:
    return [{"source": t.source, "where": f"{t.column} >= {c['thresholds'][str(j)]!r}"}
            for j, t in enumerate(cfg.search.thresholds)]


# ---------------------------------------------------------------- plots and table

def plot_search(results: dict, out: Path) -> list[str]:
    import matplotlib

    from gristmill.lab.curriculum import _save

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    prox = results["proxies"]
    val = results["validation"]
    paths = []
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.6), dpi=120)
    ax = axes[0]
    ys = [p["mean_bpb"] for p in prox]
    ax.scatter(ys, [p["loo_pred"] for p in prox], s=22, alpha=0.7, label="proxies (leave-one-out prediction)")
    lo, hi = min(ys + [p["loo_pred"] for p in prox]), max(ys + [p["loo_pred"] for p in prox])
    ax.plot([lo, hi], [lo, hi], "k--", lw=0.8)
    pr = results["predicted"]
    ax.scatter([pr["proxy_bpb"]], [pr["predicted_bpb"]], marker="*", s=160, color="C3", label="predicted mixture")
    reg = results["regression"]
    ax.set_xlabel("measured proxy held-out bpb")
    ax.set_ylabel("predicted bpb")
    ax.set_title(f"{reg['chosen']} regression, LOO RMSE {reg['models'][reg['chosen']]['loo_rmse']:.4f}", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax = axes[1]
    for i, (a, v) in enumerate(val.items()):
        t = v["target_bpb"]
        vs = v.get("vs_natural", {}).get("verdict", "reference")
        ax.errorbar([v["proxy_bpb"]], [t["mean"]], yerr=[[t["mean"] - t["min"]], [t["max"] - t["mean"]]], fmt="o",
                    color=f"C{i}", capsize=4, label=f"{a}: vs natural {vs}")
    rho = results["ranking"]["spearman_proxy_target"]
    ax.set_xlabel("proxy held-out bpb")
    ax.set_ylabel("target held-out bpb (mean, min..max over seeds)")
    ax.set_title(f"proxy against target; Spearman {'n/a' if rho is None else f'{rho:.2f}'}", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    paths.append(_save(fig, out / "predicted_vs_measured.png"))

    names = list(results["sources"])
    fig, axes = plt.subplots(1, len(names), figsize=(3.6 * len(names), 3.6), dpi=120, sharey=True, squeeze=False)
    for ax, n in zip(axes[0], names):
        ax.scatter([p["weights"][n] for p in prox], [p["mean_bpb"] for p in prox], s=18, alpha=0.7)
        ax.axvline(results["sources"][n]["natural_weight"], color="C2", ls="--", lw=1, label="natural")
        ax.axvline(pr["weights"][n], color="C3", lw=1.2, label="predicted")
        ax.set_xlabel(f"weight of {n}")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("proxy held-out bpb")
    axes[0][0].legend(fontsize=8)
    fig.suptitle("proxy loss by each source's weight", fontsize=10)
    fig.tight_layout()
    paths.append(_save(fig, out / "loss_by_weight.png"))
    return paths


def print_search(results: dict, console) -> None:
    from rich.table import Table

    from gristmill.lab.significance import verdict_text

    reg = results["regression"]
    t = Table(title="regression from mixture to proxy held-out bpb (leave-one-out)")
    for c in ("model", "LOO RMSE", "LOO Spearman", "ridge penalty", ""):
        t.add_column(c, justify="left" if c in ("model", "") else "right")
    for k, v in reg["models"].items():
        sp = v.get("loo_spearman")
        t.add_row(k, f"{v['loo_rmse']:.4f}", "-" if sp is None else f"{sp:.2f}", str(v.get("lambda", "-")),
                  "chosen" if k == reg["chosen"] else "")
    console.print(t)
    if reg["lightgbm"] != "used":
        console.print(f"lightgbm: {reg['lightgbm']}", highlight=False)
    cfg = results["config"]
    names = list(results["sources"])
    v = Table(title=f"validation at {cfg['target']['tokens']:,} tokens, {len(cfg['target']['seeds'])} seeds "
                    f"(proxy: {cfg['proxy']['tokens']:,} tokens)")
    for c in ["mixture", *names, "proxy bpb", "target bpb (mean ± std)", "vs natural (diff [95% CI])"]:
        v.add_column(c, justify="left" if c in ("mixture", "vs natural (diff [95% CI])") else "right")
    for a, r in results["validation"].items():
        label = a + (f" ({r['from']})" if "from" in r else "") + (" [NOT below unigram]" if r["not_below_unigram"] else "")
        v.add_row(label, *[f"{r['weights'][n]:.3f}" for n in names], f"{r['proxy_bpb']:.4f}", pm(r["target_bpb"]),
                  verdict_text(r.get("vs_natural")))
    console.print(v)
    p = results["validation"]["predicted"]
    rho = results["ranking"]["spearman_proxy_target"]
    console.print(f"predicted vs uniform: {verdict_text(p['vs_uniform'])}; vs best proxy: {verdict_text(p['vs_best_proxy'])}",
                  highlight=False)
    flat = results.get("proxies_not_below_unigram", {})
    if flat.get("n"):
        console.print(f"[bold yellow]warning:[/] {flat['n']} of {flat['of']} proxies are not clearly below their unigram "
                      "baseline: they rank mixtures by token frequencies, not by what a model learns from them; "
                      "raise proxy.tokens (or use a smaller tokenizer vocabulary)", highlight=False)
    console.print(f"proxy-to-target Spearman rank correlation over {results['ranking']['n']} mixtures: "
                  f"{'n/a' if rho is None else f'{rho:.2f}'}; {results['parallel']}", highlight=False)
