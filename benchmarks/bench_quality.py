"""Quality classifiers (AUC, documents/s) and the factoid/reasoning scores (AUC), on real text.

Classifiers: positives are educational or expository real text, negatives are crawl junk from the
demo's generators (spam, boilerplate, gibberish). Two evaluations:
- same sources: a seeded 20 % split of the training sources;
- held-out sources: trained on Brown (learned, belles-lettres) against spam + boilerplate, tested on
  State of the Union addresses and Python docs text against gibberish and a different seed's spam.

Factoid: Brown press reportage (news) against learned writing; Python's "What's New" and changelog
pages against its tutorial and HOWTO pages (reference reStructuredText, as text).

    python benchmarks/bench_quality.py [--corpora DIR]
"""
from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
from sklearn.metrics import roc_auc_score

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine  # noqa: E402


def load(corpora: Path, name: str) -> list[dict]:
    return [json.loads(l) for l in open(corpora / f"{name}.jsonl", encoding="utf-8")]


def junk(kinds, n: int, seed: int) -> list[str]:
    from gristmill.demo.noise import boilerplate, gibberish, spam

    f = {"spam": spam, "boilerplate": boilerplate, "gibberish": gibberish}
    rng = random.Random(seed)
    return [f[kinds[i % len(kinds)]](rng) for i in range(n)]


def evaluate(family: str, pos_tr, neg_tr, pos_te, neg_te) -> dict:
    from gristmill.quality.model import train

    t0 = time.perf_counter()
    m = train(pos_tr + neg_tr, np.r_[np.ones(len(pos_tr)), np.zeros(len(neg_tr))], family)
    fit = time.perf_counter() - t0
    texts = pos_te + neg_te
    t0 = time.perf_counter()
    s = m.score(texts)
    secs = time.perf_counter() - t0
    return {"auc": roc_auc_score(np.r_[np.ones(len(pos_te)), np.zeros(len(neg_te))], s), "docs_s": len(texts) / secs, "fit_s": fit}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpora", default=os.environ.get("GRISTMILL_CORPORA", str(Path.home() / ".cache/gristmill-corpora")))
    ap.add_argument("--families", default="fast,embedding")
    a = ap.parse_args()
    c = Path(a.corpora)
    brown = load(c, "brown")
    edu = [d["text"] for d in brown if d["genre"] in ("learned", "belles_lettres")]
    sotu = [d["text"] for d in load(c, "sotu")]
    pydocs = [d["reference"] for d in load(c, "pydocs") if len(d["reference"].split()) > 150]
    rng = random.Random(0)
    lines = [f"### Quality classifiers ({machine()})", "",
             "| family | evaluation | train pos/neg | test pos/neg | AUC | scoring docs/s | fit s |", "|---|---|---|---|---|---|---|"]
    for fam in a.families.split(","):
        # same sources, 20 % held out
        pos = edu + sotu[:100]
        neg = junk(["spam", "boilerplate", "gibberish"], len(pos), 1)
        idx = list(range(len(pos)))
        rng.shuffle(idx)
        k = len(idx) // 5
        r = evaluate(fam, [pos[i] for i in idx[k:]], [neg[i] for i in idx[k:]], [pos[i] for i in idx[:k]], [neg[i] for i in idx[:k]])
        lines.append(f"| {fam} | same sources (20% split) | {len(idx) - k}/{len(idx) - k} | {k}/{k} | {r['auc']:.3f} | {r['docs_s']:,.0f} | {r['fit_s']:.1f} |")
        # held-out sources and generators
        pos_te = sotu[100:] + pydocs[:150]
        neg_te = junk(["gibberish", "spam"], len(pos_te), 7)
        neg_tr = junk(["spam", "boilerplate"], len(edu), 3)
        r = evaluate(fam, edu, neg_tr, pos_te, neg_te)
        lines.append(f"| {fam} | held-out sources (train Brown vs spam+boilerplate; test SOTU+pydocs vs gibberish+spam seed 7) | "
                     f"{len(edu)}/{len(neg_tr)} | {len(pos_te)}/{len(neg_te)} | {r['auc']:.3f} | {r['docs_s']:,.0f} | {r['fit_s']:.1f} |")
        # harder: educational against other real prose (fiction, humour), a FineWeb-Edu-like task
        fic = [d["text"] for d in brown if d["genre"] in ("romance", "adventure", "mystery", "humor", "science_fiction", "fiction")]
        ed = [d["text"] for d in brown if d["genre"] in ("learned", "belles_lettres", "religion", "government")]
        r2 = random.Random(1)
        r2.shuffle(fic)
        r2.shuffle(ed)
        kp, kn = len(ed) // 5, len(fic) // 5
        r = evaluate(fam, ed[kp:], fic[kn:], ed[:kp], fic[:kn])
        lines.append(f"| {fam} | educational vs fiction, real prose only (Brown learned/belles-lettres/religion/government vs fiction genres, 20% split) | "
                     f"{len(ed) - kp}/{len(fic) - kn} | {kp}/{kn} | {r['auc']:.3f} | {r['docs_s']:,.0f} | {r['fit_s']:.1f} |")
    # factoid
    from gristmill.annotate.factoid import Factoid

    def fauc(pos_texts, neg_texts, col="factoid_score"):
        t = pa.table({"id": [str(i) for i in range(len(pos_texts) + len(neg_texts))],
                      "text": pa.array(pos_texts + neg_texts, pa.large_string())})
        o = Factoid().annotate(t)
        y = np.r_[np.ones(len(pos_texts)), np.zeros(len(neg_texts))]
        return roc_auc_score(y, o.column(col).to_numpy()), roc_auc_score(1 - y, o.column("reasoning_score").to_numpy())

    news = [d["text"] for d in brown if d["genre"] == "news"]
    learned = [d["text"] for d in brown if d["genre"] == "learned"]
    pyd = load(c, "pydocs")
    changes = [d["reference"] for d in pyd if "whatsnew" in d["id"] and len(d["reference"].split()) > 150]
    tut = [d["reference"] for d in pyd if ("tutorial" in d["id"] or "howto" in d["id"]) and len(d["reference"].split()) > 150]
    lines += ["", "### Factoid against reasoning (`factoid` step)", "",
              "| case | factoid side | reasoning side | AUC of factoid_score | AUC of reasoning_score (other way) |", "|---|---|---|---|---|"]
    gov = [d["text"] for d in brown if d["genre"] == "government"]
    for name, p, n in (("Brown: press reportage vs learned", news, learned), ("Brown: government documents vs learned", gov, learned),
                       ("Python docs: What's New vs tutorial + HOWTO", changes, tut)):
        f, r = fauc(p, n)
        lines.append(f"| {name} | {len(p)} | {len(n)} | {f:.3f} | {r:.3f} |")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
