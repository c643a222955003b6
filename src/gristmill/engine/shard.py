"""One shard of one stage: read (or take) its batches, run the stage's steps, write what it kept.

A step that raises is retried on halves of the batch, so one bad document is quarantined with the
error instead of failing the run; a step that raises on many documents stops the run
(:class:`~gristmill.engine.health.StepFailed`). Every row ends kept, rejected with its step and
reason, or quarantined, and the shard's counts (:class:`ShardResult`) go to the manifest, where
the ledger (engine/ledger.py) reconciles them.
"""
from __future__ import annotations

import os
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from gristmill.engine.atomic import tmp_path
from gristmill.engine.health import StepFailed
from gristmill.engine.ledger import source_entry
from gristmill.engine.manifest import RunDir
from gristmill.engine.pool import report
from gristmill.engine.writer import ShardWriter
from gristmill.io.items import default_source
from gristmill.io.readers import Batch, Counted, Quarantined, Shard, read_shard
from gristmill.recipe import ErrorPolicy, InputSpec
from gristmill.step import GlobalStep, Step


@dataclass
class ShardTask:
    stage: int
    shard_id: str
    steps: list[Step]
    step_offset: int
    run_root: str
    final: bool
    keep_rejected: bool
    batch_rows: int
    shard: Shard | None = None  # stage 0: read the input
    spec: InputSpec | None = None
    in_path: str | None = None  # later stages: the previous stage's kept parquet
    errors: ErrorPolicy = field(default_factory=ErrorPolicy)
    record_order: bool = False  # stage 0 of a recipe with a global step: ids in read order, for `select` (engine/refit.py)


@dataclass
class ShardResult:
    read: int = 0
    kept: int = 0
    text_bytes: int = 0
    rejected: Counter = field(default_factory=Counter)
    quarantined: int = 0
    read_quarantined: int = 0  # records that never became rows (the rest failed in a step)
    quarantine_errors: Counter = field(default_factory=Counter)
    # global step index -> [in, out, seconds, in, out within the step's sources:, step errors]; in and out count
    # every row that reached the step (rows of other sources pass it untouched), so each step's in is the last one's out
    steps: dict = field(default_factory=dict)
    counters: dict = field(default_factory=dict)  # step name -> {key: n}
    step_errors: Counter = field(default_factory=Counter)  # step name -> documents it raised on
    columns: dict = field(default_factory=dict)  # step name -> the columns it added (`gristmill show` explains rejects with them)
    sources: dict = field(default_factory=dict)  # source -> per-source ledger (see source_entry)

    def to_json(self) -> dict:
        return {"read": self.read, "kept": self.kept, "text_bytes": self.text_bytes, "rejected": dict(self.rejected),
                "quarantined": self.quarantined, "read_quarantined": self.read_quarantined, "quarantine_errors": dict(self.quarantine_errors),
                "steps": {str(k): v for k, v in self.steps.items()}, "counters": self.counters, "step_errors": dict(self.step_errors),
                "columns": self.columns, "sources": self.sources}



