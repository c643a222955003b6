"""The Ray engine against the local engine on the same data in the same run.

- throughput (documents/s, whole CLI run, median of 3 interleaved runs) of the web-rules recipe and of a fuzzy-dedup recipe on
  the local engine (2 worker processes) and on a Ray cluster of 1 and 2 worker CPUs (a head node
  plus a second node process, both on this machine);
- MinHash clustering memory at two data sizes 10x apart (``--mem-docs``, default 5,000 and
  50,000 documents, about half of them planted near duplicates): the peak RSS of the largest Ray
  task of each kind (the engine measures every task: peak RSS reset before it, read after it)
  and of the driver (``gristmill run``, from wait4), with the whole corpus as one partition and
  with ``partition_docs`` 5,000 (1 and 10 partitions);
- model loading: ``quality_score`` with an embedding-family model over many shards, local engine,
  with the per-process model cache against loading per shard (the behaviour before the cache,
  reproduced by clearing the cache before every shard).

Real text: the corpora from ``../shared/corpora/fetch`` (SOTU, Moby Dick, Brown, sentences, Python
docs), cut into 200-word passages; near duplicates are planted as copies with 3 words changed,
in families of 1-8 copies.

    GRISTMILL_CORPORA=/work/corpora python benchmarks/bench_ray.py [--docs 10000] [--mem-docs 5000 50000] [--repeat 3]
        [--only throughput|memory|models]
"""
from __future__ import annotations

import argparse
import json
import random
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import WORK, corpora_dir, machine  # noqa: E402

RECIPES = {
    "web rules": ["normalize: {}", "language_id: {languages: [en]}", "gopher_repetition: {}", "gopher_quality: {}",
                  "c4_quality: {}", "fineweb_quality: {}", "pii: {}"],
    "fuzzy dedup": ["normalize: {}", "exact_dedup: {}", "minhash_dedup: {}"],
}
PASSAGE_WORDS = 200


