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

import ast
import codecs
import gzip
import importlib
import json
import os
import random
import re
import string
import sysconfig
from dataclasses import dataclass
from pathlib import Path

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

# Not on every installation (Debian splits some out; test suites are often absent), or tables and
# vendored code rather than prose.
_SKIP_DIRS = {"test", "tests", "idle_test", "site-packages", "dist-packages", "__pycache__", "idlelib",
              "tkinter", "turtledemo", "lib2to3", "ensurepip", "distutils", "encodings", "pydoc_data"}

_EMAIL_RE = re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+")
_IPV4_RE = re.compile(r"\b\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}\b")


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


def _has_pii_pattern(text: str) -> bool:
    # The "@" test first: the e-mail pattern backtracks on every long word, and most text has no "@".
    return bool(("@" in text and _EMAIL_RE.search(text)) or _IPV4_RE.search(text))


_TOKEN_RE = re.compile(r"\w+|[^\w\s]+")


def _prose_paragraphs(text: str) -> list[str]:
    """The paragraphs of ``text`` that read as prose: not doctests or indented code, no PII-like
    strings, and at least 80% of tokens with a letter. Punctuation runs count as tokens here, as in
    DataTrove's Gopher filter, which otherwise rejects most of the stdlib's punctuation-heavy docstrings."""
    out = []
    for p in re.split(r"\n\s*\n", text):
        if not p.strip() or p[:1].isspace() or ">>>" in p or _has_pii_pattern(p):
            continue
        tokens = _TOKEN_RE.findall(p)
        if sum(1 for t in tokens if any(c.isalpha() for c in t)) >= 0.8 * len(tokens):
            out.append(p.strip())
    return out


def _docstrings(tree: ast.Module) -> list[str]:
    """Module, class and function docstrings in source order (a full ``ast.walk`` costs 3x more)."""
    out: list[str] = []
    doc = ast.get_docstring(tree)
    if doc:
        out.append(doc)

    def visit(body):
        for node in body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                doc = ast.get_docstring(node)
                if doc:
                    out.append(doc)
                visit(node.body)
            elif isinstance(node, (ast.If, ast.For, ast.AsyncFor, ast.While, ast.With, ast.AsyncWith, ast.Try)
                            ) or type(node).__name__ == "TryStar":
                for name in ("body", "orelse", "finalbody"):
                    visit(getattr(node, name, []))
                for handler in getattr(node, "handlers", []):
                    visit(handler.body)

    visit(tree.body)
    return out


def _stdlib_files(root: Path) -> list[Path]:
    files = []
    for d, dirs, names in os.walk(root):
        dirs[:] = sorted(x for x in dirs if x not in _SKIP_DIRS and not x.startswith("config-"))
        files += [Path(d) / n for n in sorted(names) if n.endswith(".py")]
    return files


def _chunk_paragraphs(paragraphs: list[str], rng: random.Random, lo: int = 50, hi: int = 140) -> list[str]:
    """Group paragraphs into documents of about ``lo``..``hi`` words; a short tail joins the last one."""
    docs: list[str] = []
    cur: list[str] = []
    n = 0
    target = rng.randint(lo, hi)
    for p in paragraphs:
        cur.append(p)
        n += len(p.split())
        if n >= target:
            docs.append("\n\n".join(cur))
            cur, n, target = [], 0, rng.randint(lo, hi)
    if cur:
        if n >= lo:
            docs.append("\n\n".join(cur))
        elif docs:
            docs[-1] += "\n\n" + "\n\n".join(cur)
    return docs


def _zen(root: Path) -> str | None:
    try:
        tree = ast.parse((root / "this.py").read_bytes())
    except (OSError, SyntaxError, ValueError):
        return None
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "s" for t in node.targets):
            if isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
                return codecs.decode(node.value.value, "rot13").strip()
    return None