class ShardRunner:
    """Runs steps over the batches of one shard and writes its kept rows, its rejected rows (one
    file per step) and its quarantine, then returns its manifest record (:class:`ShardResult`).

    The one shard runner of gristmill: ``gristmill run`` gives it a :class:`ShardTask` and it reads
    the task's input; ``gristmill select`` gives it the stored rows as ``batches`` instead, with
    ``private`` working columns that are never written (engine/reselect.py)."""

    def __init__(self, task: ShardTask, batches: Iterable[Batch] | None = None, private: tuple[str, ...] = ()):
        self.t = task
        self.batches = batches
        self.private = private
        root = Path(task.run_root)
        self.root = root
        sid = f"s{task.stage}-{task.shard_id}"
        kept_path = root / "data" / f"{task.shard_id}.parquet" if task.final else root / "_work" / f"s{task.stage}" / f"{task.shard_id}.parquet"
        self.kept = ShardWriter(kept_path, private)
        self.rejected: dict[str, ShardWriter] = {}
        self.sid = sid
        self.res = ShardResult()
        self.qpath = root / "quarantine" / f"{sid}.jsonl"
        self.qtmp = tmp_path(self.qpath)
        self.qfh = None
        self.first_error: dict[str, tuple[str, str]] = {}  # step name -> (document id, traceback)
        self.order = ShardWriter(order_path(root, task.shard_id)) if task.record_order and task.stage == 0 else None
        for step in task.steps:  # a global step's fitted state may be split by fit input (dedup/_clusters.py)
            if isinstance(step, GlobalStep):
                step.shard_input = task.in_path if batches is None and task.stage > 0 else None

    def _src(self, source: str) -> dict:
        return self.res.sources.setdefault(source, source_entry())

    # -- outputs
    def quarantine(self, q: Quarantined, unread: bool = False, source: str | None = None) -> None:
        if self.qfh is None:
            self.qfh = open(self.qtmp, "w", encoding="utf-8")
        self.qfh.write(q.to_json() + "\n")
        self.res.quarantined += 1
        self.res.read_quarantined += unread
        self.res.quarantine_errors[q.kind] += 1
        if source is None:  # a record that never became a row belongs to the source its file names
            source = default_source(self.t.spec, Path(q.path)) if self.t.spec is not None else "(unknown)"
        e = self._src(source)
        e["quarantined"] += 1
        e["read_quarantined"] += unread

    def reject(self, table: pa.Table, label: str, reasons: pa.Array) -> None:
        """``label`` is ``key@position``: the step's ledger key (:attr:`Step.key`) names the reasons."""
        for reason, n in zip(*_value_counts(reasons)):
            self.res.rejected[f"{label.split('@')[0]}/{reason}"] += n
        by = pa.table({"s": table.column("source"), "r": reasons}).group_by(["s", "r"]).aggregate([("r", "count")])
        for src, reason, n in zip(*(by.column(c).to_pylist() for c in ("s", "r", "r_count"))):
            e = self._src(src)
            key = f"{label.split('@')[0]}/{reason}"
            e["rejected"][key] = e["rejected"].get(key, 0) + n
        if self.t.keep_rejected:
            w = self.rejected.get(label)
            if w is None:
                w = self.rejected[label] = ShardWriter(self.root / "rejected" / f"{self.sid}-{label.replace('@', '-')}.parquet",
                                                       self.private)
            step_name = label.split("@")[0]
            table = table.append_column("reject_step", pa.array([step_name] * table.num_rows, pa.string()))
            w.write(table.append_column("reject_reason", pc.binary_join_element_wise(pa.scalar(step_name + "/"), reasons.cast(pa.string()), "")))

    # -- the work
    def source(self):
        t = self.t
        if self.batches is not None:
            yield from self.batches
        elif t.stage == 0:
            yield from read_shard(t.shard, t.spec, t.batch_rows)
        elif t.in_path and os.path.exists(t.in_path):
            pf = pq.ParquetFile(t.in_path)
            for rb in pf.iter_batches(batch_size=t.batch_rows):
                yield Batch(pa.Table.from_batches([rb]))

    def run(self) -> dict:
        for item in self.source():
            if isinstance(item, Quarantined):
                self.quarantine(item, unread=True)
                continue
            if isinstance(item, Counted):
                c = self.res.counters.setdefault("read", {})
                c[item.key] = c.get(item.key, 0) + item.n
                continue
            table = item.table
            self.res.read += table.num_rows
            if self.order is not None:
                self.order.write(table.select(["id"]))
            nbytes = int(pc.sum(pc.binary_length(table.column("text"))).as_py() or 0)
            self.res.text_bytes += nbytes
            for src, n, b in _by_source(table, "text", "html"):
                e = self._src(src)
                e["read"] += n
                e["bytes_in"] += b
            if item.reject_reason:
                self.reject(table, "read@rd", pa.array([item.reject_reason] * table.num_rows, pa.string()))
            else:
                self.apply(table, 0)
            # WARC records carry their payload in ``html`` until extraction: count it for the rate
            report(table.num_rows, nbytes + (int(pc.sum(pc.binary_length(table.column("html"))).as_py() or 0)
                                             if "html" in table.column_names else 0))
        self.kept.close()
        if self.order is not None:
            self.order.close()
        for w in self.rejected.values():
            w.close()
        if self.qfh is not None:
            self.qfh.close()
            os.replace(self.qtmp, self.qpath)
        pol = self.t.errors
        for name, k in self.res.step_errors.items():
            if k > max(pol.min_step_errors, pol.max_step_error_rate * self.res.read):
                self._step_failed(name, f"on {k} of {self.res.read} documents of shard {self.sid}, over "
                                  f"errors.max_step_error_rate={pol.max_step_error_rate} (at least errors.min_step_errors={pol.min_step_errors})")
        for step in self.t.steps:
            c = step.take_stats()
            if c:
                mine = self.res.counters.setdefault(step.key, {})
                for k, v in c.items():
                    mine[k] = mine.get(k, 0) + v
        return self.res.to_json()

    def apply(self, table: pa.Table, first: int) -> None:
        """Run steps ``first..`` on ``table``. A step that raises is retried on halves of the batch,
        so one bad document is quarantined with the error instead of failing the run."""
        steps = self.t.steps
        for i in range(first, len(steps)):
            if table.num_rows == 0:
                return
            step, gi = steps[i], self.t.step_offset + i
            t0 = time.perf_counter()
            n_all = table.num_rows
            passing = None
            if step.only_sources is not None:  # rows of other sources skip this step untouched
                mine = pc.is_in(table.column("source"), pa.array(step.only_sources, pa.string()))
                passing, table = table.filter(pc.invert(mine)), table.filter(mine)
            n_in = table.num_rows
            try:
                annotated = step.annotate(table)
                reasons = step.select(annotated)
                if annotated.num_rows != table.num_rows or (reasons is not None and len(reasons) != table.num_rows):
                    raise RuntimeError(f"step {step.key!r} changed the number of rows ({n_in} in); steps must not drop rows")
            except StepFailed:
                raise  # the run must stop, not quarantine
            except Exception as e:  # noqa: BLE001
                self._timing(gi, 0, 0, time.perf_counter() - t0)
                if passing is not None:
                    self._timing(gi, passing.num_rows, passing.num_rows, 0.0, 0, 0)  # they passed it untouched
                    self.apply(passing, i + 1)
                if n_in == 0:
                    return
                if n_in == 1:
                    doc_id = str(table.column("id")[0])
                    self.quarantine(Quarantined(doc_id, None, None,
                                                f"step {step.key} failed on this document: {type(e).__name__}: {e}",
                                                str(table.column("text")[0])[:1024], "step_error"), source=str(table.column("source")[0]))
                    self.res.step_errors[step.key] += 1
                    self._timing(gi, 1, 0, 0.0, 1, 0, errors=1)
                    if step.key not in self.first_error:
                        import traceback

                        self.first_error[step.key] = (doc_id, "".join(traceback.format_exception(e, chain=False)))
                    if self.res.step_errors[step.key] > self.t.errors.max_step_errors:
                        self._step_failed(step.key, f"on more than errors.max_step_errors={self.t.errors.max_step_errors} "
                                          f"documents of shard {self.sid}")
                    return
                half = n_in // 2
                self.apply(table.slice(0, half), i)
                self.apply(table.slice(half), i)
                return
            if step.key not in self.res.columns:
                self.res.columns[step.key] = [c for c in annotated.column_names if c not in table.column_names]
            table = annotated
            if reasons is not None and reasons.null_count < len(reasons):
                if isinstance(reasons, pa.ChunkedArray):
                    reasons = reasons.combine_chunks()
                bad = pc.is_valid(reasons)
                self.reject(table.filter(bad), f"{step.key}@{gi:02d}", reasons.filter(bad))
                table = table.filter(pc.invert(bad))
            n_scope_out = table.num_rows
            if passing is not None:
                # rows of other sources get this step's columns as nulls, so every batch has one schema
                table = pa.concat_tables([table, _pad_like(passing, annotated.schema)])
            self._timing(gi, n_all, table.num_rows, time.perf_counter() - t0, n_in, n_scope_out)
        self.kept.write(table)
        self.res.kept += table.num_rows
        for src, n, b in _by_source(table, "text"):
            e = self._src(src)
            e["kept"] += n
            e["bytes_kept"] += b

    def _step_failed(self, name: str, how: str) -> None:
        doc_id, tb = self.first_error[name]
        src = self.t.shard.path if self.t.shard is not None else self.t.in_path
        raise StepFailed(f"step {name!r} raised {how} (input {src}). A step failing this often is a bug or a "
                         f"misconfiguration, not bad input, so the run stops (the limits are the recipe's errors: section). "
                         f"First error, on document {doc_id!r}:\n{tb.rstrip()}")

    def _timing(self, gi: int, n_in: int, n_out: int, secs: float, scope_in: int | None = None,
                scope_out: int | None = None, errors: int = 0) -> None:
        s = self.res.steps.setdefault(gi, [0, 0, 0.0, 0, 0, 0])
        for j, v in enumerate((n_in, n_out, secs, n_in if scope_in is None else scope_in,
                               n_out if scope_out is None else scope_out, errors)):
            s[j] += v



