"""`gristmill lab search --engine ray --address`: every proxy and target run is a task on a real two-node
Ray cluster on 127.0.0.1 (this test's own, so a cluster someone else left running is not used), and the
result is a search the local engine resumes without retraining anything."""
import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import stdlib_docs, write_jsonl

pytest.importorskip("ray", reason="Ray is not installed (pip install 'ray[data]')")

CONFIG = """
sources:
  prose: prose.jsonl
  spam: spam.jsonl
search: {candidates: 4, samples: 500, top_k: 10}
proxy: {model: {preset: tiny, n_layer: 1, d_model: 32, n_head: 2}, tokens: 1000}
target: {model: {preset: tiny, n_layer: 1, d_model: 32, n_head: 2}, tokens: 4000, seeds: [0, 1]}
eval: {heldout: [heldout.jsonl], max_bytes: 2000, points: 1}
tokenizer: {train: {vocab_size: 300}}
seq_len: 32
batch_size: 4
threads: 1
"""


@pytest.mark.slow  # a Ray cluster and 14 short runs
def test_search_on_ray_then_local_resume(tmp_path, ray_cluster):
    cluster = ray_cluster
    d = stdlib_docs(260)
    write_jsonl(tmp_path / "prose.jsonl", d[:200])
    write_jsonl(tmp_path / "heldout.jsonl", d[220:])
    rng = random.Random(0)
    spam = ["buy", "cheap", "click", "here", "now", "FREE", "casino", "win", "offer", "!!!"]
    write_jsonl(tmp_path / "spam.jsonl", [{"text": " ".join(rng.choice(spam) for _ in range(120))} for _ in range(120)])
    (tmp_path / "s.yaml").write_text(CONFIG)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src"), "RAY_USAGE_STATS_ENABLED": "0"}
    cmd = [sys.executable, "-m", "gristmill", "lab", "search", str(tmp_path / "s.yaml"), "-o", str(tmp_path / "out")]
    r = subprocess.run(cmd + ["--engine", "ray", "--address", cluster.address], capture_output=True, text=True, env=env,
                       timeout=1500)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert "ray: 2 node(s), 2 CPUs" in r.stderr
    res = json.loads((tmp_path / "out" / "results.json").read_text())
    assert res["engine"] == "ray" and "Ray task" in res["parallel"]
    pids = {p["pid"] for p in res["proxies"]}
    # trained in Ray's worker processes, none of them the command's own (which is gone now)
    assert None not in pids and all(pid != os.getpid() for pid in pids)
    assert set(res["validation"]) >= {"predicted", "natural", "uniform", "best_proxy"}
    for arm in ("predicted", "natural", "uniform", "best_proxy"):
        assert len(res["validation"][arm]["per_seed"]) == 2
    # a rerun on the local engine finds every run finished: nothing is retrained, the result is the same
    r2 = subprocess.run(cmd + ["--engine", "local"], capture_output=True, text=True, env=env, timeout=600)
    assert r2.returncode == 0, r2.stdout[-3000:] + r2.stderr[-3000:]
    assert "6 of 6 already finished (skipped)" in r2.stdout and "8 of 8 already finished" in r2.stdout
    res2 = json.loads((tmp_path / "out" / "results.json").read_text())
    assert res2["validation"] == res["validation"] and res2["engine"] == "local"


def test_search_engine_errors(tmp_path):
    (tmp_path / "s.yaml").write_text("sources: {a: x.jsonl}\n")
    r = subprocess.run([sys.executable, "-m", "gristmill", "lab", "search", str(tmp_path / "s.yaml"), "-o", str(tmp_path / "o"),
                        "--engine", "ray"], capture_output=True, text=True, timeout=300,
                       env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src")})
    # the config is checked before any cluster starts
    assert r.returncode == 2 and "ray:" not in r.stderr and "s.yaml" in r.stderr
    r = subprocess.run([sys.executable, "-m", "gristmill", "lab", "search", str(tmp_path / "s.yaml"), "-o", str(tmp_path / "o"),
                        "--engine", "dask"], capture_output=True, text=True, timeout=300,
                       env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src")})
    assert r.returncode == 2
