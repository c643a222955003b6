"""The local executor: shards in parallel worker processes, global stages in between, a ledger.

A recipe's steps are cut into *stages* at each :class:`~gristmill.step.GlobalStep`. Stage 0 reads
the input shards; each later stage first fits its global step on everything the previous stage
kept, then runs per shard again. Every shard of every stage is one unit in the manifest, so an
interrupted run resumes where it stopped and ends with the same output as an uninterrupted one.
"""
from __future__ import annotations

import json
import os
import shutil
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import yaml

from gristmill.engine.atomic import atomic_write_text, tmp_path
from gristmill.engine.manifest import RecipeChanged, RunDir, exclusive_output
from gristmill.engine.pool import WorkerDied, report, run_tasks  # noqa: F401 - WorkerDied is part of this API (the CLI catches it)
from gristmill.engine.progress import Progress
from gristmill.io.items import default_source
from gristmill.io.readers import Batch, Counted, Quarantined, Shard, plan_shards, read_shard
from gristmill.recipe import ErrorPolicy, InputSpec, Recipe
from gristmill.engine.health import StepFailed, check_quarantine  # noqa: F401 - StepFailed is part of this API (the CLI catches it)
from gristmill.engine.schema import unify_dir
from gristmill.step import FitContext, GlobalStep, Step

COMPRESSION = "zstd"


class LedgerMismatch(RuntimeError):
    """input != kept + rejected + quarantined: a bug, never an acceptable outcome."""


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


# ---------------------------------------------------------------------------------------------
# Worker side


class _Writer:
    """A parquet file written under a temporary name, created on first rows, renamed on close."""

    def __init__(self, path: Path):
        self.path = path
        self.tmp = tmp_path(path)
        self.writer: pq.ParquetWriter | None = None
        self.rows = 0

    def write(self, table: pa.Table) -> None:
        if table.num_rows == 0:
            return
        table = _no_null_types(table)
        if self.writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.writer = pq.ParquetWriter(self.tmp, table.schema, compression=COMPRESSION)
        elif table.schema != self.writer.schema:
            table = _conform(table, self.writer.schema, self.path)
        self.writer.write_table(table)
        self.rows += table.num_rows

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            os.replace(self.tmp, self.path)


def _no_null_types(table: pa.Table) -> pa.Table:
    for i, f in enumerate(table.schema):
        if pa.types.is_null(f.type):
            table = table.set_column(i, f.name, table.column(i).cast(pa.string()))
    return table


def _conform(table: pa.Table, schema: pa.Schema, path: Path) -> pa.Table:
    if set(table.column_names) != set(schema.names):
        raise RuntimeError(f"{path}: batches of one shard have different columns ({sorted(set(table.column_names) ^ set(schema.names))}); "
                           "a step must add the same columns to every batch")
    return table.select(schema.names).cast(schema)


class _ShardRunner:
    def __init__(self, task: ShardTask):
        self.t = task
        root = Path(task.run_root)
        self.root = root
        sid = f"s{task.stage}-{task.shard_id}"
        kept_path = root / "data" / f"{task.shard_id}.parquet" if task.final else root / "_work" / f"s{task.stage}" / f"{task.shard_id}.parquet"
        self.kept = _Writer(kept_path)
        self.rejected: dict[str, _Writer] = {}
        self.sid = sid
        self.res = ShardResult()
        self.qpath = root / "quarantine" / f"{sid}.jsonl"
        self.qtmp = tmp_path(self.qpath)
        self.qfh = None
        self.first_error: dict[str, tuple[str, str]] = {}  # step name -> (document id, traceback)
        self.order = _Writer(order_path(root, task.shard_id)) if task.record_order and task.stage == 0 else None

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
                w = self.rejected[label] = _Writer(self.root / "rejected" / f"{self.sid}-{label.replace('@', '-')}.parquet")
            step_name = label.split("@")[0]
            table = table.append_column("reject_step", pa.array([step_name] * table.num_rows, pa.string()))
            w.write(table.append_column("reject_reason", pc.binary_join_element_wise(pa.scalar(step_name + "/"), reasons.cast(pa.string()), "")))

    # -- the work
    def source(self):
        t = self.t
        if t.stage == 0:
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


