"""The Ray engine against a real two-node Ray cluster on 127.0.0.1: the demo, web and fuzzy-dedup
recipes give the same kept ids, rejected reasons, quarantine and clusters as the local engine; a
Ray worker killed mid-run is retried and the result is the same."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from conftest import stdlib_docs, write_jsonl

ray = pytest.importorskip("ray", reason="Ray is not installed (pip install 'ray[data]')")
GRISTMILL = [sys.executable, "-m", "gristmill"]


@pytest.fixture(scope="module")
def cluster(ray_cluster):  # conftest.py: shared with tests/lab/test_lab_search_ray.py
    return ray_cluster


def _run(recipe: Path, out: Path, *extra) -> subprocess.CompletedProcess:
    r = subprocess.run(GRISTMILL + ["run", str(recipe), "-o", str(out), "--no-progress", *extra],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-3000:]
    return r


def outcome(out: Path) -> dict:
    kept = sorted(i for p in (out / "data").glob("*.parquet") for i in pq.read_table(p, columns=["id"]).column("id").to_pylist())
    rejected = []
    for p in (out / "rejected").glob("*.parquet"):
        t = pq.read_table(p, columns=["id", "reject_reason"])
        rejected += zip(t.column("id").to_pylist(), t.column("reject_reason").to_pylist())
    rejected.sort()
    quarantine = sorted(line for p in (out / "quarantine").glob("*.jsonl") for line in p.read_text().splitlines())
    clusters = {}
    for p in sorted((out / "data").glob("*.parquet")):
        t = pq.read_table(p)
        for col in ("dup_cluster", "exact_dup_cluster"):
            if col in t.column_names:
                clusters.setdefault(col, []).extend(zip(t.column("id").to_pylist(), t.column(col).to_pylist()))
    clusters = {k: sorted(v, key=str) for k, v in clusters.items()}
    s = json.loads((out / "summary.json").read_text())
    return {"kept": kept, "rejected": rejected, "quarantine": quarantine, "clusters": clusters,
            "summary": {k: s[k] for k in ("input", "kept", "rejected", "quarantined", "quarantine_errors")}}


def _demo(tmp: Path) -> Path:
    from gristmill.demo import build_demo_corpus
    from gristmill.demo.run import demo_recipe_dict
    import yaml

    build_demo_corpus(tmp / "corpus")
    d = demo_recipe_dict(tmp / "corpus", tmp / "unused")
    p = tmp / "demo.yaml"
    p.write_text(yaml.safe_dump(d))
    return p


def _fuzzy(tmp: Path, n_files: int = 6) -> Path:
    docs = [d["text"] for d in stdlib_docs(240)]
    for f in range(n_files):
        rows = []
        for i, t in enumerate(docs[f::n_files]):
            rows.append({"id": f"f{f}-{i}", "text": t})
            if i % 3 == 0:  # a near duplicate: a few words changed
                w = t.split()
                w[len(w) // 2] = "changed"
                rows.append({"id": f"f{f}-{i}-nd", "text": " ".join(w)})
        write_jsonl(tmp / f"part{f}.jsonl", rows)
    (tmp / "part0.jsonl").open("a").write("{broken json\n")
    p = tmp / "fuzzy.yaml"
    p.write_text(f"""
input: {{paths: ["{tmp}/part*.jsonl"], id_field: id}}
steps:
  - normalize: {{}}
  - gopher_quality: {{}}
  - exact_dedup: {{}}
  - minhash_dedup: {{}}
  - paragraph_dedup: {{}}
