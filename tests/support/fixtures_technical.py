"""Technical pages that ship on the machine, and junk, for the technical-text recipe (issue 23
item 3). Used by tests/test_technical_recipe.py (which also prints the RESULTS.md table with -s).

- ``pydoc_pages``: stdlib modules rendered by ``pydoc`` (plain text: help() as a user reads it);
- ``man_pages``: Debian man pages rendered by ``man -l`` (MANWIDTH=80, no formatting bytes);
- ``doc_readmes``: README files under /usr/share/doc (plain, or gzip).
Each returns ``[(name, text)]`` in a stable order; ``split`` picks tuning or held-out halves by a
hash of the name, so the two never overlap.
"""
from __future__ import annotations

import gzip
import hashlib
import os
import pkgutil
import subprocess
import sysconfig
from pathlib import Path


def split(pages: list[tuple[str, str]], part: str) -> list[tuple[str, str]]:
    """``tune`` (a quarter, by name hash) or ``heldout`` (the rest)."""
    pick = lambda n: int(hashlib.sha1(n.encode()).hexdigest(), 16) % 4 == 0  # noqa: E731
    return [p for p in pages if pick(p[0]) == (part == "tune")]


def pydoc_pages(n: int = 60) -> list[tuple[str, str]]:
    import pydoc

    names = sorted(m.name for m in pkgutil.iter_modules([sysconfig.get_paths()["stdlib"]])
                   if not m.name.startswith("_") and m.name not in {"antigravity", "this", "idlelib", "turtledemo", "test", "tkinter", "turtle"})
    out = []
    for name in names:
        if len(out) >= n:
            break
        try:
            mod = __import__(name)
            text = pydoc.plain(pydoc.render_doc(mod, renderer=pydoc.plaintext))
        except Exception:  # noqa: BLE001 - a module that does not import here is simply not a page
            continue
        if 2_000 < len(text) < 400_000:
            out.append((f"pydoc:{name}", text))
    return out


def man_pages(n: int = 60) -> list[tuple[str, str]]:
    root = Path("/usr/share/man/man1")
    if not root.is_dir():
        return []
    files = sorted(root.glob("*.1.gz"))
    out = []
    env = {**os.environ, "MANWIDTH": "80", "MAN_KEEP_FORMATTING": "0", "LC_ALL": "C.UTF-8"}
    for f in files[:: max(1, len(files) // (3 * n))]:
        if len(out) >= n:
            break
        try:
            r = subprocess.run(["man", "-l", str(f)], capture_output=True, text=True, env=env, timeout=20)
        except (OSError, subprocess.TimeoutExpired):
            return out
        text = subprocess.run(["col", "-b"], input=r.stdout, capture_output=True, text=True).stdout if r.stdout else ""
        if len(text) > 1_500:
            out.append((f"man:{f.name}", text))
    return out


def doc_readmes(n: int = 60) -> list[tuple[str, str]]:
    out = []
    for f in sorted(Path("/usr/share/doc").glob("*/README*")):
        if len(out) >= n:
            break
        try:
            raw = gzip.open(f).read(400_000) if f.suffix == ".gz" else f.read_bytes()[:400_000]
            text = raw.decode("utf-8")
        except (OSError, UnicodeDecodeError, EOFError):
            continue
        if len(text) > 1_500:
            out.append((f"readme:{f.parent.name}/{f.name}", text))
    return out