def _harvest(root: Path, rng: random.Random, want_prose: int, want_code: int, want_short: int):
    """Docstring documents, other prose (Zen first), source files and short docstrings, as (text, origin)."""
    prose: list[tuple[str, str]] = []  # docstrings; filled until it alone could supply every prose doc
    extra: list[tuple[str, str]] = []  # Zen, license, reference topics: mixed in later by the caller's shuffle
    code: list[tuple[str, str]] = []
    short: list[tuple[str, str]] = []

    zen = _zen(root)
    if zen:
        extra.append((zen, "stdlib:this.py"))
    try:
        lic = (root / "LICENSE.txt").read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        lic = ""
    paras = [p for p in _prose_paragraphs(lic) if len(p.split()) >= 5]
    extra += [(d, "stdlib:LICENSE.txt") for d in _chunk_paragraphs(paras, rng, 80, 300)]
    try:
        topics = importlib.import_module("pydoc_data.topics").topics
    except Exception:  # any failure just means one fewer source of real prose
        topics = {}
    for key in sorted(topics):
        extra += [(d, f"stdlib:pydoc_data/topics.py#{key}")
                  for d in _chunk_paragraphs(_prose_paragraphs(topics[key]), rng) if len(d.split()) >= 50]

    files = _stdlib_files(root)
    rng.shuffle(files)  # a seeded mix of modules, so a small corpus is not all of "a*.py"
    for path in files:
        if len(prose) >= want_prose and len(code) >= want_code and len(short) >= want_short:
            break
        rel = path.relative_to(root).as_posix()
        try:
            src = path.read_bytes()
        except OSError:
            continue
        if len(code) < want_code and 300 <= len(src) <= 40_000:
            try:
                text = src.decode("utf-8")
            except UnicodeDecodeError:
                text = ""
            if text and not _has_pii_pattern(text):
                code.append((text, f"stdlib:{rel}"))
        if len(prose) >= want_prose and len(short) >= want_short:
            continue
        try:
            tree = ast.parse(src)
        except (SyntaxError, ValueError):
            continue
        docs = _docstrings(tree)
        for d in docs:
            words = d.split()
            if 2 <= len(words) <= 12 and "\n" not in d.strip() and not _has_pii_pattern(d):
                short.append((d.strip(), f"stdlib:{rel}"))
        prose_docs = ["\n\n".join(paras) for paras in map(_prose_paragraphs, docs)
                      if sum(len(p.split()) for p in paras) >= 3]
        prose += [(d, f"stdlib:{rel}") for d in _chunk_paragraphs(prose_docs, rng)]
    if not prose and not extra:
        raise RuntimeError(f"no Python source with docstrings found under the stdlib at {root}; "
                           "build the demo corpus with a regular CPython installation")
    return prose, extra, code, short


# ---------------------------------------------------------------------------------------------
# Generated noise

_SITES = ["Northwind", "Bluebird", "Riverside", "Summit", "Oakleaf", "Harbor", "Maple", "Silverline",
          "Pinecrest", "Brightside", "Cedar", "Lakeview", "Redstone", "Greenfield", "Sunrise", "Ironbridge"]
_SITE_KINDS = ["Media", "Gardens", "Outfitters", "News", "Travel", "Kitchen", "Tech", "Studio", "Books",
               "Health", "Home", "Sports", "Pets", "Auto", "Finance", "Crafts"]
_NAV = ["Home", "About", "About Us", "Products", "Services", "Blog", "News", "Contact", "Contact Us", "Shop",
        "FAQ", "Support", "Careers", "Events", "Gallery", "Pricing", "Login", "Resources", "Press", "Stores"]
_TOPICS = ["Gardening", "Saving Money", "Your Morning Routine", "Remote Work", "Healthy Eating", "Travel on a Budget",
           "Home Office Setup", "Dog Training", "Better Sleep", "Small Business Marketing", "Running", "Baking Bread"]
