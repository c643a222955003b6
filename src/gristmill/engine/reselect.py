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
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import yaml

from gristmill.engine.local import ShardTask, _ShardRunner, _Writer
from gristmill.engine.manifest import RunDir, atomic_write_text, exclusive_output
from gristmill.engine.refit import missing_cache, refit_globals
from gristmill.engine.schema import unify_dir
from gristmill.io.readers import Batch
from gristmill.recipe import RecipeError, recipe_from_dict
from gristmill.step import GlobalStep, Step, UnknownStep, get_step, position_keys

_REJECT_FILE = re.compile(r"^s\d+-(?P<shard>\d+)-(?P<name>.+)-(?P<gi>\d+|rd)\.parquet$")


class _SelectOnly(Step):
    def __init__(self, inner: Step):
        super().__init__(inner.config)
        self.inner, self.name, self.only_sources, self.step_key = inner, inner.name, inner.only_sources, inner.key

    def select(self, table):
        return self.inner.select(table)


class _Replay(Step):
    """A global step's recorded decision: rows it rejected in the source run stay rejected."""

    def __init__(self, inner: Step, gi: int, rejected_here: bool):
        super().__init__(inner.config)
        self.name, self.gi, self.rejected_here, self.only_sources, self.step_key = inner.name, gi, rejected_here, inner.only_sources, inner.key

    def select(self, table):
        if not self.rejected_here:
            return None
        prefix = self.key + "/"
        return pc.utf8_slice_codeunits(table.column("_orig_reason"), len(prefix))


class _PublicWriter(_Writer):
    """Writes without the private ``_orig_reason`` column (so no file is written twice)."""

    def write(self, table: pa.Table) -> None:
        super().write(table.drop_columns(["_orig_reason"]) if "_orig_reason" in table.column_names else table)


class _TableRunner(_ShardRunner):
    def __init__(self, task: ShardTask, table: pa.Table):
        super().__init__(task)
        self.table = table
        self.kept = _PublicWriter(self.kept.path)
        # every label reject() can use, so that it finds these writers instead of making plain ones
        for label in [f"{st.key}@{task.step_offset + i:02d}" for i, st in enumerate(task.steps)] + ["read@rd"]:
            self.rejected[label] = _PublicWriter(self.root / "rejected" / f"{self.sid}-{label.replace('@', '-')}.parquet")

    def source(self):
        yield Batch(self.table)


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

    groups: list[tuple[str, int | None, Path]] = [(p.stem, None, p) for p in sorted((src / "data").glob("*.parquet"))]
    for p in sorted((src / "rejected").glob("*.parquet")):
        m = _REJECT_FILE.match(p.name)
        if not m:
            raise RecipeError(f"{p}: unexpected file in rejected/; was this output written by gristmill?")
        groups.append((m["shard"], -1 if m["gi"] == "rd" else int(m["gi"]), p))
    global _READ
    _READ = {}
    try:
        return _reselect(src, dest, recipe, steps, step_columns, groups, fresh, workers)
    finally:
        _READ = None


def _reselect(src, dest, recipe, steps, step_columns, groups, fresh, workers) -> dict:
    changed = _check_global_inputs_unchanged(groups, steps, step_columns)  # before anything is written
    if changed is not None:
        why = missing_cache(src, steps, changed[0])
        if why:
            raise RecipeError(f"{changed[1]} {why}, so select cannot re-fit it: run the changed recipe with "
                              "`gristmill run` (nothing was written)")
    existed = dest.exists() and any(dest.iterdir())
    with exclusive_output(dest):  # one writer per output, as for `gristmill run`
        try:
            return _write_reselected(src, dest, recipe, steps, step_columns, groups, fresh, refit=changed is not None,
                                     workers=workers)
        except RecipeError as e:  # a re-fit found its cache unusable: leave no half-written output behind
            if changed is None or existed:
                raise
            RunDir(dest).remove_own_files(protect=[src])
            if not any(dest.iterdir()):
                dest.rmdir()
            raise RecipeError(f"{e} (nothing was written)") from None


def _write_reselected(src: Path, dest: Path, recipe, steps: list[Step], step_columns: dict[str, list],
                      groups: list[tuple[str, int | None, Path]], fresh: bool, refit: bool = False,
                      workers: int | None = None) -> dict:
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

    fitted, refit_info = refit_globals(src, dest, steps, step_columns, groups, workers) if refit else ({}, {})
    totals = Counter()
    for n, (shard, gi, path) in enumerate(groups):
        table = _group_table(path, gi, steps, step_columns)
        task = ShardTask(stage=0, shard_id=f"{shard}-g{n:03d}", steps=_wrapped(steps, gi, path, fitted), step_offset=0, run_root=str(dest),
                         final=True, keep_rejected=True, batch_rows=recipe.output.batch_rows, errors=recipe.errors)
        res = _TableRunner(task, table).run()
        totals["input"] += res["read"]
        rd.mark_done(f"s0-{task.shard_id}", res)
    unify_dir(dest / "data")
    unify_dir(dest / "rejected")
    for q in sorted((src / "quarantine").glob("*.jsonl")):
        shutil.copy(q, dest / "quarantine" / q.name)
    if (src / "_work" / "order").is_dir():  # so that this output can be re-selected in turn
        shutil.copytree(src / "_work" / "order", dest / "_work" / "order", dirs_exist_ok=True)
    return _summarize(src, dest, steps, fitted, refit_info)


