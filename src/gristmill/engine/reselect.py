"""Re-selection: apply new thresholds to a finished output from its stored columns.

Tag-then-select pays off here: every annotation a step made is stored beside the document, so a
new threshold only re-runs ``select``. Rows that a loosened threshold now lets through go on to
the later steps, which annotate them for the first time (their columns were never computed). The
result is a new run directory with its own ledger; the source output is not touched.

A global step (dedup) keeps the decisions it made in the source run while the rows reaching it
are the same. When new thresholds would let a document reach a global step that never saw it, or
stop one that it decided others against, the step is re-fitted over the new set from the caches
the run kept (``engine/refit.py``), so the output is the one ``gristmill run`` of the changed
recipe writes; where no cache exists (an older output, a step without one) select refuses before
writing anything and says to use ``gristmill run``. A ``--set`` that select cannot apply
(a parameter of a global step, or one that changes what a step computes rather than which
documents it keeps) is an error too, not a silent no-op.
"""
from __future__ import annotations

import difflib
import inspect
import json
import re
import shutil
from pathlib import Path

import yaml

from gristmill.engine.atomic import atomic_write_text
from gristmill.engine.ledger import Ledger
from gristmill.engine.manifest import RunDir, exclusive_output
from gristmill.engine.refit import missing_cache, refit_globals
from gristmill.engine.replay import ORIG_REASON, StoredOutput, lean, select_in_memory, wrapped_steps
from gristmill.engine.schema import unify_dir
from gristmill.engine.shard import ShardRunner, ShardTask
from gristmill.io.readers import Batch
from gristmill.recipe import RecipeError, recipe_from_dict
from gristmill.step import GlobalStep, Step, UnknownStep, get_step, position_keys

def parse_overrides(items: list[str]) -> list[tuple[str, str, object]]:
    out = []
    for it in items:
        if "=" not in it or "." not in it.split("=", 1)[0]:
            raise RecipeError(f"--set {it!r}: expected STEP.PARAM=VALUE, e.g. gopher_quality.min_doc_words=80")
        key, val = it.split("=", 1)
        step, param = key.split(".", 1)
        out.append((step, param, yaml.safe_load(val)))
    return out


def not_reselectable(cls: type[Step], param: str) -> str | None:
    """Why select cannot apply a new value of ``cls.param``, or None when it can.

    Select re-runs only ``select`` on the stored columns, so a parameter qualifies when the step's
    ``select`` reads it and nothing else of the step does (``annotate``, ``__init__``, helpers):
    read from the source, so every step, including future ones, is judged by the same rule."""
    if issubclass(cls, GlobalStep):
        return (f"{cls.name} is a global step: its decisions were fitted over the whole source run and select "
                f"replays them, so a new {param} needs a full `gristmill run`")
    if cls.select is Step.select:
        return f"{cls.name} never rejects a document; {param} changes what it computes, which needs `gristmill run`"
    sel = inspect.getsource(cls.select)
    rest = "".join(inspect.getsource(k) for k in cls.__mro__ if k not in (Step, GlobalStep, object) and issubclass(k, Step))
    rest = rest.replace(sel, "")
    if re.search(r"\bself\.select\(", rest):
        # e.g. refinedweb_lines rewrites text only for documents its own select keeps: a new threshold
        # would admit documents whose stored text was never rewritten
        return (f"{cls.name}.{param}: the step's annotate applies its own selection, so a new {param} changes the "
                "stored text and columns, not only which documents are kept; run the changed recipe with `gristmill run`")
    pat = re.compile(rf"\.{re.escape(param)}\b")
    if pat.search(sel) and re.search(r"self\.select\(", rest):
        return (f"{cls.name}.{param}: the step's annotate applies its own selection (it rewrites the text of the "
                "documents it keeps), so a new value changes the stored text too; run the changed recipe with `gristmill run`")
    if not pat.search(sel) or pat.search(rest):
        return (f"{cls.name}.{param} changes what the step computes, not only which documents it keeps; select "
                "re-applies thresholds to the stored columns, so run the changed recipe with `gristmill run`")
    return None


