"""``html_extract``: turn the ``html`` column into the main text of the page, in ``text``.

The default engine is resiliparse's plain-text writer (``main_content=False``, so every ``<ul>`` it
would drop as navigation stays) driven by four rules of gristmill's, chosen on ``benchmarks/bench_extract.py``:
ten page families from different generators, each with ground truth (Sphinx with two themes, Docutils,
AsciiDoc, MkDocs with two themes, all from pinned Debian ``-doc`` packages with their source text; real text
in blog, news, forum and shop chrome). Five families were used while choosing the rules and five are held
out; figures are in ``benchmarks/RESULTS.md`` ("HTML extraction ... across page families"). The rules are
general (HTML/ARIA semantics, class names every major extractor already uses), not per-generator:

1. **Landmark region.** When the page marks its main content the standard way (exactly one ``<main>``,
   else exactly one ``[role=main]``, else exactly one ``<article>``; WHATWG HTML "the main element",
   WAI-ARIA landmark roles; trafilatura tries ``<article>``/``<main>`` containers early, ``BODY_XPATH`` in
   trafilatura/xpaths.py), only that element is extracted: it is cut out of the raw string
   (:func:`landmark_slice`), so the rest of the page is never parsed. A page with several ``<article>``s
   (a blog's comment list, a news site's cards) has no single region and takes the whole-page path.
2. **Navigation elements.** ``nav``/``header``/``footer``/``aside`` and the navigation, banner,
   contentinfo, complementary and search roles are skipped (``skip_elements``).
3. **Chrome classes** (``chrome_classes``). Elements whose ``class`` or ``id`` names page chrome: comment
   threads and forms, cookie/consent banners, related/recommended/most-read lists, share bars, newsletter
   boxes, sidebars and widgets, breadcrumbs and pagination, bylines and post meta, ads. The vocabulary is
   the union of Mozilla Readability's ``unlikelyCandidates``/``negative`` regexes, resiliparse 2.x's own
   main-content class rules and trafilatura's discard XPaths (``_CHROME``); a value that also names the
   content (Readability's ``okMaybeItsACandidate``: article, body, content, main...) is kept, and so are
   ``<section>``/heading ids (documentation names sections after their headings: ``id="comments"``).
   As in Readability, if the rules leave under 200 characters the region is extracted again without them.
   Without this rule blog pages score F1 0.70 (the comment thread is kept), with it 0.99.
4. **Link-dense lists.** A top-level list (``ul``/``ol``) whose link text is at least ``link_density`` of
   its text is a menu or table of contents and is dropped. Link density as a boilerplate signal comes
   from boilerpipe (Kohlschuetter et al. 2010, WSDM) and jusText (Pomikalek 2011, ``max_link_density``);
   0.5 means "half the list is link text": 0.3, 0.5 and 0.7 score within 0.003 mean F1 on the benchmark's
   families, 1.0 (only all-link lists) lets the shop family's carousels through (F1 0.82 instead of 0.93),
   and 0.5 also removes menus that carry a few words of plain text. Self-links made of a single
   symbol (Sphinx/MkDocs ``¶`` permalinks) are dropped too.

Rows are never dropped by ``annotate``; ``html_extract_status`` records what happened, and
``select`` rejects with these rules:

- ``no_html``: the html column is null or blank;
- ``binary``: the "html" is binary junk (NUL bytes or >10% control/replacement characters);
- ``parse_error``: the engine raised on this page;
- ``empty_extraction``: the page parsed but no main text is left (empty page, only navigation,
  only scripts).
"""
from __future__ import annotations

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

__all__ = ["HtmlExtract", "chrome_selectors", "extract_main_text", "landmark_slice"]

