"""URL-based filtering: block-listed domains and URLs, banned words in the URL, banned substrings
of the domain, and combinations of "soft" words (RefinedWeb, Penedo et al. 2023, Sec. 3.1/App. G.1;
DataTrove's ``URLFilter``)."""
from __future__ import annotations

import re
from importlib import resources
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import pyarrow as pa
from pydantic import Field, field_validator, model_validator

from gristmill.arrow import reasons_from_masks, with_column
from gristmill.step import Step, StepConfig, register

__all__ = ["URLFilter", "url_host", "url_key"]

_NON_ALNUM = re.compile(r"[^a-z0-9]+")

# Rules in the order they are checked; the first that matches is recorded in url_filter_match.
RULES = ("missing_url", "blocklisted_domain", "blocklisted_url", "banned_word", "banned_subword")


def _read_list(path: Path, what: str) -> list[str]:
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise FileNotFoundError(
            f"url_filter: {what} {str(path)!r} does not exist; give a text file with one entry per line"
        ) from None
    return [s.strip() for s in lines if s.strip() and not s.lstrip().startswith("#")]


def _packaged_list(name: str) -> list[str]:
    text = resources.files("gristmill").joinpath("data", name).read_text(encoding="utf-8")
    return [s.strip() for s in text.splitlines() if s.strip() and not s.startswith("#")]


def _split(url: str):
    # urlsplit only finds the host after "//"; block lists and crawls often omit the scheme.
    if "//" not in url:
        url = "//" + url
    return urlsplit(url)


def url_host(url: str) -> str:
    """Lowercase host name without port, user info, trailing dot or leading "www."."""
    try:
        host = _split(url.strip()).hostname or ""
    except ValueError:  # e.g. an invalid IPv6 literal
        return ""
    host = host.rstrip(".")
    return host[4:] if host.startswith("www.") else host


def url_key(url: str) -> str:
    """Scheme-less, case-folded-host form used to compare URLs with the block list
    (``https://WWW.Example.com/a/`` and ``example.com/a`` are the same entry)."""
    url = url.strip()
    parts = _split(url)
    key = url_host(url) + parts.path.rstrip("/")
    return key + ("?" + parts.query if parts.query else "")


