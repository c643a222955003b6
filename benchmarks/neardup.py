"""Near-duplicate benchmark with known clusters, built from real text, and minhash_dedup scored on it.

Base documents are 150-900-word pieces of real text (State of the Union addresses, Moby Dick
chapters, Brown corpus files, groups of varied sentences). Half get variants: word insertions,
deletions and substitutions (0.5-6%), added headers/footers, reordered paragraphs, case and
punctuation changes, truncation. Hard negatives are other documents that quote a long passage of a
base document. Every pair that matters is labelled by its exact word 5-gram Jaccard (after the
same normalization); a pair is a duplicate if J >= 0.8 and a non-duplicate if J < 0.5, and pairs in
between are not scored. A predicted duplicate pair is two documents in the same ``dup_cluster``.

    python benchmarks/neardup.py [--corpora /work/corpora] [--bases 600]
"""
from __future__ import annotations

import argparse
import itertools
import json
import random
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import corpora_dir, machine  # noqa: E402
from bench_minhash import write_section  # noqa: E402

from gristmill.dedup._normalize import simplify_text  # noqa: E402
from gristmill.step import FitContext, get_step  # noqa: E402

HEADERS = ["Home | News | Sports | Weather | Contact us | Subscribe to our newsletter",
           "Posted by admin on March 3, 2019 in Uncategorized. 14 comments."]
FOOTERS = ["Copyright 2021 All rights reserved. Privacy policy. Terms of use. Cookie settings.",
           "Share this: Facebook Twitter Email Print. Like this: Like Loading... Related posts"]


def pieces(corpora: Path, rng: random.Random) -> list[str]:
    out = []
    for name in ("sotu", "mobydick", "brown"):
        for line in open(corpora / f"{name}.jsonl"):
            paras = [p for p in json.loads(line)["text"].split("\n\n") if p.strip()]
            cur: list[str] = []
            for p in paras:
                cur.append(p)
                n = sum(len(x.split()) for x in cur)
                if n >= rng.randint(150, 900):
                    out.append("\n\n".join(cur))
                    cur = []
    sents = [json.loads(line)["text"] for line in open(corpora / "sentences.jsonl")]
    sents = [s for doc in sents for s in doc.split("\n") if s.strip()]
    for i in range(0, len(sents) - 40, 40):
        out.append("\n\n".join(" ".join(sents[j : j + 5]) for j in range(i, i + 40, 5)))
    return out


def edit(text: str, rng: random.Random, rate: float) -> str:
    w = text.split(" ")
    for _ in range(max(1, int(len(w) * rate / 3))):
        w.insert(rng.randrange(len(w)), rng.choice(["indeed", "however", "very", "the", "new"]))
        del w[rng.randrange(len(w))]
        w[rng.randrange(len(w))] = rng.choice(["government", "ship", "people", "water", "year"])
    return " ".join(w)


def variants(text: str, rng: random.Random) -> list[tuple[str, str]]:
    paras = text.split("\n\n")
    out = [
        ("edit", edit(text, rng, rng.uniform(0.005, 0.06))),
        ("frame", rng.choice(HEADERS) + "\n\n" + text + "\n\n" + rng.choice(FOOTERS)),
        ("case", text.upper() if rng.random() < 0.5 else text.replace(",", "").replace(".", " .").lower()),
        ("truncate", " ".join(text.split(" ")[: int(len(text.split(" ")) * rng.uniform(0.85, 0.97))])),
    ]
    if len(paras) >= 3:
        p = paras[:]
        i, j = rng.sample(range(len(p)), 2)
        p[i], p[j] = p[j], p[i]
        out.append(("reorder", "\n\n".join(p)))
    return rng.sample(out, rng.randint(1, len(out)))


def shingles(text: str, n: int = 5) -> set:
    w = simplify_text(text).split()
    return {tuple(w[i : i + n]) for i in range(max(len(w) - n + 1, 1))} if w else set()


def jaccard(a: set, b: set) -> float:
    return len(a & b) / len(a | b) if a or b else 1.0


def build(corpora: Path, n_bases: int, seed: int = 0):
    rng = random.Random(seed)
    base = pieces(corpora, rng)
    rng.shuffle(base)
    base = base[: n_bases * 2]
    docs, family = [], {}
    bases, others = base[:n_bases], base[n_bases:]
    for i, t in enumerate(bases):
        docs.append((f"b{i}", t))
        family[f"b{i}"] = i
        if i % 2 == 0:
            for kind, v in variants(t, rng):
                docs.append((f"b{i}-{kind}", v))
                family[f"b{i}-{kind}"] = i
    for k, t in enumerate(others):
        docs.append((f"o{k}", t))
        family[f"o{k}"] = n_bases + k
        if k % 3 == 0:  # hard negative: an unrelated document quoting a passage of a base
            src = bases[rng.randrange(len(bases))].split(" ")
            m = int(len(src) * rng.uniform(0.2, 0.45))
            s0 = rng.randrange(max(1, len(src) - m))
            quote = " ".join(src[s0 : s0 + m])
            docs.append((f"q{k}", t + '\n\nAs was said: "' + quote + '"'))
            family[f"q{k}"] = 2 * n_bases + k
    return docs, family


