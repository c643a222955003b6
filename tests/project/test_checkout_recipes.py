"""Item 10 of issue 8: every ready recipe's usage line works from a checkout, through `recipes/`."""
import gzip
import os
import random
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import stdlib_docs, write_jsonl
from fixtures_web import site_pages
from gristmill.io.warc import write_warc

REPO = Path(__file__).resolve().parents[2]
RECIPES = sorted((REPO / "recipes").glob("*.yaml"))


def _command(text: str) -> list[str]:
    """A command from a recipe comment, without the trailing "(explanation)"."""
    return shlex.split(re.split(r"\s{2,}\(|\s+\(or |\s+\(edit ", text.strip())[0])


def commands(recipe: Path) -> tuple[list[list[str]], list[list[str]]]:
    """The ``# Setup:`` commands a recipe needs first, and its ``# Usage:`` commands (a usage line
    may continue on the comment lines below it)."""
    setup, usage, cont = [], [], False
    for line in recipe.read_text().splitlines():
        if line.startswith("# Setup:"):
            setup.append(_command(line.split(":", 1)[1]))
            cont = False
        elif line.startswith("# Usage:"):
            usage.append(_command(line.split(":", 1)[1]))
            cont = True
        elif cont and re.match(r"#\s+gristmill ", line):
            usage.append(_command(line[1:]))
        else:
            cont = False
    return setup, usage


def _make_inputs(root: Path, recipe: Path) -> None:
    """The data a recipe's inputs name, built from real stdlib text (and the files its setup lines read)."""
    from gristmill.demo.noise import boilerplate, spam

    spec = yaml.safe_load(recipe.read_text())
    docs = [d["text"] for d in stdlib_docs(120)]
    inputs = spec.get("inputs") or ([spec["input"]] if spec.get("input") else [])
    for k, inp in enumerate(inputs):
        for pattern in inp["paths"]:
            target = root / pattern
            mine = [{"id": f"i{k}-{j}", "text": t} for j, t in enumerate(docs[k::max(1, len(inputs))])]
            if inp.get("format") == "warc":
                target.parent.mkdir(parents=True, exist_ok=True)
                write_warc(target.parent / "pages.warc.gz", site_pages())
            elif inp.get("format") == "code":  # a small repository tree of real stdlib modules
                import shutil
                import sysconfig

                std = Path(sysconfig.get_paths()["stdlib"])
                for name in ("json", "email"):
                    shutil.copytree(std / name, target / "src" / name, ignore=shutil.ignore_patterns("__pycache__"))
            elif inp.get("format") == "text":
                target.mkdir(parents=True, exist_ok=True)
                for r in mine:
                    (target / f"{r['id']}.txt").write_text(r["text"])
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                name = target.name.replace("*", "part")
                opener = gzip.open if name.endswith(".gz") else open
                write_jsonl(target.parent / name, mine, opener=opener)
    rng = random.Random(0)
    (root / "data/benchmarks").mkdir(parents=True, exist_ok=True)
    write_jsonl(root / "data/good.jsonl", [{"text": t} for t in docs[:60]])
    write_jsonl(root / "data/bad.jsonl", [{"text": (spam if i % 2 else boilerplate)(rng)} for i in range(60)])
    write_jsonl(root / "data/benchmarks/quiz.jsonl", [{"question": " ".join(t.split()[:30]), "answer": "42"} for t in docs[100:110]])


RUNNABLE = [r for r in RECIPES if commands(r)[1]]


def test_recipes_dir_holds_the_packaged_recipes():
    assert RECIPES, "recipes/ in the checkout holds no recipe (a broken link?)"
    packaged = sorted(p.name for p in (REPO / "src/gristmill/recipes").glob("*.yaml"))
    assert [p.name for p in RECIPES] == packaged


def test_every_file_is_a_recipe_a_mixture_a_recipe_uses_or_a_lab_config():
    from gristmill.lab.config import load_config
    from gristmill.lab.search import SearchConfig

    lab = {r for r in RECIPES if r.name.startswith("lab-")}
    for r in lab:  # lab configs (lab search) load as such
        load_config(r, model=SearchConfig)
    mixtures = {r.name for r in RECIPES} - {r.name for r in RUNNABLE} - {r.name for r in lab}
    used = " ".join(" ".join(c) for r in RUNNABLE for c in commands(r)[1])
    assert all(m in used for m in mixtures), {m for m in mixtures if m not in used}


@pytest.mark.parametrize("recipe", RUNNABLE, ids=lambda p: p.name)
def test_usage_line_runs(tmp_path, recipe):
    setup, usage = commands(recipe)
    # a checkout-shaped directory: the top-level recipes/ of the repo, and the data the recipe names
    os.symlink(REPO / "recipes", tmp_path / "recipes")
    _make_inputs(tmp_path, recipe)
    env = {**os.environ, "PYTHONPATH": str(REPO / "src") + os.pathsep + os.environ.get("PYTHONPATH", "")}
    for cmd in setup + usage:
        assert cmd[0] == "gristmill", cmd
        extra = ["-w", "1"] if cmd[1] in ("run", "demo") else []
        r = subprocess.run([sys.executable, "-m", "gristmill", *cmd[1:], *extra], cwd=tmp_path, capture_output=True, text=True, env=env)
        assert r.returncode == 0, (cmd, r.stdout[-1500:], r.stderr[-3000:])
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
