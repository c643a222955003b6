"""``html_extract``: turn the ``html`` column into the main text of the page, in ``text``.

The default engine is resiliparse with two additions, because on the Python documentation
(``benchmarks/bench_extract.py``: 496 real pages, reference = the page's reST source) they raise
bag-of-words F1 from 0.907 (resiliparse ``main_content=True``) to 0.914, above trafilatura (0.894),
while running faster than plain resiliparse, since its main-content pass is its slowest part:

1. **Landmark region.** When the page marks its main content the standard way (exactly one
   ``<main>``, else exactly one ``[role=main]``, else exactly one ``<article>``; WHATWG HTML
   "the main element", WAI-ARIA landmark roles), extract from that element only, skipping
   ``nav``/``header``/``footer``/``aside`` and navigation/banner/contentinfo/search roles inside it.
   trafilatura also tries ``<article>``/``<main>`` containers early (``BODY_XPATH`` in trafilatura/xpaths.py).
   Pages without a unique landmark use resiliparse's ``main_content=True`` heuristics (with the
   same skip list), so they extract as with plain resiliparse, at its speed.
2. **Link-dense lists.** Inside the landmark, a top-level list (``ul``/``ol``) whose link text is at
   least ``link_density`` of its text is a menu or table of contents and is dropped. Link density
   as a boilerplate signal comes from boilerpipe (Kohlschuetter et al. 2010, WSDM) and jusText
   (Pomikalek 2011, ``max_link_density``); 0.5 means "half the list is link text": on the pydocs
   benchmark 0.5, 0.7 and 0.9 score within 0.001 F1, and 0.5 also removes menus that carry a few
   words of plain text. Self-links made of a single symbol (Sphinx/MkDocs ``¶`` permalinks) are
   dropped too.

Rows are never dropped by ``annotate``; ``html_extract_status`` records what happened, and
``select`` rejects with these rules:

- ``no_html``: the html column is null or blank;
- ``binary``: the "html" is binary junk (NUL bytes or >10% control/replacement characters);
- ``parse_error``: the engine raised on this page;
- ``empty_extraction``: the page parsed but no main text is left (empty page, only navigation,
  only scripts).
"""
from __future__ import annotations

import html as _html
import importlib.util
import re
from typing import Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field

from gristmill.arrow import TEXT_TYPE, reasons_from_masks, with_column
from gristmill.io.warc import looks_binary
from gristmill.step import Step, StepConfig, register

__all__ = ["HtmlExtract", "extract_main_text"]

DEFAULT_SKIP = [
    "nav", "header", "footer", "aside",
    "[role=navigation]", "[role=banner]", "[role=contentinfo]", "[role=complementary]", "[role=search]",
]
_TAGS = re.compile(r"<[^>]+>")
_ANCHOR = re.compile(r"<a\b[^>]*>(.*?)</a>", re.S)
_SELF_LINK = re.compile(r"""<a href="#[^"]*">\s*[^\w\s<]\s*</a>""")  # Sphinx/MkDocs permalink glyphs
_LI = re.compile(r"<li>\s*(?:<p>)?")
_BREAKS = re.compile(r"</?(?:ul|ol)>|<br>")
STATUSES = ("ok", "no_html", "binary", "parse_error", "empty")


def _prune_to_landmark(tree) -> bool:
    """Make the page's unique main landmark the only child of ``<body>``; False if there is none."""
    body = tree.body
    if body is None:
        return False
    # get_elements_by_* are native lookups; CSS query_selector_all is ~10x slower in resiliparse 2.0.
    for find in (lambda: body.get_elements_by_tag_name("main"), lambda: body.get_elements_by_attr("role", "main"),
                 lambda: body.get_elements_by_tag_name("article")):
        found = find()
        if len(found) == 1:
            body.replace_children(found[0])
            return True
        if len(found) > 1:
            return False  # several <main>s or a list of <article>s: no single region to trust
    return False


def _visible_chars(fragment: str) -> int:
    return len("".join(_TAGS.sub("", fragment).split()))


def _drop_link_dense_lists(minimal_html: str, link_density: float) -> str:
    """Remove top-level lists whose link text is at least ``link_density`` of their text.

    resiliparse's ``minimal_html`` writes a top-level list as ``<ul>`` at the start of a line and its
    closing tag as ``</ul>`` at the start of a line (nested lists are indented), so plain string search
    finds each block. Counting links on the DOM instead costs ~0.3 ms per node in resiliparse 2.0,
    more than the whole extraction."""
    parts, i = [], 0
    while True:
        a, b = minimal_html.find("<ul>\n", i), minimal_html.find("<ol>\n", i)
        j = a if b < 0 or 0 <= a < b else b
        if j < 0:
            break
        if j > 0 and minimal_html[j - 1] != "\n":  # indented: a nested list, judged with its parent
            parts.append(minimal_html[i:j + 4])
            i = j + 4
            continue
        end = minimal_html.find(f"\n</{minimal_html[j + 1:j + 3]}>", j)
        if end < 0:
            break
        end += 6
        block = minimal_html[j:end]
        total = _visible_chars(block)
        links = sum(_visible_chars(x) for x in _ANCHOR.findall(block))
        parts.append(minimal_html[i:j])
        if not total or links < link_density * total:
            parts.append(block)
        i = end
    parts.append(minimal_html[i:])
    return "".join(parts)