output: {{path: "{tmp}/o", keep_rejected: true}}
""")
    return p


def _web(tmp: Path) -> Path:
    from fixtures_web import site_pages
    from gristmill.io.warc import write_warc

    (tmp / "warc").mkdir()
    write_warc(tmp / "warc" / "pages.warc.gz", site_pages())
    recipe = (Path(__file__).resolve().parents[2] / "src/gristmill/recipes/web.yaml").read_text()
    p = tmp / "web.yaml"
    p.write_text(recipe.replace("data/warc/*.warc.gz", f"{tmp}/warc/*.warc.gz"))
    return p


@pytest.mark.parametrize("make", [_demo, _web, _fuzzy], ids=["demo", "web", "fuzzy"])
def test_same_result_on_both_engines(cluster, tmp_path, make):
    recipe = make(tmp_path)
    _run(recipe, tmp_path / "local", "-w", "2")
    r = _run(recipe, tmp_path / "ray", "--engine", "ray", "--address", cluster.address)
    assert "2 node(s)" in r.stderr
    a, b = outcome(tmp_path / "local"), outcome(tmp_path / "ray")
    assert a["summary"]["input"] > 0
    for k in a:
        assert a[k] == b[k], k


def _kill_a_ray_task(stop: threading.Event, killed: list) -> None:
    """SIGKILL the first Ray worker seen executing a gristmill task (an actor busy with a task: its title is ray::GristmillWorker.run)."""
    while not stop.is_set() and not killed:
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                cmd = open(f"/proc/{pid}/cmdline", "rb").read().decode(errors="replace")
            except OSError:
                continue
            if cmd.startswith("ray::GristmillWorker.run"):
                try:
                    os.kill(int(pid), signal.SIGKILL)
                    killed.append(int(pid))
                except ProcessLookupError:
                    continue
                return
        time.sleep(0.02)


def test_killed_ray_worker_is_retried(cluster, tmp_path):
    recipe = _fuzzy(tmp_path, n_files=8)
    _run(recipe, tmp_path / "local", "-w", "2")
    stop, killed = threading.Event(), []
    t = threading.Thread(target=_kill_a_ray_task, args=(stop, killed), daemon=True)
    t.start()
    try:
        _run(recipe, tmp_path / "ray", "--engine", "ray", "--address", cluster.address)
    finally:
        stop.set()
        t.join()
    assert killed, "no Ray task was seen running"
    assert outcome(tmp_path / "local") == outcome(tmp_path / "ray")


def _models(tmp: Path) -> Path:
    """Four input files (four shards per stage), a fast quality model, semantic and fuzzy dedup over
    near copies."""
    import random

    import numpy as np

    from gristmill.quality.model import train

    docs = [d["text"] for d in stdlib_docs(100)]
    rng = random.Random(0)
    bad = ["".join(rng.choice("qwxzjk!$ 0123") for _ in range(300)) for _ in range(60)]
    train(docs[:60] + bad, np.r_[np.ones(60), np.zeros(60)], "fast").save(tmp / "q.bin")
    for f in range(4):
        rows = []
        for i, t in enumerate(docs[f::4]):
            rows.append({"id": f"{f}-{i}", "text": t})
            if i % 4 == 0:  # a near copy: one word changed (a fuzzy duplicate, which minhash_dedup takes)
                w = t.split()
                w[len(w) // 3] = "changed"
                rows.append({"id": f"{f}-{i}-nd", "text": " ".join(w)})
            elif i % 4 == 2:  # the same first 2,000 characters, then other text three times as long:
                # the same embedding (the model reads the first 256 tokens), far apart in Jaccard
                head = " ".join(docs[(f + i + k) % len(docs)] for k in range(8))[:2000]
                tails = [" ".join(docs[(f + i + k) % len(docs)] for k in range(m, m + 12)) for m in (20, 40)]
                rows += [{"id": f"{f}-{i}-s{k}", "text": head + " " + tail} for k, tail in enumerate(tails)]
        write_jsonl(tmp / f"part{f}.jsonl", rows)
    p = tmp / "models.yaml"
    p.write_text(f"""
input: {{paths: ["{tmp}/part*.jsonl"], id_field: id}}
steps:
  - quality_score: {{model: "{tmp}/q.bin"}}
  - minhash_dedup: {{partition_docs: 90}}
  - semantic_dedup: {{threshold: 0.98, n_clusters: 3}}