_COOKIE = [
    "We use cookies to improve your experience on our site. By continuing to browse, you agree to our use of cookies.",
    "This website uses cookies to ensure you get the best experience. Accept all | Reject all | Manage preferences",
    "We and our partners use cookies and similar technologies to personalise content and ads. Cookie settings",
    "By clicking \"Accept\", you consent to the storing of cookies on your device. Learn more in our Cookie Policy.",
    "Our site uses cookies. Some are essential, others help us improve. OK, got it",
    "Cookies help us deliver our services. By using our services, you agree to our use of cookies. More info",
]
_BOILER_LINES = [
    "Skip to main content", "Toggle navigation", "Search...", "Menu", "Back to top", "Loading...",
    "Sign in | Register | My Account | Cart (0)", "Read more »", "Click here to continue reading",
    "Click here to subscribe to our newsletter and never miss an update!",
    "Share this: Facebook Twitter LinkedIn Email Print", "Follow us on Instagram, Facebook and YouTube",
    "Please enable JavaScript in your browser to view this page.", "JavaScript is disabled in your browser.",
    "Powered by WordPress", "Leave a comment", "You must be logged in to post a comment.",
    "Previous article | Next article", "Tags: news, updates, tips", "Advertisement", "Sponsored content",
    "Download our app", "Free shipping on orders over $50", "Click here", "View all", "Show more",
]
_FOOTER = ["Privacy Policy", "Terms of Use", "Cookie Settings", "Sitemap", "Accessibility", "Imprint",
           "Terms and Conditions", "Do Not Sell My Personal Information", "Contact", "Help Center"]


def _site(rng: random.Random) -> str:
    return f"{rng.choice(_SITES)} {rng.choice(_SITE_KINDS)}"


def _boilerplate(rng: random.Random) -> str:
    site = _site(rng)
    lines = [rng.choice(["", "Skip to main content\n"]) + site]
    nav = rng.sample(_NAV, rng.randint(4, 9))
    lines += nav if rng.random() < 0.5 else [" | ".join(nav)]
    if rng.random() < 0.7:
        lines.append(rng.choice(_COOKIE))
    # At least 50 words, so that a length filter (Gopher's 50-word minimum) is not what catches it.
    target = rng.randint(50, 150)
    while sum(len(x.split()) for x in lines) < target:
        r = rng.random()
        if r < 0.2:
            lines.append("Related posts:")
            lines += [f"{rng.randint(3, 25)} Tips for {rng.choice(_TOPICS)}" for _ in range(rng.randint(2, 5))]
        elif r < 0.3:
            n = rng.randint(4, 40)
            lines.append(f"« Previous 1 2 3 … {n} Next »")
        elif r < 0.4:
            lines.append(f"Last updated: {rng.randint(1, 28):02d}/{rng.randint(1, 12):02d}/{rng.randint(2009, 2024)}")
        else:
            lines.append(rng.choice(_BOILER_LINES))
    lines.append(" | ".join(rng.sample(_FOOTER, rng.randint(3, 6))))
    lines.append(f"© {rng.randint(2005, 2024)} {site}. All rights reserved.")
    return "\n".join(lines)


_SPAM_KW = ["cheap watches", "diet pills", "designer handbags", "crypto signals", "casino bonus", "payday loans",
            "work from home", "seo backlinks", "instagram followers", "essay writing service", "replica shoes",
            "free spins", "miracle supplement", "forex robot"]
_SPAM_SHOUT = ["BUY NOW", "LIMITED TIME OFFER", "ACT NOW", "100% FREE", "CLICK HERE", "DON'T MISS OUT",
               "BEST PRICE GUARANTEED", "ORDER TODAY", "EXCLUSIVE DEAL", "WIN BIG", "NO PRESCRIPTION NEEDED"]


def _spam_url(rng: random.Random, kw: str) -> str:
    host = rng.choice(["deals", "shop", "promo", "win", "best", "offers"])
    return f"http://{host}.example.com/{kw.replace(' ', '-')}?ref={rng.randint(1000, 99999)}"


