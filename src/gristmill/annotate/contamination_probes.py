"""Labelled probes that measure a decontamination index's precision and recall per benchmark.

n-gram decontamination reports how many documents it flagged, never how many of those flags are
right. Audits say most are not: in marin's audit of one corpus, 88 of 114 flagged sources were false
positives, mostly shared boilerplate. The probes make both errors measurable on the user's own
benchmarks and text:

- ``leak/verbatim``: a benchmark item planted, unchanged, inside a host document;
- ``leak/edited``: the same, lightly edited (case changed, punctuation and line breaks moved, two
  words replaced far apart), the edits GPT-3's normalization (Brown et al. 2020, App. C) is meant
  to see through;
- ``leak/paraphrase``: the item reworded mechanically (every third word replaced and its sentences
  in reverse order). It is leakage of the item's content, but no word n-gram method can find it:
  its recall is reported on its own line, not in the headline recall, as the limit of the method;
- ``clean/boilerplate``: a host document with innocent shared text planted: licence notices,
  disclaimers, famous quotations and code idioms (``gristmill/data/boilerplate.json``), each in
  several documents, as they are in a crawl. When a benchmark item contains the same text (real
  ones do: code items carry licence headers, reading passages quote the Gettysburg Address), a flag
  here is a false positive.

:func:`evaluate` runs the real ``decontaminate`` step over the probes and returns, per benchmark,
precision (flags on that benchmark that are its planted leaks), recall over the verbatim and edited
leaks, the paraphrase recall, and the step's own counters beside them.
"""
from __future__ import annotations

import json
import random
import re
from importlib import resources
from pathlib import Path

import pyarrow as pa

LEAK_KINDS = ("verbatim", "edited")
KINDS = LEAK_KINDS + ("paraphrase", "boilerplate")
# Replacement words for edits: plain English words unlikely to recreate a benchmark n-gram.
_SWAPS = ("lantern", "orbit", "velvet", "harbour", "quartz", "meadow", "saddle", "cobalt", "thimble", "walnut")
MAX_ITEM_WORDS = 2000  # a benchmark item longer than this is cut: probes need a passage, not a book


def boilerplate() -> list[dict]:
    """The shipped innocent passages: ``{kind, name, text}``."""
    raw = resources.files("gristmill").joinpath("data", "boilerplate.json").read_text(encoding="utf-8")
    return json.loads(raw)["passages"]


def _plant(host: str, passage: str, rng: random.Random) -> str:
    # at a paragraph or sentence boundary of the host, so the passage reads as part of the page
    cuts = [m.end() for m in re.finditer(r"(\n\n|[.!?]\s)", host)] or [len(host)]
    cut = rng.choice(cuts)
    return host[:cut].rstrip() + "\n\n" + passage + "\n\n" + host[cut:].lstrip()