# The stored files, read once per select while it walks them up to three times (the check before
# writing, the re-fit, the writing pass); None outside a select.
_READ: dict[Path, pa.Table] | None = None


def _group_table(path: Path, gi: int | None, steps: list[Step], step_columns: dict[str, list]) -> pa.Table:
    """The stored rows of one file, ready to re-select: the original reason kept aside, and the
    (null) columns of steps these rows never reached dropped, so those steps compute them afresh."""
    table = _READ.get(path) if _READ is not None else None
    if table is None:
        table = pq.read_table(path)
        if _READ is not None:
            _READ[path] = table
    if "reject_reason" in table.column_names:
        table = table.rename_columns([c if c != "reject_reason" else "_orig_reason" for c in table.column_names])
        table = table.drop_columns(["reject_step"])
    if gi is not None and gi >= 0:
        never = {c for st in steps[gi + 1:] for c in step_columns.get(st.key, [])}
        never -= {c for st in steps[:gi + 1] for c in step_columns.get(st.key, [])} | {"id", "text", "source", "_orig_reason"}
        table = table.drop_columns([c for c in table.column_names if c in never])
    return table


def _wrapped(steps: list[Step], gi: int | None, path: Path, fitted: dict[int, Step] | None = None) -> list[Step]:
    if gi == -1:  # rejected by the reader (not a document): stays so
        return [_ReaderReject()]
    reached = len(steps) if gi is None else gi  # the row passed every step before this index
    out: list[Step] = []
    for i, st in enumerate(steps):
        if fitted and i in fitted:  # re-fitted over the new set (engine/refit.py): it decides afresh
            out.append(fitted[i])
        elif isinstance(st, GlobalStep):
            out.append(_Unreachable(st, path) if i > reached else _Replay(st, i, rejected_here=(i == gi)))
        else:
            out.append(_SelectOnly(st) if i <= reached else st)
    return out


def _check_global_inputs_unchanged(groups, steps: list[Step], step_columns: dict[str, list]) -> tuple[int, str] | None:
    """The first global step whose input the new thresholds change (its index and what changed), or None."""
    gidx = [i for i, s in enumerate(steps) if isinstance(s, GlobalStep)]
    if not gidx:
        return None
    newly: dict[int, list] = {g: [0, None] for g in gidx}
    lost: dict[int, list] = {g: [0, None] for g in gidx}
    for _, gi, path in groups:
        if gi == -1:
            continue
        reached = len(steps) if gi is None else gi
        full = _group_table(path, gi, steps, step_columns)
        live = _lean(full)
        ids0 = live.column("id").to_pylist()
        for i, st in enumerate(_wrapped(steps, gi, path)[: gidx[-1] + 1]):
            if i in newly:
                if reached < i:  # these rows never reached this global step in the source run
                    if live.num_rows:
                        newly[i][0] += live.num_rows
                        newly[i][1] = newly[i][1] or (live.column("id")[0].as_py(), live.column("_orig_reason")[0].as_py())
                    break
                if live.num_rows < len(ids0):  # all of them did; some no longer would
                    lost[i][0] += len(ids0) - live.num_rows
                    now = set(live.column("id").to_pylist())
                    lost[i][1] = lost[i][1] or next(x for x in ids0 if x not in now)
            live = _select_in_memory(live, st, full)
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


_BULKY = ("text", "html")


def _lean(table: pa.Table) -> pa.Table:
    """``table`` without the document bodies: replaying stored decisions reads only the columns, and
    filtering the bodies at every step is most of the cost of walking a large output."""
    return table.drop_columns([c for c in _BULKY if c in table.column_names])


def _with_bodies(table: pa.Table, full: pa.Table | None) -> pa.Table:
    """The bodies :func:`_lean` dropped, taken back from ``full`` (the stored rows) by id."""
    missing = [c for c in _BULKY if full is not None and c in full.column_names and c not in table.column_names]
    if missing:
        idx = pc.index_in(table.column("id"), value_set=full.column("id"))
        for c in missing:
            table = table.append_column(c, full.column(c).take(idx))
    return table