def source_entry() -> dict:
    return {"read": 0, "read_quarantined": 0, "kept": 0, "quarantined": 0, "bytes_in": 0, "bytes_kept": 0, "rejected": {}}


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
    rec = _ShardRunner(task).run()
    RunDir(Path(task.run_root)).mark_done(f"s{task.stage}-{task.shard_id}", rec)
    return task.shard_id, rec


# ---------------------------------------------------------------------------------------------
# Parent side


def split_stages(steps: list[Step]) -> list[tuple[int, list[Step]]]:
    """Cut the step list before each global step: [(index of first step, steps), ...]."""
    stages: list[tuple[int, list[Step]]] = [(0, [])]
    for i, s in enumerate(steps):
        if isinstance(s, GlobalStep):
            stages.append((i, [s]))
        else:
            stages[-1][1].append(s)
    return stages


def _input_stats(shards) -> dict[str, list[int]]:
    """Size and mtime of every planned input file: what a resume checks before reusing the plan."""
    paths = {f for sh in shards for f in ([p for p, _ in sh.files] if sh.files else [sh.path])}
    out = {}
    for p in sorted(paths):
        try:
            st = os.stat(p)
            out[p] = [st.st_size, st.st_mtime_ns]
        except OSError:
            out[p] = [-1, -1]
    return out


def _check_inputs_unchanged(rd: RunDir, out: Path) -> None:
    """Shards are byte ranges and row groups of the files as planned, and finished shards are not
    read again: resuming over an input that changed since would mix old and new data, and a
    finished run would report the old counts as if the new records did not exist."""
    plan_file, stats_file = rd.manifest / "plan.json", rd.manifest / "inputs.json"
    if not plan_file.exists() or not stats_file.exists():
        return  # killed before planning finished (it is redone), or an output from before this check
    old = json.loads(stats_file.read_text())
    now = _input_stats([Shard(**d) for d in json.loads(plan_file.read_text())])
    changed = [p for p in old if now.get(p) != old[p]]
    if changed:
        p = changed[0]
        how = "is gone" if now.get(p, [-1])[0] < 0 else f"changed (size {old[p][0]:,} -> {now[p][0]:,} bytes, or its modification time)"
        raise RecipeChanged(f"{out}: input {p} {how} since this output was started"
                            + (f", and {len(changed) - 1} more" if len(changed) > 1 else "")
                            + "; resuming would mix old and new data. Use --fresh to start over, or a new output path")


def run(recipe: Recipe, out: str | os.PathLike | None = None, workers: int | None = None, fresh: bool = False,
        progress: bool | None = None, log: Callable[[str], None] = lambda m: print(m, file=sys.stderr)) -> dict:
    """Run ``recipe``; returns the summary (also written to ``OUT/summary.json``). One run at a time
    may write an output directory (:func:`exclusive_output`)."""
    out = Path(out or recipe.output.path)
    with exclusive_output(out):
        return _run(recipe, out, workers, fresh, progress, log)