def _edited(item: str, rng: random.Random) -> str:
    words = item.split()
    for i in sorted({len(words) // 3, (2 * len(words)) // 3}):  # two words, far apart
        if words:
            words[i] = rng.choice(_SWAPS)
    out, i = [], 0
    while i < len(words):  # move line breaks and punctuation
        k = rng.randint(4, 9)
        out.append(" ".join(w.strip(".,;:!?\"'") for w in words[i:i + k]) + rng.choice([",", ";", "", "."]))
        i += k
    text = "\n".join(out)
    return text.upper() if rng.random() < 0.5 else text.lower()


def _paraphrase(item: str, rng: random.Random) -> str:
    sentences = [s for s in re.split(r"(?<=[.!?])\s+", item.strip()) if s]
    out = []
    for s in reversed(sentences):
        w = s.split()
        for i in range(1, len(w), 3):
            w[i] = rng.choice(_SWAPS)
        out.append(" ".join(w))
    return " ".join(out)


def _norm_words(text: str) -> int:
    from gristmill.annotate.contamination import _word_spans

    return len(_word_spans(text))


def build_probes(benchmarks: dict[str, list[str]], hosts: list[str], n: int, per_benchmark: int = 20,
                 boilerplate_copies: int = 3, seed: int = 0) -> list[dict]:
    """Labelled probe documents from ``benchmarks`` (name -> item texts, the indexed fields joined)
    and real ``hosts`` texts. Items with fewer than ``2 * n`` words are skipped: a passage shorter
    than two n-grams survives no edit. Each probe: ``id``, ``text``, ``probe_benchmark`` (null for
    clean probes), ``probe_kind``, ``probe_label`` (``leak`` or ``clean``), ``probe_source`` (the
    boilerplate passage)."""
    hosts = [h for h in hosts if h and h.strip()]
    if not hosts:
        raise ValueError("no host documents: probes are planted into real text; give files with a text field")
    rng = random.Random(seed)
    probes: list[dict] = []
    k = 0

    def host() -> str:
        nonlocal k
        k += 1
        return hosts[(k - 1) % len(hosts)]

    for name, items in benchmarks.items():
        usable = [" ".join(t.split()[:MAX_ITEM_WORDS]) for t in items if _norm_words(t) >= 2 * n]
        for item in rng.sample(usable, min(per_benchmark, len(usable))):
            for kind, text in (("verbatim", item), ("edited", _edited(item, rng)), ("paraphrase", _paraphrase(item, rng))):
                probes.append({"text": _plant(host(), text, rng), "probe_benchmark": name, "probe_kind": kind,
                               "probe_label": "leak", "probe_source": None})
    for p in boilerplate():
        for _ in range(boilerplate_copies):
            probes.append({"text": _plant(host(), p["text"], rng), "probe_benchmark": None, "probe_kind": "boilerplate",
                           "probe_label": "clean", "probe_source": f"{p['kind']}: {p['name']}"})
    for i, p in enumerate(probes):
        p["id"] = f"probe-{i:06d}"
    return probes


def evaluate(index: str | Path, probes: list[dict], min_matches: int = 1) -> dict:
    """Run the ``decontaminate`` step (``action: flag``) over ``probes``; per benchmark of the
    index: flagged, true and false positives, precision, recall (verbatim + edited), recall per
    kind, and the false positives' sources; plus the step's counters."""
    from gristmill.annotate.contamination import Decontaminate, NgramIndex

    idx = NgramIndex(Path(index))
    step = Decontaminate(Decontaminate.Config(index=str(index), action="flag", min_matches=min_matches))
    table = pa.table({"id": [p["id"] for p in probes], "text": pa.array([p["text"] for p in probes], pa.large_string())})
    out = step.annotate(table)
    flags = out.column("contamination").to_pylist()
    totals = out.column("contamination_ngrams").to_pylist()
    per: dict[str, dict] = {}
    for name in idx.names:
        mine = [p for p in probes if p["probe_benchmark"] == name]
        row = {"probes": {k: sum(p["probe_kind"] == k for p in mine) for k in ("verbatim", "edited", "paraphrase")},
               "flagged": 0, "true_positives": 0, "false_positives": 0, "false_positive_sources": {}}
        found = {k: 0 for k in row["probes"]}
        for p, f, tot in zip(probes, flags, totals):
            if tot < min_matches or not f or name not in {e["benchmark"] for e in f}:
                continue
            row["flagged"] += 1
            if p["probe_benchmark"] == name and p["probe_label"] == "leak":
                found[p["probe_kind"]] += 1
                if p["probe_kind"] in LEAK_KINDS:
                    row["true_positives"] += 1
                # a found paraphrase is right but is not counted: the headline is n-gram-findable leaks
            else:
                row["false_positives"] += 1
                src = p["probe_source"] or f"leak of {p['probe_benchmark']}"
                row["false_positive_sources"][src] = row["false_positive_sources"].get(src, 0) + 1
        leaks = sum(row["probes"][k] for k in LEAK_KINDS)
        counted = row["true_positives"] + row["false_positives"]
        row["precision"] = round(row["true_positives"] / counted, 4) if counted else None
        row["recall"] = round(row["true_positives"] / leaks, 4) if leaks else None
        row["recall_by_kind"] = {k: (round(found[k] / row["probes"][k], 4) if row["probes"][k] else None) for k in found}
        per[name] = row
    return {"index": str(index), "n": idx.n, "min_matches": min_matches, "probes": len(probes),
            "clean_probes": sum(p["probe_label"] == "clean" for p in probes),
            "counters": dict(sorted(step.stats.items())), "benchmarks": per}


def benchmark_items(files: list[Path], fields: list[str], names: list[str] | None = None) -> dict[str, list[str]]:
    """Item texts per benchmark file, joined from ``fields`` exactly as the index builds them."""
    from gristmill.annotate.contamination import _field_text, _records

    names = names or [Path(f).name.split(".")[0] for f in files]
    return {name: [" ".join(_field_text(r.get(k)) for k in fields) for r in _records(Path(f))] for f, name in zip(files, names)}


def host_texts(files: list[Path], field: str = "text", limit: int = 10_000) -> list[str]:
    """Up to ``limit`` texts of the host files (JSON Lines or Parquet)."""
    from gristmill.annotate.contamination import _field_text, _records

    out: list[str] = []
    for f in files:
        for r in _records(Path(f)):
            if len(out) >= limit:
                return out
            if r.get(field):
                out.append(_field_text(r[field]))
    return out


def write_probes(probes: list[dict], out: Path) -> None:
    from gristmill.engine.atomic import atomic_write_text

    atomic_write_text(Path(out), "".join(json.dumps(p, ensure_ascii=False) + "\n" for p in probes))


def read_probes(path: Path) -> list[dict]:
    from gristmill.annotate.contamination import IndexError_, _records

    probes = list(_records(Path(path)))
    for i, p in enumerate(probes, 1):
        missing = [k for k in ("id", "text", "probe_benchmark", "probe_kind", "probe_label") if k not in p]
        if missing or p.get("probe_label") not in ("leak", "clean") or not isinstance(p.get("text"), str):
            raise IndexError_(f"{path} line {i}: not a probe (missing {missing or 'a valid probe_label/text'}); "
                              "write probes with `gristmill decontam probes`")
        p.setdefault("probe_source", None)
    return probes
