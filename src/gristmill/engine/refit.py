"""Re-fitting global steps for ``gristmill select``: dedup over a newly selected set, from caches.

A global step decides by comparing documents, so when new thresholds change which documents reach
it, its decisions must be made again over the new set. ``gristmill run`` keeps what that needs:

- ``_work/order/<shard>.parquet``: each shard's ids in read order (``ShardTask.record_order``), so
  that the new set is fed to the step in the order a run would feed it (keep-first and every
  tie-break depend on it);
- the step's own phase-1 files in ``_work/fit-<i>-<name>/`` (exact keys, MinHash band keys): the
  step's ``refit_cache(workdir)`` names them and their size (``summary.json``'s ``refit_cache``).

:func:`refit_globals` then walks the recipe over the stored rows (only ``select`` where a step's
columns are stored, the full step where a row never reached it), and at each global step whose
input changed writes the new input per shard in run order and calls the step's own ``fit`` with
``refit_from`` set: the step reuses the cached per-document work and hashes only documents the
source run never showed it (``quality_select`` needs only the stored score column). The fitted
step then decides as in a run. Steps without a cache (``paragraph_dedup``, ``semantic_dedup``)
make select refuse, naming ``gristmill run``.
"""
from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path
from typing import Callable

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from gristmill.engine.replay import ORIG_REASON, StoredOutput, lean, select_in_memory, with_bodies, wrapped_steps
from gristmill.engine.shard import order_path
from gristmill.recipe import RecipeError
from gristmill.step import FitContext, GlobalStep, Step


def _label(steps: list[Step], i: int) -> str:
    """The step's ledger key (:attr:`Step.key`): its name, or ``name#k`` where the recipe repeats it."""
    return steps[i].key


def fit_dir(root: Path, i: int, step: Step) -> Path:
    return Path(root) / "_work" / f"fit-{i:02d}-{step.name}"


def cache_sizes(root: Path, steps: list[Step]) -> dict:
    """What ``select`` needs to re-fit each global step of a finished run, and its size on disk."""
    out: dict = {}
    order = sorted((Path(root) / "_work" / "order").glob("*.parquet"))
    out["order"] = {"files": len(order), "bytes": int(sum(p.stat().st_size for p in order))}
    for i, st in enumerate(steps):
        if isinstance(st, GlobalStep):
            fn = getattr(type(st), "refit_cache", None)
            got = fn(fit_dir(root, i, st)) if fn else None
            out[_label(steps, i)] = got if got is not None else {"files": 0, "bytes": 0, "note": "no re-fit cache"}
    return out


def missing_cache(src: Path, steps: list[Step], first: int) -> str | None:
    """Why global steps from index ``first`` on cannot be re-fitted from ``src``, or None."""
    plan = src / "_manifest" / "plan.json"
    shards = [d["shard_id"] for d in json.loads(plan.read_text())] if plan.exists() else []
    def has_rows(s: str) -> bool:  # a shard that became no rows (all quarantined, empty) has no order file
        return (src / "data" / f"{s}.parquet").exists() or any((src / "rejected").glob(f"s*-{s}-*.parquet"))

    if not shards or not all(order_path(src, s).exists() for s in shards if has_rows(s)):
        return (f"{src} keeps no record of its read order (_work/order/): it was written before select could "
                "re-fit dedup")
    for i in range(first, len(steps)):
        st = steps[i]
        if not isinstance(st, GlobalStep):
            continue
        fn = getattr(type(st), "refit_cache", None)
        if fn is None:
            return f"{st.name} keeps no re-fit cache (exact_dedup, minhash_dedup and quality_select can be re-fitted)"
        if fn(fit_dir(src, i, st)) is None:
            return f"{src} has no re-fit cache for {st.name} ({fit_dir(src, i, st)}; an output from before this feature?)"
    return None


def _positions(src: Path, shard: str, ids: pa.ChunkedArray) -> pa.Array:
    from gristmill.dedup._refit import lookup

    order = pq.read_table(order_path(src, shard), columns=["id"])["id"]
    pos = lookup(order, ids)
    if (pos < 0).any():
        raise RecipeError(f"{order_path(src, shard)} does not list every document of shard {shard}; the output is "
                          "damaged or was changed after the run: run the changed recipe with `gristmill run`")
    return pa.array(pos)