def _apply_overrides(steps_cfg: list[dict], overrides: list[str], lock_file: Path) -> None:
    names = [next(iter(s)) for s in steps_cfg]
    keys = position_keys(names)
    for step, param, val in parse_overrides(overrides):
        hits = [i for i, n in enumerate(names) if n == step or keys[i] == step or step == str(i)]
        if not hits:
            close = difflib.get_close_matches(step, names, n=1, cutoff=0.6)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise RecipeError(f"--set {step}.{param}: no step {step!r} in {lock_file}{hint}; its steps are {', '.join(names)}")
        for i in hits:
            try:
                cls = get_step(names[i])
            except UnknownStep as e:
                raise RecipeError(f"{lock_file}: {e}") from None
            fields = list(cls.Config.model_fields)
            if param not in fields:
                close = difflib.get_close_matches(param, fields, n=1, cutoff=0.6)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise RecipeError(f"--set {step}.{param}: {names[i]} has no parameter {param!r}{hint}; "
                                  f"its parameters are {', '.join(fields)}")
            why = not_reselectable(cls, param)
            if why:
                raise RecipeError(f"--set {step}.{param}: {why}")
            steps_cfg[i][names[i]][param] = val


def reselect(src: Path, dest: Path, overrides: list[str], fresh: bool = False, workers: int | None = None) -> dict:
    src, dest = Path(src), Path(dest)
    lock_file = src / "recipe.lock.yaml"
    if not (src / "summary.json").exists() or not lock_file.exists():
        raise RecipeError(f"{src}: not a finished gristmill output (no summary.json / recipe.lock.yaml)")
    lock = yaml.safe_load(lock_file.read_text())
    if not lock["output"].get("keep_rejected", True):
        raise RecipeError(f"{src}: was run with output.keep_rejected: false, so rejected rows cannot be re-selected; re-run it with keep_rejected: true")
    steps_cfg = lock["steps"]
    _apply_overrides(steps_cfg, overrides, lock_file)
    recipe = recipe_from_dict({"inputs": lock["inputs"], "steps": steps_cfg, "output": {**lock["output"], "path": str(dest)},
                               **({"errors": lock["errors"]} if "errors" in lock else {})},
                              where=str(lock_file), check_inputs=False)
    steps = recipe.build_steps()
    step_columns = json.loads((src / "summary.json").read_text()).get("step_columns", {})
    if dest.resolve() == src.resolve() or src.resolve() in dest.resolve().parents or dest.resolve() in src.resolve().parents:
        raise RecipeError(f"{dest}: the new output must be outside the source output {src}")

    return _reselect(src, dest, recipe, StoredOutput(src, steps, step_columns), fresh, workers)


def _reselect(src, dest, recipe, stored: StoredOutput, fresh, workers) -> dict:
    steps = stored.steps
    changed = _check_global_inputs_unchanged(stored)  # before anything is written
    if changed is not None:
        why = missing_cache(src, steps, changed[0])
        if why:
            raise RecipeError(f"{changed[1]} {why}, so select cannot re-fit it: run the changed recipe with "
                              "`gristmill run` (nothing was written)")
    existed = dest.exists() and any(dest.iterdir())
    with exclusive_output(dest):  # one writer per output, as for `gristmill run`
        try:
            return _write_reselected(src, dest, recipe, stored, fresh, refit=changed[0] if changed else None, workers=workers)
        except RecipeError as e:  # a re-fit found its cache unusable: leave no half-written output behind
            if changed is None or existed:
                raise
            RunDir(dest).remove_own_files(protect=[src])
            if not any(dest.iterdir()):
                dest.rmdir()
            raise RecipeError(f"{e} (nothing was written)") from None


def _write_reselected(src: Path, dest: Path, recipe, stored: StoredOutput, fresh: bool, refit: int | None = None,
                      workers: int | None = None) -> dict:
    steps = stored.steps
    rd = RunDir(dest)
    if dest.exists() and any(dest.iterdir()):
        if not fresh:
            raise RecipeError(f"{dest}: exists and is not empty; choose a new output directory, or pass --fresh to "
                              "replace it if it is a previous gristmill output")
        try:
            rd.remove_own_files(protect=[src])
        except RuntimeError as e:
            raise RecipeError(str(e)) from None
    rd.prepare(recipe.fingerprint(), fresh=False, versions=recipe.versions())
    lock_out = {**recipe.resolved(), "reselected_from": str(src)}
    lock_out["output"]["path"] = str(dest)
    atomic_write_text(dest / "recipe.lock.yaml", yaml.safe_dump(lock_out, sort_keys=False))

    fitted, refit_info = refit_globals(dest, stored, workers, first=refit) if refit is not None else ({}, {})
    for n, (shard, gi, path) in enumerate(stored.groups):
        table = stored.table(path, gi)
        task = ShardTask(stage=0, shard_id=f"{shard}-g{n:03d}", steps=wrapped_steps(steps, gi, path, fitted), step_offset=0,
                         run_root=str(dest), final=True, keep_rejected=True, batch_rows=recipe.output.batch_rows, errors=recipe.errors)
        res = ShardRunner(task, batches=[Batch(table)], private=(ORIG_REASON,)).run()
        rd.mark_done(f"s0-{task.shard_id}", res)
    unify_dir(dest / "data")
    unify_dir(dest / "rejected")
    for q in sorted((src / "quarantine").glob("*.jsonl")):
        shutil.copy(q, dest / "quarantine" / q.name)
    if (src / "_work" / "order").is_dir():  # so that this output can be re-selected in turn
        shutil.copytree(src / "_work" / "order", dest / "_work" / "order", dirs_exist_ok=True)
    return _summarize(src, dest, steps, fitted, refit_info)


