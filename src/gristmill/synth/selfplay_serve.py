"""Serve a lab run for one self-play round: ``gristmill lab serve RUN`` on a free 127.0.0.1 port."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

from gristmill.synth.selfplay_config import SelfPlayError

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def served(run: Path, name: str = "selfplay", log: Path | None = None, ready_timeout_s: float = 300.0):
    """`gristmill lab serve RUN` on a free 127.0.0.1 port; yields the /v1 base URL; always stopped."""
    import httpx

    import gristmill

    port = free_port()
    src = str(Path(gristmill.__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)}
    logf = open(log, "ab") if log else subprocess.DEVNULL
    p = subprocess.Popen([sys.executable, "-c", "from gristmill.cli import main; main()", "lab", "serve", str(run),
                          "--port", str(port), "--name", name], env=env, stdout=logf, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + ready_timeout_s
        while True:
            if p.poll() is not None:
                tail = Path(log).read_text()[-2000:] if log else ""
                raise SelfPlayError(f"`gristmill lab serve {run}` exited with {p.returncode} before answering\n{tail}")
            try:
                if httpx.get(base + "/models", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise SelfPlayError(f"`gristmill lab serve {run}` did not answer on {base} within {ready_timeout_s:.0f} s")
            time.sleep(0.2)
        yield base
    finally:
        p.terminate()
        try:
            p.wait(15)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
        if log:
            logf.close()
