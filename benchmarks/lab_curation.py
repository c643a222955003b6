"""Curated against raw at equal tokens, on real text (the lab's evidence).

    GRISTMILL_CORPORA=/work/corpora python benchmarks/lab_curation.py -o /tmp/labcur [--tokens N] [--seeds 0,1,2]

1. raw: real documents (Brown, State of the Union, Moby Dick) plus what crawls carry: spam
   keyword lists, boilerplate navigation blocks, exact duplicates, and character gibberish;
2. curated: `gristmill run` over raw with gopher_quality + gopher_repetition + exact_dedup;
3. `gristmill lab ablate` raw vs curated, evaluated on held-out real documents neither arm saw
   (every 10th document of each corpus).
"""
from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
from pathlib import Path

SPAM = "buy cheap best price click here free shipping casino bonus win now limited offer viagra loans crypto".split()
NAV = "Home | About us | Contact | Privacy policy | Terms of use | Sitemap | Login | Register | Cart | FAQ"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-o", "--out", required=True, type=Path)
    ap.add_argument("--tokens", type=int, default=150_000)
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--model", default="{preset: tiny, n_layer: 2, d_model: 96, n_head: 3}")
    a = ap.parse_args()
    corp = Path(os.environ.get("GRISTMILL_CORPORA", "/work/corpora"))
    out = a.out
    out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(0)
    train, held = [], []
    for name in ("brown", "sotu", "mobydick"):
        docs = [json.loads(x) for x in open(corp / f"{name}.jsonl")]
        for i, d in enumerate(docs):
            (held if i % 10 == 0 else train).append({"id": d["id"], "text": d["text"]})
    junk = []
    for i in range(len(train) // 2):  # a third of raw's documents are junk, as in FineWeb's removals
        k = i % 3
        if k == 0:
            t = " ".join(rng.choice(SPAM) for _ in range(rng.randint(80, 300)))
        elif k == 1:
            t = "\n".join([NAV] * rng.randint(5, 20) + ["Copyright 2024. All rights reserved."])
        else:
            t = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789 ") for _ in range(rng.randint(500, 2000)))
        junk.append({"id": f"junk-{i}", "text": t})
    dups = [dict(d, id=d["id"] + "-dup") for d in rng.sample(train, len(train) // 5)]
    raw = train + junk + dups
    rng.shuffle(raw)
    (out / "eval").mkdir(exist_ok=True)
    for p, rows in (("raw.jsonl", raw), ("eval/heldout.jsonl", held)):
        with open(out / p, "w") as f:
            f.writelines(json.dumps(r) + "\n" for r in rows)
    (out / "recipe.yaml").write_text(f"""inputs: [{{paths: [{out / 'raw.jsonl'}], id_field: id, source: web}}]
steps:
  - gopher_quality: {{}}
  - gopher_repetition: {{}}
  - exact_dedup: {{}}
output: {{path: {out / 'curated'}}}
""")
    gm = [sys.executable, "-c", "from gristmill.cli import main; main()"]
    subprocess.run(gm + ["run", str(out / "recipe.yaml"), "--workers", "1", "--no-progress"], check=True)
    (out / "ablate.yaml").write_text(f"""model: {a.model}
tokens: {a.tokens}
seeds: [{a.seeds}]
tokenizer: bytes
seq_len: 128
batch_size: 16
eval:
  heldout: ["eval/*.jsonl"]
  max_bytes: 60000
  points: 8
arms:
  raw: [raw.jsonl]
  curated: [curated]
""")
    subprocess.run(gm + ["lab", "ablate", str(out / "ablate.yaml"), "-o", str(out / "abl"), "--no-progress"], check=True)


if __name__ == "__main__":
    main()