def _check_global_inputs_unchanged(stored: StoredOutput) -> tuple[int, str] | None:
    """The first global step whose input the new thresholds change (its index and what changed), or None."""
    steps = stored.steps
    gidx = [i for i, s in enumerate(steps) if isinstance(s, GlobalStep)]
    if not gidx:
        return None
    newly: dict[int, list] = {g: [0, None] for g in gidx}
    lost: dict[int, list] = {g: [0, None] for g in gidx}
    for _, gi, path in stored.groups:
        if gi == -1:
            continue
        reached = len(steps) if gi is None else gi
        full = stored.table(path, gi)
        live = lean(full)
        ids0 = live.column("id").to_pylist()
        for i, st in enumerate(wrapped_steps(steps, gi, path)[: gidx[-1] + 1]):
            if i in newly:
                stored.reached[(path, i)] = live  # the re-fit of step i starts from here (engine/refit.py)
                if reached < i:  # these rows never reached this global step in the source run
                    if live.num_rows:
                        newly[i][0] += live.num_rows
                        newly[i][1] = newly[i][1] or (live.column("id")[0].as_py(), live.column("_orig_reason")[0].as_py())
                    break
                if live.num_rows < len(ids0):  # all of them did; some no longer would
                    lost[i][0] += len(ids0) - live.num_rows
                    now = set(live.column("id").to_pylist())
                    lost[i][1] = lost[i][1] or next(x for x in ids0 if x not in now)
            live = select_in_memory(live, st, full)
    for g in gidx:
        name = steps[g].name
        if newly[g][0]:
            doc, why = newly[g][1]
            return g, (f"{newly[g][0]:,} documents that the source run rejected before the global step {name!r} "
                       f"(e.g. {doc!r}, rejected as {why}) would now reach it, so {name} must be re-fitted; but")
        if lost[g][0]:
            return g, (f"{lost[g][0]:,} documents that reached the global step {name!r} in the source run (e.g. "
                       f"{lost[g][1]!r}) would now be rejected before it, so {name} must be re-fitted; but")
    return None


def _summarize(src: Path, dest: Path, steps: list[Step], fitted: dict[int, Step] | None = None, refit_info: dict | None = None) -> dict:
    """summary.json of the new output, reconciled by the same ledger as a run's (engine/ledger.py):
    every re-selected group is a one-stage chain, and the source run's quarantine is carried over."""
    rd = RunDir(dest)
    src_summary = json.loads((src / "summary.json").read_text())
    ledger = Ledger()
    ledger.step_columns = dict(src_summary.get("step_columns", {}))
    for f in sorted(rd.manifest.glob("s0-*.json")):
        ledger.add_chain(f.stem, [json.loads(f.read_text())])
    ledger.carry_quarantine(src_summary)
    reports = {}
    for gi, st in enumerate(steps):  # a re-fitted step reports its new clusters; a replayed one the source run's
        rep = (fitted[gi].report() if fitted and gi in fitted else src_summary.get("reports", {}).get(st.key))
        if isinstance(st, GlobalStep) and rep:
            reports[st.key] = rep
    summary = ledger.summary(dest, steps, keep_rejected=True, expect_input=src_summary["input"], reports=reports)
    if not src_summary.get("sources"):  # an output from before per-source counts
        summary.pop("sources")
    # what was read is the source run's; counters of steps that ran only on some rows would mislead
    summary.update(text_mb_read=src_summary.get("text_mb_read"), counters={}, reselected_from=str(src))
    if refit_info:
        summary["refitted"] = refit_info
    atomic_write_text(dest / "summary.json", json.dumps(summary, indent=2))
    return summary