def passages() -> list[str]:
    """200-word passages of every corpus, in a fixed order interleaving the sources."""
    c = corpora_dir()
    per = []
    for name, field in (("sotu", "text"), ("mobydick", "text"), ("brown", "text"), ("sentences", "text"), ("pydocs", "reference")):
        out = []
        for line in open(c / f"{name}.jsonl", encoding="utf-8"):
            w = json.loads(line)[field].split()
            out += [" ".join(w[i : i + PASSAGE_WORDS]) for i in range(0, len(w) - PASSAGE_WORDS // 2, PASSAGE_WORDS)]
        per.append(out)
    mixed = []
    for i in range(max(map(len, per))):
        mixed += [p[i] for p in per if i < len(p)]
    return mixed


def corpus(n: int, dest: Path, files: int = 8, dup_share: float = 0.5) -> Path:
    """``n`` documents: distinct passages, and about ``dup_share`` of them planted near duplicates
    (3 words changed) of an earlier document, in families of 1-8 copies."""
    if (dest / "done").exists():
        return dest
    base = passages()
    rng = random.Random(0)
    n_unique = int(n * (1 - dup_share))
    if n_unique > len(base):
        raise SystemExit(f"{n} documents need {n_unique} distinct passages; the corpora have {len(base)}")
    docs = list(base[:n_unique])
    while len(docs) < n:
        t = docs[rng.randrange(n_unique)]
        for _ in range(min(rng.randint(1, 8), n - len(docs))):
            w = t.split()
            for _ in range(3):
                w[rng.randrange(len(w))] = rng.choice(["alpha", "beta", "gamma"])
            docs.append(" ".join(w))
    rng.shuffle(docs)
    dest.mkdir(parents=True, exist_ok=True)
    outs = [open(dest / f"part{i}.jsonl", "w") for i in range(files)]
    for i, t in enumerate(docs):
        outs[i % files].write(json.dumps({"id": f"d{i}", "text": t}) + "\n")
    for f in outs:
        f.close()
    (dest / "done").write_text("")
    return dest


def recipe(data: Path, steps: list[str], out: Path) -> Path:
    p = out.with_suffix(".yaml")
    p.write_text(f"input: {{paths: [\"{data}/part*.jsonl\"], id_field: id}}\nsteps:\n" +
                 "".join(f"  - {s}\n" for s in steps) + f"output: {{path: \"{out}\", keep_rejected: true}}\n")
    return p


def run(rp: Path, out: Path, *args) -> tuple[float, dict, str, float]:
    """Wall time, summary, stderr and the driver's peak RSS (MiB) of one CLI run, in a fresh helper
    process so that its RUSAGE_CHILDREN holds only this run's CLI process (wait4 excludes the Ray
    workers, which the raylet starts)."""
    code = ("import json, resource, subprocess, sys, time; t0 = time.perf_counter(); "
            "p = subprocess.run(sys.argv[1:], capture_output=True, text=True); w = time.perf_counter() - t0; "
            "print(json.dumps([p.returncode, w, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, p.stderr]))")
    cmd = [sys.executable, "-m", "gristmill", "run", str(rp), "-o", str(out), "--fresh", "--no-progress", "--no-report", *args]
    r = subprocess.run([sys.executable, "-c", code, *cmd], capture_output=True, text=True)
    rc, wall, driver, stderr = json.loads(r.stdout.strip().splitlines()[-1])
    if rc != 0:
        raise RuntimeError(stderr[-3000:])
    return wall, json.loads((out / "summary.json").read_text()), stderr, driver


def task_peaks(stderr: str) -> dict[str, tuple[float, float]]:
    """The engine's end-of-run line: task kind -> (peak RSS MiB, the worker's RSS before it)."""
    for line in stderr.splitlines():
        if line.startswith("ray: peak RSS of the largest task"):
            return {m[0]: (float(m[1]), float(m[2])) for m in re.findall(r"(\w+) (\d+) \((\d+)\)", line.split(": ", 2)[2])}
    return {}


def cluster(cpus: int):
    from ray.cluster_utils import Cluster

    c = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    if cpus == 2:
        c.add_node(num_cpus=1)
        c.wait_for_nodes()
    return c


def throughput(n: int, work: Path, repeat: int) -> list[str]:
    """Median wall of ``repeat`` runs per engine, interleaved (local, Ray 1 CPU, Ray 2 CPUs, again)."""
    rows = []
    data = corpus(n, work / f"data{n}")
    engines = ["local engine, 2 worker processes", "Ray, 1 worker CPU (1 node)", "Ray, 2 worker CPUs (2 nodes)"]
    for name, steps in RECIPES.items():
        rp = recipe(data, steps, work / f"out-{name.replace(' ', '-')}-{n}")
        walls: dict[str, list[float]] = {e: [] for e in engines}
        ref = None
        for _ in range(repeat):
            for e, cpus in zip(engines, (0, 1, 2)):
                if not cpus:
                    wall, s, _, _ = run(rp, work / "local", "-w", "2")
                else:
                    c = cluster(cpus)
                    try:
                        wall, s, _, _ = run(rp, work / "ray", "--engine", "ray", "--address", c.address)
                    finally:
                        c.shutdown()
                ref = ref or s
                assert s["kept"] == ref["kept"] and s["rejected"] == ref["rejected"], "engines disagree"
                walls[e].append(wall)
        base = statistics.median(walls[engines[0]])
        for e in engines:
            w = statistics.median(walls[e])
            rows.append((name, n, e, ref["input"] / w, w, base / w, ref["kept"]))
    lines = [f"| recipe | documents | engine | docs/s (whole run, median of {repeat}) | wall s | speed vs local | kept |",
             "|---|---|---|---|---|---|---|"]
    return lines + [f"| {r[0]} | {r[1]:,} | {r[2]} | {r[3]:,.0f} | {r[4]:,.1f} | {r[5]:.2f}x | {r[6]:,} |" for r in rows]


MEM_KINDS = ("_sign_source", "scatter_task", "bucket_task", "pairs_task", "jump_task", "hook_task", "group_task",
             "cluster_task", "decide_task", "merge_task", "index_task")


def memory(sizes: list[int], part: int, work: Path) -> list[str]:
    rows = []
    for n in sizes:
        data = corpus(n, work / f"mem{n}")
        for label, cfg in (("1 (default partition_docs)", "{}"), (None, f"{{partition_docs: {part}}}")):
            label = label or f"{-(-n // part)} (partition_docs {part:,})"
            rp = recipe(data, [f"minhash_dedup: {cfg}"], work / f"out-mem-{n}")
            c = cluster(2)
            try:
                wall, s, err, driver = run(rp, work / "ray-mem", "--engine", "ray", "--address", c.address)
            finally:
                c.shutdown()
            peaks = task_peaks(err)
            clus = {k: peaks[k] for k in MEM_KINDS[1:] if k in peaks}  # clustering: after the signatures
            big = max(clus, key=lambda k: clus[k][0] - clus[k][1])
            rows.append((n, label, s["input"] - s["kept"], driver, peaks["_sign_source"], big, clus[big], wall,
                         {k: round(v[0] - v[1]) for k, v in clus.items()}))
    lines = ["| documents | partitions | removed | driver peak MiB | signature task MiB (above worker) | largest clustering task | its peak MiB (above worker) | wall s |",
             "|---|---|---|---|---|---|---|---|"]
    lines += [f"| {n:,} | {lab} | {rem:,} | {d:,.0f} | {sg[0]:,.0f} (+{sg[0] - sg[1]:,.0f}) | `{big}` | {p[0]:,.0f} (+{p[0] - p[1]:,.0f}) | {w:,.1f} |"
              for n, lab, rem, d, sg, big, p, w, _ in rows]
    lines += ["", "Growth of each clustering task kind over the worker's RSS before it (MiB), per row above:", ""]
    lines += [f"- {n:,} docs, {lab}: " + ", ".join(f"`{k}` +{v}" for k, v in sorted(allk.items(), key=lambda kv: -kv[1]))
              for n, lab, *_, allk in rows]
    return lines


def model_loading(work: Path, shards: int = 8, docs_per_shard: int = 10, repeat: int = 3) -> list[str]:
    """quality_score with an embedding-family model over ``shards`` small shards in one process:
    the model cache against a load per shard (the cache cleared before each shard: what pickling
    the step per task did before), and the load itself; medians of ``repeat``."""
    code = r"""
import json, statistics, sys, time
from pathlib import Path
import numpy as np, pyarrow as pa
sys.path.insert(0, sys.argv[1])
import bench_ray as b
from gristmill.engine import model_cache
from gristmill.annotate.quality import QualityScore
from gristmill.quality.model import train
shards, per, repeat = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[5])
texts = b.passages()[: shards * per + 60]
path = Path(sys.argv[4])
if not path.exists():
    rng = np.random.default_rng(0)
    train(texts[:60], (rng.random(60) > 0.5).astype(float), "embedding").save(path)
step = QualityScore(QualityScore.Config(model=str(path)))
tables = [pa.table({"id": [str(i) for i in range(k, k + per)], "text": texts[60 + k : 60 + k + per]})
          for k in range(0, shards * per, per)]
step.annotate(tables[0])  # torch warmed up once
out = {"per shard": [], "cached": [], "load": [], "loads": {}}
for _ in range(repeat):
    for mode in ("per shard", "cached"):
        model_cache.clear()
        loads = 0
        t0 = time.perf_counter()
        for t in tables:
            if mode == "per shard":
                loads += sum(model_cache.loads()["loads"].values())
                model_cache.clear()
            step.annotate(t)
        out[mode].append(time.perf_counter() - t0)
        out["loads"][mode] = loads + sum(model_cache.loads()["loads"].values())
    model_cache.clear()
    t0 = time.perf_counter()
    step.annotate(tables[0][:1])
    out["load"].append(time.perf_counter() - t0)
print(json.dumps({k: (statistics.median(v) if isinstance(v, list) else v) for k, v in out.items()}))
"""
    r = subprocess.run([sys.executable, "-c", code, str(Path(__file__).resolve().parent), str(shards), str(docs_per_shard),
                        str(work / "quality-embedding.bin"), str(repeat)], capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(r.stderr[-3000:])
    out = json.loads(r.stdout.strip().splitlines()[-1])
    return [f"| quality_score, embedding family (all-MiniLM-L6-v2 + linear head), {shards} shards x {docs_per_shard} docs, one process | seconds (median of {repeat}) | model loads |",
            "|---|---|---|",
            f"| a load per shard (before: the step is pickled into every task) | {out['per shard']:.2f} | {out['loads']['per shard']} |",
            f"| per-process model cache | {out['cached']:.2f} | {out['loads']['cached']} |",
            f"| one load and one document (the cost a cached shard saves) | {out['load']:.2f} | 2 |"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--docs", type=int, default=10000, help="documents for the throughput runs")
    ap.add_argument("--mem-docs", type=int, nargs=2, default=[5000, 50000], help="the two sizes of the memory runs")
    ap.add_argument("--partition-docs", type=int, default=5000)
    ap.add_argument("--repeat", type=int, default=3, help="runs per engine for the throughput medians")
    ap.add_argument("--only", choices=["throughput", "memory", "models"], action="append")
    a = ap.parse_args()
    work = WORK / "ray"
    work.mkdir(parents=True, exist_ok=True)
    only = set(a.only or ["throughput", "memory", "models"])
    lines = [f"### Ray engine ({machine()})", ""]
    if "throughput" in only:
        lines += throughput(a.docs, work, a.repeat) + [""]
    if "memory" in only:
        lines += memory(a.mem_docs, a.partition_docs, work) + [""]
    if "models" in only:
        lines += model_loading(work)
    print("\n".join(lines))


if __name__ == "__main__":
    t0 = time.perf_counter()
    main()
    print(f"\n(bench took {time.perf_counter() - t0:.0f} s)")
