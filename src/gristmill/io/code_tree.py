"""Repository trees for the ``code`` input format: which files are read, and their language.

It needs nothing from the readers (``gristmill.io.spec`` expands a code input through it); the
reader of the files is :mod:`gristmill.io.code_reader`.

As in The Stack (Kocetkov et al. 2022, "The Stack: 3 TB of permissively licensed source code",
section 3) a file's language comes from its extension (or, for scripts without one, from the
``#!`` line, as GitHub's linguist does), its path is kept, and directories that hold other
people's or generated code (``.git``, ``node_modules``, ``__pycache__``, ``build``, ``dist``, ...)
are not read. Each document carries ``path`` (relative to the input's directory) and
``language``.

Nothing is lost: a skipped directory and a file of no known language are counted
(``counters.read.code_skipped_dir``, ``code_skipped_dir_files``, ``code_unknown_language``); a
binary, non-UTF-8 or oversize file is quarantined with its reason; a symlink is counted, never
followed (it may point outside the tree). The walk is bounded in depth and files.
"""
from __future__ import annotations

import os
from pathlib import Path

# Extension -> language: the languages of StarCoder's training set (Li et al. 2023, Table 1) that
# ship most often, plus the data/config formats its filters single out (JSON, YAML, CSV).
EXTENSIONS = {
    ".py": "python", ".pyi": "python", ".pyx": "cython", ".pxd": "cython",
    ".js": "javascript", ".mjs": "javascript", ".cjs": "javascript", ".jsx": "javascript",
    ".ts": "typescript", ".tsx": "typescript",
    ".java": "java", ".kt": "kotlin", ".kts": "kotlin", ".scala": "scala",
    ".c": "c", ".h": "c", ".cc": "c++", ".cpp": "c++", ".cxx": "c++", ".hpp": "c++", ".hh": "c++", ".hxx": "c++",
    ".cs": "c-sharp", ".go": "go", ".rs": "rust", ".rb": "ruby", ".php": "php", ".swift": "swift",
    ".sh": "shell", ".bash": "shell", ".zsh": "shell",
    ".pl": "perl", ".pm": "perl", ".lua": "lua", ".r": "r", ".R": "r", ".jl": "julia",
    ".hs": "haskell", ".ml": "ocaml", ".sql": "sql", ".f90": "fortran", ".f": "fortran",
    ".html": "html", ".htm": "html", ".css": "css", ".tex": "tex",
    ".md": "markdown", ".rst": "restructuredtext",
    ".json": "json", ".yaml": "yaml", ".yml": "yaml", ".toml": "toml", ".xml": "xml", ".csv": "csv", ".tsv": "csv",
    ".cmake": "cmake", ".mk": "makefile", ".el": "emacs-lisp", ".vim": "vim-script",
}
FILENAMES = {"Makefile": "makefile", "GNUmakefile": "makefile", "makefile": "makefile", "Dockerfile": "dockerfile",
             "CMakeLists.txt": "cmake", "Rakefile": "ruby", "Gemfile": "ruby"}
# Interpreter named on a ``#!`` line -> language (``#!/usr/bin/env python3`` -> python).
SHEBANGS = {"python": "python", "sh": "shell", "bash": "shell", "dash": "shell", "zsh": "shell", "ksh": "shell",
            "perl": "perl", "ruby": "ruby", "node": "javascript", "nodejs": "javascript", "lua": "lua",
            "php": "php", "Rscript": "r", "tclsh": "tcl", "wish": "tcl", "awk": "awk", "gawk": "awk", "julia": "julia"}
# Vendored, generated and tool directories: The Stack's near-dedup and licence steps see them as
# copies of other repositories; linguist marks them vendored (its ``vendor.yml``).
SKIP_DIRS = frozenset({".git", ".hg", ".svn", ".bzr", "node_modules", "bower_components", "__pycache__", "build", "dist",
                       ".tox", ".nox", ".venv", "venv", ".mypy_cache", ".pytest_cache", ".ruff_cache", ".eggs", ".idea",
                       ".vscode", "vendor", "third_party"})
MAX_DEPTH = 64  # deeper than any real repository; bounds a hostile tree
MAX_FILES = 2_000_000  # per input: files beyond are counted (code_over_max_files), not read


def language_of(name: str, head: bytes = b"") -> str | None:
    """The language of a file from its name, else from the ``#!`` line at the start of ``head``."""
    if name in FILENAMES:
        return FILENAMES[name]
    ext = os.path.splitext(name)[1]
    if ext:
        lang = EXTENSIONS.get(ext) or EXTENSIONS.get(ext.lower())
        if lang:
            return lang
    if head.startswith(b"#!"):
        words = head[2:].split(b"\n", 1)[0].decode("ascii", "replace").split()
        if words and os.path.basename(words[0]) == "env":
            words = [w for w in words[1:] if not w.startswith("-")]  # `env -S python3 -u`
        if words:
            prog = os.path.basename(words[0]).rstrip("0123456789.")  # python3.11 -> python
            return SHEBANGS.get(prog)
    return None


def _could_be_code(name: str) -> bool:
    """Worth reading: a known name or extension, or no extension (a script with a ``#!`` line)."""
    return name in FILENAMES or language_of(name) is not None or "." not in name.lstrip(".")


def _walk(paths: tuple[str, ...]) -> tuple[tuple[tuple[Path, str], ...], tuple[tuple[str, int], ...]]:
    from gristmill.io.paths import expand

    files: list[tuple[Path, str]] = []
    counts: dict[str, int] = {}

    def count(key: str, n: int = 1) -> None:
        counts[key] = counts.get(key, 0) + n

    def take(f: Path, rel: str) -> None:
        if len(files) >= MAX_FILES:
            count("code_over_max_files")
        elif _could_be_code(f.name):
            files.append((f, rel))
        else:
            count("code_unknown_language")

    for pattern in paths:
        root = Path(pattern)
        if not root.is_dir():  # a file or a glob: the one expander, each file taken as named
            for f, rel in expand([pattern], (), strict=False):
                if any(part in SKIP_DIRS or part.endswith(".egg-info") for part in Path(rel).parts[:-1]):
                    count("code_skipped_dir_files")  # a glob reaches into node_modules/: pruned as a walk would
                else:
                    take(f, rel)
            continue
        for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
            here = Path(dirpath)
            depth = len(here.relative_to(root).parts)
            keep = []
            for d in sorted(dirnames):
                if d in SKIP_DIRS or d.endswith(".egg-info") or depth >= MAX_DEPTH or (here / d).is_symlink():
                    key = "code_symlink" if (here / d).is_symlink() else "code_too_deep" if depth >= MAX_DEPTH else "code_skipped_dir"
                    count(key)
                    if key == "code_skipped_dir":
                        count("code_skipped_dir_files", sum(len(fs) for _, _, fs in os.walk(here / d)))
                else:
                    keep.append(d)
            dirnames[:] = keep
            for name in sorted(filenames):
                f = here / name
                if f.is_symlink():
                    count("code_symlink")
                elif f.is_file():
                    take(f, f.relative_to(root).as_posix())
    return tuple(files), tuple(sorted(counts.items()))


def code_files(paths: list[str]) -> list[tuple[Path, str]]:
    """The files of a code input that may hold code, with their path relative to the tree."""
    return list(_walk(tuple(paths))[0])


def code_skipped(paths: list[str]) -> dict[str, int]:
    """What the walk passed over: skipped directories (and the files in them), files of no known
    language, symlinks. (A second walk, not a cache: the tree may change between runs.)"""
    return dict(_walk(tuple(paths))[1])


