"""The Ray engine against the local engine on the same data in the same run.

- throughput (documents/s, whole CLI run) of the web-rules recipe and of a fuzzy-dedup recipe on
  the local engine and on a Ray cluster of 1 and 2 worker CPUs (a head node plus a second node
  process, both on this machine);
- peak RSS of the driver and of the largest Ray worker process (VmHWM) during a minhash-only run,
  at two data sizes 10x apart, with one partition and with partitions a tenth of the larger size.

Real text: the corpora from ``../shared/corpora/fetch`` (SOTU, Moby Dick, Brown, sentences, Python
docs), repeated with small edits so that the fuzzy-dedup recipe has near duplicates to find.

    python benchmarks/bench_ray.py [--docs 4000]
"""
from __future__ import annotations

import argparse
import json
import os
import random
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


def corpus(n: int, dest: Path) -> Path:
    c = corpora_dir()
    docs = []
    for name in ("sotu", "mobydick", "brown", "sentences"):
        docs += [json.loads(l)["text"] for l in open(c / f"{name}.jsonl", encoding="utf-8")]
    docs += [json.loads(l)["reference"] for l in open(c / "pydocs.jsonl", encoding="utf-8")]
    rng = random.Random(0)
    dest.mkdir(parents=True, exist_ok=True)
    files = 8
    outs = [open(dest / f"part{i}.jsonl", "w") for i in range(files)]
    for i in range(n):
        t = docs[i % len(docs)]
        if i >= len(docs):  # a near duplicate of an earlier document: a few words changed
            w = t.split()
            for _ in range(3):
                w[rng.randrange(len(w))] = rng.choice(["alpha", "beta", "gamma"])
            t = " ".join(w)
        outs[i % files].write(json.dumps({"id": f"d{i}", "text": t}) + "\n")
    for f in outs:
        f.close()
    return dest


def recipe(data: Path, steps: list[str], out: Path) -> Path:
    p = out.with_suffix(".yaml")
    p.write_text(f"input: {{paths: [\"{data}/part*.jsonl\"], id_field: id}}\nsteps:\n" +
                 "".join(f"  - {s}\n" for s in steps) + f"output: {{path: \"{out}\", keep_rejected: true}}\n")
    return p


LAST_DRIVER_MIB = [0.0]


