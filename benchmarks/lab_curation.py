"""Curated against raw at equal tokens, on real text (the lab's headline evidence, issue #11).

    GRISTMILL_CORPORA=/work/corpora python benchmarks/lab_curation.py -o /tmp/labcur [--tokens 1000000] [--seeds 0,1,2]

Figures and the composition's citations: benchmarks/RESULTS.md, "Curated against raw at equal tokens".

1. raw (benchmarks/crawl_like.py): real documents from four sources with what crawls carry planted
   in cited shares: exact and near duplicates, non-English text, spam, boilerplate pages and lines,
   gibberish; every 10th real document of each source held out, one eval file per source;
2. curated: `gristmill run` over raw with the web recipe's filters in its order (language_id,
   gopher_repetition, gopher_quality, c4_quality, fineweb_quality, exact_dedup, minhash_dedup), every
   threshold at the shipped recipe's value or the step default; what it removed, by reason, against
   what was planted (precision/recall per planted kind) goes to audit.json;
3. `gristmill lab ablate` raw vs curated: equal tokens, byte tokenizer, bf16 where the CPU has it,
   3 seeds; token_efficiency = fraction of raw's tokens curated needs to reach raw's final held-out
   bpb. Re-running with more seeds reuses the finished runs.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent))
import crawl_like  # noqa: E402

GM = [sys.executable, "-c", "from gristmill.cli import main; main()"]
# The web recipe's filters (src/gristmill/recipes/web.yaml) in its order, its values, then dedup as in
# FineWeb/RefinedWeb (exact, then MinHash); html_extract/url_filter/pii have nothing to act on here.
RECIPE = """inputs: [{{paths: [{raw}], id_field: id, source: web}}]
steps:
  - language_id: {{languages: [en], min_score: 0.65}}
  - gopher_repetition: {{}}
  - gopher_quality: {{}}
  - c4_quality: {{}}
  - fineweb_quality: {{}}
  - exact_dedup: {{}}
  - minhash_dedup: {{}}
output: {{path: {out}, keep_rejected: true}}
"""


def curate(out: Path) -> float:
    (out / "recipe.yaml").write_text(RECIPE.format(raw=out / "raw.jsonl", out=out / "curated"))
    t0 = time.time()
    subprocess.run(GM + ["run", str(out / "recipe.yaml"), "--workers", "1", "--no-progress", "--fresh"], check=True)
    return time.time() - t0


def audit(out: Path) -> dict:
    """Removed-by-reason against planted kind; precision/recall of 'removed' per planted junk kind."""
    kind, nbytes, of = {}, {}, {}
    with open(out / "raw.jsonl") as f:
        for line in f:
            r = json.loads(line)
            kind[r["id"]] = r["kind"]
            nbytes[r["id"]] = len(r["text"].encode())
            of[r["id"]] = r.get("of", r["id"])
    removed: dict[str, str] = {}
    for p in sorted((out / "curated" / "rejected").glob("*.parquet")):
        t = pq.read_table(p)
        cols = t.column_names
        rcol = next(c for c in ("reject_reason", "reason", "_reason") if c in cols) if any(
            c in cols for c in ("reject_reason", "reason", "_reason")) else None
        ids = t.column("id").to_pylist()
        reasons = t.column(rcol).to_pylist() if rcol else [p.stem.split("-", 1)[-1]] * len(ids)
        for i, why in zip(ids, reasons):
            removed[i] = str(why)
    kept_bytes = 0
    for p in sorted((out / "curated" / "data").glob("*.parquet")):
        kept_bytes += sum(len(x.encode()) for x in pq.read_table(p, columns=["text"]).column("text").to_pylist())
    table: dict[str, Counter] = defaultdict(Counter)
    for i, k in kind.items():
        table[k][removed.get(i, "kept")] += 1
    per_kind = {}
    junk = {"exact_dup", "near_dup", "non_english", "spam", "boilerplate", "gibberish"}
    for k, c in table.items():
        n = sum(c.values())
        per_kind[k] = {"documents": n, "removed": n - c["kept"], "removed_frac": (n - c["kept"]) / n,
                       "by_reason": dict(c.most_common())}
    # exact_dup: the first copy of a duplicated text is legitimately kept, so recall counts copies
    # beyond one per distinct text. Precision: of removed documents, how many were planted junk.
    # A real document is lost when no copy of it (itself, an exact or a near duplicate) survives.
    survivors = {of[i] for i in kind if i not in removed}
    real_ids = [i for i, k in kind.items() if k.startswith("real")]
    lost = Counter(removed[i] for i in real_ids if i not in survivors)
    n_removed = len(removed)
    n_removed_junk = sum(1 for i in removed if kind.get(i) in junk)
    return {"per_kind": per_kind, "removed_documents": n_removed,
            "real_documents": len(real_ids), "real_lost": sum(lost.values()), "real_lost_by_reason": dict(lost),
            "removed_precision": n_removed_junk / max(1, n_removed),
            "junk_recall": n_removed_junk / max(1, sum(1 for k in kind.values() if k in junk)),
            "raw_bytes": sum(nbytes.values()), "curated_bytes": kept_bytes,
            "removed_bytes": sum(nbytes[i] for i in removed if i in nbytes)}


def ablate(out: Path, a) -> float:
    (out / "ablate.yaml").write_text(f"""model: {a.model}
