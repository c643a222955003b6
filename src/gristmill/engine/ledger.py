"""The ledger: every manifest unit of an output reconciled into ``summary.json``.

Nothing is lost: ``input = kept + rejected + quarantined`` must hold over the whole output, for
each source on its own, and against the files on disk (rows of ``data/`` and ``rejected/``, lines
of ``quarantine/``). A mismatch is a bug and raises :class:`LedgerMismatch`. ``gristmill run``
(engine/local.py) and ``gristmill select`` (engine/reselect.py) both count through :class:`Ledger`,
so the two cannot drift apart in what they check.
"""
from __future__ import annotations

from collections import Counter, defaultdict
from pathlib import Path

import pyarrow.parquet as pq

from gristmill.step import GlobalStep, Step

SOURCE_TOP_REASONS = 5  # reasons listed per source in summary.json; the full table is `rejected`


class LedgerMismatch(RuntimeError):
    """input != kept + rejected + quarantined: a bug, never an acceptable outcome."""


def source_entry() -> dict:
    """One source's counts in one manifest unit (filled by the shard runner, engine/shard.py)."""
    return {"read": 0, "read_quarantined": 0, "kept": 0, "quarantined": 0, "bytes_in": 0, "bytes_kept": 0, "rejected": {}}


def merge_step_counts(per_step: dict, rec_steps: dict) -> None:
    """Add one manifest unit's step counts into ``per_step`` (also for units written before the
    counts grew their scope and error fields)."""
    for gi, vals in rec_steps.items():
        vals = list(vals) + [None] * (6 - len(vals))
        if vals[3] is None:
            vals[3], vals[4] = vals[0], vals[1]
        p = per_step[int(gi)]
        for j, v in enumerate(vals):
            p[j] += v or 0


def step_row(st: Step, counts: list) -> dict:
    """The summary row of one step: ``in``/``out`` over every row that reached it, and for a step
    limited by ``sources:`` what it saw within them (``scope_in``/``scope_out``)."""
    a, b, c, sa, sb, e = counts  # e: documents quarantined by this step (they reached it and did not pass)
    row = {"step": st.key, "in": a, "out": b, "rejected": a - b - e, "step_errors": e, "seconds": round(c, 4)}
    if st.key != st.name:  # a name the recipe uses more than once: "step" is its position key
        row["name"] = st.name
    if st.only_sources is not None:
        row.update(sources=list(st.only_sources), scope_in=sa, scope_out=sb)
    return row


def merge_sources(acc: dict, rec: dict, first: bool, last: bool) -> None:
    """Input is counted where it was read (stage 0), kept where it was written last, rejections and
    quarantine wherever they happened."""
    for src, e in rec.items():
        a = acc[src]
        if first:
            a["read"] += e["read"]
            a["read_quarantined"] += e["read_quarantined"]
            a["bytes_in"] += e["bytes_in"]
        if last:
            a["kept"] += e["kept"]
            a["bytes_kept"] += e["bytes_kept"]
        a["quarantined"] += e["quarantined"]
        for reason, n in e["rejected"].items():
            a["rejected"][reason] = a["rejected"].get(reason, 0) + n


def source_summary(acc: dict, problems: list[str]) -> dict:
    """summary.json's ``sources``: the ledger of each source, which must reconcile on its own."""
    out = {}
    for src in sorted(acc):
        a = acc[src]
        n_in = a["read"] + a["read_quarantined"]
        n_rej = sum(a["rejected"].values())
        if n_in != a["kept"] + n_rej + a["quarantined"]:
            problems.append(f"source {src!r}: input {n_in} != kept {a['kept']} + rejected {n_rej} + quarantined {a['quarantined']}")
        reasons = sorted(a["rejected"].items(), key=lambda kv: (-kv[1], kv[0]))
        out[src] = {"input": n_in, "kept": a["kept"], "rejected": n_rej, "quarantined": a["quarantined"],
                    "bytes_in": a["bytes_in"], "bytes_kept": a["bytes_kept"],
                    "top_reasons": dict(reasons[:SOURCE_TOP_REASONS]), "other_reasons": sum(n for _, n in reasons[SOURCE_TOP_REASONS:])}
    return out


