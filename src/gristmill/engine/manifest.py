"""The run directory: atomic writes, the manifest of finished units, and the recipe guard.

Every output file is written under a temporary name and renamed into place, and a unit (a shard
of a stage, a fitted global step) is recorded in ``_manifest/`` only after its files are in place.
A re-run therefore skips exactly the finished units, and a killed run never leaves a half-written
file under a final name.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

from gristmill.engine.atomic import atomic_write_text, clean_stale_temps

__all__ = ["RecipeChanged", "RunDir", "atomic_write_text"]


class RecipeChanged(RuntimeError):
    pass


class RunDir:
    def __init__(self, root: Path):
        self.root = Path(root)
        self.manifest = self.root / "_manifest"
        self.data = self.root / "data"
        self.rejected = self.root / "rejected"
        self.quarantine = self.root / "quarantine"
        self.work = self.root / "_work"
        self.stale_temps: list[Path] = []

    def prepare(self, fingerprint: str, fresh: bool) -> bool:
        """Create or reopen the run directory. Returns True when resuming a started run."""
        fp_file = self.manifest / "recipe.fingerprint"
        if self.root.exists() and any(self.root.iterdir()):
            if fresh:
                shutil.rmtree(self.root)
            elif fp_file.exists():
                old = fp_file.read_text().strip()
                if old != fingerprint:
                    raise RecipeChanged(
                        f"{self.root} holds the output of a different recipe (fingerprint {old}, this one {fingerprint}); "
                        "use another output path, or --fresh to delete it and start over")
                # a killed run's workers leave truncated files under temporary names; nothing will finish them
                self.stale_temps = clean_stale_temps(self.root)
                return True
            else:
                raise RecipeChanged(f"{self.root} exists and is not a gristmill run directory; choose an empty output path or pass --fresh")
        for d in (self.manifest, self.data, self.rejected, self.quarantine, self.work):
            d.mkdir(parents=True, exist_ok=True)
        atomic_write_text(fp_file, fingerprint + "\n")
        return False

    def unit_file(self, unit: str) -> Path:
        return self.manifest / f"{unit}.json"

    def done(self, unit: str) -> dict | None:
        f = self.unit_file(unit)
        return json.loads(f.read_text()) if f.exists() else None

    def mark_done(self, unit: str, record: dict) -> None:
        atomic_write_text(self.unit_file(unit), json.dumps(record, sort_keys=True))