@register
class URLFilter(Step):
    """Drop documents by their ``url`` column.

    Annotates ``url_filter_match`` ("<rule>:<what matched>", null when nothing did; rules in
    check order: missing_url, blocklisted_domain, blocklisted_url, banned_word, banned_subword)
    and ``url_soft_banned_count`` (number of distinct soft-banned tokens in the URL).

    - ``blocklist_file``/``blocklist``: one domain or URL per line; a listed domain also blocks
      its subdomains (``example.com`` blocks ``a.b.example.com``).
    - ``banned_words``: whole URL tokens (split on non-alphanumerics), as RefinedWeb's URL filter.
    - ``banned_subwords``: substrings of the domain with non-alphanumerics removed, matched with
      an Aho-Corasick automaton (pyahocorasick), so ``freepornvideos.example`` is caught. DataTrove
      matches them against the whole URL; the domain alone avoids hits in article slugs.
    - ``soft_banned_words``: dropped when at least ``soft_threshold`` distinct ones occur; default
      2 from DataTrove's URLFilter (``soft_word_threshold=2``).
    Word lists default (None) to small lists shipped in ``gristmill/data/url_*.txt``; give ``[]``
    to disable one. ``drop_missing_url``: documents without a url are kept unless this is set.

    ``blocklists``: published block lists with categories (UT1 category folders as RefinedWeb and
    FineWeb use, plain domain/URL lists, hosts files; :mod:`gristmill.annotate.blocklists`), with
    subdomain matching. Every category that lists a document's URL is tagged in
    ``url_blocklist_categories`` (sorted, comma-separated; null when none), and the document is
    rejected as ``blocklisted_<category>`` when that category is in ``block_categories`` (null: every
    category), so a run can tag with all of UT1 and select on ``adult`` only, or re-select later.
    gristmill ships no block list: UT1's are at dsi.ut-capitole.fr/blacklists (CC BY-SA).
    """

    name = "url_filter"

    class Config(StepConfig):
        blocklist_file: Path | None = Field(None, description="file with one blocked domain or URL per line")
        blocklist: list[str] = Field([], description="blocked domains or URLs given inline")
        banned_words: list[str] | None = Field(None, description="words that reject a URL (null: the packaged list)")
        banned_subwords: list[str] | None = Field(None, description="substrings of the domain that reject a URL (null: the packaged list)")
        soft_banned_words: list[str] | None = Field(None, description="words that reject a URL when soft_threshold of them occur (null: the packaged list)")
        soft_threshold: int = Field(2, description="how many distinct soft-banned words reject a URL")
        drop_missing_url: bool = Field(False, description="reject documents without a url (kept by default)")
        url_column: str = Field("url", description="column holding the document's URL")
        blocklists: list[Path] = Field([], description="block lists with categories: UT1 category folders (or their parent), plain lists, hosts files")
        block_categories: list[str] | None = Field(None, description="categories whose matches reject (null: every category); all are tagged")
        max_blocklist_entries: int = Field(30_000_000, gt=0, description="refuse block lists with more entries (UT1's largest category has ~5M)")

        @field_validator("blocklists")
        @classmethod
        def _lists_exist(cls, v):
            from gristmill.annotate.blocklists import list_sources
            for p in v:
                list_sources(p)  # a missing or unrecognizable path fails at recipe load
            return v

        @model_validator(mode="after")
        def _lists_bounded(self):
            from gristmill.annotate.blocklists import count_lines
            n = count_lines(self.blocklists, stop_after=self.max_blocklist_entries)
            if n > self.max_blocklist_entries:
                raise ValueError(f"blocklists: more than max_blocklist_entries ({self.max_blocklist_entries:,}) lines; "
                                 "is every path a block list? (raise max_blocklist_entries if so)")
            return self

    def _lists(self):
        cached = getattr(self, "_cache", None)
        if cached is not None:
            return cached
        import ahocorasick

        c = self.config
        entries = list(c.blocklist)
        if c.blocklist_file is not None:
            entries += _read_list(c.blocklist_file, "blocklist_file")
        domains, urls = set(), set()
        for e in entries:
            bare = e.split("://", 1)[-1]
            if "/" in bare.rstrip("/") or "?" in bare:
                urls.add(url_key(e))
            else:
                domains.add(url_host(e))

        def words(value, default_file):
            raw = _packaged_list(default_file) if value is None else value
            return {w for w in (_NON_ALNUM.sub("", x.lower()) for x in raw) if w}

        banned = words(c.banned_words, "url_banned_words.txt")
        soft = words(c.soft_banned_words, "url_soft_banned_words.txt")
        automaton = None
        subwords = words(c.banned_subwords, "url_banned_subwords.txt")
        if subwords:
            automaton = ahocorasick.Automaton()
            for w in subwords:
                automaton.add_word(w, w)
            automaton.make_automaton()
        self._cache = (domains, urls, banned, soft, automaton)
        return self._cache

    def _categories(self):
        bl = getattr(self, "_blocklist", None)
        if bl is None:
            from gristmill.annotate.blocklists import load_blocklists
            bl = self._blocklist = load_blocklists(self.config.blocklists, self.config.max_blocklist_entries)
            self.stats.update({f"blocklist_skipped_{k}": v for k, v in bl.skipped.items()})
        return bl

    def _match(self, url: str | None) -> tuple[str | None, int]:
        if not url or not url.strip():
            return "missing_url:", 0
        domains, urls, banned, soft, automaton = self._lists()
        host = url_host(url)
        if domains:
            labels = host.split(".")
            for i in range(len(labels)):
                suffix = ".".join(labels[i:])
                if suffix in domains:
                    return f"blocklisted_domain:{suffix}", 0
        if urls and url_key(url) in urls:
            return f"blocklisted_url:{url_key(url)}", 0
        tokens = set(_NON_ALNUM.split(url.lower()))
        n_soft = len(tokens & soft)
        hit = tokens & banned
        if hit:
            return f"banned_word:{min(hit)}", n_soft
        if automaton is not None:
            for _, word in automaton.iter(_NON_ALNUM.sub("", host)):
                return f"banned_subword:{word}", n_soft
        return None, n_soft

    def annotate(self, table: pa.Table) -> pa.Table:
        col = self.config.url_column
        if col in table.column_names:
            urls = table.column(col).cast(pa.string()).to_pylist()
        else:
            urls = [None] * len(table)
        matches, soft = [], []
        for url in urls:
            m, n = self._match(url)
            matches.append(m)
            soft.append(n)
        table = with_column(table, "url_filter_match", pa.array(matches, type=pa.string()))
        if self.config.blocklists:
            bl = self._categories()
            cats = []
            for url in urls:
                hit = bl.match(url_host(url), url_key(url)) if url and url.strip() else set()
                cats.append(",".join(sorted(hit)) if hit else None)
            table = with_column(table, "url_blocklist_categories", pa.array(cats, type=pa.string()))
        return with_column(table, "url_soft_banned_count", pa.array(soft, type=pa.int32()))

    @staticmethod
    def _category_rules(table: pa.Table, wanted: list[str] | None) -> list[tuple[str, np.ndarray]]:
        from gristmill.annotate.blocklists import category_rule

        cats = [set(c.split(",")) if c else set() for c in table.column("url_blocklist_categories").to_pylist()]
        seen = sorted(set().union(*cats)) if cats else []
        out = []
        for cat in seen:
            if wanted is None or cat in wanted:
                out.append((category_rule(cat), np.array([cat in c for c in cats], dtype=bool)))
        return out

    def select(self, table: pa.Table) -> pa.Array:
        n = len(table)
        # The rule is the prefix of url_filter_match, so a stored output can be re-selected.
        rule = np.array(
            [m.split(":", 1)[0] if m else "" for m in table.column("url_filter_match").to_pylist()] or [],
            dtype=object,
        )
        soft = np.asarray(table.column("url_soft_banned_count").to_numpy(zero_copy_only=False))
        rules = []
        for r in RULES:
            if r == "missing_url" and not self.config.drop_missing_url:
                continue
            rules.append((r, rule == r))
            if r == "blocklisted_url" and "url_blocklist_categories" in table.column_names:
                rules += self._category_rules(table, self.config.block_categories)
        rules.append(("soft_banned_words", soft >= self.config.soft_threshold))
        return reasons_from_masks(n, rules)
