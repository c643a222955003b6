"""Real HTML pages for tests, built from what every Python installation has.

The main content of each page is ``pydoc.HTMLDoc`` output for a stdlib module (real, messy, table-
laid-out HTML with the module's docstrings); it is wrapped in a site template with a header menu,
a sidebar, a table of contents made of links and a copyright footer, so extraction has real
boilerplate to remove. The words of the boilerplate are unusual on purpose (``NAVWORD`` prefixes),
so a test can check they are gone without guessing at the docstrings' vocabulary.
"""
from __future__ import annotations

import html
import importlib
import pydoc
import re

MODULES = ("textwrap", "string", "json", "shlex", "fractions", "bisect", "heapq", "colorsys")
NAV_WORDS = ("NAVWORDhome", "NAVWORDdownloads", "NAVWORDcommunity", "NAVWORDsidebar", "NAVWORDtoc", "NAVWORDfooter")
TOKEN = re.compile(r"\w+")


def pydoc_body(module_name: str) -> str:
    mod = importlib.import_module(module_name)
    return pydoc.HTMLDoc().document(mod)


def docstring_sentences(module_name: str, n: int = 3) -> list[str]:
    """The first ``n`` sentences of the module's docstring, whitespace-normalized."""
    doc = " ".join((importlib.import_module(module_name).__doc__ or "").split())
    sentences = [s.strip() for s in re.split(r"(?<=[.!?])\s+", doc) if len(s.split()) >= 3]
    return sentences[:n]


def site_page(module_name: str, landmark: str = "main") -> str:
    """A full page: header nav + sidebar + (``landmark``) content with a link TOC + footer.

    ``landmark``: ``"main"`` (``<main>``), ``"role"`` (``<div role="main">``) or ``"none"`` (only divs,
    so the extractor must rely on its fallback heuristics)."""
    body = pydoc_body(module_name)
    toc = "".join(f'<li><a href="#s{i}">NAVWORDtoc section {i}</a></li>' for i in range(12))
    content = f'<h1>{html.escape(module_name)}</h1>\n<ul class="toc">{toc}</ul>\n{body}'
    if landmark == "main":
        content = f"<main>{content}</main>"
    elif landmark == "role":
        content = f'<div class="body" role="main">{content}</div>'
    else:
        content = f'<div class="content">{content}</div>'
    menu = "".join(f'<li><a href="/{w}">{w}</a></li>' for w in NAV_WORDS[:3])
    side = "".join(f'<li><a href="/m/{i}">NAVWORDsidebar module {i}</a></li>' for i in range(20))
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{module_name} - Example Docs</title>
<script>var NAVWORDscript = 1;</script><style>body {{ color: black }}</style></head>
<body>
<header><div class="logo">Example Docs</div><nav><ul>{menu}</ul></nav></header>
<div class="wrap">
<aside class="sidebar"><h3>Modules</h3><ul>{side}</ul></aside>
{content}
</div>
<footer><p>NAVWORDfooter Copyright 2001-2024 Example Foundation. All rights reserved.</p></footer>
</body></html>
"""


def site_pages(landmark: str = "main", modules=MODULES) -> list[tuple[str, bytes, dict]]:
    """``(url, html_bytes, http_headers)`` triples, ready for :func:`gristmill.io.warc.write_warc`."""
    return [(f"https://docs.example.org/{m}.html", site_page(m, landmark).encode("utf-8"),
             {"Content-Type": "text/html; charset=utf-8"}) for m in modules]


def words(text: str) -> list[str]:
    return TOKEN.findall(text.lower())


def recall(expected: str, got: str) -> float:
    """Share of ``expected``'s words found in ``got`` (bag of words)."""
    from collections import Counter

    e, g = Counter(words(expected)), Counter(words(got))
    return sum((e & g).values()) / max(1, sum(e.values()))


FRENCH = ("Le café était déjà fermé quand nous sommes arrivés à la gare. Ce n'est qu'après une "
          "longue journée, très fatigués, que nous avons trouvé un hôtel près de l'église. "
          "La propriétaire, une femme âgée et généreuse, nous a préparé un dîner à la française. ")


def latin1_page(declare: str | None = None) -> bytes:
    """A French page in ISO-8859-1; ``declare`` puts a ``<meta charset>`` in it."""
    meta = f'<meta charset="{declare}">' if declare else ""
    return (f"<html><head>{meta}<title>Voyage</title></head><body><main><p>{FRENCH * 3}</p></main></body></html>"
            ).encode("latin-1")


def cp1252_smart_quotes_page() -> bytes:
    """Declares UTF-8 in ``<meta>`` but holds cp1252 bytes (curly quotes 0x93/0x94, e-acute): common on the web."""
    text = ("\u201cWe\u2019re not done yet,\u201d said the caf\u00e9 owner \u2014 and she meant it. " * 5)
    return (f'<html><head><meta charset="utf-8"></head><body><main><p>{text}</p></main></body></html>').encode("cp1252")
