"""Read-then-write throughput on a generated >= 1 GB JSONL corpus: gristmill vs DataTrove.

Both read the same gzip-less JSON Lines files and write zstd Parquet, with no filtering, using the
machine's cores. Each runs in a fresh child process; we report docs/s, MB/s of text and the peak
RSS of the whole process tree (children included, so worker processes count).

    python benchmarks/bench_io.py [--gb 1.0] [--repeat 3]
"""
from __future__ import annotations

import argparse
import json
import random
import shutil
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import WORK, machine, write_fragment  # noqa: E402

GRISTMILL = r"""
import json, resource, sys, time
from gristmill.recipe import recipe_from_dict
from gristmill.engine.local import run
src, out = sys.argv[1], sys.argv[2]
r = recipe_from_dict({"input": {"paths": [src + "/*.jsonl"], "id_field": "id"}, "steps": [], "output": {"path": out}})
t0 = time.perf_counter(); s = run(r, out, progress=False, log=lambda m: None); dt = time.perf_counter() - t0
rss = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024
print(json.dumps({"seconds": dt, "docs": s["kept"], "rss_mib": rss}))
"""

DATATROVE = r"""
import json, resource, sys, time, glob
from datatrove.executor import LocalPipelineExecutor
from datatrove.pipeline.readers import JsonlReader
from datatrove.pipeline.writers import ParquetWriter
src, out = sys.argv[1], sys.argv[2]
n = len(glob.glob(src + "/*.jsonl"))
ex = LocalPipelineExecutor(pipeline=[JsonlReader(src, glob_pattern="*.jsonl", id_key="id"),
                                     ParquetWriter(out, compression="zstd")],
                           tasks=n, workers=2, logging_dir=out + "_logs", skip_completed=False)
t0 = time.perf_counter(); ex.run(); dt = time.perf_counter() - t0
rss = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024
print(json.dumps({"seconds": dt, "rss_mib": rss}))
"""


def build_corpus(dest: Path, gb: float, files: int = 8) -> tuple[int, int]:
    """Real stdlib docstrings, recombined into documents of 100-3000 words (deterministic)."""
    marker = dest / f".done-{gb}"
    if marker.exists():
        return tuple(json.loads(marker.read_text()))
    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir(parents=True)
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from conftest import stdlib_docs

    paras = [p for d in stdlib_docs(5000, min_words=20) for p in d["text"].split("\n\n") if len(p.split()) > 8]
    rng = random.Random(0)
    target = int(gb * 1e9)
    written = n = 0
    fhs = [open(dest / f"part{i:02d}.jsonl", "w", encoding="utf-8") for i in range(files)]
    while written < target:
        k = rng.randint(3, 40)
        text = "\n\n".join(rng.choice(paras) for _ in range(k))
        line = json.dumps({"id": f"doc{n}", "text": text}) + "\n"
        fhs[n % files].write(line)
        written += len(line)
        n += 1
    for f in fhs:
        f.close()
    marker.write_text(json.dumps([n, written]))
    return n, written


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--gb", type=float, default=1.0)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--no-peer", action="store_true")
    a = ap.parse_args()
    from _common import timed_child

    src = WORK / "io-corpus"
    n, nbytes = build_corpus(src, a.gb)
    print(f"corpus: {n:,} docs, {nbytes / 1e9:.2f} GB in {src}")
    rows = {}
    peers = [("gristmill", GRISTMILL)]
    if not a.no_peer:
        try:
            import datatrove  # noqa: F401

            peers.append(("datatrove 0.10", DATATROVE))
        except ImportError:
            print("datatrove not installed: pip install datatrove==0.10.1 to measure the peer")
    for name, code in peers:
        runs = []
        for _ in range(a.repeat):
            out = WORK / f"io-out-{name.split()[0]}"
            shutil.rmtree(out, ignore_errors=True)
            shutil.rmtree(str(out) + "_logs", ignore_errors=True)
            runs.append(timed_child(code, str(src), str(out)))
        secs = statistics.median(r["seconds"] for r in runs)
        rss = max(r["rss_mib"] for r in runs)
        rows[name] = (secs, n / secs, nbytes / 1e6 / secs, rss)
        print(name, rows[name])
    base = rows["gristmill"][0]
    lines = ["## Read-then-write pass (JSONL -> zstd Parquet)\n", f"Machine: {machine()}. Corpus: {n:,} documents, "
             f"{nbytes / 1e9:.2f} GB of JSON Lines in 8 files (real stdlib docstrings recombined). Median of {a.repeat} runs, "
             "2 workers each, peak RSS of the process tree.\n",
             "| tool | seconds | docs/s | MB/s | peak RSS (MiB) | speed vs gristmill |", "|---|---|---|---|---|---|"]
    for name, (secs, dps, mbs, rss) in rows.items():
        lines.append(f"| {name} | {secs:.1f} | {dps:,.0f} | {mbs:.1f} | {rss:,.0f} | {base / secs:.2f}x |")
    write_fragment("io", "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