def _spam(rng: random.Random) -> str:
    kw = rng.choice(_SPAM_KW)
    parts: list[str] = []
    target = rng.randint(50, 220)
    while sum(len(x.split()) for x in parts) < target:
        r = rng.random()
        if r < 0.3:
            parts.append(" ".join(rng.choice([kw, f"best {kw}", f"cheap {kw}", f"buy {kw}", f"{kw} online",
                                              f"{kw} discount"]) for _ in range(rng.randint(3, 8))))
        elif r < 0.55:
            parts.append(f"{rng.choice(_SPAM_SHOUT)}{'!' * rng.randint(1, 6)} {kw.upper()} "
                         f"{rng.randint(50, 95)}% OFF{'!' * rng.randint(2, 5)}")
        elif r < 0.75:
            parts.append(f"Visit {_spam_url(rng, kw)} {rng.choice(['now', 'today', 'NOW'])}{'!' * rng.randint(1, 4)}")
        elif r < 0.9:
            parts.append(f"Make ${rng.randint(2, 20) * 500} a week from home with {kw}!!! "
                         f"No experience needed{'!' * rng.randint(1, 3)}")
        else:
            parts.append(f"{rng.choice(_SPAM_SHOUT)} {rng.choice(_SPAM_SHOUT)} {rng.choice(_SPAM_SHOUT)}"
                         f"{'!' * rng.randint(3, 8)}")
    sep = rng.choice([" ", "\n", " *** "])
    return sep.join(parts)


_KEY_ROWS = ["qwertyuiop", "asdfghjkl", "zxcvbnm", "1234567890"]


def _gibberish(rng: random.Random) -> str:
    kind = rng.randrange(3)
    n = rng.randint(50, 180)
    words = []
    for _ in range(n):
        if kind == 0:  # random letter strings
            words.append("".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randint(2, 11))))
        elif kind == 1:  # keyboard mashing: runs along one row of the keyboard
            row = rng.choice(_KEY_ROWS[:3])
            i = rng.randrange(len(row))
            w = []
            for _ in range(rng.randint(3, 10)):
                i = min(max(i + rng.choice([-2, -1, 1, 1, 2]), 0), len(row) - 1)
                w.append(row[i])
            words.append("".join(w))
        else:  # symbol noise
            alphabet = string.ascii_letters + string.digits + "#$%&*+/<=>@^_~"
            words.append("".join(rng.choice(alphabet) for _ in range(rng.randint(1, 9))))
    if kind == 0:  # some strings pretend to be sentences
        for i in range(rng.randint(5, 12), n, rng.randint(6, 14)):
            words[i] += "."
    return " ".join(words)


