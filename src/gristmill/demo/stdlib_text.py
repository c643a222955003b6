"""Real prose and code harvested from the Python standard library, offline: module, class and
function docstrings, the reference-manual topics, the Zen of Python and LICENSE.txt (see :mod:`gristmill.demo.corpus`)."""
from __future__ import annotations

import ast
import codecs
import importlib
import os
import random
import re
from pathlib import Path

# Not on every installation (Debian splits some out; test suites are often absent), or tables and
# vendored code rather than prose.
_SKIP_DIRS = {"test", "tests", "idle_test", "site-packages", "dist-packages", "__pycache__", "idlelib",
              "tkinter", "turtledemo", "lib2to3", "ensurepip", "distutils", "encodings", "pydoc_data"}

_EMAIL_RE = re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+")
_IPV4_RE = re.compile(r"\b\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}\b")


def has_pii_pattern(text: str) -> bool:
    # The "@" test first: the e-mail pattern backtracks on every long word, and most text has no "@".
    return bool(("@" in text and _EMAIL_RE.search(text)) or _IPV4_RE.search(text))


_TOKEN_RE = re.compile(r"\w+|[^\w\s]+")


def _prose_paragraphs(text: str) -> list[str]:
    """The paragraphs of ``text`` that read as prose: not doctests or indented code, no PII-like
    strings, and at least 80% of tokens with a letter. Punctuation runs count as tokens here, as in
    DataTrove's Gopher filter, which otherwise rejects most of the stdlib's punctuation-heavy docstrings."""
    out = []
    for p in re.split(r"\n\s*\n", text):
        if not p.strip() or p[:1].isspace() or ">>>" in p or has_pii_pattern(p):
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


def harvest(root: Path, rng: random.Random, want_prose: int, want_code: int, want_short: int):
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
            if text and not has_pii_pattern(text):
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
            if 2 <= len(words) <= 12 and "\n" not in d.strip() and not has_pii_pattern(d):
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

