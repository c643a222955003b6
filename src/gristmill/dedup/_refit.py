"""Re-fit caches of the dedup steps: what phase 1 of a source run computed per document (exact
keys, MinHash band keys), found again by document id when ``gristmill select`` re-fits the step
over a different set of documents (``engine/refit.py``).

The phase-1 files a fit leaves in its workdir are the cache; nothing is computed twice. A step
being re-fitted carries ``refit_from`` (the source run's workdir of the same step); its fit then
looks each input file up here: a stage file of the run (``_work/s<k>/<shard>.parquet`` in the
source, ``_work/refit-<g>/<shard>.parquet`` in the re-fit) by its shard id, any other file
(``against`` data) by its path. Documents missing from the cache (ones a loosened threshold now
lets through) are hashed as in a run.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

_STAGE_DIR = re.compile(r"^(s\d+|refit-\d+)$")


def _key(p: Path) -> str:
    return f"shard:{p.stem}" if p.parent.parent.name == "_work" and _STAGE_DIR.match(p.parent.name) else f"path:{p}"


def cache_index(step, sources: list[Path]) -> list[int | None] | None:
    """For each of ``sources``, the index of the same file among the source run's fit inputs (its
    phase-1 files are named by that index), or None; None overall when the step is not re-fitting."""
    src = getattr(step, "refit_from", None)
    if src is None:
        return None
    fp = json.loads((Path(src) / "fit.json").read_text())
    want = json.loads(json.dumps(step.config.model_dump()))
    if fp.get("config") != want:
        raise ValueError(f"{src}: the cache was fitted with other {step.name} settings ({fp.get('config')}), "
                         f"not {want}; run the changed recipe with `gristmill run`")
    where = {_key(Path(p)): i for i, (p, *_) in enumerate(fp["sources"])}
    return [where.get(_key(Path(p))) for p in sources]


def lookup(cache_ids: pa.Array | pa.ChunkedArray, ids: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Row of each of ``ids`` in ``cache_ids`` (ids are unique within a run), -1 where absent."""
    pos = pc.index_in(ids.cast(pa.string()), value_set=pa.chunked_array([cache_ids]).combine_chunks().cast(pa.string()))
    return pc.fill_null(pos, -1).to_numpy(zero_copy_only=False).astype(np.int64)


def files_size(files) -> dict:
    files = [Path(f) for f in files]
    return {"files": len(files), "bytes": int(sum(f.stat().st_size for f in files if f.exists()))}


def stage_sources(step) -> int:
    """How many of the source run's fit inputs were stage files (they come first; ``against`` after)."""
    fp = json.loads((Path(step.refit_from) / "fit.json").read_text())
    return sum(_key(Path(p)).startswith("shard:") for p, *_ in fp["sources"])


def check_order(cached_nodes: np.ndarray, what: str) -> None:
    """The documents the source run showed the step must come in the same order now: keep-first
    and every tie-break follow it. (A shard mixing sources that a source-restricted step splits is
    reordered by the run in a way the stored output does not record: refuse rather than differ.)"""
    if len(cached_nodes) > 1 and (np.diff(cached_nodes) <= 0).any():
        raise ValueError(f"{what}: the documents reach the step in another order than in the source run, so "
                         "keep-first decisions could differ; run the changed recipe with `gristmill run`")