DEFAULT_SKIP = [
    "nav", "header", "footer", "aside",
    "[role=navigation]", "[role=banner]", "[role=contentinfo]", "[role=complementary]", "[role=search]",
]
_TAGS = re.compile(r"<[^>]+>")
_ANCHOR = re.compile(r"<a\b[^>]*>(.*?)</a>", re.S)
_SELF_LINK = re.compile(r"""<a href="#[^"]*">\s*[^\w\s<]\s*</a>""")  # Sphinx/MkDocs permalink glyphs
_LI = re.compile(r"<li>\s*(?:<p>)?")
_BREAKS = re.compile(r"</?(?:ul|ol)>|<br>")
_MIN_CHARS = 200  # Readability retries below 500 characters (charThreshold); product blurbs are shorter
STATUSES = ("ok", "no_html", "binary", "parse_error", "empty")


# The landmark search runs on the page's UTF-8 bytes, ASCII-lower-cased (``bytes.lower``): the same
# length as the page, so offsets stay valid (``str.lower`` can lengthen a page, e.g. U+0130), and
# ``bytes.find`` is a C scan at memory speed where a regex for upper-case tags over a non-ASCII
# ``str`` took ~0.5 ms on a 20 kB news page, more than the rest of the post-processing together.
_ROLE_MAIN = re.compile(rb"""\srole=["']?main\b""")
_TAG_NAME = re.compile(rb"<([a-z][\w-]*)")
_TAG_END = (b" ", b">", b"\n", b"\t", b"/", b"\r")  # what may follow a tag name (``<main/>`` only when nested)
_OPEN_END = (b" ", b">", b"\n", b"\t", b"\r")


def _element_end(lower: bytes, start: int, tag: bytes) -> int:
    """End of the element whose start tag begins at ``start`` (nested same-name tags counted), else len(lower)."""
    opener, closer = b"<" + tag, b"</" + tag
    depth, o, c = 0, start, lower.find(closer, start)
    while c >= 0:
        if 0 <= o < c:
            if lower[o + len(opener):o + len(opener) + 1] in _TAG_END:
                depth += 1
            o = lower.find(opener, o + len(opener))
            continue
        depth -= 1
        if depth <= 0:
            end = lower.find(b">", c)
            return len(lower) if end < 0 else end + 1
        c = lower.find(closer, c + len(closer))
    return len(lower)


def _unique_element(lower: bytes, tag: bytes) -> tuple[int, int] | None | bool:
    """(start, end) of the one ``<tag>`` element; None if there is none, False if there are several."""
    opener = b"<" + tag
    positions, i = [], lower.find(opener)
    while i >= 0:
        if lower[i + len(opener):i + len(opener) + 1] in _OPEN_END:
            positions.append(i)
            if len(positions) > 1:
                return False
        i = lower.find(opener, i + 1)
    if not positions:
        return None
    return positions[0], _element_end(lower, positions[0], tag)


def landmark_slice(html: str) -> str | None:
    """The page's unique main landmark as a slice of the raw HTML, or None.

    Exactly one ``<main>``, else exactly one ``[role=main]``, else exactly one ``<article>`` (WHATWG "the main
    element", WAI-ARIA landmark roles; trafilatura also tries ``<article>``/``<main>`` containers early,
    ``BODY_XPATH`` in trafilatura/xpaths.py); several of the first kind found means no single region to trust.
    Cutting the string before parsing means navigation, sidebars and footers are never parsed at all,
    which is where the speed over resiliparse's main-content pass comes from. A ``<main>`` quoted in a
    script or comment makes the count ambiguous, and the page then takes the whole-page path. Tag and
    attribute names match in any ASCII case, as HTML's do."""
    raw = html.encode("utf-8", "surrogatepass")
    lower = raw.lower()
    span = _unique_element(lower, b"main")
    if span is None:
        roles, i = [], lower.find(b"role=")
        while i >= 0:
            if _ROLE_MAIN.match(lower, i - 1):
                roles.append(i)
            i = lower.find(b"role=", i + 5)
        if len(roles) > 1:
            return None
        if roles:
            start = lower.rfind(b"<", 0, roles[0])
            tag = _TAG_NAME.match(lower, start) if start >= 0 else None
            span = (start, _element_end(lower, start, tag.group(1))) if tag else None
        else:
            span = _unique_element(lower, b"article")
    if not span:
        return None
    return raw[span[0]:span[1]].decode("utf-8", "surrogatepass")


