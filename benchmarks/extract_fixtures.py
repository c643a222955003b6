"""Build the page families of the extraction benchmark (``bench_extract.py``) from pinned Debian packages.

    python benchmarks/extract_fixtures.py [DEST]     # default DEST: benchmarks/work/extract

Each Debian ``-doc`` package below ships documentation rendered to HTML by one generator *and* the text
it was rendered from, which is the ground truth for that page (same idea as ``../shared/corpora/fetch``,
which builds ``pydocs.jsonl`` from ``python3.11-doc``). Packages are fetched with ``apt-get download
PKG=VERSION`` and unpacked with ``dpkg -x``; nothing downloaded is committed. The chrome families
(blog, news, forum, shop) come from ``extract_chrome.py`` on the real corpora of ``../shared/corpora/fetch``.

Writes ``DEST/<family>.jsonl``: one page per line, fields ``id``, ``family``, ``html``, ``reference``.
"""
from __future__ import annotations

import glob
import json
import os
import re
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

# family -> (Debian package, pinned version (bookworm), generator / theme). Versions are what bookworm
# served on 2026-11-29; a newer point release only changes a few pages, so the script says which pin failed.
PACKAGES = {
    "sphinx-python": ("python3.11-doc", "3.11.2-6+deb12u9", "Sphinx 5 + python-docs-theme; reference = reST source"),
    "sphinx-sphinx13": ("sphinx-doc", "5.3.0-4", "Sphinx 5.3 + its own sphinx13 theme; reference = reST source"),
    "docutils": ("docutils-doc", "0.19+dfsg-6", "Docutils rst2html (no Sphinx); reference = reST source"),
    "asciidoc": ("git-doc", "1:2.39.5-0+deb12u3", "AsciiDoc (git's manual pages and guides); reference = AsciiDoc "
                 "source with include:: resolved"),
    "mkdocs": ("mkdocs-doc", "1.4.2+dfsg-2", "MkDocs 1.4 + mkdocs (Bootstrap) theme; reference = MkDocs search "
               "index text of the page"),
    "mkdocs-nature": ("python-markdown-doc", "3.4.1-2+deb12u1", "MkDocs + Python-Markdown's Sphinx-like 'nature' "
                      "theme; reference = MkDocs search index text"),
}
# Families looked at while changing html_extract; the others are reported as held out.
DEV_FAMILIES = ("sphinx-python", "docutils", "mkdocs", "blog", "news")


def unpack(pkg: str, version: str, raw: Path) -> Path:
    out = raw / pkg
    if out.exists():
        return out
    raw.mkdir(parents=True, exist_ok=True)
    for f in raw.glob(f"{pkg}_*.deb"):
        f.unlink()
    p = subprocess.run(["apt-get", "download", f"{pkg}={version}"], cwd=raw, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"extract_fixtures: `apt-get download {pkg}={version}` failed ({p.stderr.strip()[-300:]}); "
                 f"run `apt-get update`, or update the pin in PACKAGES after `apt-cache show {pkg}`")
    deb = next(raw.glob(f"{pkg}_*.deb"))
    subprocess.run(["dpkg", "-x", str(deb), str(out)], check=True)
    deb.unlink()
    return out


def read(p: str | Path) -> str:
    return open(p, encoding="utf-8", errors="replace").read()


# reST directives whose rendered text is not in the page's source (included files, code pulled from
# modules by autodoc/autosummary/literalinclude): such pages have no ground truth in their source.
_IMPORTS_TEXT = re.compile(r"^\s*\.\. (?:literalinclude|auto\w+)::", re.M)
_RST_INCLUDE = re.compile(r"^\.\. include:: (\S+)\s*$", re.M)


def self_contained(ref: str) -> bool:
    return not _IMPORTS_TEXT.search(ref)


def rst_includes(text: str, folder: Path, depth: int = 0) -> str | None:
    """Inline ``.. include:: file`` (docutils' shared header menu, Sphinx's shared snippets); ``<name>``
    includes are the standard substitution sets and add no text. None if an included file is missing."""
    missing = False

    def sub(m):
        nonlocal missing
        name = m.group(1)
        if name.startswith("<"):
            return ""
        f = folder / name
        if not f.exists() or depth > 4:
            missing = True
            return ""
        return rst_includes(read(f), f.parent, depth + 1) or ""
    out = _RST_INCLUDE.sub(sub, text)
    return None if missing else out


_RST_TARGET = re.compile(r"^\s*(?:\.\. _[^\n]*:|\.\. __:|__ )[^\n]*$", re.M)  # link targets: never shown
_RST_COMMENT = re.compile(r"^\.\.(?: (?![\w:-]+::|_|\|)[^\n]*)?\n(?:[ \t]+[^\n]*\n|[ \t]*\n(?=[ \t]+\S))*", re.M)
_RST_LINK = re.compile(r"`([^`<]*?)\s*<[^>`]*>`_{1,2}")  # `text <url>`_ shows "text"
_RST_REF_MARK = re.compile(r"(?<=[\w`])_{1,2}(?=\W|$)")  # word_ / `phrase`__ reference markers