def _render(minimal_html: str, link_density: float) -> str:
    """Plain text from resiliparse's ``minimal_html`` output, without link-dense top-level lists and
    symbol-only self links; bullets for list items, one blank line between blocks."""
    s = _SELF_LINK.sub("", minimal_html)
    s = _drop_link_dense_lists(s, link_density)
    s = _LI.sub("• ", s)
    s = _BREAKS.sub("\n", s)
    s = _html.unescape(_TAGS.sub("", s))
    lines: list[str] = []
    blank = False
    for line in s.split("\n"):  # a line loop: regexes anchored on whitespace runs are 5x slower here
        line = line.rstrip()
        if not line:
            blank = True
            continue
        if blank and lines:
            lines.append("")
        lines.append(line)
        blank = False
    return "\n".join(lines)


def extract_main_text(html: str, link_density: float = 0.5, skip_elements: list[str] | None = None,
                      landmarks: bool = True) -> str:
    """The main text of one page with gristmill's resiliparse pipeline (see the module docstring)."""
    from resiliparse.extract.html2text import extract_plain_text
    from resiliparse.parse.html import HTMLTree

    tree = HTMLTree.parse(html)
    if landmarks and _prune_to_landmark(tree):
        minimal = extract_plain_text(tree, main_content=False, preserve_formatting="minimal_html", links=True,
                                     skip_elements=DEFAULT_SKIP if skip_elements is None else skip_elements)
        text = _render(minimal, link_density)
        if text:
            return text
        tree = HTMLTree.parse(html)  # empty landmark (e.g. filled by JavaScript): look at the whole page
    return extract_plain_text(tree, main_content=True, preserve_formatting=True,
                              skip_elements=skip_elements or None)


def _trafilatura(html: str) -> str:
    import trafilatura

    return trafilatura.extract(html, include_comments=False) or ""


@register
class HtmlExtract(Step):
    """Extract the main text of HTML pages (column ``html``) into ``text``.

    Default engine ``resiliparse``: resiliparse 2.x plus landmark-region and link-density rules,
    chosen because it beat both resiliparse and trafilatura on bag-of-words F1 against reference
    text while staying faster than resiliparse alone (benchmarks/results/extract.md). Defaults:
    ``link_density=0.5`` from boilerpipe/jusText's link-density signal (see module docstring);
    ``skip_elements`` are the HTML/ARIA navigation landmarks. ``engine: trafilatura`` runs
    ``trafilatura.extract`` instead (about 20x slower, optional dependency).

    Writes ``text`` and ``html_extract_status`` (``ok``/``no_html``/``binary``/``parse_error``/``empty``)
    and ``html_extract_chars``; rejects with ``no_html``, ``binary``, ``parse_error`` or
    ``empty_extraction``.
    """

    name = "html_extract"

    class Config(StepConfig):
        engine: Literal["resiliparse", "trafilatura"] = Field("resiliparse", description="extractor: resiliparse (fastest accurate measured) or trafilatura")
        html_column: str = Field("html", description="column holding the raw HTML (the WARC reader writes 'html')")
        landmarks: bool = Field(True, description="prune to <main>/<article>/role=main first when the page has one")
        link_density: float = Field(0.5, gt=0.0, le=1.0, description="drop blocks whose text is more than this fraction link text (menus, tables of contents)")
        skip_elements: list[str] = Field(DEFAULT_SKIP, description="CSS selectors removed before extraction (navigation, footers, forms)")
        keep_html: bool = Field(True, description="keep the html column in the output (large; off in the web recipe)")

    def __init__(self, config=None):
        super().__init__(config)
        if self.config.engine == "trafilatura" and importlib.util.find_spec("trafilatura") is None:
            raise ValueError("html_extract: engine 'trafilatura' needs the trafilatura package; install it with "
                             "`pip install trafilatura==2.3.1`, or use engine: resiliparse")

    def _one(self, html: str | None) -> tuple[str, str]:
        if html is None or not html.strip():
            return "", "no_html"
        if looks_binary(html):
            return "", "binary"
        try:
            if self.config.engine == "trafilatura":
                text = _trafilatura(html)
            else:
                text = extract_main_text(html, self.config.link_density, self.config.skip_elements, self.config.landmarks)
        except Exception:  # a malformed page must cost one row, not the batch
            self.stats["parse_error"] += 1
            return "", "parse_error"
        text = text.strip()
        return (text, "ok") if text else ("", "empty")

    def annotate(self, table: pa.Table) -> pa.Table:
        col = self.config.html_column
        if col not in table.column_names:
            raise KeyError(f"html_extract: input has no column {col!r} (columns: {', '.join(table.column_names)}); "
                           "read WARC files with the warc reader, or set html_column in the recipe")
        htmls = table.column(col)
        if not pa.types.is_string(htmls.type) and not pa.types.is_large_string(htmls.type):
            raise TypeError(f"html_extract: column {col!r} is {htmls.type}, expected string; decode it first "
                            "(gristmill.io.warc.decode_html)")
        results = [self._one(h) for h in htmls.to_pylist()]
        text = [r[0] for r in results]
        status = [r[1] for r in results]
        table = with_column(table, "text", pa.array(text, type=TEXT_TYPE))
        table = with_column(table, "html_extract_status", pa.array(status, type=pa.string()))
        table = with_column(table, "html_extract_chars", pa.array([len(t) for t in text], type=pa.int32()))
        if not self.config.keep_html:
            table = table.drop_columns([col])
        return table

    def select(self, table: pa.Table) -> pa.Array:
        status = np.asarray(pc.fill_null(table.column("html_extract_status"), "no_html").to_numpy(zero_copy_only=False))
        return reasons_from_masks(len(table), [
            ("no_html", status == "no_html"),
            ("binary", status == "binary"),
            ("parse_error", status == "parse_error"),
            ("empty_extraction", status == "empty"),
        ])
