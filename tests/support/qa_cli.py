"""The held-out QA suites' CLI runner: `python -m gristmill.cli` in a subprocess on this checkout's source."""
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PROSE = "Plain English prose about the weather and the sea, written by a person for other people to read. " * 8


def cli(*args, cwd):
    env = {**os.environ, "PYTHONPATH": str(REPO / "src") + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.run([sys.executable, "-m", "gristmill.cli", *map(str, args)], capture_output=True, text=True, cwd=cwd, env=env)
