"""HTML main-text extraction across page families: bag-of-words F1 against ground truth, and pages/s.

    python benchmarks/bench_extract.py [--repeats 3] [--per-family 150] [--families a,b]

Page families (built by ``extract_fixtures.py`` from pinned Debian ``-doc`` packages and the real corpora;
the script builds them on first use into ``benchmarks/work/extract``):

- documentation from five generators/themes, each with the text it was rendered from as reference:
  Sphinx + python-docs-theme (python3.11-doc), Sphinx + sphinx13 (sphinx-doc), Docutils rst2html
  (docutils-doc), AsciiDoc (git-doc), MkDocs + mkdocs theme (mkdocs-doc), MkDocs + nature theme
  (python-markdown-doc);
- real text (State of the Union, Moby Dick, Brown, nlp-corpus sentences) in blog, news, forum and shop chrome
  with navigation, comment threads, cookie banners and related-article lists (``extract_chrome.py``).

Families in ``extract_fixtures.DEV_FAMILIES`` were looked at while changing ``html_extract``; the others are
reported separately as held out. Compared in the same run: trafilatura (``extract``, defaults), resiliparse
``extract_plain_text(main_content=True)`` and on the whole page, and gristmill's ``html_extract`` step
(``annotate`` on Arrow batches of 64 rows, so Arrow overhead is included). Speed: per family, median of
``--repeats`` interleaved passes, in CPU time of the process (``time.process_time``: the machine is shared, and
every method is single-threaded); trafilatura (~20-60x slower) gets one pass.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
import time
import zlib
from collections import Counter
from pathlib import Path

import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine, write_fragment  # noqa: E402
from extract_fixtures import DEV_FAMILIES, PACKAGES, build, default_dest  # noqa: E402

TOKEN = re.compile(r"\w+")
FAMILIES = list(PACKAGES) + ["blog", "news", "forum", "shop"]
GENERATOR = {f: g for f, (_, _, g) in PACKAGES.items()} | {
    "blog": "WordPress/Blogger-style blog + comment thread, widgets, cookie banner",
    "news": "news article + mega menu, ads, related cards, most-read, newsletter, cookie banner",
    "forum": "phpBB/Discourse-style thread (all posts are content) + profiles, signatures, similar topics",
    "shop": "product page (description is content) + mega menu, buy box, carousels, cookie banner",
}


def prf(pred: str, ref: str) -> tuple[float, float, float]:
    p, r = Counter(TOKEN.findall(pred.lower())), Counter(TOKEN.findall(ref.lower()))
    overlap = sum((p & r).values())
    if not overlap:
        return 0.0, 0.0, 0.0
    precision, recall = overlap / sum(p.values()), overlap / sum(r.values())
    return precision, recall, 2 * precision * recall / (precision + recall)


def load(dest: Path, family: str, cap: int) -> list[dict]:
    docs = [json.loads(line) for line in open(dest / f"{family}.jsonl", encoding="utf-8")]
    docs.sort(key=lambda d: zlib.crc32(d["id"].encode()))  # a fixed sample, not the first pages of one folder
    return docs[:cap] if cap else docs


def run_resiliparse(htmls, **opts):
    from resiliparse.extract.html2text import extract_plain_text

    return [extract_plain_text(h, main_content=True, **opts) for h in htmls]


def run_whole(htmls):
    from resiliparse.extract.html2text import extract_plain_text

    return [extract_plain_text(h) for h in htmls]


def run_trafilatura(htmls):
    import trafilatura

    return [trafilatura.extract(h) or "" for h in htmls]


def run_gristmill(htmls, **cfg):
    from gristmill.annotate.extract import HtmlExtract

    step = HtmlExtract(HtmlExtract.Config(**cfg))
    out = []
    for i in range(0, len(htmls), 64):
        chunk = htmls[i:i + 64]
        t = pa.table({"id": [str(j) for j in range(len(chunk))], "text": [""] * len(chunk),
                      "source": ["web"] * len(chunk), "html": chunk})
        out += step.annotate(t).column("text").to_pylist()
    return out


TRAF = "trafilatura 2.3.1"
RES = "resiliparse main_content"
WHOLE = "resiliparse whole page"
GM = "gristmill html_extract"
METHODS = {TRAF: run_trafilatura, RES: run_resiliparse, WHOLE: run_whole, GM: run_gristmill}
VARIANTS = {
    "gristmill, chrome_classes=False (landmarks + link-dense lists only)": lambda h: run_gristmill(h, chrome_classes=False),
    "gristmill, landmarks=False": lambda h: run_gristmill(h, landmarks=False),
    "gristmill, link_density=0.3": lambda h: run_gristmill(h, link_density=0.3),
    "gristmill, link_density=0.7": lambda h: run_gristmill(h, link_density=0.7),
    "gristmill, link_density=1.0 (only all-link lists)": lambda h: run_gristmill(h, link_density=1.0),
}


def timed(fn, htmls):
    # CPU seconds of this process, not wall time: on a shared 2-core machine with load averages of 10-20
    # wall time mostly measures the other jobs; every method here is single-threaded, so CPU time is its cost.
    t0 = time.process_time()
    out = fn(htmls)
    return out, time.process_time() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--per-family", type=int, default=150, help="pages per family (0: all)")
    ap.add_argument("--families", default=",".join(FAMILIES))
    ap.add_argument("--no-variants", action="store_true")
    args = ap.parse_args()
    dest = Path(os.environ.get("GRISTMILL_EXTRACT_FIXTURES") or default_dest())
    families = args.families.split(",")
    if any(not (dest / f"{f}.jsonl").exists() for f in families):
        dest.mkdir(parents=True, exist_ok=True)
        build(dest)
    data = {f: load(dest, f, args.per_family) for f in families}
    run_gristmill([d["html"] for d in data[families[0]][:5]]), run_resiliparse([d["html"] for d in data[families[0]][:5]])

    f1: dict[tuple[str, str], list[tuple[float, float, float]]] = {}
    secs: dict[tuple[str, str], list[float]] = {}
    for fam in families:
        htmls, refs = [d["html"] for d in data[fam]], [d["reference"] for d in data[fam]]
        for rep in range(args.repeats):
            for name, fn in METHODS.items():
                if name == TRAF and rep > 0:
                    continue
                out, s = timed(fn, htmls)
                secs.setdefault((fam, name), []).append(s)
                if rep == 0:
                    f1[(fam, name)] = [prf(o, r) for o, r in zip(out, refs)]
        print(f"  {fam}: " + ", ".join(f"{n} F1 {statistics.mean(x[2] for x in f1[(fam, n)]):.3f} "
                                         f"{len(htmls) / statistics.median(secs[(fam, n)]):.0f} p/s" for n in METHODS),
              flush=True)

    def mf1(fam, name):
        return statistics.mean(x[2] for x in f1[(fam, name)])

    def pps(fam, name):
        return len(data[fam]) / statistics.median(secs[(fam, name)])

    def ratio(fam):  # gristmill vs resiliparse main_content, per interleaved pass
        r = [b / a for a, b in zip(secs[(fam, GM)], secs[(fam, RES)])]
        return statistics.median(r), min(r), max(r)

    qrows, srows = [], []
    for fam in families:
        tag = "dev" if fam in DEV_FAMILIES else "held out"
        mb = sum(len(d["html"].encode()) for d in data[fam]) / 1e6
        cells = " | ".join(f"{mf1(fam, n):.3f}" for n in METHODS)
        p = statistics.mean(x[0] for x in f1[(fam, GM)])
        r = statistics.mean(x[1] for x in f1[(fam, GM)])
        qrows.append(f"| {fam} | {tag} | {len(data[fam])} | {cells} | {p:.3f} / {r:.3f} |")
        med, lo, hi = ratio(fam)
        srows.append(f"| {fam} | {mb:.1f} | " + " | ".join(f"{pps(fam, n):.0f}" for n in METHODS) +
                     f" | {med:.2f}x ({lo:.2f}-{hi:.2f}) |")

    def macro(fams, name):
        return statistics.mean(mf1(f, name) for f in fams) if fams else float("nan")

    dev = [f for f in families if f in DEV_FAMILIES]
    held = [f for f in families if f not in DEV_FAMILIES]
    for label, fams in (("mean, dev families", dev), ("mean, held-out families", held), ("mean, all families", families)):
        qrows.append(f"| **{label}** | | {sum(len(data[f]) for f in fams)} | " +
                     " | ".join(f"**{macro(fams, n):.3f}**" for n in METHODS) + " | |")
    worst = {n: min(mf1(f, n) for f in families) for n in METHODS}
    qrows.append("| **worst family** | | | " + " | ".join(f"**{worst[n]:.3f}**" for n in METHODS) + " | |")
    tot = {n: sum(len(data[f]) for f in families) / sum(statistics.median(secs[(f, n)]) for f in families) for n in METHODS}
    all_ratio = sum(statistics.median(secs[(f, RES)]) for f in families) / sum(statistics.median(secs[(f, GM)]) for f in families)
    srows.append(f"| **all pages** | {sum(len(d['html'].encode()) for f in families for d in data[f]) / 1e6:.1f} | " +
                 " | ".join(f"**{tot[n]:.0f}**" for n in METHODS) + f" | **{all_ratio:.2f}x** |")

    vrows = []
    if not args.no_variants:
        for name, fn in VARIANTS.items():
            scores = {}
            for fam in families:
                out = fn([d["html"] for d in data[fam]])
                scores[fam] = statistics.mean(prf(o, d["reference"])[2] for o, d in zip(out, data[fam]))
            vrows.append(f"| {name} | {statistics.mean(scores[f] for f in dev):.3f} | "
                         f"{statistics.mean(scores[f] for f in held) if held else float('nan'):.3f} | "
                         f"{min(scores.values()):.3f} ({min(scores, key=scores.get)}) |")
            print(f"  variant {name}: {vrows[-1]}", flush=True)

    fam_lines = "\n".join(f"- `{f}`: {GENERATOR.get(f, '')}" for f in families)
    head = " | ".join(METHODS)
    text = f"""## HTML extraction (`html_extract`) across page families

