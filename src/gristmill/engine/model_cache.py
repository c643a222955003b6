"""The per-process model cache: a model file is loaded once per worker process (or Ray actor), not
once per shard.

A step is pickled into every shard task and its lazy attributes are dropped on the way
(``Step.__getstate__``), so a step that loads its model in ``annotate`` would load it again for
every shard: 1-2 s per shard for an embedding model. :func:`cached` keeps what ``load`` returned
for the life of the process, keyed by the file's resolved path, size, mtime and inode, so a model
file retrained in place (the same path, a new file) is loaded afresh instead of served stale.

Local engine: a worker process of :func:`gristmill.engine.pool.run_tasks` runs many shards of a
stage, and workers are forked, so a model the driver loaded (e.g. while validating the recipe)
is inherited without a load. Ray engine: every fan-out runs on long-lived worker actors
(:mod:`gristmill.engine.ray_engine`), so a model is loaded once per actor for the whole run.

:func:`loads` counts the loads this process did per ``kind``; the Ray engine reports them per
actor at the end of a run (``ray: model loads per worker actor``).
"""
from __future__ import annotations

import os
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Callable, TypeVar

__all__ = ["cached", "loads", "clear"]

T = TypeVar("T")

# Models held at once per process: a recipe uses a handful (a quality model or two); a bound keeps
# a long-lived actor from accumulating every model an earlier run used.
MAX_MODELS = 4

_LOCK = threading.Lock()
_CACHE: "OrderedDict[tuple, object]" = OrderedDict()
_LOADS: dict[str, int] = {}


def _key(kind: str, path: Path, extra) -> tuple:
    p = Path(path).resolve()
    try:
        st = p.stat()
    except OSError:
        # not a file: ``load`` raises its own clear error (nothing is cached), or it is a name
        # (a Hugging Face model in the local cache), cached by name
        return (kind, str(path), extra, None)
    # a directory model (sentence-transformers) changes with its files; its mtime moves when one is replaced
    return (kind, str(p), extra, st.st_size, st.st_mtime_ns, st.st_ino)


def cached(kind: str, path: str | Path, load: Callable[[Path], T], extra=None) -> T:
    """``load(path)``, once per process for each version of the file at ``path`` (and each
    ``extra``: load settings that change the model, e.g. a maximum sequence length)."""
    key = _key(kind, Path(path), extra)
    with _LOCK:
        if key in _CACHE:
            _CACHE.move_to_end(key)
            return _CACHE[key]  # type: ignore[return-value]
    model = load(Path(path))
    with _LOCK:
        _LOADS[kind] = _LOADS.get(kind, 0) + 1
        # an older version of the same file is dead weight now
        for k in [k for k in _CACHE if k[:3] == key[:3]]:
            del _CACHE[k]
        _CACHE[key] = model
        while len(_CACHE) > MAX_MODELS:
            _CACHE.popitem(last=False)
    return model


def loads() -> dict:
    """Models loaded by this process so far, per kind, and the process id."""
    with _LOCK:
        return {"pid": os.getpid(), "loads": dict(_LOADS)}


def clear() -> None:
    with _LOCK:
        _CACHE.clear()
        _LOADS.clear()