tokens: {a.tokens}
seeds: [{a.seeds}]
tokenizer: bytes
precision: auto
seq_len: 256
batch_size: 16
threads: {a.threads}
eval:
  heldout: ["eval/*.jsonl"]
  max_bytes: {a.eval_bytes}
  points: {a.points}
arms:
  raw: [raw.jsonl]
  curated: [curated]
""")
    t0 = time.time()
    subprocess.run(["nice", "-n", "5"] + GM + ["lab", "ablate", str(out / "ablate.yaml"), "-o", str(out / "abl"), "--no-progress"],
                   check=True)
    return time.time() - t0


def summary(out: Path) -> str:
    from gristmill.lab.ablate import pm

    res = json.loads((out / "abl" / "results.json").read_text())
    arms = res["arms"]
    sets = list(next(iter(arms.values()))["final_bpb"])
    lines = ["| arm | " + " | ".join(f"{s} bpb" for s in sets) + " | mean bpb (per seed) | tokens to reach raw's final mean bpb (per seed) |",
             "|---|" + "---|" * (len(sets) + 2)]
    for arm, a in arms.items():
        seeds = a["seeds"]
        per = " / ".join(f"{s['final_mean_bpb']:.3f}" for s in seeds.values())
        te = a["token_efficiency"]
        eff = " / ".join("-" if x is None else f"{x:.2f}x" for x in te["per_seed"])
        if te["mean"] is not None:
            eff = f"**{pm(te, '{:.2f}').replace(' ±', 'x ±', 1)}** ({eff})"
        lines.append(f"| {arm} | " + " | ".join(pm(a["final_bpb"][s], "{:.3f}") for s in sets)
                     + f" | {a['final_mean_bpb']['mean']:.3f} ({per}) | {eff} |")
    uni = {s: statistics.fmean(x["unigram_bpb"][s] for a in arms.values() for x in a["seeds"].values()) for s in sets}
    lines.append("| unigram baseline | " + " | ".join(f"{uni[s]:.2f}" for s in sets) + " | | |")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-o", "--out", required=True, type=Path)
    ap.add_argument("--tokens", type=int, default=1_000_000)
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--model", default="tiny", help="lab preset or {preset: tiny, n_layer: ...}")
    ap.add_argument("--threads", default="1", help="torch threads (null: every core)")
    ap.add_argument("--eval-bytes", type=int, default=32_768, help="held-out bytes per source")
    ap.add_argument("--points", type=int, default=8, help="held-out evaluations per run")
    ap.add_argument("--per-source-bytes", type=int, default=700_000, help="real training text per source")
    ap.add_argument("--skip-build", action="store_true", help="reuse OUT's raw, eval and curated")
    a = ap.parse_args()
    out = a.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    corp = Path(os.environ.get("GRISTMILL_CORPORA", "/work/corpora"))
    if not a.skip_build:
        comp = crawl_like.build(corp, out, per_source_bytes=a.per_source_bytes)
        print(json.dumps(comp, indent=1))
        secs = curate(out)
        au = audit(out)
        au["curate_seconds"] = secs
        (out / "audit.json").write_text(json.dumps(au, indent=2))
        print(json.dumps(au, indent=1))
    secs = ablate(out, a)
    print(f"ablate wall time: {secs:.0f} s")
    print(summary(out))


if __name__ == "__main__":
    main()
