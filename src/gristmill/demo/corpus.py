"""A demo corpus with ground truth, built offline from the Python standard library.

``build_demo_corpus(dest)`` writes, deterministically (same seed and the same Python installation
give the same bytes) and without any download:

``web.jsonl.gz``
    Prose documents plus labelled noise, fields ``id`` and ``text``. The readers take the source
    name ``web`` from the file name.
``code.jsonl``
    Real standard-library source files (source ``code``), a few of them duplicated.
``labels.jsonl``
    Ground truth, one line per record of both files, in file order, always with the same keys:
    ``id, source, label, origin, dup_of, cluster, jaccard, lang, pii, error``.

Labels
------
``clean``
    Real text from the stdlib: module, class and function docstrings (found with :mod:`ast`,
    grouped per module into documents of 50-140 words), the reference-manual topics in
    :mod:`pydoc_data.topics`, the Zen of Python (``this.py``, rot13-decoded) and ``LICENSE.txt``;
    in ``code.jsonl`` whole source files. ``origin`` names the file (``stdlib:json/decoder.py``).
    Paragraphs that are doctests, indented code or mostly punctuation and digits are left out, so
    clean prose reads like prose. It is still technical text: on the default build DataTrove
    0.10.1's GopherQualityFilter drops 9% of it (punctuation tokens count against its 80%-alphabetic
    rule) and GopherRepetitionFilter 14% (lists of similar method docstrings).
``exact_dup`` / ``near_dup``
    Copies of clean documents; near duplicates have 0.5-3% of their words (at least one)
    substituted, deleted, inserted or swapped. ``dup_of`` is the original's id, ``cluster`` is
    shared by the original and all its copies, ``jaccard`` is the word-5-gram Jaccard similarity to
    the original (lowercased whitespace tokens). A duplicate always comes after its original in the
    same file, so a keep-first deduplicator should drop exactly the duplicate records.
``boilerplate``
    Generated pages of navigation menus, cookie banners, "click here" links and copyright footers.
``spam``
    Generated keyword stuffing, "BUY NOW", ALL CAPS, runs of "!!!" and URLs.
``gibberish``
    Random letter strings, keyboard mashing and symbol noise.
``mojibake``
    Real prose (with typographic quotes and dashes) or generated non-English text, encoded as
    UTF-8 and decoded as Windows-1252 (bytes undefined there become the C1 control character, as
    browsers and ``ftfy``'s "sloppy-windows-1252" do), so ``ftfy.fix_encoding`` can undo it.
``short``
    Real one-line docstrings and slices of real prose, 2-12 words.
``non_english``
    German, French and Spanish. A stdlib holds no non-English prose that exists on every machine,
    so these are *generated* from small embedded word lists and a sentence grammar (subject, verb,
    object, time, place; subordinate clauses; questions). They are grammatical but repetitive:
    good enough for language identification, not for anything that needs natural text. ``lang``
    holds the ISO 639-1 code.
``pii``
    A real prose document with 1-3 inserted sentences containing e-mail addresses (reserved
    ``example.*`` domains), phone numbers (the fictional 555-01xx and Ofcom drama ranges) and IP
    addresses (RFC 5737 / RFC 3849 documentation ranges). ``pii`` lists each ``{type, value}``.
    No record with another label contains an e-mail or IPv4 pattern: real docstrings and source
    files that do are skipped, so the label is complete ground truth for redaction recall.
``quarantine``
    Two deliberately bad lines in ``web.jsonl.gz``: one malformed JSON line and one record whose
    ``text`` is a number (``error`` is ``malformed_json`` / ``text_not_string``).

The generated noise shares template phrases across pages, as on the real web, so a fuzzy
deduplicator may cluster some boilerplate or spam pages; the duplicate ground truth covers only
the ``exact_dup`` / ``near_dup`` records.

What is found depends on the stdlib present (Debian-style installs may lack some modules); files
that are missing are skipped. When the stdlib holds less prose than ``n_docs`` asks for, fewer clean
documents are written and the returned counts say so.
"""
from __future__ import annotations

import gzip
import json
import random
import sysconfig
from dataclasses import dataclass
from pathlib import Path

from gristmill.demo.noise import LANGUAGES, boilerplate, gibberish, jaccard, mojibake, near_dup, non_english, spam, typographic
from gristmill.demo.pii import with_pii
from gristmill.demo.stdlib_text import harvest

__all__ = ["build_demo_corpus", "LABELS"]

LABELS = ("clean", "boilerplate", "spam", "gibberish", "mojibake", "exact_dup", "near_dup", "short",
          "non_english", "pii", "quarantine")

