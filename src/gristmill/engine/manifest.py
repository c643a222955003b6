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
import re
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


# The marker that makes a directory a gristmill output. ``--fresh`` deletes only directories that
# carry it: a common file name (``summary.json``, ``data/``) says nothing about who made a folder,
# and a user's project with its own ``summary.json`` lost its ``data/`` to that guess (issue 19,
# item 9). Outputs written before the marker existed are recognised by the fingerprint file that
# only gristmill writes, with the exact shape :meth:`Recipe.fingerprint` gives it.
FORMAT_NAME = "gristmill-output"
FORMAT_VERSION = 1
_FINGERPRINT = re.compile(r"^[0-9a-f]{16}\n?$")


def _version_change(ver_file: Path, now: dict | None) -> str:
    """What differs between the versions that started an output and ``now``; "" if unknown or equal."""
    if now is None or not ver_file.is_file():
        return ""
    try:
        old = json.loads(ver_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return ""
    if not isinstance(old, dict):
        return ""
    out = []
    if old.get("gristmill") != now.get("gristmill"):
        out.append(f"gristmill {old.get('gristmill')} then, {now.get('gristmill')} now")
    old_steps, new_steps = old.get("steps") or {}, now.get("steps") or {}
    for key in sorted(set(old_steps) & set(new_steps)):
        if old_steps[key] != new_steps[key]:
            out.append(f"step {key} version {old_steps[key]} then, {new_steps[key]} now")
    return "; ".join(out)


class RunDir:
    def __init__(self, root: Path):
        self.root = Path(root)
        self.manifest = self.root / "_manifest"
        self.data = self.root / "data"
        self.rejected = self.root / "rejected"
        self.quarantine = self.root / "quarantine"
        self.work = self.root / "_work"
        self.stale_temps: list[Path] = []

    def prepare(self, fingerprint: str, fresh: bool, protect: list[Path] = (), versions: dict | None = None) -> bool:
        """Create or reopen the run directory. Returns True when resuming a started run.

        ``fresh`` removes a previous gristmill output first, and only that: see :meth:`remove_own_files`.
        ``protect`` are the run's inputs (and recipe); a directory holding one of them is never cleared.
        ``versions`` (gristmill's and each step's, part of the fingerprint) are recorded so that a
        refused resume after an upgrade can say which version changed."""
        fp_file = self.manifest / "recipe.fingerprint"
        ver_file = self.manifest / "versions.json"
        if self.root.exists() and any(self.root.iterdir()):
            if fresh:
                self.remove_own_files(protect)
            elif fp_file.exists() and self.is_output():
                old = fp_file.read_text().strip()
                if old != fingerprint:
                    changed = _version_change(ver_file, versions)
                    if changed:
                        raise RecipeChanged(
                            f"{self.root} was started by other code ({changed}); resuming would mix shards made by two "
                            "versions of an algorithm. Use --fresh to start over, or a new output path")
                    raise RecipeChanged(
                        f"{self.root} holds the output of a different recipe (fingerprint {old}, this one {fingerprint}); "
                        "use another output path, or --fresh to delete it and start over")
                # a killed run's workers leave truncated files under temporary names; nothing will finish them
                self.stale_temps = clean_stale_temps(self.root)
                self._write_marker()  # an output from before the marker existed gets one
                return True
            elif self._skeleton_only():
                self.stale_temps = clean_stale_temps(self.root)  # killed before its fingerprint: start over
            else:
                what = "is a gristmill output that never started" if self.is_output() else "is not a gristmill output"
                raise RecipeChanged(f"{self.root} exists, is not empty and {what}; choose a new or empty output path "
                                    "(--fresh only ever replaces a previous gristmill output)")
        self.manifest.mkdir(parents=True, exist_ok=True)
        self._write_marker()  # first: from here on --fresh may clear this directory
        for d in (self.data, self.rejected, self.quarantine, self.work):
            d.mkdir(parents=True, exist_ok=True)
        if versions is not None:
            atomic_write_text(ver_file, json.dumps(versions, sort_keys=True) + "\n")
        atomic_write_text(fp_file, fingerprint + "\n")
        return False

    # What a run (and the commands that add to an output: report, demo, mix) writes at the top of
    # its directory; nothing else there is ever deleted. ``report.html`` is here so that
    # ``--fresh --no-report`` cannot leave the old run's report beside the new data.
    OWN_DIRS = ("_manifest", "data", "rejected", "quarantine", "_work")
    OWN_FILES = ("summary.json", "recipe.lock.yaml", "demo_report.json", "report.html", "mixture.json")

    @property
    def marker(self) -> Path:
        return self.manifest / "format.json"

    def _write_marker(self) -> None:
        if not self.marker.is_file():
            atomic_write_text(self.marker, json.dumps({"format": FORMAT_NAME, "version": FORMAT_VERSION}) + "\n")

    def _skeleton_only(self) -> bool:
        """What a run killed before writing its fingerprint leaves: only its own directories, holding
        nothing but temporary files (and, in ``_manifest/``, the format marker and versions written
        before the fingerprint)."""
        early = {self.marker.name, "versions.json"}
        for e in self.root.iterdir():
            if e.name not in self.OWN_DIRS or e.is_symlink() or not e.is_dir():
                return False
            for sub in e.iterdir():
                if sub.is_dir() or not (is_temp_name(sub.name) or (e.name == "_manifest" and sub.name in early)):
                    return False
        return True

    def is_output(self) -> bool:
        """True only for a directory gristmill made: its ``_manifest/format.json`` names the format,
        or (outputs from before the marker) ``_manifest/recipe.fingerprint`` holds a fingerprint."""
        if self.manifest.is_symlink() or not self.manifest.is_dir():
            return False
        try:
            if self.marker.is_file():
                if self.marker.stat().st_size > 4096:
                    return False
                meta = json.loads(self.marker.read_text(encoding="utf-8"))
                return isinstance(meta, dict) and meta.get("format") == FORMAT_NAME and isinstance(meta.get("version"), int)
            fp = self.manifest / "recipe.fingerprint"
            return fp.is_file() and fp.stat().st_size <= 64 and _FINGERPRINT.match(fp.read_text(encoding="utf-8")) is not None
        except (OSError, ValueError):
            return False

    def remove_own_files(self, protect: list[Path] = ()) -> None:
        """``--fresh``: delete a previous output, refusing anything that is not recognisably one.

        Refused: ``/``, the home directory, the current directory and its ancestors, any directory
        that holds (at any depth) an input or the recipe, and any directory without gristmill's
        manifest (:meth:`is_output`). Even then only gristmill's own entries go; other files stay."""
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
                                "_manifest/format.json marker); nothing was deleted. Choose a new or empty output path")
        for name in self.OWN_DIRS[::-1]:  # the manifest (which makes this an output) last
            d = self.root / name
            if d.is_dir() and not d.is_symlink():
                shutil.rmtree(d)
        for name in self.OWN_FILES:
            (self.root / name).unlink(missing_ok=True)
        from gristmill.report.card import is_own_card

        if is_own_card(self.root / "README.md"):  # a dataset card of the old run, unedited: stale now
            (self.root / "README.md").unlink()
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
