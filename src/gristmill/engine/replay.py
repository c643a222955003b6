"""A finished output's stored rows, ready to re-select: what ``gristmill select`` walks.

Every row of an output is stored with the columns of the steps it reached: kept rows in ``data/``,
rejected rows in ``rejected/`` with the step and reason. :class:`StoredOutput` lists those files as
*groups* (shard, index of the step that rejected the rows or None for kept, path) and reads each
once. :func:`wrapped_steps` turns the recipe's steps into what a group's rows need: only ``select``
where the row's columns are stored (:class:`SelectOnly`), the full step where the row never
reached it, a global step's recorded decision (:class:`Replay`) unless the step is re-fitted.
engine/reselect.py writes the output through the shard runner with these steps; engine/refit.py
walks them in memory to find each global step's new input.
"""
from __future__ import annotations

import re
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from gristmill.engine.health import StepFailed
from gristmill.recipe import RecipeError
from gristmill.step import GlobalStep, Step

REJECT_FILE = re.compile(r"^s\d+-(?P<shard>\d+)-(?P<name>.+)-(?P<gi>\d+|rd)\.parquet$")
ORIG_REASON = "_orig_reason"  # the source run's reason of a rejected row, carried while re-selecting, never written
BULKY = ("text", "html")


class SelectOnly(Step):
    """A step whose columns are stored: only its ``select`` runs again, with the new thresholds."""

    def __init__(self, inner: Step):
        super().__init__(inner.config)
        self.inner, self.name, self.only_sources, self.step_key = inner, inner.name, inner.only_sources, inner.key

    def select(self, table):
        return self.inner.select(table)


class Replay(Step):
    """A global step's recorded decision: rows it rejected in the source run stay rejected."""

    def __init__(self, inner: Step, gi: int, rejected_here: bool):
        super().__init__(inner.config)
        self.name, self.gi, self.rejected_here, self.only_sources, self.step_key = inner.name, gi, rejected_here, inner.only_sources, inner.key

    def select(self, table):
        if not self.rejected_here:
            return None
        prefix = self.key + "/"
        return pc.utf8_slice_codeunits(table.column(ORIG_REASON), len(prefix))


class ReaderReject(Step):
    """Rows the reader rejected (not documents): they stay rejected with their reason."""
    name = "read"

    def select(self, table):
        return pc.utf8_slice_codeunits(table.column(ORIG_REASON), len("read/"))


class Unreachable(Step):
    """A global step that rows would reach without it having been fitted on them: a safety net,
    since select checks this (and re-fits) before writing anything."""

    def __init__(self, inner: Step, path: Path):
        super().__init__(inner.config)
        self.name, self.path, self.step_key = inner.name, path, inner.key

    def annotate(self, table):
        if table.num_rows:
            raise StepFailed(f"rows of {self.path} now reach the global step {self.name!r}, which was never fitted on them; "
                             "run the changed recipe with `gristmill run` instead")
        return table


class StoredOutput:
    """The stored rows of a finished output ``root`` as groups, each file read once."""

    def __init__(self, root: Path, steps: list[Step], step_columns: dict[str, list]):
        self.root, self.steps, self.step_columns = Path(root), steps, step_columns
        self.groups: list[tuple[str, int | None, Path]] = [(p.stem, None, p) for p in sorted((self.root / "data").glob("*.parquet"))]
        for p in sorted((self.root / "rejected").glob("*.parquet")):
            m = REJECT_FILE.match(p.name)
            if not m:
                raise RecipeError(f"{p}: unexpected file in rejected/; was this output written by gristmill?")
            self.groups.append((m["shard"], -1 if m["gi"] == "rd" else int(m["gi"]), p))
        self._tables: dict[Path, pa.Table] = {}
        # (file, global step index) -> the file's rows (lean) as they reach that step under the new
        # thresholds: the check before writing walks there once, and the re-fit starts from it
        self.reached: dict[tuple[Path, int], pa.Table] = {}

    def table(self, path: Path, gi: int | None) -> pa.Table:
        """The stored rows of one file: the original reason kept aside (:data:`ORIG_REASON`), and
        the (null) columns of steps these rows never reached dropped, so those steps compute them afresh."""
        table = self._tables.get(path)
        if table is None:
            table = self._tables[path] = pq.read_table(path)
        if "reject_reason" in table.column_names:
            table = table.rename_columns([c if c != "reject_reason" else ORIG_REASON for c in table.column_names])
            table = table.drop_columns(["reject_step"])
        if gi is not None and gi >= 0:
            never = {c for st in self.steps[gi + 1:] for c in self.step_columns.get(st.key, [])}
            never -= {c for st in self.steps[:gi + 1] for c in self.step_columns.get(st.key, [])} | {"id", "text", "source", ORIG_REASON}
            table = table.drop_columns([c for c in table.column_names if c in never])
        return table


def wrapped_steps(steps: list[Step], gi: int | None, path: Path, fitted: dict[int, Step] | None = None) -> list[Step]:
    """The steps as the rows of one group meet them again (see the module's docstring)."""
    if gi == -1:  # rejected by the reader (not a document): stays so
        return [ReaderReject()]
    reached = len(steps) if gi is None else gi  # the row passed every step before this index
    out: list[Step] = []
    for i, st in enumerate(steps):
        if fitted and i in fitted:  # re-fitted over the new set (engine/refit.py): it decides afresh
            out.append(fitted[i])
        elif isinstance(st, GlobalStep):
            out.append(Unreachable(st, path) if i > reached else Replay(st, i, rejected_here=(i == gi)))
        else:
            out.append(SelectOnly(st) if i <= reached else st)
    return out


def lean(table: pa.Table) -> pa.Table:
    """``table`` without the document bodies: replaying stored decisions reads only the columns, and
    filtering the bodies at every step is most of the cost of walking a large output."""
    return table.drop_columns([c for c in BULKY if c in table.column_names])


def with_bodies(table: pa.Table, full: pa.Table | None) -> pa.Table:
    """The bodies :func:`lean` dropped, taken back from ``full`` (the stored rows) by id."""
    missing = [c for c in BULKY if full is not None and c in full.column_names and c not in table.column_names]
    if missing:
        idx = pc.index_in(table.column("id"), value_set=full.column("id"))
        for c in missing:
            table = table.append_column(c, full.column(c).take(idx))
    return table


def select_in_memory(table: pa.Table, st: Step, full: pa.Table | None = None) -> pa.Table:
    """One step on an in-memory table, rows of other sources passing untouched; returns the survivors.
    ``full``: the stored rows, when ``table`` is lean; a step that computes gets the bodies back."""
    if not table.num_rows:
        return table
    if full is not None and not isinstance(st, (SelectOnly, Replay, ReaderReject, GlobalStep)):
        table = with_bodies(table, full)
    try:
        return _select_rows(table, st)
    except KeyError:  # a select that reads the text itself
        if full is None or "text" in table.column_names:
            raise
        return _select_rows(with_bodies(table, full), st)


def _select_rows(table: pa.Table, st: Step) -> pa.Table:
    passing = None
    if st.only_sources is not None:
        mine = pc.is_in(table.column("source"), pa.array(st.only_sources, pa.string()))
        passing, table = table.filter(pc.invert(mine)), table.filter(mine)
    ann = st.annotate(table)
    reasons = st.select(ann)
    if reasons is not None:
        ann = ann.filter(pc.is_null(reasons))
    return pa.concat_tables([ann, passing], promote_options="permissive") if passing is not None else ann
