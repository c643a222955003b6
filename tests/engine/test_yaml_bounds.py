"""Issue 19, "bad input gets a clear error": the one YAML loader (recipes, mixtures, synth, lab and
self-play configs) bounds alias expansion and nesting, refuses non-finite numbers, and names the
file and line for UTF-16, binary and non-UTF-8 files, instead of a traceback or a hang."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

from gristmill.lab.config import ConfigError, load_config
from gristmill.mix.spec import MixtureError, load_mixture
from gristmill.recipe import RecipeError, load_recipe
from gristmill.synth.loop import ConfigError as LoopConfigError, load_config as load_loop_config
from gristmill.synth.selfplay import SelfPlayError, load_config as load_selfplay_config

LAUGHS = "".join(f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9) if i else ', '.join(['lol'] * 9)}]\n" for i in range(9))
RECURSIVE = "a: &a {b: [*a]}\n"
DEEP = "a: " + "[" * 5000 + "]" * 5000 + "\n"
LOADERS = [(load_recipe, RecipeError), (load_mixture, MixtureError), (load_config, ConfigError),
           (load_loop_config, LoopConfigError), (load_selfplay_config, SelfPlayError)]


def _err(loader, exc, path: Path) -> str:
    with pytest.raises(exc) as e:
        loader(path)
    return " ".join(str(e.value).split())


@pytest.mark.parametrize("loader,exc", LOADERS, ids=lambda x: getattr(x, "__module__", "") + "." + getattr(x, "__name__", ""))
def test_every_config_loader_is_bounded_and_names_file_and_line(tmp_path, loader, exc):
    cases = {
        "laughs.yaml": (LAUGHS + "steps: [*l8]\n", "line 6: aliases expand this to more than 100,000 values"),
        "recursive.yaml": (RECURSIVE, "line 1: recursive alias"),
        "deep.yaml": (DEEP, "nested more than 64 levels deep"),
        "inf.yaml": ("sources:\n  - {path: a.jsonl, weight: .inf}\n", "line 2: weight: .inf is not a finite number"),
        "nan.yaml": ("lr: .NaN\n", "line 1: lr: .NaN is not a finite number"),
        "huge.yaml": ("lr: 1.0e+999\n", "line 1: lr: 1.0e+999 is not a finite number"),
        "u16.yaml": ("steps: []\n".encode("utf-16"), "the file is UTF-16; save the"),
        "bin.yaml": (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "line 3: NUL bytes"),
        "latin1.yaml": ("a: 1\nname: caf\xe9\n".encode("latin-1"), "line 2: not UTF-8 text (byte 0xe9"),
    }
    for name, (body, want) in cases.items():
        f = tmp_path / name
        f.write_bytes(body if isinstance(body, bytes) else body.encode())
        msg = _err(loader, exc, f)
        assert msg.startswith(str(f)) and want in msg, (name, msg)


def test_a_billion_laughs_recipe_fails_fast_through_the_cli(tmp_path):
    f = tmp_path / "r.yaml"
    f.write_text(LAUGHS + "input: {paths: [a.jsonl]}\nsteps: [*l8]\n")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src")}
    r = subprocess.run([sys.executable, "-m", "gristmill", "run", str(f)], capture_output=True, text=True, timeout=120, cwd=tmp_path, env=env)
    assert r.returncode == 2 and "billion laughs" in r.stderr and "Traceback" not in r.stderr, r.stderr
    assert not (tmp_path / "out").exists()


def test_ordinary_aliases_still_work(tmp_path):
    (tmp_path / "a.jsonl").write_text('{"text": "hello world"}\n')
    f = tmp_path / "r.yaml"
    f.write_text(f"input: {{paths: ['{tmp_path}/a.jsonl']}}\nsteps:\n  - min_length: &m {{min_words: 3}}\n"
                 "  - gopher_repetition: {}\n  - min_length: *m\noutput: {path: out}\n")
    r = load_recipe(f)
    assert [s.config["min_words"] for s in r.steps if s.name == "min_length"] == [3, 3]