Date and machine: {machine()}; load average during the run {os.getloadavg()[0]:.1f}
(other jobs shared the 2 cores, so absolute pages/s are low and noisy; the ratios are the figure to read).
Script: `python benchmarks/bench_extract.py --repeats {args.repeats} --per-family {args.per_family}`; fixtures from
`python benchmarks/extract_fixtures.py` (pinned Debian `-doc` packages via `apt-get download`, and the real corpora).

Families (reference = the text the page was rendered from; up to {args.per_family} pages each, a fixed hash sample):
{fam_lines}

reST references have link targets, comments and `_`/`__` reference markers removed (docutils never renders
them); pages built with `literalinclude`/`auto*` directives are left out (their text is not in the source);
`include::` is resolved. Roles (`:func:`), directive names and AsciiDoc attributes stay in the reference and
cap recall for every method alike. Metric: bag-of-words (lower-cased `\\w+` tokens, multiset) F1 per page,
averaged per family. "dev" families were inspected while changing `html_extract`; "held out" ones only
through this table.

| family | split | pages | {head} | gristmill P / R |
|---|---|---|{'---|' * len(METHODS)}---|
{chr(10).join(qrows)}

Speed (pages per CPU-second of the benchmark process, median of {args.repeats} interleaved passes; trafilatura one
pass; last column: gristmill's speed over resiliparse main_content's, median and range over the passes):

| family | MB | {head} | gristmill vs resiliparse |
|---|---|{'---|' * len(METHODS)}---|
{chr(10).join(srows)}
"""
    if vrows:
        text += f"""
`html_extract` options (one pass each, same run; mean F1 over dev / held-out families, and the worst family):

| variant | dev mean F1 | held-out mean F1 | worst family F1 |
|---|---|---|---|
{chr(10).join(vrows)}
"""
    write_fragment("extract", text)


if __name__ == "__main__":
    main()
