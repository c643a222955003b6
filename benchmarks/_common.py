"""Shared helpers for benchmark scripts: machine description, peak RSS of a child, result fragments."""
from __future__ import annotations

import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORK = HERE / "work"
RESULTS = HERE / "results"


def machine() -> str:
    cpu = "unknown cpu"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{os.cpu_count()} cores ({cpu}), {mem:.0f} GiB RAM, Python {platform.python_version()}, {time.strftime('%Y-%m-%d')}"


def timed_child(code: str, *args: str) -> dict:
    """Run ``code`` in a fresh Python; return wall seconds and the child's peak RSS (MiB).

    The child prints one JSON object on its last line; it is merged into the result."""
    t0 = time.perf_counter()
    p = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if p.returncode != 0:
        raise RuntimeError(f"benchmark child failed:\n{p.stderr[-3000:]}")
    out = json.loads(p.stdout.strip().splitlines()[-1]) if p.stdout.strip() else {}
    out.setdefault("wall", wall)
    return out


def peak_rss_mib_self_and_children() -> float:
    return (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss + resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024


def write_fragment(name: str, text: str) -> Path:
    RESULTS.mkdir(exist_ok=True)
    p = RESULTS / f"{name}.md"
    p.write_text(text)
    print(text)
    return p


def corpora_dir() -> Path:
    """Where ``../shared/corpora/fetch`` put the real corpora: $GRISTMILL_CORPORA, else its own default."""
    return Path(os.environ.get("GRISTMILL_CORPORA") or Path.home() / ".cache" / "gristmill-corpora")


def resume_results(path: Path, **fields) -> dict:
    """A benchmark's results.json, read back if a previous run wrote it (finished arms are kept and
    skipped), updated with ``fields`` and an ``arms`` dict."""
    res = json.loads(path.read_text()) if path.exists() else {}
    res.update(fields)
    res.setdefault("arms", {})
    return res


def lab_train_tiny(out: Path, name: str, data: str, tokens: int, seed: int, seq_len: int = 256, batch: int = 4,
                   lr: float = 0.003) -> Path:
    """`gristmill lab train` of the tiny preset on ``out/data`` with one torch thread (the machine is
    shared: several one-thread runs beat one two-thread run), log in ``out/train_NAME.log``; a finished
    run is reused."""
    run = out / f"run_{name}"
    if (run / "final.json").exists():
        return run
    cfg = out / f"{name}.yaml"
    cfg.write_text(f"model: tiny\ndata: [{data}]\nseq_len: {seq_len}\nbatch_size: {batch}\ntokens: {tokens}\n"
                   f"lr: {lr}\nseed: {seed}\nthreads: 1\nlog_every: 50\neval: {{every_tokens: {tokens}, max_bytes: 20000}}\n")
    subprocess.run([sys.executable, "-c", "from gristmill.cli import main; main()", "lab", "train", str(cfg), "-o", str(run),
                    "--no-progress"], check=True, stdout=open(out / f"train_{name}.log", "w"), stderr=subprocess.STDOUT)
    return run