# Share of n_docs per kind; clean web prose takes what is left (about 1/3). The stdlib's prose, some
# 130k words, is what limits the clean share at the default size; each noise class is big enough
# (>= ~150 at 3000) to measure a filter's recall on it.
_MIX = {
    "code": 0.09, "code_dup": 0.01, "boilerplate": 0.08, "spam": 0.06, "gibberish": 0.05,
    "mojibake": 0.05, "exact_dup": 0.07, "near_dup": 0.08, "short": 0.05, "non_english": 0.07, "pii": 0.05,
}
_N_QUARANTINE = 2
_MIN_DOCS = 40



@dataclass
class _Doc:
    text: str
    label: str
    source: str = "web"
    origin: str = "generated"
    dup_of: "_Doc | None" = None
    cluster: "_Doc | None" = None
    jaccard: float | None = None
    lang: str | None = None
    pii: list | None = None
    error: str | None = None
    raw: str | None = None  # the literal line, for quarantine records
    id: str = ""


# ---------------------------------------------------------------------------------------------
# Real text from the standard library



# ---------------------------------------------------------------------------------------------
# Assembly


def _targets(n_docs: int) -> dict[str, int]:
    t = {k: max(1, round(v * n_docs)) for k, v in _MIX.items()}
    t["clean"] = n_docs - sum(t.values()) - _N_QUARANTINE
    return t


def _order(base: list[_Doc], dups: list[_Doc], rng: random.Random) -> list[_Doc]:
    """Shuffle ``base``, then put every duplicate somewhere after its original."""
    rng.shuffle(base)
    key = {id(d): float(i) for i, d in enumerate(base)}
    keyed = [(key[id(d)], i, d) for i, d in enumerate(base)]
    for j, d in enumerate(dups):
        keyed.append((rng.uniform(key[id(d.dup_of)], len(base)) + 1e-9, len(base) + j, d))
    return [d for _, _, d in sorted(keyed, key=lambda x: (x[0], x[1]))]


def _make_dups(originals: list[_Doc], count: int, label: str, rng: random.Random) -> list[_Doc]:
    out: list[_Doc] = []
    while len(out) < count and originals:
        orig = rng.choice(originals)
        for _ in range(min(rng.choice([1, 1, 1, 2, 3]), count - len(out))):
            text = orig.text if label == "exact_dup" else near_dup(orig.text, rng)
            orig.cluster = orig
            out.append(_Doc(text, label, orig.source, orig.origin, dup_of=orig, cluster=orig,
                            jaccard=round(jaccard(orig.text, text), 4)))
    return out


def _label_row(d: _Doc) -> dict:
    return {"id": d.id, "source": d.source, "label": d.label, "origin": d.origin,
            "dup_of": d.dup_of.id if d.dup_of else None, "cluster": d.cluster.id if d.cluster else None,
            "jaccard": d.jaccard, "lang": d.lang, "pii": d.pii, "error": d.error}


def _line(d: _Doc) -> str:
    if d.raw is not None:
        return d.raw
    return json.dumps({"id": d.id, "text": d.text}, ensure_ascii=False)