def score(docs, clusters: dict[str, str], sh: dict[str, set], cand_pairs: set) -> dict:
    by_cluster = defaultdict(list)
    for i, c in clusters.items():
        by_cluster[c].append(i)
    pred = set()
    for members in by_cluster.values():
        pred.update(itertools.combinations(sorted(members), 2))
    pairs = cand_pairs | pred
    tp = fp = fn = 0
    for a, b in pairs:
        j = jaccard(sh[a], sh[b])
        same = (a, b) in pred
        if j >= 0.8:
            tp += same
            fn += not same
        elif j < 0.5:
            fp += same
    return {"precision": tp / (tp + fp) if tp + fp else 1.0, "recall": tp / (tp + fn) if tp + fn else 1.0,
            "tp": tp, "fp": fp, "fn": fn}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpora", type=Path, default=corpora_dir())
    ap.add_argument("--bases", type=int, default=600)
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results" / "dedup.md")
    args = ap.parse_args()
    docs, family = build(args.corpora, args.bases)
    sh = {i: shingles(t) for i, t in docs}
    groups = defaultdict(list)
    for i, _ in docs:
        groups[family[i]].append(i)
    # every pair inside a family, plus every hard negative against every document of its source family
    cand = {p for g in groups.values() for p in itertools.combinations(sorted(g), 2)}
    qs = [i for i, _ in docs if i.startswith("q")]
    for q in qs:
        for i, _ in docs:
            if i[0] == "b" and len(sh[q] & sh[i]) > 0:
                cand.add(tuple(sorted((q, i))))
    js = [jaccard(sh[a], sh[b]) for a, b in cand]
    n_pos, n_neg = sum(j >= 0.8 for j in js), sum(j < 0.5 for j in js)
    tmp = Path(tempfile.mkdtemp(prefix="neardup_"))
    shards = []
    for s in range(4):
        part = docs[s::4]
        p = tmp / f"s{s}.parquet"
        pq.write_table(pa.table({"id": [d[0] for d in part], "text": [d[1] for d in part], "source": ["bench"] * len(part)}), p)
        shards.append(p)
    settings = [
        ("20 x 6 (default)", {}),
        ("20 x 6 + verify J>=0.7", {"verify_jaccard": True}),
        ("20 x 6 + verify J>=0.6", {"verify_jaccard": True, "jaccard_threshold": 0.6}),
        ("14 x 8 (DataTrove/FineWeb)", {"bands": 14, "rows": 8}),
        ("14 x 8 + verify J>=0.7", {"bands": 14, "rows": 8, "verify_jaccard": True}),
        ("9 x 13 (~0.85 S-curve)", {"bands": 9, "rows": 13}),
        ("20 x 5", {"bands": 20, "rows": 5}),
        ("20 x 5 + verify J>=0.7", {"bands": 20, "rows": 5, "verify_jaccard": True}),
        ("10 x 10", {"bands": 10, "rows": 10}),
        ("25 x 4", {"bands": 25, "rows": 4}),
        ("25 x 4 + verify J>=0.7", {"bands": 25, "rows": 4, "verify_jaccard": True}),
    ]
    cls = get_step("minhash_dedup")
    rows = []
    for k, (label, cfg) in enumerate(settings):
        step = cls(cls.Config(**cfg))
        t0 = time.perf_counter()
        step.fit(FitContext(shards=shards, workdir=tmp / f"wd{k}", workers=2, log=lambda m: None))
        dt = time.perf_counter() - t0
        worker = cls(cls.Config(**cfg))
        worker.bind(tmp / f"wd{k}")
        clusters = {}
        for p in shards:
            t = worker.annotate(pq.read_table(p, columns=["id", "text"]))
            clusters.update(zip(t["id"].to_pylist(), t["dup_cluster"].to_pylist()))
        r = score(docs, clusters, sh, cand)
        b, rr = cfg.get("bands", 20), cfg.get("rows", 6)
        curve = " / ".join(f"{1 - (1 - s ** rr) ** b:.2f}" for s in (0.5, 0.7, 0.8, 0.9))
        rows.append(f"| {label} | {curve} | {r['precision']:.3f} | {r['recall']:.3f} | {r['tp']} | {r['fp']} | {r['fn']} | {dt:.1f} |")
        print(rows[-1], flush=True)
    text = "\n".join([
        "## Near-duplicate quality (neardup.py)", "",
        f"{machine()}. {len(docs)} docs ({args.bases} real-text bases; variants: edits 0.5-6%, header/footer, "
        f"paragraph reorder, case/punctuation, truncation; {len(qs)} hard negatives quoting 20-45% of a base). "
        f"Scored pairs: {n_pos} with 5-gram J >= 0.8 (duplicates), {n_neg} with J < 0.5 (non-duplicates); "
        "predicted duplicate = same `dup_cluster`. fit on 4 shards, 2 workers.", "",
        "| bands x rows | P(candidate) at J=0.5/0.7/0.8/0.9 | precision | recall | TP | FP | FN | fit s |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
        *rows, "",
    ])
    write_section(args.out, "neardup", text)


if __name__ == "__main__":
    main()