def rst_shown(ref: str) -> str:
    """The reST source without what docutils never renders: link targets, comments, reference markers.
    Roles (``:func:``), directive names and option lines stay: they cap recall for every extractor alike."""
    ref = _RST_COMMENT.sub("", ref + "\n")
    ref = _RST_TARGET.sub("", ref)
    ref = _RST_LINK.sub(r"\1", ref)
    return _RST_REF_MARK.sub("", ref)


def sphinx_pages(root: Path, family: str) -> list[dict]:
    docs = []
    for p in sorted(glob.glob(f"{root}/**/*.html", recursive=True)):
        rel = os.path.relpath(p, root)
        for src in (root / "_sources" / (rel[:-5] + ".rst.txt"), root / "_sources" / (rel[:-5] + ".txt")):
            if src.exists():
                ref = rst_includes(read(src), src.parent)
                if ref is not None and self_contained(ref):
                    docs.append({"id": f"{family}-{rel}", "html": read(p), "reference": rst_shown(ref)})
                break
    return docs


def sibling_txt_pages(root: Path, family: str, resolve_includes: bool = False) -> list[dict]:
    docs = []
    for p in sorted(glob.glob(f"{root}/**/*.html", recursive=True)):
        src = Path(p[:-5] + ".txt")
        if not src.exists():
            continue
        ref = read(src)
        if resolve_includes:
            ref = _asciidoc_includes(ref, src.parent, 0)
        else:
            ref = rst_includes(ref, src.parent)
            if ref is None or not self_contained(ref):
                continue
            ref = rst_shown(ref)
        docs.append({"id": f"{family}-{os.path.relpath(p, root)}", "html": read(p), "reference": ref})
    return docs


_INCLUDE = re.compile(r"^include::([^\[]+)\[\]\s*$", re.M)


def _asciidoc_includes(text: str, folder: Path, depth: int) -> str:
    """Inline ``include::file.txt[]`` (git's manuals share option lists this way) so the reference holds
    the text the HTML shows; ``ifdef::`` conditionals are left in, which costs every extractor alike."""
    if depth > 4:
        return text

    def sub(m):
        f = folder / m.group(1)
        return _asciidoc_includes(read(f), folder, depth + 1) if f.exists() else ""
    return _INCLUDE.sub(sub, text)


def mkdocs_pages(root: Path, family: str) -> list[dict]:
    index = json.loads(read(root / "search" / "search_index.json"))
    docs = []
    for entry in index["docs"]:
        loc = entry["location"]
        if "#" in loc:
            continue  # per-section entries repeat the page entry
        loc = loc or "index.html"
        if loc.endswith("/"):
            loc += "index.html"
        p = root / loc
        if not p.exists() or loc == "404.html":
            continue
        docs.append({"id": f"{family}-{loc}", "html": read(p), "reference": entry["title"] + "\n" + entry["text"]})
    return docs


def build(dest: Path) -> dict[str, int]:
    raw = dest / "raw"
    builders = {
        "sphinx-python": lambda r: sphinx_pages(r / "usr/share/doc/python3.11/html", "sphinx-python"),
        "sphinx-sphinx13": lambda r: sphinx_pages(r / "usr/share/doc/sphinx-doc/html", "sphinx-sphinx13"),
        "docutils": lambda r: sibling_txt_pages(r / "usr/share/doc/docutils-doc", "docutils"),
        "asciidoc": lambda r: sibling_txt_pages(r / "usr/share/doc/git-doc", "asciidoc", resolve_includes=True),
        "mkdocs": lambda r: mkdocs_pages(r / "usr/share/doc/mkdocs/html", "mkdocs"),
        "mkdocs-nature": lambda r: mkdocs_pages(r / "usr/share/doc/python-markdown-doc/docs", "mkdocs-nature"),
    }
    counts = {}
    for family, (pkg, version, _) in PACKAGES.items():
        docs = builders[family](unpack(pkg, version, raw))
        docs = [d for d in docs if d["reference"].strip()]
        write(dest / f"{family}.jsonl", family, docs)
        counts[family] = len(docs)
    from _common import corpora_dir
    from extract_chrome import chrome_pages

    for family, docs in chrome_pages(corpora_dir()).items():
        write(dest / f"{family}.jsonl", family, docs)
        counts[family] = len(docs)
    return counts


def write(path: Path, family: str, docs: list[dict]) -> None:
    with open(path, "w", encoding="utf-8") as f:
        for d in docs:
            f.write(json.dumps({"id": d["id"], "family": family, "html": d["html"], "reference": d["reference"]},
                               ensure_ascii=False) + "\n")


def default_dest() -> Path:
    return HERE / "work" / "extract"


if __name__ == "__main__":
    dest = Path(sys.argv[1]) if len(sys.argv) > 1 else default_dest()
    dest.mkdir(parents=True, exist_ok=True)
    for fam, n in build(dest).items():
        print(f"{fam}: {n} pages")
