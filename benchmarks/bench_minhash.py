"""MinHash signature speed: gristmill vs datasketch 2.0 (``MinHash.bulk``), same docs, same run.

Both sides get the same normalized text (gristmill's DataTrove-style ``simplify_text``), the same
word 5-grams and 128 permutations. Timed from raw text to signatures, one process each; the
datasketch time is also split into building the 5-gram byte strings and ``MinHash.bulk`` itself,
so the ratio against its hashing alone is reported too. Median of ``--repeat`` runs.

    python benchmarks/bench_minhash.py [--corpora /work/corpora] [--repeat 3]
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import corpora_dir, machine  # noqa: E402

from gristmill.dedup._normalize import shingle_text, simplify_text  # noqa: E402
from gristmill.dedup._shingle import perm_params, shingle_hashes, signatures  # noqa: E402

NUM_PERM, NGRAM = 128, 5


def load(corpora: Path) -> list[str]:
    texts = []
    for name in ("sotu", "mobydick", "brown", "sentences"):
        with open(corpora / f"{name}.jsonl") as f:
            texts += [json.loads(line)["text"] for line in f]
    return texts


def ours(texts: list[str], batch: int = 8192) -> np.ndarray:
    a, b = perm_params(NUM_PERM, 1)
    out = []
    for i in range(0, len(texts), batch):
        norm = [shingle_text(t) for t in texts[i : i + batch]]
        h, offs = shingle_hashes(norm, NGRAM)
        out.append(signatures(h, offs, a, b))
    return np.vstack(out)


def ds_shingles(texts: list[str]) -> list[list[bytes]]:
    out = []
    for t in texts:
        w = simplify_text(t).split()
        grams = [" ".join(w[i : i + NGRAM]).encode() for i in range(len(w) - NGRAM + 1)] or ([" ".join(w).encode()] if w else [b""])
        out.append(grams)
    return out


def ds_bulk(shingles: list[list[bytes]]):
    from datasketch import MinHash

    return MinHash.bulk(shingles, num_perm=NUM_PERM)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpora", type=Path, default=corpora_dir())
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results" / "dedup.md")
    args = ap.parse_args()
    texts = load(args.corpora)
    mb = sum(len(t.encode()) for t in texts) / 1e6
    simplify_text("warm up the translate tables")
    ours(texts[:10])
    t_ours, t_prep, t_bulk = [], [], []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        sig = ours(texts)
        t_ours.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        sh = ds_shingles(texts)
        t_prep.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        mhs = ds_bulk(sh)
        t_bulk.append(time.perf_counter() - t0)
    # Same estimator, different hash functions: both should estimate Jaccard alike on neighbours.
    m = min(400, len(texts) - 1)
    est_o = (sig[:m] == sig[1 : m + 1]).mean(1)
    est_d = np.array([mhs[i].jaccard(mhs[i + 1]) for i in range(m)])
    med = statistics.median
    o, p, bk = med(t_ours), med(t_prep), med(t_bulk)
    d = p + bk
    rows = [
        ("gristmill (normalize + shingle + 128 perms)", o),
        ("datasketch end to end (normalize + 5-gram bytes + MinHash.bulk)", d),
        ("datasketch MinHash.bulk only (5-gram bytes given)", bk),
    ]
    lines = [
        "## MinHash signatures (bench_minhash.py)", "",
        f"{machine()}; {len(texts)} docs, {mb:.1f} MB of real text (sotu, mobydick, brown, sentences); "
        f"word 5-grams, {NUM_PERM} permutations, one process, median of {args.repeat} runs.", "",
        "| implementation | seconds | MB/s | docs/s |", "|---|---:|---:|---:|",
    ]
    for name, t in rows:
        lines.append(f"| {name} | {t:.2f} | {mb / t:.1f} | {len(texts) / t:,.0f} |")
    lines += [
        "", f"Speed-up: **{d / o:.1f}x** vs datasketch end to end, **{bk / o:.1f}x** vs `MinHash.bulk` alone.",
        f"Agreement: mean |J_gristmill - J_datasketch| on {m} neighbouring-doc pairs = "
        f"{np.abs(est_o - est_d).mean():.4f} (both are unbiased estimators with different hashes).", "",
    ]
    write_section(args.out, "bench_minhash", "\n".join(lines))


def write_section(path: Path, key: str, text: str) -> None:
    """Replace this script's section of the shared dedup fragment, keeping the others."""
    path.parent.mkdir(parents=True, exist_ok=True)
    old = path.read_text() if path.exists() else "# Dedup (exact, MinHash)\n\n"
    start, end = f"<!-- {key} -->", f"<!-- /{key} -->"
    block = f"{start}\n{text}\n{end}"
    if start in old and end in old:
        new = old[: old.index(start)] + block + old[old.index(end) + len(end) :]
    else:
        new = old.rstrip("\n") + "\n\n" + block + "\n"
    path.write_text(new)
    print(text)


if __name__ == "__main__":
    main()