def _run(recipe: Recipe, out: Path, workers: int | None, fresh: bool, progress: bool | None,
         log: Callable[[str], None]) -> dict:
    from gristmill import __version__

    workers = max(1, workers or os.cpu_count() or 1)
    rd = RunDir(out)
    resumed = rd.prepare(recipe.fingerprint(), fresh, protect=recipe.protected_paths(), versions=recipe.versions())
    if resumed:
        _check_inputs_unchanged(rd, out)
    if resumed and (out / "summary.json").exists():
        log(f"{out}: already complete; nothing to do (use --fresh to run again)")
        summary = json.loads((out / "summary.json").read_text())
        check_quarantine(summary, out, recipe.errors)
        return summary
    atomic_write_text(out / "recipe.lock.yaml", yaml.safe_dump(recipe.resolved(), sort_keys=False))

    plan_file = rd.manifest / "plan.json"
    if plan_file.exists():  # resume on the same shards even if the globs would now match more files
        shards = [Shard(**d) for d in json.loads(plan_file.read_text())]
    else:
        shards = plan_shards(recipe.inputs, recipe.output.shard_mb << 20)
        atomic_write_text(rd.manifest / "inputs.json", json.dumps(_input_stats(shards)))  # before the plan: see below
        atomic_write_text(plan_file, json.dumps([s.__dict__ for s in shards]))
    if resumed:
        log(f"{out}: resuming ({sum(1 for _ in rd.manifest.glob('s*-*.json'))} shard units already done"
            + (f"; removed {len(rd.stale_temps)} temporary files of the interrupted run)" if rd.stale_temps else ")"))

    steps = recipe.build_steps()
    stages = split_stages(steps)
    prog = Progress(progress, log)
    t_start = time.time()
    fit_seconds: dict[str, float] = {}
    for k, (offset, ssteps) in enumerate(stages):
        final = k == len(stages) - 1
        prev_dir = rd.work / f"s{k - 1}"
        if k > 0:
            g = ssteps[0]
            assert isinstance(g, GlobalStep)
            workdir = rd.work / f"fit-{offset:02d}-{g.name}"
            workdir.mkdir(parents=True, exist_ok=True)
            unit = f"fit-{offset:02d}"
            if rd.done(unit) is None:
                t0 = time.perf_counter()
                inputs = [prev_dir / f"{s.shard_id}.parquet" for s in shards if (prev_dir / f"{s.shard_id}.parquet").exists()]
                if g.only_sources is not None:
                    inputs = _scoped_inputs(rd, f"scope-{offset:02d}", inputs, g.only_sources, recipe.output.batch_rows, workers)
                label = f"stage {k + 1}/{len(stages)}: {g.key} fit"
                log(f"{label} on {len(inputs)} shards")
                g.fit(FitContext(shards=inputs, workdir=workdir, workers=workers, log=log, progress=prog, stage=label))
                rd.mark_done(unit, {"seconds": time.perf_counter() - t0})
            fit_seconds[g.key] = rd.done(unit)["seconds"]
            g.bind(workdir)
            g.take_stats()  # fit-time figures belong to the report; counters are summed per shard and would multiply
        tasks = []
        for s in shards:
            if rd.done(f"s{k}-{s.shard_id}") is not None:
                continue
            tasks.append(ShardTask(errors=recipe.errors, stage=k, shard_id=s.shard_id, steps=ssteps, step_offset=offset, run_root=str(out),
                                   final=final, keep_rejected=recipe.output.keep_rejected, batch_rows=recipe.output.batch_rows,
                                   shard=s if k == 0 else None, spec=recipe.inputs[s.input_index] if k == 0 else None,
                                   record_order=k == 0 and len(stages) > 1,
                                   in_path=str(prev_dir / f"{s.shard_id}.parquet") if k > 0 else None))
        names = ", ".join((["read"] if k == 0 else []) + [st.key for st in ssteps])
        if k > 0:  # rows are known from the previous stage's files: the bar moves per batch, within a shard
            total = sum(pq.ParquetFile(t.in_path).metadata.num_rows for t in tasks if os.path.exists(t.in_path))
            prog.start(f"stage {k + 1}/{len(stages)}: {names}", total, "docs", shards=len(shards))
        else:
            prog.start(f"stage {k + 1}/{len(stages)}: {names}", len(shards), "shards", shards=len(shards))
        prog.advance(0 if k > 0 else len(shards) - len(tasks), shards=len(shards) - len(tasks))
        try:
            _execute(tasks, workers, prog, by_docs=k > 0)
        finally:
            prog.stop()
        # before any global step looks ids up: a named id_field must be unique; a record's own 'id'
        # (used by default) must be where a global step will look documents up by it, and repeats
        # are reported otherwise (`show` finds the first of them)
        if k == 0 and any(spec.id_field is not False for spec in recipe.inputs):
            from gristmill.engine.ids import DuplicateIds, check_run_ids

            try:
                check_run_ids(recipe, rd, shards, final)
            except DuplicateIds as e:
                if len(stages) > 1 or any(spec.id_field for spec in recipe.inputs):
                    raise
                log(f"warning: {e}")

    unify_dir(rd.data, COMPRESSION)  # one table for every loader, whatever each input carried
    unify_dir(rd.rejected, COMPRESSION)
    summary = build_summary(recipe, rd, shards, steps, stages, fit_seconds)
    summary["seconds"] = round(time.time() - t_start, 3)
    summary["gristmill_version"] = __version__
    if len(stages) > 1:
        from gristmill.engine.refit import cache_sizes

        summary["refit_cache"] = cache_sizes(out, steps)
    atomic_write_text(out / "summary.json", json.dumps(summary, indent=2))
    for k in range(len(stages) - 1):  # intermediate stage outputs are no longer needed; fitted state stays
        shutil.rmtree(rd.work / f"s{k}", ignore_errors=True)
        shutil.rmtree(rd.work / f"scope-{stages[k + 1][0]:02d}", ignore_errors=True)
    check_quarantine(summary, out, recipe.errors)
    return summary