# A small grammar per language; noun phrases carry their own article, so agreement is always right.
# Phrases start lowercase and are capitalised at the start of a sentence (German nouns keep capitals).
_GRAMMAR = {
    "de": {
        "subj": ["der alte Mann", "die junge Frau", "das kleine Kind", "mein Nachbar", "unsere Lehrerin",
                 "der Bäcker", "die Ärztin", "meine Schwester", "der Hund", "die Katze", "das Mädchen",
                 "der Student", "die Regierung", "der Bürgermeister", "die Firma", "mein Großvater"],
        "vt": ["liest", "kauft", "sieht", "findet", "schreibt", "öffnet", "sucht", "braucht", "bringt",
               "verkauft", "repariert", "bezahlt"],
        "obj": ["einen langen Brief", "das neue Buch", "die Zeitung", "einen schönen Garten", "den roten Wagen",
                "eine warme Suppe", "das alte Haus", "die Rechnung", "einen kurzen Bericht", "das Fenster",
                "eine Tasse Kaffee", "den Schlüssel", "frisches Brot", "ein Geschenk für die Familie"],
        "vi": ["arbeitet", "wartet", "schläft", "wohnt", "singt", "lacht", "spielt", "bleibt"],
        "time": ["heute Morgen", "am Abend", "jeden Tag", "im Winter", "am Wochenende", "oft", "manchmal",
                 "morgen früh", "nach der Arbeit", "seit Jahren"],
        "place": ["in der Stadt", "im Garten", "auf dem Markt", "in der Küche", "am Bahnhof", "im Büro",
                  "zu Hause", "in der Bibliothek", "neben dem Fluss", "bei den Nachbarn"],
        "say": ["sagt", "glaubt", "erzählt", "weiß"], "that": "dass",
        "conn": ["außerdem", "danach", "trotzdem", "deshalb", "leider"],
    },
    "fr": {
        "subj": ["le vieil homme", "la jeune femme", "mon voisin", "notre professeur", "le boulanger",
                 "la directrice", "ma sœur", "le chien", "l'enfant", "l'étudiante", "le gouvernement",
                 "le maire", "l'entreprise", "mon grand-père", "la voisine", "le médecin"],
        "vt": ["lit", "achète", "regarde", "trouve", "écrit", "ouvre", "cherche", "prépare", "vend",
               "apporte", "répare", "paie"],
        "obj": ["une longue lettre", "le nouveau livre", "le journal", "un beau jardin", "la voiture rouge",
                "une soupe chaude", "la vieille maison", "la facture", "un court rapport", "la fenêtre",
                "une tasse de café", "les clés", "du pain frais", "un cadeau pour la famille"],
        "vi": ["travaille", "attend", "dort", "habite", "chante", "rit", "joue", "reste"],
        "time": ["ce matin", "le soir", "chaque jour", "en hiver", "le week-end", "souvent", "parfois",
                 "demain matin", "après le travail", "depuis des années"],
        "place": ["en ville", "dans le jardin", "au marché", "dans la cuisine", "à la gare", "au bureau",
                  "à la maison", "à la bibliothèque", "près de la rivière", "chez les voisins"],
        "say": ["dit", "pense", "raconte", "sait"], "that": "que",
        "conn": ["ensuite", "de plus", "pourtant", "c'est pourquoi", "malheureusement"],
    },
    "es": {
        "subj": ["el anciano", "la joven", "mi vecino", "nuestra profesora", "el panadero", "la médica",
                 "mi hermana", "el perro", "el niño", "la estudiante", "el gobierno", "el alcalde", "la empresa",
                 "mi abuelo", "la vecina", "el cartero"],
        "vt": ["lee", "compra", "mira", "encuentra", "escribe", "abre", "busca", "prepara", "vende", "trae",
               "repara", "paga"],
        "obj": ["una carta larga", "el libro nuevo", "el periódico", "un jardín bonito", "el coche rojo",
                "una sopa caliente", "la casa vieja", "la factura", "un informe breve", "la ventana",
                "una taza de café", "las llaves", "pan fresco", "un regalo para la familia"],
        "vi": ["trabaja", "espera", "duerme", "vive", "canta", "se ríe", "juega", "se queda"],
        "time": ["esta mañana", "por la noche", "cada día", "en invierno", "el fin de semana", "a menudo",
                 "a veces", "mañana temprano", "después del trabajo", "desde hace años"],
        "place": ["en la ciudad", "en el jardín", "en el mercado", "en la cocina", "en la estación",
                  "en la oficina", "en casa", "en la biblioteca", "cerca del río", "con los vecinos"],
        "say": ["dice", "cree", "cuenta", "sabe"], "that": "que",
        "conn": ["además", "después", "sin embargo", "por eso", "por desgracia"],
    },
}


def _cap(s: str) -> str:
    return s[:1].upper() + s[1:]


def _sentence(lang: str, rng: random.Random) -> str:
    g = _GRAMMAR[lang]
    c = rng.choice
    subj, vt, obj, time, place = c(g["subj"]), c(g["vt"]), c(g["obj"]), c(g["time"]), c(g["place"])
    kind = rng.randrange(5)
    if lang == "de":  # verb second; verb last in a "dass" clause
        if kind == 0:
            return f"{_cap(subj)} {vt} {time} {obj} {place}."
        if kind == 1:
            return f"{_cap(time)} {c(g['vi'])} {subj} {place}."
        if kind == 2:
            return f"{_cap(subj)} {c(g['say'])}, dass {c(g['subj'])} {obj} {vt}."
        if kind == 3:
            return f"{_cap(vt)} {subj} {obj} {place}?"
        return f"{_cap(c(g['conn']))} {vt} {subj} {obj}."
    if kind == 0:
        return f"{_cap(subj)} {vt} {obj} {place} {time}."
    if kind == 1:
        return f"{_cap(time)}, {subj} {c(g['vi'])} {place}."
    if kind == 2:
        return f"{_cap(subj)} {c(g['say'])} {g['that']} {c(g['subj'])} {vt} {obj}."
    if kind == 3:
        if lang == "fr":
            return f"Est-ce que {subj} {vt} {obj} {place} ?"
        return f"¿{_cap(vt)} {subj} {obj} {place}?"
    return f"{_cap(c(g['conn']))}, {subj} {vt} {obj}."


