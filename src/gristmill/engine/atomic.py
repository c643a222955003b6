"""Write to a temporary name, then rename: the one way gristmill puts a file in place.

A reader (or a resumed run) must never see a half-written file under its final name, because a
file's existence is what marks a unit of work as done. Every writer in the tree goes through
:func:`atomic_path`, so every temporary file has the same shape, ``.<final name>.<pid>.tmp`` in the
final file's directory. That single shape is what lets :func:`clean_stale_temps` remove the
truncated leftovers of a killed process on resume, and only those.
"""
from __future__ import annotations

import json
import os
import re
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

__all__ = ["atomic_path", "tmp_path", "atomic_write_text", "atomic_write_bytes", "atomic_write_json",
           "atomic_write_parquet", "atomic_save_npy", "is_temp_name", "clean_stale_temps"]

_TEMP = re.compile(r"^\..+\.(\d+)\.tmp$")


def tmp_path(path: str | os.PathLike) -> Path:
    """The temporary name this process writes ``path`` under (same directory, so the rename is atomic)."""
    path = Path(path)
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


def is_temp_name(name: str) -> bool:
    return _TEMP.match(name) is not None


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """``with atomic_path(p) as tmp: write(tmp)`` puts the file at ``p`` only if the block finishes;
    on an exception the temporary file is removed. (A SIGKILL leaves it: see :func:`clean_stale_temps`.)"""
    path = Path(path)
    tmp = tmp_path(path)
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def atomic_write_json(path: str | os.PathLike, obj, indent: int | None = 2) -> None:
    atomic_write_text(path, json.dumps(obj, indent=indent, sort_keys=True))


def atomic_write_parquet(path: str | os.PathLike, table, **kwargs) -> None:
    import pyarrow.parquet as pq

    with atomic_path(path) as tmp:
        pq.write_table(table, tmp, **kwargs)


def atomic_save_npy(path: str | os.PathLike, arr) -> None:
    import numpy as np

    with atomic_path(path) as tmp, open(tmp, "wb") as f:  # a file object: np.save would append ".npy" to a name
        np.save(f, arr)


def clean_stale_temps(root: str | os.PathLike) -> list[Path]:
    """Remove gristmill's temporary files under ``root`` (a run directory being resumed): the
    truncated outputs of processes that were killed mid-write. Only names of the shape
    :func:`tmp_path` makes are touched, and never one this process is writing."""
    mine = str(os.getpid())
    removed = []
    for dirpath, _, files in os.walk(root):
        for name in files:
            m = _TEMP.match(name)
            if m and m.group(1) != mine:
                p = Path(dirpath) / name
                p.unlink(missing_ok=True)
                removed.append(p)
    return removed
