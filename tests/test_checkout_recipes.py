"""Item 10 of issue 8: every ready recipe's usage line works from a checkout, through `recipes/`."""
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from fixtures_web import site_pages
from gristmill.io.warc import write_warc

REPO = Path(__file__).resolve().parents[1]
RECIPES = sorted((REPO / "recipes").glob("*.yaml"))


def usage_line(recipe: Path) -> str:
    for line in recipe.read_text().splitlines():
        if line.startswith("# Usage:"):
            return line.split(":", 1)[1].split("(")[0].strip()
    raise AssertionError(f"{recipe}: no '# Usage: ...' line")


def test_recipes_dir_holds_the_packaged_recipes():
    assert RECIPES, "recipes/ in the checkout holds no recipe (a broken link?)"
    packaged = sorted(p.name for p in (REPO / "src/gristmill/recipes").glob("*.yaml"))
    assert [p.name for p in RECIPES] == packaged


@pytest.mark.parametrize("recipe", RECIPES, ids=lambda p: p.name)
def test_usage_line_runs(tmp_path, recipe):
    cmd = shlex.split(usage_line(recipe))
    assert cmd[0] == "gristmill"
    # a checkout-shaped directory: the top-level recipes/ of the repo, and the data the recipe names
    os.symlink(REPO / "recipes", tmp_path / "recipes")
    (tmp_path / "data/warc").mkdir(parents=True)
    write_warc(tmp_path / "data/warc/pages.warc.gz", site_pages())
    env = {**os.environ, "PYTHONPATH": str(REPO / "src") + os.pathsep + os.environ.get("PYTHONPATH", "")}
    r = subprocess.run([sys.executable, "-m", "gristmill.cli", *cmd[1:], "-w", "1"], cwd=tmp_path, capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr[-3000:]
    assert (tmp_path / "out").is_dir() and list((tmp_path / "out").glob("*/summary.json"))


def test_version_and_worker_count(tmp_path):
    from gristmill import __version__

    run = lambda *a: subprocess.run([sys.executable, "-m", "gristmill.cli", *a], capture_output=True, text=True, cwd=tmp_path)
    r = run("--version")
    assert r.returncode == 0 and r.stdout.strip() == f"gristmill {__version__}"
    (tmp_path / "r.yaml").write_text("input: {paths: [nothing.jsonl]}\nsteps: []\n")
    for w in ("0", "-2"):
        for cmd in (["run", "r.yaml"], ["demo"]):
            r = run(*cmd, "-w", w)
            assert r.returncode == 2 and "--workers" in r.stderr, (cmd, w, r.stderr)
    assert not (tmp_path / "out").exists()
