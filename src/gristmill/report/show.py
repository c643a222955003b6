"""`gristmill show`: sample documents of a run, each with why it was kept or rejected.

A rejected document leads with its reason and the values its rule measured: the columns the
rejecting step added (recorded in ``summary.json`` as ``step_columns``), most relevant to the rule
first, with the recipe's thresholds of that step beside them.
"""
from __future__ import annotations

import difflib
import json
import re
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import yaml

_TOKEN = re.compile(r"[a-z0-9]+")
_NOISE = {"too", "few", "many", "min", "max", "the", "of", "per", "ratio", "frac", "fraction", "doc", "docs", "long", "short", "count"}


# Every C0 control but newline and tab, DEL, every C1 control, and the Unicode bidi overrides and
# isolates ("Trojan Source", Boucher & Anderson 2021): a document that reaches a terminal with these
# can set the window title (OSC 0), write the clipboard (OSC 52), erase the screen, hide text (SGR 8)
# or reorder what is shown. They are printed as visible escapes instead.
_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def visible(s: str) -> str:
    """``s`` safe for a terminal: control characters become ``\\x1b``-style escapes, so a document's
    escape sequences are shown, never executed. Newlines and tabs stay (text is shown as text)."""
    return _CONTROLS.sub(lambda m: f"\\x{ord(m[0]):02x}" if ord(m[0]) < 0x100 else f"\\u{ord(m[0]):04x}", s)


def read_part(out: Path, rejected: bool) -> pa.Table | None:
    files = sorted((out / ("rejected" if rejected else "data")).glob("*.parquet"))
    tables = [pq.read_table(f) for f in files]
    return pa.concat_tables(tables, promote_options="permissive") if tables else None


def _tokens(s: str) -> set[str]:
    return {t[:-1] if t.endswith("s") and len(t) > 3 else t for t in _TOKEN.findall(s.lower())} - _NOISE


def measured(row: dict, reason: str, step_columns: dict[str, list], params: dict) -> tuple[list[tuple[str, object]], list[str]]:
    """(the rejecting step's columns as (name, value), the rule's own first; the thresholds that rule uses).

    A rule and its column and parameter share words (``too_few_alpha_words``, ``gopher_alpha_words_ratio``,
    ``min_alpha_words_ratio``), so they are ranked by the words they share with the rule name."""
    step, _, rule = reason.partition("/")
    own = _tokens(step)
    rt = _tokens(rule) - own
    cols = [c for c in step_columns.get(step, []) if c in row and c not in ("text", "html")]
    cols.sort(key=lambda c: (-len(rt & _tokens(c)), len(_tokens(c) - own - rt)))
    vals = [(c, row[c]) for c in cols]
    key = rt | (_tokens(cols[0]) - own if cols and rt & _tokens(cols[0]) else set())
    scored = [((len(_tokens(k) & key), -len(_tokens(k) - key)), k, v) for k, v in params.items() if not isinstance(v, (list, dict))]
    top = max((sc for sc, _, _ in scored), default=(0, 0))
    thresholds = [f"{k}={v}" for sc, k, v in scored if top[0] and sc == top]
    return vals, thresholds


def step_params(out: Path) -> dict[str, dict]:
    f = out / "recipe.lock.yaml"
    if not f.exists():
        return {}
    lock = yaml.safe_load(f.read_text()) or {}
    from gristmill.step import position_keys

    steps = [next(iter(s.items())) for s in lock.get("steps", []) if isinstance(s, dict) and len(s) == 1]
    # keyed as reject reasons are: a step used twice is `name#1`, `name#2`
    return {key: cfg or {} for key, (_, cfg) in zip(position_keys([n for n, _ in steps]), steps)}


def filter_reason(table: pa.Table, reason: str) -> pa.Table:
    """Rows whose reject_reason is ``reason``, or starts with it (a step name, or ``step/`` prefix).
    An unknown reason raises ValueError listing the valid ones."""
    col = pc.fill_null(table.column("reject_reason"), "")
    m = pc.starts_with(col, reason)
    if not pc.any(m).as_py():
        vc = pc.value_counts(col)
        have = sorted(zip(vc.field("values").to_pylist(), vc.field("counts").to_pylist()), key=lambda kv: -kv[1])
        names = [r for r, _ in have] + sorted({r.split("/")[0] for r, _ in have})
        close = difflib.get_close_matches(reason, names, n=1, cutoff=0.5)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        listing = ", ".join(f"{r} ({n:,})" for r, n in have)
        raise ValueError(f"no rejected document has reason {reason!r}{hint}; the reasons are: {listing or '(none)'}")
    return table.filter(m)


def load_summary(out: Path) -> dict:
    f = out / "summary.json"
    return json.loads(f.read_text()) if f.exists() else {}