def _visible_chars(fragment: str) -> int:
    t = _TAGS.sub("", fragment)
    return len(t) - t.count(" ") - t.count("\n")  # str.count is C; splitting into words was 5x slower


def _drop_link_dense_lists(minimal_html: str, link_density: float) -> str:
    """Remove top-level lists whose link text is at least ``link_density`` of their text.

    resiliparse's ``minimal_html`` writes a top-level list as ``<ul>`` at the start of a line and its
    closing tag as ``</ul>`` at the start of a line (nested lists are indented), so plain string search
    finds each block. Counting links on the DOM instead costs ~0.3 ms per node in resiliparse 2.0,
    more than the whole extraction."""
    parts, i = [], 0
    a, b = minimal_html.find("<ul>\n"), minimal_html.find("<ol>\n")
    while a >= 0 or b >= 0:
        j = a if b < 0 or 0 <= a < b else b
        if j > 0 and minimal_html[j - 1] != "\n":  # indented: a nested list, judged with its parent
            nxt = j + 4
        else:
            end = minimal_html.find(f"\n</{minimal_html[j + 1:j + 3]}>", j)
            if end < 0:
                break
            end += 6
            block = minimal_html[j:end]
            if "<a " in block:  # lists without links have nothing to measure
                total = _visible_chars(block)
                if total and _visible_chars("".join(_ANCHOR.findall(block))) >= link_density * total:
                    parts.append(minimal_html[i:j])
                    i = end
            nxt = end
        if a >= 0 and a < nxt:
            a = minimal_html.find("<ul>\n", nxt)
        if b >= 0 and b < nxt:
            b = minimal_html.find("<ol>\n", nxt)
    parts.append(minimal_html[i:])
    return "".join(parts)


def _render(minimal_html: str, link_density: float) -> str:
    """Plain text from resiliparse's ``minimal_html`` output, without link-dense top-level lists and
    symbol-only self links; bullets for list items, one blank line between blocks."""
    s = _SELF_LINK.sub("", minimal_html)
    s = _drop_link_dense_lists(s, link_density)
    s = _LI.sub("• ", s)
    s = _BREAKS.sub("\n", s)
    s = _TAGS.sub("", s)
    if "&" in s:  # resiliparse decodes the page's entities and re-escapes only these four (html.escape)
        s = s.replace("&quot;", '"').replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    # rstrip every line in one comprehension, then fold runs of blank lines (str methods; regexes anchored
    # on whitespace runs are ~5x slower here)
    out, blank = [], False
    for line in [line.rstrip() for line in s.split("\n")]:
        if line:
            if blank and out:
                out.append("")
            out.append(line)
            blank = False
        else:
            blank = True
    return "\n".join(out)


# Class/id tokens of page chrome. Sources: Mozilla Readability's ``unlikelyCandidates`` and ``negative``
# regexes (Readability.js, REGEXPS), resiliparse 2.x's main-content class rules (html2text: nav/menu,
# footer|copyright|cookie|consent|legal, social/share/newsletter/subscribe, sidebar, comments/reply,
# related/trending/recommended, pagination/permalink, byline/post meta) and trafilatura's discard
# XPaths (trafilatura/xpaths.py: OVERALL_DISCARD_XPATH, COMMENTS_DISCARD_XPATH). Short words match as whole
# tokens (split at space, ``-`` and ``_``: ``ad-slot`` but not ``shadow``, ``menu`` but not Sphinx's
# ``menuselection``); longer, unambiguous stems match anywhere in the value (``commentlist``, ``postprofile``).
_CHROME_TOKENS = (
    "ads?|advert|advertisement|adslot|sponsored|promo|promoted|outbrain|taboola|banner|masthead"
    "|nav|navbar|navigation|menu|menus|submenu|dropdown|breadcrumbs?|pagination|pager|paging|permalink|skip"
    "|site-header|page-header|global-header|footer|copyright|legal|rail|sidebar|widgets?|widget-area|toolbar"
    "|comments?|replies|reply|respond|disqus|cookies?|consent|gdpr|onetrust|cookiebar"
    "|related|recommended|trending|popular|most-read|mostread|read-more|readmore|read-next|more-stories"
    "|share|sharing|social|syndication|newsletter|subscribe|subscription|signup|follow|likes?|feedback"
    "|login|log-in|signin|sign-in|account|profile|user-info|userinfo|avatar"
    "|byline|dateline|author|posted-on|entry-meta|post-meta|tags|tag-links|cat-links"
    "|modal|popup|lightbox|print|search|search-form|searchbox"
)
_CHROME = re.compile(rf"(?:^|[\s_-])(?:{_CHROME_TOKENS})(?=$|[\s_-])"
                     r"|comment|cookie|consent|sidebar|widget|breadcrumb|newsletter|sharedaddy"
                     r"|advert|sponsor|related", re.I)