def _scoped_inputs(rd: RunDir, unit: str, inputs: list[Path], sources: list[str], batch_rows: int, workers: int) -> list[Path]:
    """The rows of ``inputs`` whose source is in ``sources``, copied to ``_work/<unit>/``: what a
    global step with ``sources:`` fits on. A fit reads its shards itself (a threshold over every
    score, a hash over every document), so the scope is applied to the files it is given: a
    ``top_percent`` then counts only the step's own sources, and a dedup never matches a document
    against a source it was told to leave alone (issue 19, item 10). Rows of other sources skip
    the step's annotate/select as for any step (:meth:`_ShardRunner.apply`)."""
    done = rd.done(unit)
    if done is not None:
        return [Path(f) for f in done["files"]]
    dest = rd.work / unit
    dest.mkdir(parents=True, exist_ok=True)
    tasks = [(str(src), str(dest / src.name), sources, batch_rows) for src in inputs]
    kept = {path for path, rows in run_tasks(_scope_shard, tasks, workers) if rows}
    out = [dest / src.name for src in inputs if str(dest / src.name) in kept]  # in the stable shard order
    rd.mark_done(unit, {"files": [str(p) for p in out], "sources": sources})
    return out


def _scope_shard(args: tuple[str, str, list[str], int]) -> tuple[str, int]:
    src, target, sources, batch_rows = args
    want = pa.array(sources, pa.string())
    w = _Writer(Path(target))
    for rb in pq.ParquetFile(src).iter_batches(batch_size=batch_rows):
        t = pa.Table.from_batches([rb])
        w.write(t.filter(pc.fill_null(pc.is_in(t.column("source"), want), False)))
    w.close()
    return target, w.rows


def _execute(tasks: list[ShardTask], workers: int, prog: Progress, by_docs: bool) -> None:
    def moved(docs: int, nbytes: int) -> None:
        prog.advance(docs if by_docs else 0, docs=docs, nbytes=nbytes)

    for _ in run_tasks(run_shard, tasks, workers, progress=moved):
        prog.advance(0 if by_docs else 1, shards=1)