def run(rp: Path, out: Path, *args) -> tuple[float, dict]:
    """Wall time and summary of one CLI run; the driver's peak RSS goes to LAST_DRIVER_MIB (from
    wait4: the CLI process and the children it waited for, which with --engine ray excludes the
    Ray workers, started by the raylet)."""
    t0 = time.perf_counter()
    p = subprocess.Popen([sys.executable, "-m", "gristmill", "run", str(rp), "-o", str(out), "--fresh", "--no-progress",
                          "--no-report", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    stdout, stderr = p.communicate()
    wall = time.perf_counter() - t0
    if p.returncode != 0:
        raise RuntimeError(stderr[-3000:])
    import resource

    # communicate() reaped the child; RUSAGE_CHILDREN is the max over all children reaped so far,
    # so each measured run is started from a fresh helper process (see measure_driver).
    LAST_DRIVER_MIB[0] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return wall, json.loads((out / "summary.json").read_text())


def measure_driver(rp: Path, out: Path, *args) -> tuple[float, float]:
    """(wall seconds, driver peak MiB) of one run, measured in a fresh Python process so that
    RUSAGE_CHILDREN holds only this run's CLI process."""
    code = ("import sys, json; sys.path.insert(0, %r); import bench_ray as b; "
            "w, s = b.run(*map(__import__('pathlib').Path, sys.argv[1:3]), *sys.argv[3:]); "
            "print(json.dumps([w, b.LAST_DRIVER_MIB[0]]))") % str(Path(__file__).resolve().parent)
    r = subprocess.run([sys.executable, "-c", code, str(rp), str(out), *args], capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(r.stderr[-3000:])
    return tuple(json.loads(r.stdout.strip().splitlines()[-1]))


def ray_workers_peak_mib(which=max) -> float:
    """Peak RSS (VmHWM) of the largest (``which=max``) or smallest Ray worker process: a worker
    runs many tasks, so its peak is that of its largest task plus the worker's own baseline."""
    peaks = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            cmd = open(f"/proc/{pid}/cmdline", "rb").read().decode(errors="replace")
            if not cmd.startswith("ray::"):
                continue
            for line in open(f"/proc/{pid}/status"):
                if line.startswith("VmHWM:"):
                    peaks.append(int(line.split()[1]))
        except OSError:
            continue
    return which(peaks) / 1024 if peaks else 0.0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--docs", type=int, default=4000)
    a = ap.parse_args()
    from ray.cluster_utils import Cluster

    work = WORK / "ray"
    rows, mem = [], []
    for n in (a.docs // 10, a.docs):
        data = corpus(n, work / f"data{n}")
        for name, steps in RECIPES.items():
            if n != a.docs and name != "fuzzy dedup":
                continue
            rp = recipe(data, steps, work / f"out-{name.replace(' ', '-')}-{n}")
            wall, s = run(rp, work / "local", "-w", "2")
            rows.append((name, n, "local engine, 2 workers", s["input"] / wall, s["kept"]))
            for cpus in (1, 2):
                c = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
                try:
                    if cpus == 2:
                        c.add_node(num_cpus=1)
                        c.wait_for_nodes()
                    wall, s2 = run(rp, work / "ray", "--engine", "ray", "--address", c.address)
                    assert s2["kept"] == s["kept"] and s2["rejected"] == s["rejected"], "engines disagree"
                    rows.append((name, n, f"Ray, {cpus} worker CPU{'s' if cpus > 1 else ''} ({cpus} node{'s' if cpus > 1 else ''})",
                                 s2["input"] / wall, s2["kept"]))
                finally:
                    c.shutdown()
    lines = [f"### Ray engine ({machine()})", "", "| recipe | documents | engine | docs/s (whole run) | kept |", "|---|---|---|---|---|"]
    lines += [f"| {r[0]} | {r[1]:,} | {r[2]} | {r[3]:,.0f} | {r[4]:,} |" for r in rows]

    # Memory of MinHash clustering: a minhash-only recipe (read, signatures, bucketing, pairs,
    # components, clusters) on Ray with 2 worker CPUs, at two sizes 10x apart, with the default
    # partition size (every phase one partition at these sizes) and with partitions of
    # a.docs // 10 documents (1 and 10 partitions).
    for n in (a.docs // 10, a.docs):
        data = work / f"data{n}"
        for label, cfg in (("default (1 partition)", "{}"), (f"partition_docs {a.docs // 10:,}", f"{{partition_docs: {a.docs // 10}}}")):
            rp = recipe(data, [f"minhash_dedup: {cfg}"], work / f"out-mem-{n}")
            c = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
            try:
                c.add_node(num_cpus=1)
                c.wait_for_nodes()
                wall, driver = measure_driver(rp, work / "ray-mem", "--engine", "ray", "--address", c.address)
                mem.append((n, label, driver, ray_workers_peak_mib(), ray_workers_peak_mib(min), wall))
            finally:
                c.shutdown()
    lines += ["", "Peak RSS during a minhash-only run on Ray (2 worker CPUs): the driver (`gristmill run`, from wait4) and "
              "the largest and smallest Ray worker process (VmHWM; a worker runs many tasks, the smallest is about a "
              "worker's own baseline):", "",
              "| documents | partitions | driver MiB | largest worker MiB | smallest worker MiB | wall s |", "|---|---|---|---|---|---|"]
    lines += [f"| {n:,} | {lab} | {d:,.0f} | {w:,.0f} | {w0:,.0f} | {t:,.1f} |" for n, lab, d, w, w0, t in mem]
    print("\n".join(lines))


if __name__ == "__main__":
    main()