def _non_english(rng: random.Random, lang: str) -> str:
    paras: list[str] = []
    target, words = rng.randint(50, 250), 0
    while words < target:
        para = " ".join(_sentence(lang, rng) for _ in range(rng.randint(3, 8)))
        paras.append(para)
        words += len(para.split())
    return "\n\n".join(paras)


_FIRST = ["jane", "john", "maria", "wei", "aisha", "lars", "sofia", "omar", "emma", "raj", "lucia", "tom"]
_LAST = ["doe", "smith", "garcia", "chen", "khan", "nielsen", "rossi", "haddad", "brown", "patel", "lopez", "meyer"]


def _email(rng: random.Random) -> str:
    first, last = rng.choice(_FIRST), rng.choice(_LAST)
    user = rng.choice([f"{first}.{last}", f"{first[0]}{last}", f"{first}{rng.randint(1, 99)}", f"{first}_{last}"])
    return f"{user}@{rng.choice(['example.com', 'example.org', 'example.net', 'mail.example.com'])}"


def _phone(rng: random.Random) -> str:
    area, line = rng.choice([202, 312, 415, 617, 713]), f"01{rng.randint(0, 99):02d}"  # 555-01xx: NANP fiction
    return rng.choice([f"({area}) 555-{line}", f"+1-{area}-555-{line}", f"{area}.555.{line}",
                       f"+44 20 7946 0{rng.randint(0, 999):03d}"])  # Ofcom's range for drama


def _ip(rng: random.Random) -> str:
    if rng.random() < 0.2:
        return f"2001:db8::{rng.randint(1, 0xffff):x}"
    net = rng.choice(["192.0.2", "198.51.100", "203.0.113"])
    return f"{net}.{rng.randint(1, 254)}"


def _pii_sentence(rng: random.Random) -> tuple[str, list[dict]]:
    name = f"{_cap(rng.choice(_FIRST))} {_cap(rng.choice(_LAST))}"
    kind = rng.randrange(5)
    if kind == 0:
        e = _email(rng)
        return f"For questions about this, contact {name} at {e}.", [{"type": "email", "value": e}]
    if kind == 1:
        p = _phone(rng)
        return f"You can reach our support desk at {p} on weekdays.", [{"type": "phone", "value": p}]
    if kind == 2:
        ip = _ip(rng)
        return f"The request was logged from {ip} at 09:14.", [{"type": "ip", "value": ip}]
    if kind == 3:
        e, p = _email(rng), _phone(rng)
        return (f"Questions? Email {e} or call {name} at {p}.",
                [{"type": "email", "value": e}, {"type": "phone", "value": p}])
    e, ip = _email(rng), _ip(rng)
    return (f"Reported by {e} (client address {ip}).", [{"type": "email", "value": e}, {"type": "ip", "value": ip}])


def _with_pii(text: str, rng: random.Random) -> tuple[str, list[dict]]:
    paras = text.split("\n\n")
    found: list[dict] = []
    for _ in range(rng.randint(1, 3)):
        sentence, items = _pii_sentence(rng)
        found += items
        i = rng.randrange(len(paras))
        paras[i] = paras[i] + " " + sentence
    return "\n\n".join(paras), found


# The bytes 0x81 0x8D 0x8F 0x90 0x9D have no cp1252 character; real-world decoders (browsers, ftfy's
# "sloppy-windows-1252") map them to the C1 control of the same value, and so do we.
_CP1252 = [bytes([b]).decode("cp1252", errors="ignore") or chr(b) for b in range(256)]