def refit_globals(dest: Path, stored: StoredOutput, workers: int | None = None,
                  log: Callable[[str], None] = lambda m: None, first: int = 0) -> tuple[dict[int, Step], dict]:
    """Re-fit every global step whose input the new thresholds change; returns {index: fitted step}
    and, per re-fitted step, its fit time and where its cache came from. ``first``: the first global
    step whose input changed; the steps before it are not walked again where ``stored.reached``
    holds every file's rows at it (the check before writing walked them there)."""
    src, steps, step_columns = stored.root, stored.steps, stored.step_columns
    workers = max(1, workers or os.cpu_count() or 1)
    plan = [d["shard_id"] for d in json.loads((src / "_manifest" / "plan.json").read_text())]
    live = []  # [shard, gi, reached, rows the source run had here, rows now (lean), path, stored rows]
    for shard, gi, path in stored.groups:
        if gi == -1:
            continue
        t = stored.table(path, gi)
        live.append([shard, gi, len(steps) if gi is None else gi, t.num_rows, lean(t), path, t])
    fitted: dict[int, Step] = {}
    info: dict = {}
    cursor = 0
    if first and all((L[5], first) in stored.reached for L in live):
        for L in live:
            L[4] = stored.reached[(L[5], first)]
        cursor = first
    for g in [i for i, s in enumerate(steps) if isinstance(s, GlobalStep) and i >= cursor]:
        for L in live:
            wrapped = wrapped_steps(steps, L[1], L[5], fitted)
            for i in range(cursor, g):
                L[4] = select_in_memory(L[4], wrapped[i], L[6])
        cursor = g
        changed = any((L[2] < g and L[4].num_rows) or (L[2] >= g and L[4].num_rows < L[3]) for L in live)
        if changed:
            fitted[g] = _fit(src, dest, g, steps, step_columns, plan, live, workers, log, info)
    return fitted, info


def _fit(src, dest, g, steps, step_columns, plan, live, workers, log, info) -> Step:
    st = steps[g]
    later = {c for s in steps[g:] for c in step_columns.get(s.key, [])}
    later -= {c for s in steps[:g] for c in step_columns.get(s.key, [])} | {"id", "text", "source"}
    indir = dest / "_work" / f"refit-{g:02d}"
    indir.mkdir(parents=True, exist_ok=True)
    inputs = []
    for shard in plan:
        parts = [with_bodies(L[4], L[6]) for L in live if L[0] == shard and L[4].num_rows]
        if not parts:
            continue  # a run writes no stage file for a shard with nothing kept
        t = pa.concat_tables(parts, promote_options="permissive")
        t = t.take(pc.sort_indices(_positions(src, shard, t["id"])))
        t = t.drop_columns([c for c in t.column_names if c in later or c == ORIG_REASON])
        p = indir / f"{shard}.parquet"
        pq.write_table(t, p, compression="none")  # read once, by the fit, and then deleted
        inputs.append(p)
    wd = fit_dir(dest, g, st)
    wd.mkdir(parents=True, exist_ok=True)
    st.refit_from = fit_dir(src, g, st)
    t0 = time.perf_counter()
    try:
        st.fit(FitContext(shards=inputs, workdir=wd, workers=workers, log=log, stage=f"{st.name} re-fit"))
    except ValueError as e:  # the step found its cache unusable (other settings, rewritten text)
        raise RecipeError(f"{st.name}: cannot re-fit from {st.refit_from}: {e}") from None
    st.bind(wd)
    st.take_stats()
    info[_label(steps, g)] = {"fit_seconds": round(time.perf_counter() - t0, 4), "cache": str(Path(st.refit_from).resolve()),
                              "documents": int(sum(pq.ParquetFile(p).metadata.num_rows for p in inputs))}
    shutil.rmtree(indir, ignore_errors=True)  # as a run removes its stage files; the fitted state stays
    return st
