"""`gristmill demo`: build the demo corpus, run the demo recipe, and score every decision against
the corpus's ground-truth labels, so the demo shows not only what was removed but whether
removing it was right."""
from __future__ import annotations

import json
from collections import Counter, defaultdict
from importlib import resources
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.parquet as pq
import yaml
from rich.console import Console
from rich.table import Table

from gristmill.engine.atomic import atomic_write_text

# What a good pipeline does with each label of the demo corpus.
EXPECTED = {
    "clean": "keep", "mojibake": "keep", "mojibake_non_english": "drop", "pii": "keep", "near_dup": "drop", "exact_dup": "drop", "boilerplate": "drop",
    "spam": "drop", "gibberish": "drop", "short": "drop", "non_english": "drop", "quarantine": "quarantine",
}


def demo_recipe_dict(corpus: Path, out: Path) -> dict:
    data = yaml.safe_load(resources.files("gristmill").joinpath("recipes/demo.yaml").read_text())
    for spec in data["inputs"]:
        spec["paths"] = [str(corpus / p) for p in spec["paths"]]
    data["output"]["path"] = str(out)
    return data


def score(out: Path, labels_file: Path) -> dict:
    """Per ground-truth label: how many documents were kept, rejected (by reason) or quarantined."""
    labels = {}
    for line in open(labels_file, encoding="utf-8"):
        r = json.loads(line)
        labels[r["id"]] = r
    outcome: dict[str, str] = {}
    reason_of: dict[str, str] = {}
    for p in sorted((out / "data").glob("*.parquet")):
        for i in pq.read_table(p, columns=["id"]).column("id").to_pylist():
            outcome[i] = "keep"
    for p in sorted((out / "rejected").glob("*.parquet")):
        t = pq.read_table(p, columns=["id", "reject_reason"])
        for i, r in zip(t.column("id").to_pylist(), t.column("reject_reason").to_pylist()):
            outcome[i], reason_of[i] = "drop", r
    by_label: dict[str, Counter] = defaultdict(Counter)
    reasons: dict[str, Counter] = defaultdict(Counter)
    for i, lab in labels.items():
        o = outcome.get(i, "quarantine")
        name = lab["label"]
        if name == "mojibake" and lab.get("lang") not in (None, "en"):
            name = "mojibake_non_english"  # repaired, it is still not English: dropping it is right
        by_label[name][o] += 1
        if i in reason_of:
            reasons[name][reason_of[i]] += 1
    rows = {}
    for lab, c in sorted(by_label.items()):
        n = sum(c.values())
        want = EXPECTED.get(lab, "keep")
        rows[lab] = {"n": n, "kept": c["keep"], "dropped": c["drop"], "quarantined": c["quarantine"], "expected": want,
                     "right": round(c[want] / n, 3) if n else None, "reasons": dict(reasons[lab].most_common(4))}
    # PII: a redacted document no longer contains the planted value
    pii_total = pii_gone = 0
    ids = [i for i, r in labels.items() if r.get("pii") and outcome.get(i) == "keep"]
    if ids:
        kept = pq.read_table(out / "data", columns=["id", "text"])
        kept = kept.filter(pc.is_in(kept.column("id"), value_set=__import__("pyarrow").array(ids)))
        for i, text in zip(kept.column("id").to_pylist(), kept.column("text").to_pylist()):
            for item in labels[i]["pii"]:
                pii_total += 1
                pii_gone += item["value"] not in text
    return {"labels": rows, "pii_values": pii_total, "pii_redacted": pii_gone}


def truth_of(labels_file: Path) -> dict[str, str]:
    """id -> "keep" | "drop" | "quarantine" by the demo's labels (for the report's precision and recall)."""
    out = {}
    for line in open(labels_file, encoding="utf-8"):
        r = json.loads(line)
        name = r["label"]
        if name == "mojibake" and r.get("lang") not in (None, "en"):
            name = "mojibake_non_english"
        out[r["id"]] = EXPECTED.get(name, "keep")
    return out


def print_score(rep: dict, console: Console) -> None:
    t = Table(title="demo: decisions against ground truth (details in demo_report.json)")
    for c in ("label", "docs", "kept", "dropped", "should be", "right", "main reason"):
        t.add_column(c, justify="left" if c in ("label", "should be", "main reason") else "right", no_wrap=c != "main reason")
    for lab, r in rep["labels"].items():
        right = f"{100 * r['right']:.0f}%" if r["right"] is not None else "-"
        color = "green" if (r["right"] or 0) >= 0.9 else "yellow" if (r["right"] or 0) >= 0.6 else "red"
        top = next(iter(r["reasons"].items()), None)
        t.add_row(lab, str(r["n"]), str(r["kept"]), str(r["dropped"]), r["expected"], f"[{color}]{right}[/]",
                  f"{top[0]} ({top[1]})" if top else "")
    console.print(t)
    if rep["pii_values"]:
        console.print(f"PII: {rep['pii_redacted']}/{rep['pii_values']} planted values redacted in kept documents")


def run_demo(out: Path, workers: int | None, console: Console) -> dict:
    from gristmill.demo import build_demo_corpus
    from gristmill.engine.local import run
    from gristmill.recipe import recipe_from_dict
    from gristmill.report.tables import print_summary

    out = Path(out)
    corpus = out.parent / f"{out.name}-corpus"
    console.print(f"building the demo corpus in {corpus} (stdlib text + labelled noise, deterministic)")
    counts = build_demo_corpus(corpus)
    console.print(", ".join(f"{k} {v}" for k, v in counts.items()))
    recipe = recipe_from_dict(demo_recipe_dict(corpus, out), where="gristmill/recipes/demo.yaml")
    summary = run(recipe, out, workers=workers, fresh=True)
    print_summary(summary, str(out), console)
    rep = score(out, corpus / "labels.jsonl")
    atomic_write_text(out / "demo_report.json", json.dumps(rep, indent=2))
    print_score(rep, console)
    from gristmill.report.html import write_report

    console.print(f"report: [bold]{write_report(out, truth=truth_of(corpus / 'labels.jsonl'))}[/]")
    console.print(f"output: [bold]{out}[/]  (data/, rejected/, quarantine/, summary.json, recipe.lock.yaml, demo_report.json)")
    return rep
