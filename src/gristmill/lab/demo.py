"""`gristmill lab demo`: the whole loop on the embedded demo corpus, offline, in minutes.

1. build the raw crawl-like corpus (`gristmill.demo.build_demo_corpus`: stdlib prose plus labelled
   boilerplate, spam, gibberish, exact and near duplicates and non-English text); hold out every
   10th clean document, and every copy of it, as the evaluation set neither arm sees;
2. curate it with the demo recipe (gristmill/recipes/demo.yaml, web steps);
3. train raw against curated at an equal token budget (`lab ablate`), 4. evaluate on the held-out set;
5. write OUT/results.json, OUT/bpb_*.png and OUT/summary.md.
"""
from __future__ import annotations

import gzip
import json
import zlib
from pathlib import Path

import yaml


def run_lab_demo(out: Path, tokens: int, seeds: list[int], model: str, threads: int | None, console=None,
                 progress: bool | None = None) -> dict:
    from gristmill.demo import build_demo_corpus
    from gristmill.demo.run import demo_recipe_dict
    from gristmill.engine.local import run
    from gristmill.lab.ablate import print_ablation, run_ablation
    from gristmill.recipe import recipe_from_dict

    out = Path(out)
    corpus = out / "corpus"
    say = console.print if console else (lambda *a, **k: None)
    say(f"1/5 building the raw corpus in {corpus}")
    build_demo_corpus(corpus)
    labels = {r["id"]: r for r in map(json.loads, open(corpus / "labels.jsonl", encoding="utf-8"))}
    held_ids = {i for i, r in labels.items() if r["source"] == "web" and r["label"] == "clean" and zlib.crc32(i.encode()) % 10 == 0}
    recs = []
    with gzip.open(corpus / "web.jsonl.gz", "rt", encoding="utf-8", errors="replace") as f:
        for line in f:
            try:
                rec = json.loads(line)
            except ValueError:
                continue  # what a trainer reading the crawl as-is cannot parse, it cannot train on
            if isinstance(rec, dict) and isinstance(rec.get("text"), str):
                recs.append(rec)
    held = [r for r in recs if r.get("id") in held_ids]
    # a copy (exact or near: same duplicate cluster) or the same text elsewhere would leak a held-out document
    clusters = {labels[r["id"]].get("cluster") for r in held} - {None, ""}
    texts = {r["text"] for r in held}
    raw = [r for r in recs if r.get("id") not in held_ids and r["text"] not in texts
           and labels.get(r.get("id"), {}).get("cluster") not in clusters]
    (out / "eval").mkdir(parents=True, exist_ok=True)
    for p, rows in ((out / "raw.jsonl", raw), (out / "eval" / "heldout.jsonl", held)):
        p.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    say(f"   raw: {len(raw):,} documents; held out: {len(held):,} clean documents")
    say("2/5 curating with the demo recipe")
    rd = demo_recipe_dict(corpus, out / "curated")
    rd["inputs"] = [{"paths": [str(out / "raw.jsonl")], "source": "web", "id_field": "id"}]
    summary = run(recipe_from_dict(rd, where="gristmill/recipes/demo.yaml"), out / "curated", fresh=True)
    say(f"   kept {summary['kept']:,} of {summary['input']:,}")
    (out / "ablate.yaml").write_text(yaml.safe_dump({
        "model": model, "tokens": tokens, "seeds": seeds, "tokenizer": "bytes", "seq_len": 128, "batch_size": 16,
        "threads": threads, "eval": {"heldout": [str(out / "eval" / "heldout.jsonl")], "max_bytes": 60_000, "points": 8},
        "arms": {"raw": [str(out / "raw.jsonl")], "curated": [str(out / "curated")]}}, sort_keys=False))
    say(f"3/5 training raw and curated, {tokens:,} tokens each, seeds {seeds}; 4/5 evaluating on the held-out set")
    res = run_ablation(out / "ablate.yaml", out, console=console, progress=progress)
    if console:
        print_ablation(res, console)
    res["curation"] = {"input": summary["input"], "kept": summary["kept"], "rejected": summary["rejected"]}
    (out / "results.json").write_text(json.dumps(res, indent=2))
    (out / "summary.md").write_text(summary_md(res))
    say(f"5/5 wrote {out / 'results.json'}, {out / 'summary.md'}, " + ", ".join(res["plots"]))
    return res


def summary_md(res: dict) -> str:
    from gristmill.lab.ablate import pm, unigram_flag

    arms = res["arms"]
    sets = list(next(iter(arms.values()))["final_bpb"])
    lines = ["# gristmill lab demo: raw against curated at equal tokens", "",
             f"Curation kept {res['curation']['kept']:,} of {res['curation']['input']:,} documents. Each arm trained "
             f"{res['config']['tokens']:,} tokens per seed (seeds {res['config']['seeds']}); held-out bits per byte, "
             "lower is better:", "", "| arm | " + " | ".join(sets) + " | unigram baseline | tokens to reach raw's final bpb | vs unigram |",
             "|---|" + "---|" * (len(sets) + 3)]
    for arm, a in arms.items():
        te = a["token_efficiency"]
        uni = next(iter(a["seeds"].values()))["unigram_bpb"]
        eff = "did not reach it" if te["mean"] is None else f"{te['mean']:.2f}x ({te['n']} of {len(te['per_seed'])} seeds)"
        lines.append(f"| {arm} | " + " | ".join(pm(a["final_bpb"][s], "{:.3f}") for s in sets)
                     + f" | {' / '.join(f'{v:.3f}' for v in uni.values())} | {eff} | {unigram_flag(a)} |")
    lines += ["", "Plots: " + ", ".join(Path(p).name for p in res["plots"]), ""]
    return "\n".join(lines)