def _by_source(table: pa.Table, *byte_columns: str) -> list[tuple[str, int, int]]:
    """(source, rows, UTF-8 bytes of ``byte_columns``) per source of ``table``, by one group-by."""
    if table.num_rows == 0:
        return []
    nbytes = pa.array(np.zeros(table.num_rows, dtype=np.int64))
    for c in byte_columns:
        if c in table.column_names:
            nbytes = pc.add(nbytes, pc.fill_null(pc.binary_length(table.column(c)), 0).cast(pa.int64()))
    by = pa.table({"s": table.column("source"), "b": nbytes}).group_by("s").aggregate([("b", "count"), ("b", "sum")])
    return list(zip(by.column("s").to_pylist(), by.column("b_count").to_pylist(), by.column("b_sum").to_pylist()))



def _pad_like(table: pa.Table, schema: pa.Schema) -> pa.Table:
    cols = [table.column(f.name).cast(f.type) if f.name in table.column_names else pa.nulls(table.num_rows, f.type)
            for f in schema]
    return pa.Table.from_arrays(cols, schema=schema)


def _value_counts(arr: pa.Array):
    vc = pc.value_counts(arr)
    return vc.field("values").to_pylist(), vc.field("counts").to_pylist()


def order_path(root, shard_id: str) -> Path:
    """Where stage 0 records a shard's ids in read order (``ShardTask.record_order``)."""
    return Path(root) / "_work" / "order" / f"{shard_id}.parquet"


def run_shard(task: ShardTask) -> tuple[str, dict]:
    """Process one shard of one stage; writes its files and its manifest entry."""
    for s in task.steps:
        if isinstance(s, GlobalStep) and getattr(s, "workdir", None):
            s.bind(s.workdir)
    rec = ShardRunner(task).run()
    RunDir(Path(task.run_root)).mark_done(f"s{task.stage}-{task.shard_id}", rec)
    return task.shard_id, rec

