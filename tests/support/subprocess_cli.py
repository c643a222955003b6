"""`gristmill ...` in a subprocess, as a user runs it: exit code, stdout and stderr of the real CLI."""
import subprocess
import sys

GRISTMILL = [sys.executable, "-m", "gristmill"]


def run_cli(*args, ok=True) -> subprocess.CompletedProcess:
    """Run the CLI; with ``ok`` assert it exited 0 (showing its output if not)."""
    r = subprocess.run(GRISTMILL + [str(a) for a in args], capture_output=True, text=True)
    if ok:
        assert r.returncode == 0, r.stdout + r.stderr
    return r