# Readability's ``okMaybeItsACandidate``: a value that also names the content is not chrome
# (``comment-body`` holds the comment's text but ``entry-content`` must never go).
_CONTENT = re.compile(r"(?:^|[\s_-])(?:article|body|column|content|main|entry|story)(?=$|[\s_-])", re.I)
# Literal prefixes let the regex engine jump between candidates (3x faster than one ``(class|id)`` pattern).
_CLASS_ATTR = re.compile(r"""class=["']([^"'<>]*)""")
_ID_ATTR = re.compile(r""" id=["']([^"'<>]*)""")
# Doc generators name sections after their heading (``<section id="comments">``): not chrome.
_ID_GUARD = ":not(section):not(h1):not(h2):not(h3):not(h4):not(h5):not(h6):not(.section)"
_CONTAINERS = ":not(html):not(body):not(main):not(article)"


_NUMBERED = re.compile(r"^(.*?[-_]?)\d+$")


def _chrome_value(value: str) -> bool:
    v = value.strip()
    # Only values that fit in a CSS string literal as they are (no quote, backslash or line break).
    return (bool(v) and value.isprintable() and '"' not in v and "\\" not in v and bool(_CHROME.search(v))
            and not _CONTENT.search(v))


_seen: set[str] = set()  # class/id values repeat across a site's pages: classify each value once
_chrome_values: set[str] = set()


def chrome_selectors(html: str) -> list[str]:
    """CSS selectors for the elements whose class or id names page chrome (``_CHROME``).

    A regex over the raw page finds the distinct class/id values (a C-level scan; set algebra against the
    values already classified) and lexbor matches the resulting exact-value selectors while resiliparse
    walks the tree, so no Python code touches DOM nodes (~0.3 ms per node in resiliparse 2.0). Numbered
    values (``comment-17``) become one prefix selector, and all values go into one ``:is()`` per attribute,
    so lexbor checks each element once."""
    classes, ids = set(_CLASS_ATTR.findall(html)), set(_ID_ATTR.findall(html))
    new = (classes | ids) - _seen
    if new:
        if len(_seen) > 200_000:  # a crawl of many sites: start over rather than grow without bound
            _seen.clear()
            _chrome_values.clear()
        _seen.update(new)
        _chrome_values.update(v for v in new if _chrome_value(v))
    out = []
    for kind, hits, guard in (("class", classes & _chrome_values, _CONTAINERS),
                              ("id", ids & _chrome_values, _CONTAINERS + _ID_GUARD)):
        if not hits:
            continue
        sels = set()
        for value in hits:
            m = _NUMBERED.match(value)
            sels.add(f'[{kind}^="{m.group(1)}"]' if m and m.group(1) else f'[{kind}="{value}"]')
        out.append(f":is({', '.join(sorted(sels))}){guard}")
    return out


def _minimal(html: str, skip: list[str]) -> str:
    from resiliparse.extract.html2text import extract_plain_text

    return extract_plain_text(html, main_content=False, preserve_formatting="minimal_html", links=True,
                              skip_elements=skip)


