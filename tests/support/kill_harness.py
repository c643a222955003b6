"""Kill a real `gristmill run` at a chosen point, resume it, and compare with an uninterrupted run.

Shared by the fast test (tests/engine/test_kill_resume.py) and the full battery (benchmarks/kill_battery.py).

A run is the real CLI in its own session (process group). Every process it starts inherits a
unique environment tag, so the processes of a killed run are found through /proc even after they
were re-parented (an orphan no longer has the run in its ancestry, but it keeps its environment).
"""
from __future__ import annotations

import gzip
import json
import os
import random
import re
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow.parquet as pq
import yaml

from conftest import stdlib_docs

GRISTMILL = [sys.executable, "-m", "gristmill.cli"]
TAG = "GRISTMILL_KILL_TAG"
WAYS = ("group", "parent", "worker", "sigint")

# The recipe of the battery: shard stages around three global steps (fit dirs are fit-<step index>-<name>).
STEPS = [{"normalize": {}}, {"gopher_quality": {"min_alpha_words_ratio": 0.5}}, {"exact_dedup": {}}, {"minhash_dedup": {}}, {"paragraph_dedup": {}}]

# Where to kill: a path (glob) under the run dir that appears when the place is reached, and whether
# the place runs worker processes (then the kill waits until they exist, so it lands in their work).
# In the fits the marker is the first finished file of the pool's tasks: the workers are then busy
# with the others. exact_dedup's fit runs in the parent alone.
PHASES = {
    "stage1": ("_manifest/plan.json", True),
    "exact_fit": ("_work/fit-02-exact_dedup/fit.json", False),
    "minhash_fit": ("_work/fit-03-minhash_dedup/sig/*.meta.parquet", True),
    "paragraph_fit": ("_work/fit-04-paragraph_dedup/spill/*.npy", True),
    "last_stage": ("_manifest/fit-04.json", True),
}
BOILER = [
    "Subscribe to our newsletter to get the latest updates delivered to your inbox every week.",
    "This page is part of the documentation. Copyright the contributors; all rights reserved.",
    "Cookies help us deliver our services. By using our services, you agree to our use of cookies.",
]


def build_corpus(d: Path, n_files: int = 8, docs_per_file: int = 400, seed: int = 0) -> list[str]:
    """``n_files`` JSONL inputs (one .gz, one .zst) of real prose with exact, near and paragraph
    duplicates across files, and a few malformed lines (quarantine)."""
    import zstandard

    rng = random.Random(seed)
    base = [x["text"] for x in stdlib_docs(1200, min_words=10)]
    d.mkdir(parents=True, exist_ok=True)
    paths, made = [], []
    for i in range(n_files):
        recs = []
        for k in range(docs_per_file):
            r = rng.random()
            if made and r < 0.05:
                text = rng.choice(made)  # exact duplicate, often in another file
            elif made and r < 0.10:
                text = rng.choice(made) + " (updated)"  # near duplicate
            else:
                paras = rng.sample(base, rng.randint(2, 4))
                if rng.random() < 0.4:  # boilerplate paragraphs: paragraph_dedup's work
                    paras.insert(rng.randint(0, len(paras)), rng.choice(BOILER))
                text = "\n\n".join(paras)
                made.append(text)
            recs.append(json.dumps({"id": f"f{i}-{k}", "text": text}))
            if k % 97 == 13:
                recs.append("{not json")
        body = ("\n".join(recs) + "\n").encode()
        if i == 0:
            p = d / f"part{i:02d}.jsonl.gz"
            p.write_bytes(gzip.compress(body))
        elif i == 1:
            p = d / f"part{i:02d}.jsonl.zst"
            p.write_bytes(zstandard.ZstdCompressor().compress(body))
        else:
            p = d / f"part{i:02d}.jsonl"
            p.write_bytes(body)
        paths.append(str(p))
    return paths


