"""The one way gristmill turns input paths into files: recipes, mixtures, the lab, quality examples.

A pattern is a file, a glob (``**`` recurses), or a directory. A directory is walked recursively for
the consumer's file kinds, except a gristmill run's output directory, which stands for its kept
documents (``data/*.parquet``): it is recognised by ``data/`` beside ``recipe.lock.yaml`` or
``summary.json``, which every run writes. Each file comes with its *relative name* (relative to the
directory or to the glob's fixed part), the prefix of derived document ids. Compressed files
(``.gz``, ``.zst``) are listed like the rest; readers decompress by content (gristmill.io.sniff).
"""
from __future__ import annotations

import glob
from pathlib import Path

JSONL = (".jsonl", ".json", ".jsonl.gz", ".json.gz", ".jsonl.zst", ".jsonl.zstd")
PARQUET = (".parquet",)
TEXT = (".txt", ".md")


class PathsError(ValueError):
    """A pattern that matches nothing (when the consumer asks for every pattern to match):
    ``kind`` is ``missing`` (no such path) or ``empty`` (no file of the wanted kinds)."""

    def __init__(self, pattern: str, kind: str, message: str):
        super().__init__(message)
        self.pattern, self.kind = pattern, kind


def is_run_output(p: Path) -> bool:
    return (p / "data").is_dir() and ((p / "recipe.lock.yaml").is_file() or (p / "summary.json").is_file())


def expand(patterns: list[str] | str, exts: tuple[str, ...], base: Path | None = None,
           strict: bool = True, filter_globs: bool = False) -> list[tuple[Path, str]]:
    """``[(file, relative name)]`` for ``patterns`` in order, files of a pattern sorted.

    ``exts`` filters directory walks (and globs with ``filter_globs``; a glob or a file named
    explicitly is otherwise taken as it is: the reader says what a file in the wrong format is).
    ``strict``: a pattern that matches no such file raises :class:`PathsError` naming it."""
    out: list[tuple[Path, str]] = []
    for pattern in [patterns] if isinstance(patterns, str) else patterns:
        pattern = str(pattern)
        full = str(base / pattern) if base is not None and not Path(pattern).is_absolute() else pattern
        p = Path(full)
        if glob.has_magic(full):
            root = Path(full.split("*")[0].split("?")[0].split("[")[0])
            root = root if root.is_dir() else root.parent
            files = [Path(h) for h in sorted(glob.glob(full, recursive=True)) if Path(h).is_file() and (not filter_globs or h.endswith(exts))]
        elif p.is_dir():
            root = p / "data" if PARQUET[0] in exts and is_run_output(p) else p
            files = [f for f in sorted(root.rglob("*")) if f.is_file() and f.name.endswith(PARQUET if root != p else exts)]
        elif p.is_file():
            root, files = p.parent, [p]
        else:
            if strict:
                raise PathsError(pattern, "missing", f"{pattern}: no such file, directory or glob match"
                                 + (f" (relative to {base})" if base is not None else f" (relative to the current directory {Path.cwd()})"))
            continue
        if not files and strict and glob.has_magic(full):
            raise PathsError(pattern, "missing", f"{pattern}: no such file, directory or glob match")
        if not files and strict:
            raise PathsError(pattern, "empty", f"{pattern}: holds no {', '.join(exts)} files; give files, a directory "
                             "holding them, a glob, or a gristmill output directory (its data/)")
        for f in files:
            try:
                rel = f.relative_to(root).as_posix()
            except ValueError:
                rel = f.name
            out.append((f, rel))
    return out
