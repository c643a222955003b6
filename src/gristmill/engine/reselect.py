"""Re-selection: apply new thresholds to a finished output from its stored columns.

Tag-then-select pays off here: every annotation a step made is stored beside the document, so a
new threshold only re-runs ``select``. Rows that a loosened threshold now lets through go on to
the later steps, which annotate them for the first time (their columns were never computed). The
result is a new run directory with its own ledger; the source output is not touched.

A global step (dedup) is not re-fitted: rows keep the decision it made in the source run, and a
row that reaches it now but never did before is an error, since only a full ``gristmill run``
can decide it.
"""
from __future__ import annotations

import json
import re
import shutil
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import yaml

from gristmill.engine.local import ShardTask, _ShardRunner
from gristmill.engine.manifest import RunDir, atomic_write_text
from gristmill.engine.schema import unify_dir
from gristmill.io.readers import Batch
from gristmill.recipe import RecipeError, recipe_from_dict
from gristmill.step import GlobalStep, Step

_REJECT_FILE = re.compile(r"^s\d+-(?P<shard>\d+)-(?P<name>.+)-(?P<gi>\d+|rd)\.parquet$")


class _SelectOnly(Step):
    def __init__(self, inner: Step):
        super().__init__(inner.config)
        self.inner, self.name, self.only_sources = inner, inner.name, inner.only_sources

    def select(self, table):
        return self.inner.select(table)


class _Replay(Step):
    """A global step's recorded decision: rows it rejected in the source run stay rejected."""

    def __init__(self, inner: Step, gi: int, rejected_here: bool):
        super().__init__(inner.config)
        self.name, self.gi, self.rejected_here, self.only_sources = inner.name, gi, rejected_here, inner.only_sources

    def select(self, table):
        if not self.rejected_here:
            return None
        prefix = self.name + "/"
        return pc.utf8_slice_codeunits(table.column("_orig_reason"), len(prefix))


class _TableRunner(_ShardRunner):
    def __init__(self, task: ShardTask, table: pa.Table):
        super().__init__(task)
        self.table = table

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


def reselect(src: Path, dest: Path, overrides: list[str], fresh: bool = False) -> dict:
    src, dest = Path(src), Path(dest)
    lock_file = src / "recipe.lock.yaml"
    if not (src / "summary.json").exists() or not lock_file.exists():
        raise RecipeError(f"{src}: not a finished gristmill output (no summary.json / recipe.lock.yaml)")
    lock = yaml.safe_load(lock_file.read_text())
    if not lock["output"].get("keep_rejected", True):
        raise RecipeError(f"{src}: was run with output.keep_rejected: false, so rejected rows cannot be re-selected; re-run it with keep_rejected: true")
    steps_cfg = lock["steps"]
    for step, param, val in parse_overrides(overrides):
        hits = [i for i, s in enumerate(steps_cfg) if step in s or step == str(i)]
        if not hits:
            raise RecipeError(f"--set {step}.{param}: no step {step!r} in {lock_file} (steps: {[next(iter(s)) for s in steps_cfg]})")
        for i in hits:
            name = next(iter(steps_cfg[i]))
            steps_cfg[i][name][param] = val
    recipe = recipe_from_dict({"inputs": lock["inputs"], "steps": steps_cfg, "output": {**lock["output"], "path": str(dest)}},
                              where=str(lock_file), check_inputs=False)
    steps = recipe.build_steps()
    if dest.resolve() == src.resolve() or src.resolve() in dest.resolve().parents or dest.resolve() in src.resolve().parents:
        raise RecipeError(f"{dest}: the new output must be outside the source output {src}")
    rd = RunDir(dest)
    if dest.exists() and any(dest.iterdir()):
        if not fresh:
            raise RecipeError(f"{dest}: exists and is not empty; choose a new output directory, or pass --fresh to "
                              "replace it if it is a previous gristmill output")
        try:
            rd.remove_own_files(protect=[src])
        except RuntimeError as e:
            raise RecipeError(str(e)) from None
    rd.prepare(recipe.fingerprint(), fresh=False)

    groups: list[tuple[str, int | None, Path]] = [(p.stem, None, p) for p in sorted((src / "data").glob("*.parquet"))]
    for p in sorted((src / "rejected").glob("*.parquet")):
        m = _REJECT_FILE.match(p.name)
        if not m:
            raise RecipeError(f"{p}: unexpected file in rejected/; was this output written by gristmill?")
        groups.append((m["shard"], -1 if m["gi"] == "rd" else int(m["gi"]), p))

    totals = Counter()
    for n, (shard, gi, path) in enumerate(groups):
        table = pq.read_table(path)
        reached = len(steps) if gi is None else gi  # the row passed every step before this index
        if "reject_reason" in table.column_names:
            table = table.rename_columns([c if c != "reject_reason" else "_orig_reason" for c in table.column_names])
            table = table.drop_columns(["reject_step"])
        wrapped: list[Step] = []
        for i, st in enumerate(steps):
            if isinstance(st, GlobalStep):
                if i > reached:
                    wrapped.append(_Unreachable(st, path))
                else:
                    wrapped.append(_Replay(st, i, rejected_here=(i == gi)))
            elif gi == -1:
                wrapped.append(_Replay(st, i, rejected_here=False))
            else:
                wrapped.append(_SelectOnly(st) if i <= reached else st)
        if gi == -1:  # rejected by the reader (not a document): stays so
            wrapped = [_ReaderReject()]
        task = ShardTask(stage=0, shard_id=f"{shard}-g{n:03d}", steps=wrapped, step_offset=0, run_root=str(dest), final=True,
                         keep_rejected=True, batch_rows=recipe.output.batch_rows)
        res = _TableRunner(task, table).run()
        totals["input"] += res["read"]
        rd.mark_done(f"s0-{task.shard_id}", res)
        _drop_private_columns(dest, task.shard_id)
    unify_dir(dest / "data")
    unify_dir(dest / "rejected")
    for q in sorted((src / "quarantine").glob("*.jsonl")):
        shutil.copy(q, dest / "quarantine" / q.name)
    return _summarize(src, dest, steps)