def write_recipe(path: Path, inputs: list[str], steps=None, **output) -> Path:
    data = {"input": {"paths": inputs, "id_field": "id"}, "steps": steps or STEPS,
            "output": {"path": str(path.parent / "out"), "batch_rows": 100, **output}}
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def start(recipe: Path, out: Path, workers: int = 2, log: Path | None = None) -> tuple[subprocess.Popen, str]:
    tag = uuid.uuid4().hex
    env = {**os.environ, TAG: tag}
    log = log or out.with_name(out.name + f".{tag[:8]}.log")
    fh = open(log, "wb")
    p = subprocess.Popen([*GRISTMILL, "run", str(recipe), "-o", str(out), "-w", str(workers), "--no-progress"],
                         stdout=fh, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    p.log_path = log  # type: ignore[attr-defined]
    fh.close()
    return p, tag


def tagged(tag: str) -> list[int]:
    """Live processes (not zombies) whose environment carries ``tag``."""
    needle = f"{TAG}={tag}".encode()
    pids = []
    for e in Path("/proc").glob("[0-9]*/environ"):
        try:
            if needle not in e.read_bytes().split(b"\0"):
                continue
            state = (e.parent / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            pids.append(int(e.parent.name))
    return pids


def children(pid: int) -> list[int]:
    """Live worker processes of ``pid`` (a multiprocessing resource_tracker is not a worker)."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) != pid or fields[0] == "Z" or "resource_tracker" in _cmdline(int(stat.parent.name)):
                continue
        except (OSError, ValueError):
            continue
        out.append(int(stat.parent.name))
    return out


def run_to_end(recipe: Path, out: Path, workers: int = 2, timeout: float = 300) -> tuple[int, str]:
    p, tag = start(recipe, out, workers)
    try:
        rc = p.wait(timeout)
    except subprocess.TimeoutExpired:
        _reap(p, tag)
        raise AssertionError(f"gristmill run did not finish within {timeout} s (hang?)") from None
    return rc, Path(p.log_path).read_text(errors="replace")


def _reap(p: subprocess.Popen, tag: str) -> None:
    """Clean up after a failed check: kill what this harness started (by pid) and wait for it."""
    for pid in tagged(tag):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    try:
        p.wait(10)
    except subprocess.TimeoutExpired:
        pass


def snapshot(out: Path) -> dict:
    """Everything that must be identical between an interrupted+resumed run and an uninterrupted one."""
    s = json.loads((out / "summary.json").read_text())
    kept = pq.read_table(out / "data")
    rej = pq.read_table(out / "rejected", columns=["id", "reject_reason"]) if any((out / "rejected").glob("*.parquet")) else None
    quarantine = sorted(line for p in (out / "quarantine").glob("*.jsonl") for line in p.read_text().splitlines())
    return {
        "kept_ids": sorted(kept.column("id").to_pylist()),
        "kept_rows": sorted(zip(kept.column("id").to_pylist(), kept.column("text").to_pylist())),
        "rejected": sorted(zip(rej.column("id").to_pylist(), rej.column("reject_reason").to_pylist())) if rej is not None else [],
        "quarantine": quarantine,
        "ledger": {k: s[k] for k in ("input", "kept", "rejected", "quarantined", "quarantine_errors")},
        "steps": [(r["step"], r["in"], r["out"]) for r in s["steps"]],
        "reports": s.get("reports"),
    }


_TEMP = re.compile(r"^\..+\.\d+\.tmp$|\.tmp(\.npy)?$|\.tmp\d+$")


def temp_files(out: Path) -> list[Path]:
    """Temporary files (any shape gristmill has ever used) left in a run directory."""
    return [p for p in out.rglob("*") if p.is_file() and _TEMP.search(p.name)]


@dataclass
class Outcome:
    way: str
    phase: str
    delay: float
    landed: str = ""  # where the run actually was when the kill landed
    killed_rc: int | None = None
    exit_seconds: float | None = None  # from the signal to the end of the killed run's processes
    orphans: list = field(default_factory=list)
    bad_output: list = field(default_factory=list)  # tracebacks/warnings printed by the killed run
    units_at_exit: int = 0  # shard units finished when the killed run ended
    temps_before_resume: int = 0
    resume_rc: int | None = None
    temps_after: list = field(default_factory=list)
    identical: bool = False
    diff: str = ""
    missed: bool = False  # the run finished before the kill point (not counted)
    resume_log: str = ""

    @property
    def ok(self) -> bool:
        return (not self.missed and self.identical and not self.orphans and not self.bad_output
                and not self.temps_after and self.resume_rc == 0)


def where(out: Path) -> str:
    """Where a run stands, from its run directory: in a global step's fit, or in the shard stage after it."""
    if (out / "summary.json").exists():
        return "finished"
    for idx, name in ((5, "semantic_dedup"), (4, "paragraph_dedup"), (3, "minhash_dedup"), (2, "exact_dedup")):
        if (out / "_work" / f"fit-{idx:02d}-{name}").exists():
            return f"{name} shards" if (out / "_manifest" / f"fit-{idx:02d}.json").exists() else f"{name} fit"
    return "stage 1 shards"


def kill_and_resume(recipe: Path, out: Path, ref: dict, way: str, phase: str, delay: float, workers: int = 2,
                    timeout: float = 180, before_resume=None) -> Outcome:
    """Start a run, kill it ``delay`` s after ``phase`` is reached in the given ``way``, check the
    debris, resume with the same command and compare with ``ref`` (a :func:`snapshot`)."""
    o = Outcome(way, phase, delay)
    marker, pooled = PHASES[phase]
    p, tag = start(recipe, out, workers)
    try:
        t_end = time.time() + timeout
        while not next(out.glob(marker), None):
            if p.poll() is not None or time.time() > t_end:
                break
            time.sleep(0.005)
        victim = None
        if pooled or way == "worker":  # let the workers start, so the kill lands in their work
            while p.poll() is None and time.time() < t_end:
                kids = children(p.pid)
                if kids:
                    victim = kids[0]
                    break
                time.sleep(0.005)
        if delay:
            time.sleep(delay)
            victim = None
            while way == "worker" and p.poll() is None and time.time() < t_end:  # the next pool's, if this one ended
                kids = children(p.pid)
                if kids:
                    victim = kids[0]
                    break
                time.sleep(0.005)
        if p.poll() is not None or (way == "worker" and victim is None):
            o.missed = True
            p.wait(timeout)
            return o
        o.landed = where(out)
        t0 = time.monotonic()
        if way == "group":
            os.killpg(p.pid, signal.SIGKILL)
        elif way == "parent":
            os.kill(p.pid, signal.SIGKILL)
        elif way == "worker":
            # the chosen worker may exit between being listed and the kill (a pool ending under load):
            # kill the parent's next worker instead; with none left the kill point was missed
            while True:
                try:
                    os.kill(victim, signal.SIGKILL)
                    break
                except ProcessLookupError:
                    kids = children(p.pid) if p.poll() is None else []
                    if not kids:
                        o.missed = True
                        p.wait(timeout)
                        return o
                    victim = kids[0]
        else:  # Ctrl-C: the terminal sends SIGINT to the whole foreground process group
            os.killpg(p.pid, signal.SIGINT)
        try:
            o.killed_rc = p.wait(max(1.0, t_end - time.time()))
        except subprocess.TimeoutExpired:
            o.killed_rc = None
            o.bad_output.append("the killed run hung")
        # every process of the run must be gone soon (workers die with their parent)
        while tagged(tag) and time.monotonic() - t0 < 15:
            time.sleep(0.05)
        o.exit_seconds = round(time.monotonic() - t0, 2)
        o.orphans = [(pid, _cmdline(pid)) for pid in tagged(tag)]
        o.units_at_exit = len(list((out / "_manifest").glob("s*-*.json")))
        log = Path(p.log_path).read_text(errors="replace")
        for bad in ("Traceback", "BrokenPipeError", "leaked semaphore", "BrokenProcessPool"):
            if bad in log:
                o.bad_output.append(bad + ": " + log[log.index(bad) - 200: log.index(bad) + 300])
        # (a worker killed after its pool's last task changes nothing: the run may finish, rc 0)
        if way in ("worker", "sigint") and o.killed_rc != 0 and "run the same command again" not in log:
            o.bad_output.append("no resume hint in the message: " + log[-500:])
    finally:
        _reap(p, tag)
    o.temps_before_resume = len(temp_files(out))
    if before_resume is not None:
        before_resume(out)
    rc, log2 = run_to_end(recipe, out, workers, timeout)
    o.resume_rc = rc
    o.resume_log = log2
    if rc != 0:
        o.diff = log2[-2000:]
        return o
    o.temps_after = [str(x) for x in temp_files(out) if not x.name.lstrip(".").startswith("user-")]  # a test's planted user files
    got = snapshot(out)
    o.identical = got == ref
    if not o.identical:
        o.diff = "; ".join(k for k in ref if ref[k] != got.get(k))
    return o


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")[:200]
    except OSError:
        return "?"