def _typographic(text: str) -> str:
    text = re.sub(r"(\w)'(\w)", "\\1\u2019\\2", text)
    text = re.sub(r'"([^"\n]{1,80})"', "\u201c\\1\u201d", text)
    text = text.replace(" -- ", " \u2014 ").replace("...", "\u2026")
    if text.isascii():  # still nothing to garble: give it one real-world dash
        text = text.replace(", ", " \u2014 ", 1) if ", " in text else text + " \u2014 end."
    return text


def _mojibake(text: str) -> str:
    return "".join(_CP1252[b] for b in text.encode("utf-8"))


def _shingles(text: str, n: int = 5) -> set:
    w = text.lower().split()
    return {tuple(w[i:i + n]) for i in range(max(1, len(w) - n + 1))}


def _jaccard(a: str, b: str) -> float:
    sa, sb = _shingles(a), _shingles(b)
    return len(sa & sb) / len(sa | sb) if sa | sb else 1.0


def _near_dup(text: str, rng: random.Random) -> str:
    parts = re.split(r"(\s+)", text)  # words at even positions, whitespace kept as it was
    words = [i for i in range(0, len(parts), 2) if parts[i]]
    vocab = [parts[i] for i in words]
    for _ in range(max(1, round(len(words) * rng.uniform(0.005, 0.03)))):
        i = rng.choice(words)
        op = rng.randrange(4)
        if op == 0:
            parts[i] = rng.choice(vocab)
        elif op == 1:
            parts[i] = ""
            if i + 1 < len(parts):
                parts[i + 1] = ""
        elif op == 2:
            parts[i] = f"{parts[i]} {rng.choice(vocab)}"
        else:
            j = words[min(words.index(i) + 1, len(words) - 1)]
            parts[i], parts[j] = parts[j], parts[i]
    out = "".join(parts)
    if out == text:  # every edit happened to be a no-op (same word substituted, last word swapped)
        i = rng.choice(words)
        out = "".join(parts[:i] + parts[i + 2:])
    return out


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
            text = orig.text if label == "exact_dup" else _near_dup(orig.text, rng)
            orig.cluster = orig
            out.append(_Doc(text, label, orig.source, orig.origin, dup_of=orig, cluster=orig,
                            jaccard=round(_jaccard(orig.text, text), 4)))
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
    prose, extra, code_files, shorts = _harvest(root, rngs["harvest"], need, t["code"], t["short"])

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
        text, found = _with_pii(text, rngs["pii"])
        web.append(_Doc(text, "pii", origin=o, pii=found))
    for text, o in moji_src:
        web.append(_Doc(_mojibake(_typographic(text)), "mojibake", origin=o))
    langs = sorted(_GRAMMAR)
    for i in range(t["mojibake"] - len(moji_src)):
        lang = langs[i % len(langs)]
        web.append(_Doc(_mojibake(_non_english(rngs["moji"], lang)), "mojibake",
                        origin=f"generated:grammar-{lang}", lang=lang))
    for i in range(t["non_english"]):
        lang = langs[i % len(langs)]
        web.append(_Doc(_non_english(rngs["lang"], lang), "non_english", origin=f"generated:grammar-{lang}",
                        lang=lang))
    web += [_Doc(_boilerplate(rngs["boiler"]), "boilerplate") for _ in range(t["boilerplate"])]
    web += [_Doc(_spam(rngs["spam"]), "spam") for _ in range(t["spam"])]
    web += [_Doc(_gibberish(rngs["gib"]), "gibberish") for _ in range(t["gibberish"])]
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


def _main(argv: list[str] | None = None) -> None:
    import argparse

    ap = argparse.ArgumentParser(prog="python -m gristmill.demo", description=__doc__.split("\n")[0])
    ap.add_argument("dest", type=Path, help="directory to write web.jsonl.gz, code.jsonl and labels.jsonl into")
    ap.add_argument("--n-docs", type=int, default=3000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    counts = build_demo_corpus(args.dest, args.n_docs, args.seed)
    print(json.dumps(counts, indent=1))


if __name__ == "__main__":
    _main()
