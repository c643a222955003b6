"""Domain and URL block lists in the formats they are published in, each entry with a category.

- **UT1 category folders** (Université Toulouse 1's blacklists, which RefinedWeb (Penedo et al. 2023,
  Sec. 3.1) and FineWeb use for their URL filter): a folder per category holding ``domains`` (one
  domain a line) and ``urls`` (``host/path`` a line) files. Give the folder of one category or the
  folder holding many (``blacklists/``); the category is the folder's name (``adult``, ``gambling``...).
- **Plain lists**: one domain or URL a line, ``#`` comments; the category is the file's name without
  its extension (``phishing.txt`` -> ``phishing``). Adblock's domain form ``||example.com^`` is read too.
- **hosts files** (``0.0.0.0 ads.example.com`` or ``127.0.0.1 a.example b.example``, as StevenBlack's
  and most DNS block lists are distributed): every name after the address; ``localhost``-style names
  are skipped. Category ``hosts`` for a file named ``hosts``, else the file's name.

Files may be gzip-compressed. A domain blocks its subdomains (``example.com`` blocks
``a.b.example.com``); a URL entry blocks that URL and every URL below it at a ``/`` boundary, as
squidGuard reads UT1's ``urls`` files. Reading is bounded: lines over 4 KB are skipped and counted,
and more than ``max_entries`` entries is an error naming the list (a wrong folder, not a block list).
"""
from __future__ import annotations

import gzip
import ipaddress
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Blocklist", "load_blocklists", "list_sources", "category_rule", "count_lines", "bounded_lines"]

MAX_LINE = 4096
_COMMENT = re.compile(r"(?:^|\s)[#!;]")
_LOCAL_NAMES = {"localhost", "localhost.localdomain", "local", "broadcasthost", "ip6-localhost", "ip6-loopback",
                "ip6-localnet", "ip6-mcastprefix", "ip6-allnodes", "ip6-allrouters", "ip6-allhosts", "0.0.0.0"}
_CATEGORY_BAD = re.compile(r"[^a-z0-9_]+")


def category_rule(category: str) -> str:
    """The reject rule a category's matches get: ``blocklisted_<category>`` in ``[a-z0-9_]``."""
    return "blocklisted_" + (_CATEGORY_BAD.sub("_", category.lower()).strip("_") or "list")


def list_sources(path: str | Path) -> list[tuple[str, Path]]:
    """(category, file) for every list file a configured path stands for; raises ValueError naming
    the path when it is neither a list file nor a (UT1) category folder."""
    p = Path(path).expanduser()
    if p.is_file():
        name = p.name[:-3] if p.name.endswith(".gz") else p.name
        stem = Path(name).stem
        category = p.parent.name if stem in ("domains", "urls") else stem
        return [(category, p)]
    if p.is_dir():
        def files(d: Path):
            return [d / f for f in ("domains", "urls", "domains.gz", "urls.gz") if (d / f).is_file()]
        if files(p):
            return [(p.name, f) for f in files(p)]
        out = [(d.name, f) for d in sorted(p.iterdir()) if d.is_dir() for f in files(d)]
        if out:
            return out
        raise ValueError(f"{p}: no block list here; give a list file, a category folder holding 'domains'/'urls' "
                         "files, or a folder of such category folders (UT1's blacklists/)")
    raise ValueError(f"{p}: no such file or folder (block lists: a list file, hosts file or UT1 category folder)")


def count_lines(paths, stop_after: int | None = None) -> int:
    """Lines of every list ``paths`` stand for (a cheap bound checked at recipe load); stops counting
    past ``stop_after``, so a gzip bomb is not inflated to the end."""
    n = 0
    for path in paths:
        for _, f in list_sources(path):
            with _open(f, binary=True) as fh:
                while chunk := fh.read(1 << 20):
                    n += chunk.count(b"\n")
                    if stop_after is not None and n > stop_after:
                        return n
    return n


def _open(path: Path, binary: bool = False):
    with open(path, "rb") as f:
        gz = f.read(2) == b"\x1f\x8b"
    if binary:
        return gzip.open(path, "rb") if gz else open(path, "rb")
    return gzip.open(path, "rt", encoding="utf-8", errors="replace") if gz else open(path, encoding="utf-8", errors="replace")


