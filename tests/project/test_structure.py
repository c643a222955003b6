"""The package layout the design promises (one concept per module), checked so it stays that way."""
from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "gristmill"


def test_heuristic_rule_families_live_in_their_own_modules():
    from gristmill.step import all_steps
    family = {"gopher_quality": "gopher", "gopher_repetition": "gopher", "c4_quality": "c4",
              "fineweb_quality": "fineweb", "refinedweb_lines": "refinedweb"}
    steps = all_steps()
    for name, mod in family.items():
        assert steps[name].__module__ == f"gristmill.annotate.heuristics.{mod}", (name, steps[name].__module__)
    # The public names of the former single module still import from the package.
    from gristmill.annotate.heuristics import (GOPHER_STOP_WORDS, C4Quality, FineWebQuality,  # noqa: F401
                                               GopherQuality, GopherRepetition, RefinedWebLines, count_sentences,
                                               pure_python, split_words)
    assert not (SRC / "annotate" / "heuristics.py").exists()


def test_pure_python_switches_one_backend_object():
    from gristmill.annotate.heuristics import BACKEND, pure_python, split_words
    from gristmill.annotate.heuristics import tokenizer, words
    before = (BACKEND.kernels, BACKEND.tokenizer, BACKEND.tokenize)
    tokens = split_words("Mr. O'Neil's e-mail (bob@x.org) said: \"don't!!!\" -- 3.5kg, 10a.m.; :-) ok?")
    with pure_python():
        assert BACKEND.kernels is None and BACKEND.tokenizer is None
        assert BACKEND.tokenize is tokenizer._tokenize_chunk
        assert split_words("Mr. O'Neil's e-mail (bob@x.org) said: \"don't!!!\" -- 3.5kg, 10a.m.; :-) ok?") == tokens
    assert (BACKEND.kernels, BACKEND.tokenizer, BACKEND.tokenize) == before
    # No module keeps its own copy of the choice (the old pure_python() swapped three globals).
    for mod in ("words", "gopher", "c4", "fineweb", "refinedweb", "tokenizer", "native", "batch"):
        m = importlib.import_module(f"gristmill.annotate.heuristics.{mod}")
        assert not {"_NATIVE", "_native_mod", "_tokenize"} & set(vars(m)), mod
    del words


def test_no_empty_selectors_package():
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("gristmill.selectors")
    assert "selectors" not in (SRC / "steps_index.py").read_text()


def _imports(path: Path) -> set[str]:
    """Every gristmill module ``path`` imports, at module level or inside functions."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
    return {m for m in out if m.startswith("gristmill.")}


def test_io_modules_import_each_other_without_a_cycle():
    io = {f"gristmill.io.{p.stem}": p for p in (SRC / "io").glob("*.py") if p.stem != "__init__"}
    graph = {m: _imports(p) & set(io) for m, p in io.items()}

    def visit(m, stack):
        assert m not in stack, " -> ".join([*stack, m])
        for n in graph[m]:
            visit(n, [*stack, m])

    for m in graph:
        visit(m, [])
    # and each reader module imports on its own, first, in a fresh interpreter
    for m in ("gristmill.io.warc_reader", "gristmill.io.readers"):
        p = subprocess.run([sys.executable, "-c", f"import {m}"], capture_output=True, text=True)
        assert p.returncode == 0, p.stderr


def _private_imports() -> list[str]:
    """``from gristmill.X import _name`` where X is another package than the importing module's."""
    out = []
    for path in SRC.rglob("*.py"):
        me = ".".join(path.relative_to(SRC.parent).with_suffix("").parts)
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0 and node.module.startswith("gristmill."):
                theirs, mine = node.module.split(".")[1], me.split(".")[1]
                for a in node.names:
                    if a.name.startswith("_") and not a.name.startswith("__") and theirs != mine:
                        out.append(f"{me} <- {node.module}.{a.name}")
    return out


def test_cli_is_a_package_whose_groups_share_one_helper_module():
    assert not (SRC / "cli.py").exists()
    for group in ("main", "common", "mix", "stream", "lab", "synth", "quality"):
        assert (SRC / "cli" / f"{group}.py").exists(), group
    for pkg in ("mix", "stream", "lab", "synth", "quality"):
        assert not (SRC / pkg / "cli.py").exists(), pkg
    bad = [m for m in _private_imports() if ".cli." in m.split(" <- ")[1] or m.split(" <- ")[1].startswith("gristmill.cli.")]
    assert not bad, bad


def test_llm_client_lives_below_quality_and_synth():
    for path in (SRC / "llm").glob("*.py"):
        assert not {m for m in _imports(path) if m.startswith(("gristmill.synth", "gristmill.quality"))}, path
    assert not (SRC / "synth" / "llm_client.py").exists()
    users = [p for p in SRC.rglob("*.py") if "gristmill.llm.client" in _imports(p) or "gristmill.llm" in _imports(p)]
    assert {p.parent.name for p in users} >= {"quality", "synth"}