def build_demo_corpus(dest_dir: Path, n_docs: int = 3000, seed: int = 0) -> dict:
    """Write ``web.jsonl.gz``, ``code.jsonl`` and ``labels.jsonl`` into ``dest_dir``.

    ``n_docs`` is the total number of records over both files, quarantine lines included (fewer if
    the stdlib holds too little prose). Returns the number of records per label (every name in
    :data:`LABELS`), which sums to the number of lines written to the two data files.
    """
    if n_docs < _MIN_DOCS:
        raise ValueError(f"n_docs={n_docs} is too small: the demo corpus needs at least {_MIN_DOCS} "
                         "records to hold every label")
    dest_dir = Path(dest_dir)
    dest_dir.mkdir(parents=True, exist_ok=True)
    # One generator per part: changing how spam is made must not change which docstrings are picked.
    rngs = {k: random.Random(f"gristmill-demo:{seed}:{k}") for k in
            ("harvest", "pick", "boiler", "spam", "gib", "lang", "moji", "pii", "short", "dup", "order")}
    t = _targets(n_docs)
    n_moji_real = max(1, t["mojibake"] // 3)
    root = Path(sysconfig.get_paths()["stdlib"])
    need = t["clean"] + t["pii"] + n_moji_real
    prose, extra, code_files, shorts = harvest(root, rngs["harvest"], need, t["code"], t["short"])

    pick = rngs["pick"]
    # Docstrings are the bulk; the reference topics and license fill in only up to a third, or
    # whatever the docstrings cannot cover. The Zen goes first: a fixed, known text in every build.
    zen = [p for p in extra if p[1] == "stdlib:this.py"]
    extra = [p for p in extra if p[1] != "stdlib:this.py"]
    extra = pick.sample(extra, min(len(extra), max(need // 3, need - len(prose))))
    prose = prose + extra
    pick.shuffle(prose)
    prose = zen + prose
    # Noise classes take their share first, so a short supply of prose shrinks only the clean class.
    pii_src, moji_src = prose[-t["pii"]:], prose[-t["pii"] - n_moji_real:-t["pii"]]
    clean = [_Doc(text, "clean", origin=o) for text, o in prose[:max(1, len(prose) - t["pii"] - n_moji_real)]]
    clean = clean[:t["clean"]]

    web: list[_Doc] = list(clean)
    for text, o in pii_src:
        text, found = with_pii(text, rngs["pii"])
        web.append(_Doc(text, "pii", origin=o, pii=found))
    for text, o in moji_src:
        web.append(_Doc(mojibake(typographic(text)), "mojibake", origin=o))
    langs = list(LANGUAGES)
    for i in range(t["mojibake"] - len(moji_src)):
        lang = langs[i % len(langs)]
        web.append(_Doc(mojibake(non_english(rngs["moji"], lang)), "mojibake",
                        origin=f"generated:grammar-{lang}", lang=lang))
    for i in range(t["non_english"]):
        lang = langs[i % len(langs)]
        web.append(_Doc(non_english(rngs["lang"], lang), "non_english", origin=f"generated:grammar-{lang}",
                        lang=lang))
    web += [_Doc(boilerplate(rngs["boiler"]), "boilerplate") for _ in range(t["boilerplate"])]
    web += [_Doc(spam(rngs["spam"]), "spam") for _ in range(t["spam"])]
    web += [_Doc(gibberish(rngs["gib"]), "gibberish") for _ in range(t["gibberish"])]
    srng = rngs["short"]
    for i in range(t["short"]):
        if shorts and (i % 2 == 0 or len(clean) == 0):
            text, o = shorts[srng.randrange(len(shorts))]
        else:
            src = clean[srng.randrange(len(clean))]
            words = src.text.split()
            k = srng.randint(2, 12)
            start = srng.randrange(max(1, len(words) - k))
            text, o = " ".join(words[start:start + k]), src.origin
        web.append(_Doc(text, "short", origin=o))

    drng = rngs["dup"]
    long_clean = [d for d in clean if len(d.text.split()) >= 80] or clean
    web_dups = _make_dups(clean, t["exact_dup"], "exact_dup", drng) + \
        _make_dups(long_clean, t["near_dup"], "near_dup", drng)
    code = [_Doc(text, "clean", "code", o) for text, o in code_files]
    code_dups = _make_dups(code, t["code_dup"], "exact_dup", drng)

    orng = rngs["order"]
    web = _order(web, web_dups, orng)
    code = _order(code, code_dups, orng)
    bad = [_Doc("", "quarantine", error="malformed_json"), _Doc("", "quarantine", error="text_not_string")]
    for pos, d in zip((len(web) // 3, 2 * len(web) // 3), bad):
        web.insert(pos, d)
    for prefix, docs in (("web", web), ("code", code)):
        for i, d in enumerate(docs):
            d.id = f"{prefix}-{i:06d}"
    bad[0].raw = '{"id": "%s", "text": "This record was cut off in the middle of a wo' % bad[0].id
    bad[1].raw = json.dumps({"id": bad[1].id, "text": 404})

    # Written to temporary names and renamed, so a crash never leaves a half corpus that looks whole.
    # No file name and mtime 0 in the gzip header: otherwise the bytes would change with the clock.
    from gristmill.engine.atomic import atomic_path, atomic_write_bytes

    with atomic_path(dest_dir / "web.jsonl.gz") as tmp, open(tmp, "wb") as raw, \
            gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=6) as gz:
        gz.write("".join(_line(d) + "\n" for d in web).encode("utf-8"))
    for name, lines in (("code.jsonl", [_line(d) for d in code]),
                        ("labels.jsonl", [json.dumps(_label_row(d), ensure_ascii=False) for d in web + code])):
        atomic_write_bytes(dest_dir / name, "".join(line + "\n" for line in lines).encode("utf-8"))

    counts = {label: 0 for label in LABELS}
    for d in web + code:
        counts[d.label] += 1
    return counts


def main(argv: list[str] | None = None) -> None:
    import argparse

    ap = argparse.ArgumentParser(prog="python -m gristmill.demo", description=__doc__.split("\n")[0])
    ap.add_argument("dest", type=Path, help="directory to write web.jsonl.gz, code.jsonl and labels.jsonl into")
    ap.add_argument("--n-docs", type=int, default=3000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    counts = build_demo_corpus(args.dest, args.n_docs, args.seed)
    print(json.dumps(counts, indent=1))


if __name__ == "__main__":
    main()
