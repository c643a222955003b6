"""The local executor: orchestration of a run. Shards go to worker processes, global stages in between.

A recipe's steps are cut into *stages* at each :class:`~gristmill.step.GlobalStep`. Stage 0 reads
the input shards; each later stage first fits its global step on everything the previous stage
kept, then runs per shard again. Every shard of every stage is one unit in the manifest, so an
interrupted run resumes where it stopped and ends with the same output as an uninterrupted one.
The parts: engine/shard.py runs one shard (engine/writer.py writes its files), engine/ledger.py
reconciles the units into ``summary.json``.
"""
from __future__ import annotations

import json
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Callable

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import yaml

from gristmill.engine.atomic import atomic_write_text
from gristmill.engine.health import StepFailed, check_quarantine  # noqa: F401 - StepFailed is part of this API (the CLI catches it)
from gristmill.engine.ledger import Ledger, LedgerMismatch  # noqa: F401 - LedgerMismatch is part of this API (the CLI catches it)
from gristmill.engine.manifest import RecipeChanged, RunDir, exclusive_output
from gristmill.engine.pool import WorkerDied, run_tasks  # noqa: F401 - WorkerDied is part of this API (the CLI catches it)
from gristmill.engine.progress import Progress
from gristmill.engine.schema import unify_dir
from gristmill.engine.shard import ShardTask, run_shard
from gristmill.engine.writer import COMPRESSION, ShardWriter
from gristmill.io.readers import Shard, plan_shards
from gristmill.recipe import Recipe
from gristmill.step import FitContext, GlobalStep, Step


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
    the step's annotate/select as for any step (:meth:`gristmill.engine.shard.ShardRunner.apply`)."""
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
    w = ShardWriter(Path(target))
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
    """Reconcile every unit of the manifest into summary.json (engine/ledger.py); raise
    LedgerMismatch if anything is unaccounted."""
    ledger = Ledger()
    for s in shards:
        ledger.add_chain(s.shard_id, [rd.done(f"s{k}-{s.shard_id}") for k in range(len(stages))])
    return ledger.summary(rd.root, steps, recipe.output.keep_rejected, fit_seconds=fit_seconds, shards=len(shards))
