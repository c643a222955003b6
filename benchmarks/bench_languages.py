"""Issue 23 item 4: what the Gopher, C4 and FineWeb rules keep of real non-English prose, with English
rules (the behaviour before) and with per-language words, stop words and FineWeb-2 thresholds; and
that junk in each language is still removed.

Clean text is what ships on a Debian machine: translated man pages (/usr/share/man/<lang>/, rendered
by `man -l` with very wide lines so a paragraph is one line, as extracted web text is), keeping the
paragraphs fastText's language ID (gristmill's language_id model) puts in the page's language at
>= 0.5 (man pages are partly untranslated); Thai has no man pages, so its documents are the Thai
gettext messages of /usr/share/locale/th (>= 40 characters, option listings dropped), one message a
line, grouped per catalogue. Junk per language, built from each clean document: its first line 25
times (``repeated``), its words shuffled into short unpunctuated lines (``shuffled``), and 30 UI labels
of the language's gettext catalogues, one a line (``menu``).

Each rule runs alone on every document (annotate + select in process), so a share is that rule's
own. Prints the markdown table of benchmarks/RESULTS.md.

    PYTHONPATH=src python benchmarks/bench_languages.py [--max-docs 60]
"""
from __future__ import annotations

import argparse
import gettext
import glob
import random
import re
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pyarrow as pa

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests" / "support"))
sys.path.insert(0, str(HERE))

from _common import machine  # noqa: E402
from fixtures_languages import junk  # noqa: E402

from gristmill.annotate.heuristics import C4Quality, FineWebQuality, GopherQuality, GopherRepetition, split_words  # noqa: E402
from gristmill.annotate.heuristics.languages import RULES, segment  # noqa: E402

MAN = {"de": "de", "fr": "fr", "es": "es", "it": "it", "nl": "nl", "pt": "pt", "ru": "ru", "zh": "zh_CN", "ja": "ja", "ko": "ko"}
LOCALE = {**MAN, "th": "th"}
STEPS = (GopherQuality, GopherRepetition, FineWebQuality, C4Quality)
_WS = re.compile(r"\s+")


def _lid():
    """language_id's fastText engine, one paragraph at a time (memoized: each is asked twice)."""
    from functools import lru_cache

    from gristmill.annotate.langid import _FastText

    model = _FastText()

    @lru_cache(maxsize=None)
    def f(text: str):
        langs, scores = model.predict([text.replace("\n", " ")])
        return langs[0], scores[0]
    return f


def man_docs(lang: str, lid, limit: int) -> list[str]:
    docs = []
    for path in sorted(glob.glob(f"/usr/share/man/{MAN[lang]}/man*/*")):
        out = subprocess.run(["man", "-l", path], capture_output=True, text=True,
                             env={"MANWIDTH": "4000", "LANG": "C.UTF-8", "MAN_KEEP_FORMATTING": "0", "PATH": "/usr/bin:/bin"}).stdout
        out = subprocess.run(["col", "-b"], input=out, capture_output=True, text=True).stdout
        paras = [_WS.sub(" ", p).strip() for p in re.split(r"\n\s*\n", out)]
        keep = [p for p in paras if len(p) >= 40 and lid(p)[0] == lang and lid(p)[1] >= 0.5]
        doc = "\n".join(keep)
        if len(doc) >= (150 if lang in ("zh", "ja", "ko") else 400):
            docs.append(doc)
        if len(docs) >= limit:
            break
    return docs


def _messages(loc: str):
    for path in sorted(glob.glob(f"/usr/share/locale/{loc}/LC_MESSAGES/*.mo")):
        try:
            with open(path, "rb") as f:
                cat = gettext.GNUTranslations(f)._catalog
        except Exception:  # noqa: BLE001 - a broken catalogue is skipped
            continue
        yield path, [v for k, v in cat.items() if k and isinstance(v, str)]