def test_demo_is_a_package_and_its_noise_is_public():
    assert not (SRC / "demo.py").exists() and not (SRC / "demo_run.py").exists()
    from gristmill.demo.noise import boilerplate, gibberish, spam
    import random
    rng = random.Random(0)
    assert all(isinstance(f(rng), str) and f(rng) for f in (boilerplate, gibberish, spam))


def test_one_config_loader_for_every_yaml_file():
    """Recipes, mixtures, lab, synth and self-play configs all read YAML through gristmill.config."""
    users = {p.relative_to(SRC).as_posix() for p in SRC.rglob("*.py") if "gristmill.config" in _imports(p)}
    assert {"recipe.py", "mix/spec.py", "lab/config.py", "synth/loop.py", "synth/selfplay_config.py"} <= users, users
    for p in SRC.rglob("*.py"):
        if p.relative_to(SRC).as_posix() != "config.py":
            src = p.read_text()
            assert "yaml.safe_load(open(" not in src and "yaml.load(" not in src, p


def test_tests_are_grouped_by_area_and_share_only_through_conftest_and_support():
    tests = SRC.parents[1] / "tests"
    assert not list(tests.glob("test_*.py")), "a test at the top of tests/: put it in its area's folder"
    for path in tests.rglob("test_*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("test_"):
                raise AssertionError(f"{path.relative_to(tests)} imports {node.module}: move what it shares to support/ or conftest.py")


def test_no_module_imports_a_private_name_of_another_package():
    assert not _private_imports(), _private_imports()


def _private_names_from_other_modules(package: str) -> list[str]:
    """``from gristmill.X.m import _name`` inside ``gristmill.<package>`` where ``m`` is another module,
    and subclasses of such names (``class A(mod._B)``)."""
    out = []
    for path in (SRC / package).rglob("*.py"):
        me = ".".join(path.relative_to(SRC.parent).with_suffix("").parts)
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0 and node.module.startswith("gristmill."):
                out += [f"{me} <- {node.module}.{a.name}" for a in node.names
                        if a.name.startswith("_") and not a.name.startswith("__") and node.module != me]
            elif isinstance(node, ast.ClassDef):
                out += [f"{me}: class {node.name}({ast.unparse(b)})" for b in node.bases
                        if isinstance(b, ast.Attribute) and b.attr.startswith("_") and not b.attr.startswith("__")]
    return out


def test_engine_and_dedup_modules_use_each_other_through_public_names():
    """Issue 20: select used to subclass the engine's private ``_ShardRunner`` and ``_Writer``;
    the shard runner (engine/shard.py), the writer and the ledger are public APIs now, and no
    module of these packages reaches into another module's private names."""
    for pkg in ("engine", "dedup"):
        assert not _private_names_from_other_modules(pkg), _private_names_from_other_modules(pkg)
    # the check itself sees what it must: the former import, at any depth, and a subclass of a private name
    probe = "def f():\n    from gristmill.engine.local import _ShardRunner\nclass R(local._Writer):\n    pass\n"
    tree = ast.parse(probe)
    names = [a.name for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) for a in n.names]
    bases = [b.attr for n in ast.walk(tree) if isinstance(n, ast.ClassDef) for b in n.bases]
    assert names == ["_ShardRunner"] and bases == ["_Writer"]


def test_engine_local_is_split_by_concern():
    from gristmill.engine import ledger, local, reselect, shard, writer

    assert shard.ShardRunner.__module__ == "gristmill.engine.shard" and writer.ShardWriter.__module__ == "gristmill.engine.writer"
    assert not hasattr(local, "ShardRunner") and not hasattr(local, "_ShardRunner"), "local.py only orchestrates"
    assert len((SRC / "engine" / "local.py").read_text().splitlines()) < 300
    # run and select run shards through the one public runner
    for mod in ("local", "reselect"):
        assert "gristmill.engine.shard" in _imports(SRC / "engine" / f"{mod}.py"), mod
    assert reselect.Ledger is ledger.Ledger


# the keys of the reconciliation: a module counting with them outside the ledger is a second ledger
_LEDGER_KEYS = {"read_quarantined", "bytes_in", "bytes_kept"}


def test_one_ledger_for_run_and_select():
    """Only engine/ledger.py reconciles counts (and raises LedgerMismatch); the shard runner only
    produces a unit's counts. Select (reselect.py, refit.py, replay.py) must count through the Ledger."""
    for path in (SRC / "engine").glob("*.py"):
        tree = ast.parse(path.read_text())
        consts = {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)}
        raises = [n for n in ast.walk(tree) if isinstance(n, ast.Raise) and n.exc is not None and "LedgerMismatch" in ast.unparse(n.exc)]
        if path.name == "ledger.py":
            assert raises and _LEDGER_KEYS <= consts
            continue
        assert not raises, f"{path.name} raises LedgerMismatch: reconcile through engine/ledger.py"
        if path.name != "shard.py":  # the runner fills one unit's counts (ShardResult)
            assert not (_LEDGER_KEYS & consts), f"{path.name} counts {_LEDGER_KEYS & consts}: a second ledger; use engine/ledger.Ledger"
    assert "gristmill.engine.ledger" in _imports(SRC / "engine" / "reselect.py")
