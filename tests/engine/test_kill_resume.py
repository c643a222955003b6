"""Kill and resume: every way of killing a run, inside the global steps and the shard stages,
then the same command again must give exactly the uninterrupted output, with no hang, no orphan
process and no leftover temporary file. (The full 20-run battery is benchmarks/kill_battery.py.)"""
import os
import signal
import time
from pathlib import Path

import pytest

from kill_harness import (
    build_corpus, children, kill_and_resume, run_to_end, snapshot, write_recipe,
)
from gristmill.engine.pool import WorkerDied, run_tasks


@pytest.fixture(scope="module")
def battery(tmp_path_factory):
    d = tmp_path_factory.mktemp("kill")
    inputs = build_corpus(d / "in", n_files=8, docs_per_file=100)
    recipe = write_recipe(d / "recipe.yaml", inputs)
    os.environ["GRISTMILL_PROGRESS_EVERY"] = "0"  # the reference run's log shows every progress update
    try:
        rc, log = run_to_end(recipe, d / "ref", timeout=240)
    finally:
        del os.environ["GRISTMILL_PROGRESS_EVERY"]
    assert rc == 0, log
    return d, recipe, snapshot(d / "ref"), log


# (way, phase): each line is a failure seen before the shared pool existed.
# (way, place, delay after the place's workers exist)
CASES = [
    ("worker", "minhash_fit", 0.0),    # (a) hung forever: multiprocessing.Pool waits for the lost task
    ("parent", "paragraph_fit", 0.0),  # (b) two workers and a resource_tracker outlived the parent
    ("worker", "paragraph_fit", 0.0),  # (c) uncaught BrokenProcessPool traceback
    ("parent", "minhash_fit", 0.0),    # (d) BrokenPipeError and "leaked semaphore objects"
    ("group", "stage1", 0.5),          # (e) truncated temp files stayed after the resume
    ("sigint", "stage1", 0.0),         # Ctrl-C finished every queued shard before stopping
]


# Files a killed worker could leave (gristmill's temporary names) and a user's files that only look similar.
PLANTED = ["rejected/.s0-part03-gopher_quality-01.parquet.4242.tmp", "quarantine/.s0-part01.jsonl.77.tmp",
           "_work/.fit-03-minhash_dedup.x.npy.31337.tmp"]
USERS = ["user-notes.tmp", ".user-editor.swp.tmp", "user-data.1.tmp"]


def _plant(out: Path) -> None:
    for name in PLANTED:
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        (out / name).write_bytes(b"truncated")
    for name in USERS:
        (out / name).write_text("mine")


@pytest.mark.parametrize("way,phase,delay", CASES, ids=[f"{w}-{p}" for w, p, _ in CASES])
def test_kill_then_resume_is_identical(battery, way, phase, delay):
    d, recipe, ref, _ = battery
    out = d / f"{way}-{phase}"
    plant = way == "group"
    o = kill_and_resume(recipe, out, ref, way, phase, delay=delay, timeout=90, before_resume=_plant if plant else None)
    assert not o.missed, "the run ended before the kill point"
    assert o.killed_rc is not None, "the killed run hung"
    # (a worker killed just after the last task of its pool is harmless: the run may then finish)
    assert o.killed_rc != 0 or way == "worker", o
    assert not o.orphans, f"processes of the killed run still alive: {o.orphans}"
    assert not o.bad_output, o.bad_output
    assert o.resume_rc == 0, o.diff
    assert o.identical, f"resumed output differs from the uninterrupted run: {o.diff}"
    assert not o.temps_after, o.temps_after
    if way == "sigint":  # stopped instead of running the queued shards of stage 1 (8 shards, 2 workers)
        assert o.killed_rc == 130 and o.units_at_exit < 8, o
    if plant:  # the resume removes gristmill's temporary files, and only those
        assert not any((out / n).exists() for n in PLANTED) and "temporary files of the interrupted run" in o.resume_log
        assert all((out / n).exists() for n in USERS)


# ------------------------------------------------------------------ the pool itself

def _sleepy(x):
    time.sleep(x)
    return x


def test_pool_worker_death_is_an_error_not_a_hang(tmp_path):
    """A task whose worker is killed ends the pool with WorkerDied (multiprocessing.Pool hangs)."""
    import threading

    me = os.getpid()

    def killer():
        deadline = time.time() + 30
        while time.time() < deadline:
            kids = children(me)
            if len(kids) >= 2:
                time.sleep(0.3)
                os.kill(kids[0], signal.SIGKILL)
                return
            time.sleep(0.02)

    t = threading.Thread(target=killer)
    t.start()
    t0 = time.monotonic()
    with pytest.raises(WorkerDied, match="run the same command again"):
        list(run_tasks(_sleepy, [3.0] * 4, workers=2))
    t.join()
    assert time.monotonic() - t0 < 30  # a hang guard, not a speed claim
    deadline = time.time() + 10
    while children(me) and time.time() < deadline:  # the other worker is stopped too
        time.sleep(0.05)
    assert not children(me)


