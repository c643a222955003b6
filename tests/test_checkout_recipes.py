"""Item 10 of issue 8: every ready recipe's usage line works from a checkout, through `recipes/`."""
import glob
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
# Mixture files (`*.mix.yaml`, for `gristmill mix`/`export`) sit beside the recipes but run on a
# finished output, so the curation usage-line check covers the recipes only.
CURATION = [p for p in RECIPES if not p.name.endswith(".mix.yaml")]


def usage_line(recipe: Path) -> str:
    for line in recipe.read_text().splitlines():
        if line.startswith("# Usage:"):
            return line.split(":", 1)[1].split("(")[0].strip()
    raise AssertionError(f"{recipe}: no '# Usage: ...' line")


def setup_lines(recipe: Path) -> list[str]:
    return [line.split(":", 1)[1].split("#")[0].strip() for line in recipe.read_text().splitlines() if line.startswith("# Setup:")]


def _recipe_data(root: Path, recipe: Path) -> None:
    """Real text at every input path the recipe names (JSONL globs, text directories), and the
    labelled files its setup lines read, so each ready recipe runs as its comments say."""
    import gzip

    import yaml

    from conftest import stdlib_docs, write_jsonl

    data = yaml.safe_load(recipe.read_text())
    docs = stdlib_docs(40)
    for spec in data.get("inputs", [data.get("input")]):
        for pattern in spec["paths"]:
            if spec.get("format") == "warc":
                continue
            if spec.get("format") == "text":
                (root / pattern).mkdir(parents=True, exist_ok=True)
                for d in docs[:10]:
                    (root / pattern / f"{d['id'].replace('/', '_')}.txt").write_text(d["text"])
                continue
            path = root / pattern.replace("*", "part0")
            path.parent.mkdir(parents=True, exist_ok=True)
            write_jsonl(path, [{"id": f"{pattern}:{i}", "text": d["text"]} for i, d in enumerate(docs)],
                        opener=gzip.open if path.name.endswith(".gz") else open)
    if setup_lines(recipe):
        write_jsonl(root / "data/good.jsonl", docs)
        write_jsonl(root / "data/bad.jsonl", [{"text": " ".join(["buy", "cheap", "click", "now", "free"][(i + k) % 5] for k in range(50))}
                                              for i in range(40)])
        (root / "data/benchmarks").mkdir(parents=True, exist_ok=True)
        write_jsonl(root / "data/benchmarks/bench.jsonl", [{"question": d["text"][:300], "answer": "x"} for d in docs[:3]])


def test_recipes_dir_holds_the_packaged_recipes():
    assert RECIPES, "recipes/ in the checkout holds no recipe (a broken link?)"
    packaged = sorted(p.name for p in (REPO / "src/gristmill/recipes").glob("*.yaml"))
    assert [p.name for p in RECIPES] == packaged


@pytest.mark.parametrize("recipe", CURATION, ids=lambda p: p.name)
def test_usage_line_runs(tmp_path, recipe):
    cmd = shlex.split(usage_line(recipe))
    assert cmd[0] == "gristmill"
    # a checkout-shaped directory: the top-level recipes/ of the repo, and the data the recipe names
    os.symlink(REPO / "recipes", tmp_path / "recipes")
    (tmp_path / "data/warc").mkdir(parents=True)
    write_warc(tmp_path / "data/warc/pages.warc.gz", site_pages())
    _recipe_data(tmp_path, recipe)
    env = {**os.environ, "PYTHONPATH": str(REPO / "src") + os.pathsep + os.environ.get("PYTHONPATH", "")}
    for setup in setup_lines(recipe):  # models and indexes the recipe's "# Setup:" lines make
        args = [a for arg in shlex.split(setup)[1:] for a in (sorted(glob.glob(arg, root_dir=tmp_path)) if "*" in arg else [arg])]  # as a shell expands
        s = subprocess.run([sys.executable, "-m", "gristmill.cli", *args], cwd=tmp_path, capture_output=True, text=True, env=env)
        assert s.returncode == 0, (setup, s.stderr[-3000:])
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