def extract_main_text(html: str, link_density: float = 0.5, skip_elements: list[str] | None = None,
                      landmarks: bool = True, chrome_classes: bool = True) -> str:
    """The main text of one page with gristmill's resiliparse pipeline (see the module docstring)."""
    skip = list(DEFAULT_SKIP if skip_elements is None else skip_elements)
    region = (landmarks and landmark_slice(html)) or html
    chrome = chrome_selectors(region) if chrome_classes else []
    try:
        text = _render(_minimal(region, skip + chrome), link_density)
    except Exception:  # a class value lexbor's CSS parser rejects must not cost the page its text
        chrome = []
        text = _render(_minimal(region, skip), link_density)
    if len(text) < _MIN_CHARS and chrome:
        # Readability's retry (it retries below 500 characters with its class rules off, keeping the longest
        # attempt): a class rule took nearly everything, e.g. a page-wide wrapper named "has-sidebar".
        again = _render(_minimal(region, skip), link_density)
        if len(again) > 2 * len(text):
            text = again
    if not text and region is not html:  # an empty <main> filled by JavaScript: the whole page
        text = _render(_minimal(html, skip + (chrome_selectors(html) if chrome_classes else [])), link_density)
    return text


def _trafilatura(html: str) -> str:
    import trafilatura

    return trafilatura.extract(html, include_comments=False) or ""


@register
class HtmlExtract(Step):
    """Extract the main text of HTML pages (column ``html``) into ``text``.

    Default engine ``resiliparse``: resiliparse 2.x's text writer plus gristmill's landmark, navigation,
    chrome-class and link-density rules (module docstring), chosen because on ``benchmarks/bench_extract.py``
    (ten page families from different generators, five of them held out) it is the only method with F1
    >= 0.90 on every family, where resiliparse and trafilatura fall to ~0.7 on blog pages with comment
    threads. Defaults: ``link_density=0.5`` from boilerpipe/jusText's link-density signal;
    ``skip_elements`` are the HTML/ARIA navigation landmarks; ``chrome_classes: true`` applies the class/id
    vocabulary of Readability, resiliparse and trafilatura. ``engine: trafilatura`` runs
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
        chrome_classes: bool = Field(True, description="drop elements whose class or id names page chrome (cookie banners, comments, related articles, share bars)")
        link_density: float = Field(0.5, gt=0.0, le=1.0, description="drop blocks whose text is more than this fraction link text (menus, tables of contents)")
        skip_elements: list[str] = Field(DEFAULT_SKIP, description="CSS selectors removed before extraction (navigation, footers, forms)")
        keep_html: bool = Field(True, description="keep the html column in the output (large; off in the web recipe)")

    def __init__(self, config=None):
        super().__init__(config)
        if self.config.engine == "resiliparse":
            from resiliparse.extract.html2text import extract_plain_text

            for sel in self.config.skip_elements:  # a bad selector would otherwise fail every row as parse_error
                try:
                    extract_plain_text("<p>x</p>", skip_elements=[sel])
                except Exception as e:
                    raise ValueError(f"html_extract: skip_elements entry {sel!r} is not a CSS selector resiliparse "
                                     f"accepts ({e}); use e.g. 'nav', '.sidebar', '[role=navigation]'") from None
        if self.config.engine == "trafilatura" and importlib.util.find_spec("trafilatura") is None:
            raise ValueError("html_extract: engine 'trafilatura' needs the trafilatura package; install it with "
                             "`pip install trafilatura==2.3.1`, or use engine: resiliparse")

    @classmethod
    def packages(cls, config) -> dict[str, str]:
        return {"trafilatura": "trafilatura==2.3.1"} if config.engine == "trafilatura" else {}

    @classmethod
    def reads(cls, config) -> set[str]:
        return {config.html_column}

    @classmethod
    def writes(cls, config) -> set[str]:
        return {"html_extract_status", "html_extract_chars"}

    def _one(self, html: str | None) -> tuple[str, str]:
        if html is None or not html.strip():
            return "", "no_html"
        if looks_binary(html):
            return "", "binary"
        try:
            if self.config.engine == "trafilatura":
                text = _trafilatura(html)
            else:
                text = extract_main_text(html, self.config.link_density, self.config.skip_elements, self.config.landmarks,
                                         self.config.chrome_classes)
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
