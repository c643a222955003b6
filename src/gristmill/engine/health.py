"""When failures mean a bug or a misconfiguration rather than bad input, the run fails.

A step that raises on too many documents raises :class:`StepFailed` in the worker (the limits are
the recipe's ``errors:`` section, see :class:`gristmill.recipe.ErrorPolicy`). After a run, over half
of the input in quarantine is a misread input (a wrong ``text_field``, the wrong ``format``), not a
corpus that is half broken, so the run fails and names the most common cause with one example."""
from __future__ import annotations

import json
from pathlib import Path

from gristmill.recipe import ErrorPolicy


class StepFailed(RuntimeError):
    """A step raised on too many documents: a bug, not bad input. Never quarantined."""


class TooMuchQuarantined(RuntimeError):
    pass


def check_quarantine(summary: dict, out: Path, policy: ErrorPolicy) -> None:
    total, q = summary.get("input", 0), summary.get("quarantined", 0)
    if not total or q <= policy.max_quarantine_fraction * total:
        return
    kinds = summary.get("quarantine_errors") or {}
    kind, n = max(kinds.items(), key=lambda kv: kv[1]) if kinds else ("unknown", q)
    example = _first_record(Path(out) / "quarantine", kind)
    where = ""
    if example:
        line = f" line {example['line']}" if example.get("line") is not None else ""
        where = f"; for example {example.get('path')}{line}: {example.get('error')}"
    raise TooMuchQuarantined(
        f"{q:,} of {total:,} input records ({100 * q / total:.0f}%) ended in quarantine, over "
        f"errors.max_quarantine_fraction={policy.max_quarantine_fraction}: the input is probably misread. "
        f"Most common cause: {kind} ({n:,} records){where}. See {Path(out) / 'quarantine'}/ and fix the recipe's "
        "input section (text_field, id_field, format)")


def _first_record(qdir: Path, kind: str) -> dict | None:
    for p in sorted(qdir.glob("*.jsonl")):
        with open(p, encoding="utf-8") as fh:
            for line in fh:
                rec = json.loads(line)
                if rec.get("kind") == kind:
                    return rec
    return None