def build_summary(recipe: Recipe, rd: RunDir, shards: list[Shard], steps: list[Step], stages, fit_seconds) -> dict:
    """Reconcile every unit of the manifest into summary.json; raise LedgerMismatch if anything is unaccounted."""
    n_read = quarantined = kept = 0
    rejected: Counter = Counter()
    qerr: Counter = Counter()
    per_step: dict[int, list] = defaultdict(lambda: [0, 0, 0.0, 0, 0, 0])
    by_source: dict[str, dict] = defaultdict(source_entry)
    counters: dict[str, dict] = {}
    step_errors: Counter = Counter()
    step_columns: dict[str, list] = {}
    text_bytes = 0
    last = len(stages) - 1
    problems = []
    for s in shards:
        prev_kept = None
        for k in range(len(stages)):
            rec = rd.done(f"s{k}-{s.shard_id}")
            if rec is None:
                raise LedgerMismatch(f"shard {s.shard_id} stage {k} has no manifest entry; the run did not finish")
            if k == 0:
                n_read += rec["read"]
                text_bytes += rec["text_bytes"]
            elif rec["read"] + rec["read_quarantined"] != prev_kept:
                problems.append(f"shard {s.shard_id}: stage {k} read {rec['read']} rows, stage {k - 1} kept {prev_kept}")
            prev_kept = rec["kept"]
            quarantined += rec["quarantined"]
            qerr.update(rec["quarantine_errors"])
            step_errors.update(rec.get("step_errors", {}))
            for name, cols in rec.get("columns", {}).items():
                step_columns.setdefault(name, cols)
            rejected.update(rec["rejected"])
            merge_step_counts(per_step, rec["steps"])
            merge_sources(by_source, rec.get("sources", {}), first=k == 0, last=k == last)
            for name, c in rec["counters"].items():
                mine = counters.setdefault(name, {})
                for key, v in c.items():
                    mine[key] = mine.get(key, 0) + v
            if k == last:
                kept += rec["kept"]
    total_in = n_read + sum(rd.done(f"s0-{s.shard_id}")["read_quarantined"] for s in shards)
    if total_in != kept + sum(rejected.values()) + quarantined:
        problems.append(f"input {total_in} != kept {kept} + rejected {sum(rejected.values())} + quarantined {quarantined}")
    # the files must say the same as the manifest
    on_disk_kept = sum(pq.ParquetFile(p).metadata.num_rows for p in rd.data.glob("*.parquet"))
    if on_disk_kept != kept:
        problems.append(f"data/ holds {on_disk_kept} rows but the manifest says {kept} kept")
    if recipe.output.keep_rejected:
        on_disk_rej = sum(pq.ParquetFile(p).metadata.num_rows for p in rd.rejected.glob("*.parquet"))
        if on_disk_rej != sum(rejected.values()):
            problems.append(f"rejected/ holds {on_disk_rej} rows but the manifest says {sum(rejected.values())}")
    on_disk_q = sum(sum(1 for _ in open(p, encoding="utf-8")) for p in rd.quarantine.glob("*.jsonl"))
    if on_disk_q != quarantined:
        problems.append(f"quarantine/ holds {on_disk_q} records but the manifest says {quarantined}")
    sources = source_summary(by_source, problems)
    if problems:
        raise LedgerMismatch(f"{rd.root}: the ledger does not reconcile (a bug; please report it):\n  " + "\n  ".join(problems))
    step_rows = []
    for gi, st in enumerate(steps):
        row = step_row(st, per_step.get(gi, [0, 0, 0.0, 0, 0, 0]))
        if st.key in fit_seconds:
            row["fit_seconds"] = round(fit_seconds[st.key], 4)
        step_rows.append(row)
    reports = {}
    for st in steps:
        if isinstance(st, GlobalStep):
            rep = st.report() if hasattr(st, "report") else None
            if rep:
                reports[st.key] = rep
    summary = {
        "input": total_in,
        "kept": kept,
        "rejected": dict(sorted(rejected.items())),
        "quarantined": quarantined,
        "quarantine_errors": dict(qerr.most_common()),
        "step_errors": dict(step_errors.most_common()),
        "text_mb_read": round(text_bytes / 1e6, 3),
        "shards": len(shards),
        "steps": step_rows,
        "counters": counters,
        "step_columns": step_columns,
        "sources": sources,
    }
    if reports:
        summary["reports"] = reports
    return summary


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


SOURCE_TOP_REASONS = 5  # reasons listed per source in summary.json; the full table is `rejected`


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