def bounded_lines(f, skipped: Counter, max_line: int = MAX_LINE, block: int = 1 << 20):
    """Lines of a text file of at most ``max_line`` characters; longer ones are skipped whole (never
    held in memory past ``max_line`` plus one block) and counted in ``skipped["long_line"]``. Read in
    blocks, not line by line: block lists run to millions of lines. Word and block lists use it."""
    carry, dropping = "", False
    while True:
        chunk = f.read(block)
        if not chunk:
            if carry and not dropping:
                if len(carry) > max_line:
                    skipped["long_line"] += 1
                else:
                    yield carry
            return
        parts = (carry + chunk).split("\n")
        carry = parts.pop()
        for i, line in enumerate(parts):
            if dropping and i == 0:  # the end of a long line started in an earlier block
                dropping = False
                continue
            if len(line) > max_line:
                skipped["long_line"] += 1
                continue
            yield line + "\n"
        if dropping and parts:
            dropping = False
        if len(carry) > max_line:  # a line longer than the bound, still going: drop the rest of it
            if not dropping:
                skipped["long_line"] += 1
            carry, dropping = "", True


def _is_address(s: str) -> bool:
    try:
        ipaddress.ip_address(s.split("%", 1)[0])
        return True
    except ValueError:
        return False


def parse_line(line: str) -> list[str]:
    """The entries of one list line (none for a comment or blank line)."""
    m = _COMMENT.search(line)
    s = (line[:m.start()] if m else line).strip()
    if not s:
        return []
    parts = s.split()
    if len(parts) >= 2 and _is_address(parts[0]):  # hosts file
        return [h for h in parts[1:] if h.lower() not in _LOCAL_NAMES]
    entry = parts[0]
    if entry.startswith("||"):  # adblock domain anchor
        entry = entry[2:].split("^", 1)[0]
    return [entry] if entry else []


@dataclass
class Blocklist:
    """Entries by kind, each with the categories that list it."""

    domains: dict[str, tuple[str, ...]] = field(default_factory=dict)
    urls: dict[str, tuple[str, ...]] = field(default_factory=dict)
    skipped: Counter = field(default_factory=Counter)

    @property
    def categories(self) -> list[str]:
        return sorted({c for cs in (*self.domains.values(), *self.urls.values()) for c in cs})

    def match(self, host: str, key: str) -> set[str]:
        """Categories listing the host (or a parent domain) or the URL (or a URL above it)."""
        out: set[str] = set()
        if self.domains and host:
            labels = host.split(".")
            for i in range(len(labels)):
                cs = self.domains.get(".".join(labels[i:]))
                if cs:
                    out.update(cs)
        if self.urls and "/" in key:
            k = key
            while "/" in k:
                cs = self.urls.get(k)
                if cs:
                    out.update(cs)
                k = k.rsplit("/", 1)[0]
        return out


_PLAIN_BAD = frozenset(" \t#!;/?:@[|")


def load_blocklists(paths, max_entries: int) -> Blocklist:
    """Read every list of ``paths`` (see the module docstring)."""
    from gristmill.annotate.urlfilter import url_host, url_key

    bl = Blocklist()
    # One shared tuple per set of categories: UT1's millions of entries mostly have one category.
    tuples: dict[frozenset, tuple[str, ...]] = {}

    def add(table: dict, key: str, cat: str):
        old = table.get(key)
        if old is None:
            table[key] = tuples.setdefault(frozenset((cat,)), (cat,))
        elif cat not in old:  # a second category for the same entry
            fz = frozenset((*old, cat))
            table[key] = tuples.setdefault(fz, tuple(sorted(fz)))

    n = 0
    for path in paths:
        for category, f in list_sources(path):
            with _open(f) as fh:
                single = tuples.setdefault(frozenset((category,)), (category,))
                domains = bl.domains
                for line in bounded_lines(fh, bl.skipped):
                    e = line.strip()
                    if not e:
                        continue
                    # The common line of a domains file is a bare domain: no parsing beyond lower-casing
                    # (what url_host gives for it); anything else goes through the full parse.
                    if _PLAIN_BAD.isdisjoint(e):
                        n += 1
                        h = e.lower().rstrip(".")
                        h = h[4:] if h.startswith("www.") else h
                        if h and domains.setdefault(h, single) is not single:
                            add(domains, h, category)
                        if n > max_entries:
                            raise ValueError(f"block list {f}: more than {max_entries:,} entries in total; is this a block "
                                             "list? (raise max_blocklist_entries if it is)")
                        continue
                    for e in parse_line(line):
                        n += 1
                        if n > max_entries:
                            raise ValueError(f"block list {f}: more than {max_entries:,} entries in total; is this a block "
                                             "list? (raise max_blocklist_entries if it is)")
                        if _PLAIN_BAD.isdisjoint(e):
                            h = e.lower().rstrip(".")
                            h = h[4:] if h.startswith("www.") else h
                        else:
                            bare = e.split("://", 1)[-1]
                            if "/" in bare.rstrip("/") or "?" in bare:
                                add(bl.urls, url_key(e), category)
                                continue
                            h = url_host(e)
                        if h:
                            add(bl.domains, h, category)
                        else:
                            bl.skipped["not_a_domain"] += 1
    return bl
