"""The run directory: atomic writes, the manifest of finished units, and the recipe guard.

Every output file is written under a temporary name and renamed into place, and a unit (a shard
of a stage, a fitted global step) is recorded in ``_manifest/`` only after its files are in place.
A re-run therefore skips exactly the finished units, and a killed run never leaves a half-written
file under a final name.
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
from pathlib import Path

from gristmill.engine.atomic import is_temp_name, atomic_write_text, clean_stale_temps

__all__ = ["OutputBusy", "RecipeChanged", "RunDir", "atomic_write_text", "exclusive_output"]


class RecipeChanged(RuntimeError):
    pass


class OutputBusy(RecipeChanged):
    """Another process holds the output directory."""


@contextlib.contextmanager
def exclusive_output(root: Path):
    """Hold an exclusive lock on the output directory while a run writes it.

    Two runs writing one output would each see the other's finished shards as their own and
    interleave their files. The lock is ``flock`` on the directory itself: nothing is added to the
    output, ``--fresh`` (which clears only the directory's contents) cannot break it, and the kernel
    drops it when the holder dies, so a killed run never leaves a stale lock behind."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise OutputBusy(f"{root}: another gristmill process is writing this output right now; wait for it to "
                             "finish (or stop it), or choose another output path") from None
        yield
    finally:
        os.close(fd)


class RunDir:
    def __init__(self, root: Path):
        self.root = Path(root)
        self.manifest = self.root / "_manifest"
        self.data = self.root / "data"
        self.rejected = self.root / "rejected"
        self.quarantine = self.root / "quarantine"
        self.work = self.root / "_work"
        self.stale_temps: list[Path] = []

    def prepare(self, fingerprint: str, fresh: bool, protect: list[Path] = ()) -> bool:
        """Create or reopen the run directory. Returns True when resuming a started run.

        ``fresh`` removes a previous gristmill output first, and only that: see :meth:`remove_own_files`.
        ``protect`` are the run's inputs (and recipe); a directory holding one of them is never cleared."""
        fp_file = self.manifest / "recipe.fingerprint"
        if self.root.exists() and any(self.root.iterdir()):
            if fresh:
                self.remove_own_files(protect)
            elif fp_file.exists():
                old = fp_file.read_text().strip()
                if old != fingerprint:
                    raise RecipeChanged(
                        f"{self.root} holds the output of a different recipe (fingerprint {old}, this one {fingerprint}); "
                        "use another output path, or --fresh to delete it and start over")
                # a killed run's workers leave truncated files under temporary names; nothing will finish them
                self.stale_temps = clean_stale_temps(self.root)
                return True
            elif self._skeleton_only():
                self.stale_temps = clean_stale_temps(self.root)  # killed before its fingerprint: start over
            else:
                what = "is a gristmill output that never started" if self.is_output() else "is not a gristmill output"
                raise RecipeChanged(f"{self.root} exists, is not empty and {what}; choose a new or empty output path "
                                    "(--fresh only ever replaces a previous gristmill output)")
        for d in (self.manifest, self.data, self.rejected, self.quarantine, self.work):
            d.mkdir(parents=True, exist_ok=True)
        atomic_write_text(fp_file, fingerprint + "\n")
        return False

    # What a run writes at the top of its directory; nothing else there is ever deleted.
    OWN_DIRS = ("_manifest", "data", "rejected", "quarantine", "_work")
    OWN_FILES = ("summary.json", "recipe.lock.yaml", "demo_report.json")

    def _skeleton_only(self) -> bool:
        """What a run killed before writing its fingerprint leaves: only its own directories, holding
        nothing but temporary files."""
        for e in self.root.iterdir():
            if e.name not in self.OWN_DIRS or e.is_symlink() or not e.is_dir():
                return False
            if any(sub.is_dir() or not is_temp_name(sub.name) for sub in e.iterdir()):
                return False
        return True

    def is_output(self) -> bool:
        return (self.manifest / "recipe.fingerprint").is_file() or (self.root / "summary.json").is_file()

    def remove_own_files(self, protect: list[Path] = ()) -> None:
        """``--fresh``: delete a previous output, refusing anything that is not recognisably one.

        Refused: ``/``, the home directory, the current directory and its ancestors, any directory
        that holds (at any depth) an input or the recipe, and any directory without a gristmill
        manifest or summary. Even then only gristmill's own entries go; other files stay."""
        root = self.root.resolve()
        danger = {Path("/"), Path.home().resolve(), *Path.cwd().resolve().parents, Path.cwd().resolve()}
        if root in danger:
            raise RecipeChanged(f"--fresh refuses to clear {self.root} (resolves to {root}: the root, home or current "
                                "directory, or one above it); give the run its own output directory, e.g. -o out/run")
        for p in protect:
            rp = Path(p).resolve()
            if rp == root or root in rp.parents:
                raise RecipeChanged(f"--fresh refuses to clear {self.root}: it holds {p}, an input of this run; "
                                    "write the output somewhere else, e.g. -o out/run")
        if not self.is_output():
            raise RecipeChanged(f"--fresh refuses to clear {self.root}: it is not a gristmill output (no "
                                "_manifest/recipe.fingerprint or summary.json); choose a new or empty output path")
        for name in self.OWN_DIRS:
            d = self.root / name
            if d.is_dir() and not d.is_symlink():
                shutil.rmtree(d)
        for name in self.OWN_FILES:
            (self.root / name).unlink(missing_ok=True)
        for tmp in self.root.iterdir():  # an interrupted atomic write of one of the files above
            if tmp.is_file() and is_temp_name(tmp.name) and tmp.name[1:].rsplit(".", 2)[0] in self.OWN_FILES:
                tmp.unlink()

    def unit_file(self, unit: str) -> Path:
        return self.manifest / f"{unit}.json"

    def done(self, unit: str) -> dict | None:
        f = self.unit_file(unit)
        return json.loads(f.read_text()) if f.exists() else None

    def mark_done(self, unit: str, record: dict) -> None:
        atomic_write_text(self.unit_file(unit), json.dumps(record, sort_keys=True))