def thai_docs(lid, limit: int) -> list[str]:
    docs = []
    for _, msgs in _messages("th"):
        lines = []
        for m in msgs:
            m = "\n".join(x for x in m.splitlines() if not x.strip().startswith("-"))
            m = _WS.sub(" ", m).strip()
            if len(m) >= 40 and lid(m) == ("th", lid(m)[1]) and lid(m)[1] >= 0.5:
                lines.append(m)
        for i in range(0, len(lines), 12):
            doc = "\n".join(lines[i:i + 12])
            if len(doc) >= 400:
                docs.append(doc)
    return docs[:limit]


def labels(lang: str, lid) -> list[str]:
    out = []
    for _, msgs in _messages(LOCALE[lang]):
        out += [m.strip() for m in msgs if 2 <= len(m.strip()) <= 20 and "\n" not in m and "%" not in m]
    return out


def kept(texts: list[str], lang: str, english: bool, reasons: Counter | None = None) -> dict[str, list[bool]]:
    t = pa.table({"id": [str(i) for i in range(len(texts))], "text": texts})
    out = {}
    for S in STEPS:
        s = S(S.Config() if english else S.Config(language=lang))
        rs = s.select(s.annotate(t)).to_pylist()
        out[S.name] = [r is None for r in rs]
        if reasons is not None:
            reasons.update(f"{S.name}/{r}" for r in rs if r is not None)
    out["all four"] = [all(v) for v in zip(*out.values())]
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--max-docs", type=int, default=60)
    args = ap.parse_args()
    lid = _lid()
    rng = random.Random(0)
    print(f"machine: {machine()}")
    rows = []
    for lang in [*MAN, "th"]:
        t0 = time.perf_counter()
        docs = thai_docs(lid, args.max_docs) if lang == "th" else man_docs(lang, lid, args.max_docs)
        if not docs:
            print(f"{lang}: no clean documents on this machine")
            continue
        words = segment(docs, lang) if RULES[lang].segmenter != "spacy" else [split_words(d) for d in docs]
        ui = labels(lang, lid)
        junk_docs: dict[str, list[str]] = {"repeated": [], "shuffled": [], "menu": []}
        for i, (d, w) in enumerate(zip(docs, words)):
            for k, v in junk(lang, d, w, seed=i, menu=rng.sample(ui, min(10, len(ui))) if ui else None).items():
                junk_docs[k].append(v)
        en = kept(docs, lang, english=True)
        why = Counter()
        segment(docs[:1], lang) if RULES[lang].segmenter != "spacy" else None  # load the segmenter outside the timing
        t1 = time.process_time()
        own = kept(docs, lang, english=False, reasons=why)
        cpu = time.process_time() - t1
        jk = {k: kept(v, lang, english=False)["all four"] for k, v in junk_docs.items()}
        chars = sum(map(len, docs))
        share = lambda xs: 100.0 * sum(xs) / len(xs)  # noqa: E731
        rows.append((lang, len(docs), chars, {k: (share(en[k]), share(own[k])) for k in en},
                     {k: 100.0 - share(v) for k, v in jk.items()}, why.most_common(2), chars / cpu / 1e3))
        print(f"{lang}: {len(docs)} docs, {chars} chars, {time.perf_counter() - t0:.1f} s", flush=True)
    names = [S.name for S in STEPS] + ["all four"]
    print("\n| lang | clean docs (chars) | " + " | ".join(f"{n} kept: en → own" for n in names)
          + " | junk removed: repeated / shuffled / menu | top reasons (own rules) | 4 rules, k chars/s CPU |")
    print("|---|---|" + "---|" * len(names) + "---|---|---|")
    for lang, n, chars, ks, jr, why, speed in rows:
        cells = " | ".join(f"{a:.0f}% → **{b:.0f}%**" for a, b in (ks[k] for k in names))
        top = ", ".join(f"{r} {c}" for r, c in why)
        print(f"| {lang} | {n} ({chars:,}) | {cells} | {jr['repeated']:.0f}% / {jr['shuffled']:.0f}% / {jr['menu']:.0f}% | {top} | {speed:,.0f} |")


if __name__ == "__main__":
    main()