class Ledger:
    """Counts of an output, added unit by unit, then reconciled by :meth:`summary`.

    A *chain* is one shard's units, stage after stage: each stage reads what the one before kept,
    input is counted at the first and kept documents at the last. ``select`` writes one-stage
    chains and :meth:`carry_quarantine` adds the records its source run quarantined (they are not
    read again, but they are part of the input)."""

    def __init__(self) -> None:
        self.read = self.read_quarantined = self.quarantined = self.kept = self.text_bytes = 0
        self.rejected: Counter = Counter()
        self.quarantine_errors: Counter = Counter()
        self.step_errors: Counter = Counter()
        self.per_step: dict[int, list] = defaultdict(lambda: [0, 0, 0.0, 0, 0, 0])
        self.sources: dict[str, dict] = defaultdict(source_entry)
        self.counters: dict[str, dict] = {}
        self.step_columns: dict[str, list] = {}
        self.problems: list[str] = []

    def add_chain(self, name: str, records: list[dict | None]) -> None:
        """One shard's manifest units, stage by stage (None: a unit that never finished)."""
        prev_kept = None
        last = len(records) - 1
        for k, rec in enumerate(records):
            if rec is None:
                raise LedgerMismatch(f"shard {name} stage {k} has no manifest entry; the run did not finish")
            if k == 0:
                self.read += rec["read"]
                self.read_quarantined += rec["read_quarantined"]
                self.text_bytes += rec["text_bytes"]
            elif rec["read"] + rec["read_quarantined"] != prev_kept:
                self.problems.append(f"shard {name}: stage {k} read {rec['read']} rows, stage {k - 1} kept {prev_kept}")
            prev_kept = rec["kept"]
            self.quarantined += rec["quarantined"]
            self.quarantine_errors.update(rec["quarantine_errors"])
            self.step_errors.update(rec.get("step_errors", {}))
            for step, cols in rec.get("columns", {}).items():
                self.step_columns.setdefault(step, cols)
            self.rejected.update(rec["rejected"])
            merge_step_counts(self.per_step, rec["steps"])
            merge_sources(self.sources, rec.get("sources", {}), first=k == 0, last=k == last)
            for step, c in rec["counters"].items():
                mine = self.counters.setdefault(step, {})
                for key, v in c.items():
                    mine[key] = mine.get(key, 0) + v
            if k == last:
                self.kept += rec["kept"]

    def carry_quarantine(self, source_summary_json: dict) -> None:
        """The quarantined records of the output ``select`` re-selects from (their files are copied
        as they are): input that never became a row, per source as the source run counted it."""
        q = source_summary_json.get("quarantined", 0)
        self.read_quarantined += q
        self.quarantined += q
        self.quarantine_errors.update(source_summary_json.get("quarantine_errors", {}))
        for src, e in (source_summary_json.get("sources") or {}).items():
            a = self.sources[src]
            a["read_quarantined"] += e["quarantined"]
            a["quarantined"] += e["quarantined"]
            a["bytes_in"] = e["bytes_in"]  # the bytes as read, not as the stored (normalized) text

    @property
    def input(self) -> int:
        return self.read + self.read_quarantined

    def summary(self, root: Path, steps: list[Step], keep_rejected: bool, expect_input: int | None = None,
                fit_seconds: dict[str, float] | None = None, reports: dict | None = None, shards: int | None = None) -> dict:
        """The reconciled counts as summary.json holds them; raises :class:`LedgerMismatch` when the
        units, the sources or the files on disk disagree. ``reports``: the global steps' reports
        (default: each global step's own ``report()``)."""
        root = Path(root)
        problems = list(self.problems)
        n_rej = sum(self.rejected.values())
        if expect_input is not None and self.input != expect_input:
            problems.append(f"counted {self.input} inputs, but there were {expect_input}")
        if self.input != self.kept + n_rej + self.quarantined:
            problems.append(f"input {self.input} != kept {self.kept} + rejected {n_rej} + quarantined {self.quarantined}")
        # the files must say the same as the manifest
        on_disk_kept = sum(pq.ParquetFile(p).metadata.num_rows for p in (root / "data").glob("*.parquet"))
        if on_disk_kept != self.kept:
            problems.append(f"data/ holds {on_disk_kept} rows but the manifest says {self.kept} kept")
        if keep_rejected:
            on_disk_rej = sum(pq.ParquetFile(p).metadata.num_rows for p in (root / "rejected").glob("*.parquet"))
            if on_disk_rej != n_rej:
                problems.append(f"rejected/ holds {on_disk_rej} rows but the manifest says {n_rej}")
        on_disk_q = 0
        for p in (root / "quarantine").glob("*.jsonl"):
            with open(p, encoding="utf-8") as fh:
                on_disk_q += sum(1 for _ in fh)
        if on_disk_q != self.quarantined:
            problems.append(f"quarantine/ holds {on_disk_q} records but the manifest says {self.quarantined}")
        sources = source_summary(self.sources, problems)
        if problems:
            raise LedgerMismatch(f"{root}: the ledger does not reconcile (a bug; please report it):\n  " + "\n  ".join(problems))
        fit_seconds = fit_seconds or {}
        rows = []
        for gi, st in enumerate(steps):
            row = step_row(st, self.per_step.get(gi, [0, 0, 0.0, 0, 0, 0]))
            if st.key in fit_seconds:
                row["fit_seconds"] = round(fit_seconds[st.key], 4)
            rows.append(row)
        if reports is None:
            reports = {}
            for st in steps:
                rep = st.report() if isinstance(st, GlobalStep) and hasattr(st, "report") else None
                if rep:
                    reports[st.key] = rep
        out = {
            "input": self.input,
            "kept": self.kept,
            "rejected": dict(sorted(self.rejected.items())),
            "quarantined": self.quarantined,
            "quarantine_errors": dict(self.quarantine_errors.most_common()),
            "step_errors": dict(self.step_errors.most_common()),
            "text_mb_read": round(self.text_bytes / 1e6, 3),
            **({"shards": shards} if shards is not None else {}),
            "steps": rows,
            "counters": self.counters,
            "step_columns": self.step_columns,
            "sources": sources,
        }
        if reports:
            out["reports"] = reports
        return out