class _ReaderReject(Step):
    name = "read"

    def select(self, table):
        return pc.utf8_slice_codeunits(table.column("_orig_reason"), len("read/"))


class _Unreachable(Step):
    def __init__(self, inner: Step, path: Path):
        super().__init__(inner.config)
        self.name, self.path = inner.name, path

    def annotate(self, table):
        if table.num_rows:
            raise RuntimeError(f"rows of {self.path} now reach the global step {self.name!r}, which was never fitted on them; "
                               "run the changed recipe with `gristmill run` instead")
        return table


def _drop_private_columns(dest: Path, shard_id: str) -> None:
    for p in [*dest.glob(f"data/{shard_id}.parquet"), *dest.glob(f"rejected/s0-{shard_id}-*.parquet")]:
        t = pq.read_table(p)
        if "_orig_reason" in t.column_names:
            pq.write_table(t.drop_columns(["_orig_reason"]), p, compression="zstd")


def _summarize(src: Path, dest: Path, steps: list[Step]) -> dict:
    rd = RunDir(dest)
    src_summary = json.loads((src / "summary.json").read_text())
    kept = quarantined = 0
    rejected: Counter = Counter()
    n_rows = 0
    for f in sorted(rd.manifest.glob("s0-*.json")):
        rec = json.loads(f.read_text())
        kept += rec["kept"]
        rejected.update(rec["rejected"])
        quarantined += rec["quarantined"]
        n_rows += rec["read"]
    quarantined += src_summary["quarantined"]
    problems = []
    if n_rows + src_summary["quarantined"] != src_summary["input"]:
        problems.append(f"re-selected {n_rows} rows + {src_summary['quarantined']} quarantined, but the source had {src_summary['input']} inputs")
    if src_summary["input"] != kept + sum(rejected.values()) + quarantined:
        problems.append("input != kept + rejected + quarantined")
    if problems:
        from gristmill.engine.local import LedgerMismatch

        raise LedgerMismatch(f"{dest}: " + "; ".join(problems))
    summary = {"input": src_summary["input"], "kept": kept, "rejected": dict(sorted(rejected.items())), "quarantined": quarantined,
               "quarantine_errors": src_summary.get("quarantine_errors", {}), "reselected_from": str(src),
               "steps": [], "counters": {}}
    atomic_write_text(dest / "summary.json", json.dumps(summary, indent=2))
    return summary