def _select_in_memory(table: pa.Table, st: Step, full: pa.Table | None = None) -> pa.Table:
    """One step on an in-memory table, rows of other sources passing untouched; returns the survivors.
    ``full``: the stored rows, when ``table`` is lean; a step that computes gets the bodies back."""
    if not table.num_rows:
        return table
    if full is not None and not isinstance(st, (_SelectOnly, _Replay, _ReaderReject, GlobalStep)):
        table = _with_bodies(table, full)
    try:
        return _select_rows(table, st)
    except KeyError:  # a select that reads the text itself
        if full is None or "text" in table.column_names:
            raise
        return _select_rows(_with_bodies(table, full), st)


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


class _ReaderReject(Step):
    name = "read"

    def select(self, table):
        return pc.utf8_slice_codeunits(table.column("_orig_reason"), len("read/"))


class _Unreachable(Step):
    def __init__(self, inner: Step, path: Path):
        super().__init__(inner.config)
        self.name, self.path, self.step_key = inner.name, path, inner.key

    def annotate(self, table):
        if table.num_rows:  # a safety net: reselect checks this before writing anything
            from gristmill.engine.local import StepFailed

            raise StepFailed(f"rows of {self.path} now reach the global step {self.name!r}, which was never fitted on them; "
                               "run the changed recipe with `gristmill run` instead")
        return table


def _summarize(src: Path, dest: Path, steps: list[Step], fitted: dict[int, Step] | None = None, refit_info: dict | None = None) -> dict:
    from collections import defaultdict

    rd = RunDir(dest)
    src_summary = json.loads((src / "summary.json").read_text())
    kept = quarantined = 0
    rejected: Counter = Counter()
    qerr: Counter = Counter(src_summary.get("quarantine_errors", {}))
    step_errors: Counter = Counter()
    step_columns: dict = dict(src_summary.get("step_columns", {}))
    from gristmill.engine.local import merge_sources, source_entry, source_summary, merge_step_counts, step_row

    per_step: dict[int, list] = defaultdict(lambda: [0, 0, 0.0, 0, 0, 0])
    by_source: dict[str, dict] = defaultdict(source_entry)
    n_rows = 0
    for f in sorted(rd.manifest.glob("s0-*.json")):
        rec = json.loads(f.read_text())
        kept += rec["kept"]
        rejected.update(rec["rejected"])
        quarantined += rec["quarantined"]
        qerr.update(rec["quarantine_errors"])
        step_errors.update(rec.get("step_errors", {}))
        for name, cols in rec.get("columns", {}).items():
            step_columns.setdefault(name, cols)
        merge_step_counts(per_step, rec["steps"])
        merge_sources(by_source, rec.get("sources", {}), first=True, last=True)
        n_rows += rec["read"]
    quarantined += src_summary["quarantined"]
    problems = []
    if n_rows + src_summary["quarantined"] != src_summary["input"]:
        problems.append(f"re-selected {n_rows} rows + {src_summary['quarantined']} quarantined, but the source had {src_summary['input']} inputs")
    if src_summary["input"] != kept + sum(rejected.values()) + quarantined:
        problems.append("input != kept + rejected + quarantined")
    for src, e in (src_summary.get("sources") or {}).items():
        # the source run's quarantined records are not read again, and its input bytes are the bytes as read
        a = by_source[src]
        a["read_quarantined"] += e["quarantined"]
        a["quarantined"] += e["quarantined"]
        a["bytes_in"] = e["bytes_in"]
    sources = source_summary(by_source, problems) if src_summary.get("sources") else None
    if problems:
        from gristmill.engine.local import LedgerMismatch

        raise LedgerMismatch(f"{dest}: " + "; ".join(problems))
    rows = [step_row(st, per_step.get(gi, [0, 0, 0.0, 0, 0, 0])) for gi, st in enumerate(steps)]
    summary = {"input": src_summary["input"], "kept": kept, "rejected": dict(sorted(rejected.items())), "quarantined": quarantined,
               "quarantine_errors": dict(qerr.most_common()), "step_errors": dict(step_errors.most_common()),
               "reselected_from": str(src), "steps": rows, "counters": {}, "step_columns": step_columns}
    if sources is not None:
        summary["sources"] = sources
    reports = {}
    for gi, st in enumerate(steps):  # a re-fitted step reports its new clusters; a replayed one the source run's
        rep = (fitted[gi].report() if fitted and gi in fitted else src_summary.get("reports", {}).get(st.key))
        if isinstance(st, GlobalStep) and rep:
            reports[st.key] = rep
    if reports:
        summary["reports"] = reports
    if refit_info:
        summary["refitted"] = refit_info
    atomic_write_text(dest / "summary.json", json.dumps(summary, indent=2))
    return summary