def test_pool_reports_progress_from_inside_tasks():
    got = []
    res = sorted(run_tasks(_count_to, [3, 5], workers=2, progress=lambda d, b: got.append((d, b))))
    assert res == [3, 5] and sum(d for d, _ in got) == 8 and sum(b for _, b in got) == 80


def test_pool_progress_of_a_task_arrives_before_its_result():
    # Reports are written by the task itself, before its result: when a result is yielded, every
    # report of that task has reached the callback (a feeder-thread queue lost them under load).
    for _ in range(20):
        got = []
        done = 0
        for n in run_tasks(_count_to, [3, 5, 7, 9, 11, 13], workers=2, progress=lambda d, b: got.append(d)):
            done += n
            assert sum(got) >= done
        assert sum(got) == done == 48


def _count_to(n):
    from gristmill.engine.pool import report

    for _ in range(n):
        report(1, 10)
    return n


# ------------------------------------------------------------------ progress a user can see

def test_progress_names_the_stage_and_moves_inside_fits(battery):
    *_, err = battery
    for line in ("stage 3/4: minhash_dedup fit: signatures", "stage 4/4: paragraph_dedup fit: hashing units",
                 "stage 2/4: exact_dedup fit: hashing", "stage 1/4: read, normalize, gopher_quality"):
        assert line in err, err[-3000:]
    # movement, not only a start line: counts with a rate part-way through a fit and a stage
    sig = [x for x in err.splitlines() if x.startswith("stage 3/4: minhash_dedup fit: signatures:") and "docs/s" in x]
    assert sig, err[-3000:]
    assert any(x.startswith("stage 1/4: read, normalize, gopher_quality:") and "MB/s" in x for x in err.splitlines())


# ------------------------------------------------------------------ one way to write a file

def test_atomic_write_leaves_nothing_behind_on_failure(tmp_path):
    import numpy as np

    from gristmill.engine.atomic import atomic_path, atomic_save_npy, is_temp_name

    target = tmp_path / "x.parquet"
    with pytest.raises(ValueError):
        with atomic_path(target) as tmp:
            assert is_temp_name(tmp.name) and tmp.parent == tmp_path
            tmp.write_text("half")
            raise ValueError("writer failed")
    assert list(tmp_path.iterdir()) == []
    atomic_save_npy(tmp_path / "a.npy", np.arange(3))  # the name is kept as given (np.save appends .npy to names)
    assert [p.name for p in tmp_path.iterdir()] == ["a.npy"] and np.load(tmp_path / "a.npy").tolist() == [0, 1, 2]


def test_no_hand_written_temp_then_rename_outside_the_helper():
    """Every temp-then-rename goes through gristmill.engine.atomic, so every temporary file has the
    one name shape that a resume knows how to clean up."""
    src = Path(__file__).resolve().parents[2] / "src" / "gristmill"
    offenders = []
    for p in src.rglob("*.py"):
        if p.name == "atomic.py":
            continue
        for i, line in enumerate(p.read_text().splitlines(), 1):
            if ("os.replace(" in line or ".tmp\"" in line or ".tmp.npy" in line) and "tmp_path(" not in line:
                if p.name in ("shard.py", "writer.py") and "os.replace(self." in line:  # the streaming shard writers (tmp_path names)
                    continue
                if p.name == "manifest.py" and "tmp.name.split(" in line:  # reads temp names to clean them up
                    continue
                offenders.append(f"{p.relative_to(src)}:{i}: {line.strip()}")
    assert not offenders, offenders


def test_warc_input_progress_shows_megabytes_per_second(tmp_path, docs):
    """WARC text is empty until html_extract runs; the rate counts the HTML read (it showed 0.0 MB/s)."""
    import subprocess
    import sys

    import yaml

    from gristmill.io.warc import write_warc

    pages = [(f"https://example.org/{i}", f"<html><body><p>{d['text']}</p></body></html>".encode(), {"Content-Type": "text/html"})
             for i, d in enumerate(docs * 4)]
    write_warc(tmp_path / "crawl.warc.gz", pages)
    rec = tmp_path / "r.yaml"
    rec.write_text(yaml.safe_dump({"input": {"paths": [str(tmp_path / "crawl.warc.gz")], "format": "warc"},
                                   "steps": [{"html_extract": {}}], "output": {"path": str(tmp_path / "out"), "batch_rows": 50}}))
    r = subprocess.run([sys.executable, "-m", "gristmill.cli", "run", str(rec), "-w", "1", "--no-progress"], capture_output=True,
                       text=True, env={**os.environ, "GRISTMILL_PROGRESS_EVERY": "0"}, timeout=300)
    assert r.returncode == 0, r.stderr
    rates = [float(x.rsplit(", ", 1)[1].split()[0]) for x in r.stderr.splitlines()
             if x.startswith("stage 1/1: read, html_extract:") and x.endswith("MB/s")]
    assert rates and max(rates) > 0, r.stderr[-2000:]