output: {{path: "{tmp}/o", keep_rejected: true}}
""")
    return p


def _columns(out: Path, cols: tuple) -> dict:
    got = {}
    for sub in ("data", "rejected"):
        for p in sorted((out / sub).glob("*.parquet")):
            t = pq.read_table(p)
            for row in zip(*(t.column(c).to_pylist() for c in ("id",) + cols)):
                got[row[0]] = row[1:]
    return got


def test_models_load_once_per_actor_and_global_steps_agree(cluster, tmp_path):
    """quality_score on Ray actors scores exactly as the local engine and loads its model once per
    actor (the counts come from the actors' own model cache, printed by the engine at the end);
    the semantic-dedup embedding (per shard, on the actors) and MinHash's partitioned decisions
    (2 partitions here) give the same clusters and decisions."""
    pytest.importorskip("sentence_transformers")
    recipe = _models(tmp_path)
    _run(recipe, tmp_path / "local", "-w", "2")
    r = _run(recipe, tmp_path / "ray", "--engine", "ray", "--address", cluster.address)
    a, b = outcome(tmp_path / "local"), outcome(tmp_path / "ray")
    why = Counter(w for _, w in a["rejected"])
    assert a["summary"]["input"] > 100 and why["minhash_dedup/near_duplicate"] >= 5 and why["semantic_dedup/semantic_duplicate"] >= 5, why
    for k in a:
        assert a[k] == b[k], k
    cols = ("quality_score", "semdup_cluster", "semdup_group", "dup_cluster", "dup_cluster_size")
    local, on_ray = _columns(tmp_path / "local", cols), _columns(tmp_path / "ray", cols)
    assert local == on_ray and len(local) == a["summary"]["input"]
    assert len({v[0] for v in local.values()}) > 50  # real, varied scores

    line = next(l for l in r.stderr.splitlines() if l.startswith("ray: model loads per worker actor"))
    actors = int(line.split("(")[1].split()[0])
    loads = dict(part.strip().split(" ", 1) for part in line.split("): ", 1)[1].split(";"))
    assert actors == 2 and set(loads) == {"quality_model", "embedder"}, line
    # four shards per stage on two actors: a load per shard would show counts above 1
    for kind, counts in loads.items():
        assert [int(x) for x in counts.split(",")] == [1] * actors, line


@pytest.mark.parametrize("env, msg", [({"GRISTMILL_RAY_TASK_CPUS": "two"}, "GRISTMILL_RAY_TASK_CPUS='two'"),
                                      ({"GRISTMILL_RAY_TASK_MEMORY": "4 parsecs"}, "GRISTMILL_RAY_TASK_MEMORY='4 parsecs'")])
def test_bad_task_sizing_fails_early(tmp_path, env, msg):
    recipe = _fuzzy(tmp_path, n_files=1)
    r = subprocess.run(GRISTMILL + ["run", str(recipe), "--engine", "ray", "--no-progress"], capture_output=True, text=True,
                       env={**os.environ, **env})
    assert r.returncode != 0 and msg in r.stderr, r.stderr[-2000:]
    assert not (tmp_path / "o").exists()


def test_task_memory_sizes():
    from gristmill.engine.ray_engine import parse_memory

    assert parse_memory("4GiB") == 4 * 2**30 and parse_memory("500MB") == 500 * 10**6 and parse_memory("2e9") == 2 * 10**9


def test_progress_moves_inside_a_ray_task(cluster, tmp_path):
    """One shard is one Ray task; its per-batch reports reach the driver while it runs (through the
    progress actor), so the plain progress log shows the document count between 0 and the total
    before the shard is done. Before, a Ray task's reports went nowhere."""
    docs = [d["text"] for d in stdlib_docs(240)]
    import pyarrow as pa

    rows = [{"id": f"d{k}-{i}", "text": t} for k in range(12) for i, t in enumerate(docs)]
    # Parquet is read in batches of batch_rows (a JSONL file in 4 MB blocks: one report here)
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "one.parquet", row_group_size=256)
    total = len(rows)
    recipe = tmp_path / "r.yaml"
    recipe.write_text(f"""
input: {{paths: ["{tmp_path}/one.parquet"], format: parquet, id_field: id}}
steps:
  - normalize: {{}}
  - gopher_quality: {{}}
  - gopher_repetition: {{}}
output: {{path: "{tmp_path}/o", batch_rows: 32}}
""")
    r = subprocess.run(GRISTMILL + ["run", str(recipe), "--engine", "ray", "--address", cluster.address], capture_output=True,
                       text=True, env={**os.environ, "GRISTMILL_PROGRESS_EVERY": "0"})
    assert r.returncode == 0, r.stderr[-3000:]
    import re

    inside = [int(m.group(1).replace(",", "")) for m in re.finditer(r"0/1 shards\s+([\d,]+) docs", r.stderr)]
    assert any(0 < n < total for n in inside), r.stderr[-3000:]
    assert re.search(rf"1/1 shards\s+{total:,} docs", r.stderr), r.stderr[-3000:]  # every report arrives
    assert re.search(r"MB/s|docs/s", r.stderr)  # and a rate is shown
