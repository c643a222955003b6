"""The report's share of a run (issue 24, part 2): the whole CLI run of the heuristic chain
gopher_repetition -> gopher_quality -> c4_quality -> fineweb_quality, with the report `run` writes by
default and with ``--no-report``, and the report alone on an output scaled to a million documents.

    python benchmarks/bench_report.py [--docs 4000] [--repeats 3] [--scale 1000000]

``--docs``: the held-out documents of ``bench_heuristics.py --cli`` (eight real sources, see
``build_cli_sources``), one worker; the two runs alternate so both see the same machine load, and
each is timed as a subprocess (wall, and the child's CPU time, which moves less with the load).

``--scale N``: the 4,000-document output is replicated into an output of N documents (each shard
file holding copies of its rows under new ids, ~128 MB of text per file, as a run with the default
``shard_mb`` writes), then ``gristmill report`` runs on it in a fresh process: wall, CPU, peak
memory and page size. The run itself at N documents is projected from the measured per-document
CPU time of the ``--no-report`` run (the chain is per document, so it scales linearly).
Writes benchmarks/results/report_cost.md.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import WORK, corpora_dir, machine, write_fragment  # noqa: E402
from bench_heuristics import build_cli_sources, write_cli_inputs  # noqa: E402

GRISTMILL = [sys.executable, "-m", "gristmill"]


def _child(cmd: list[str]) -> tuple[float, float, float]:
    """(wall s, CPU s, peak RSS MiB) of one subprocess."""
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{p.stdout[-2000:]}\n{p.stderr[-3000:]}")
    return wall, (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime), r1.ru_maxrss / 1024


def scale_output(src: Path, dest: Path, n_docs: int, file_text_mb: float = 128) -> dict:
    """An output directory of ``n_docs`` documents made of copies of ``src``'s rows (ids suffixed),
    with a summary whose counts are scaled to match, so ``gristmill report`` reads it as a run."""
    summary = json.loads((src / "summary.json").read_text())
    k = max(1, round(n_docs / summary["input"]))
    shutil.rmtree(dest, ignore_errors=True)
    (dest / "data").mkdir(parents=True)
    (dest / "rejected").mkdir()
    shutil.copy(src / "recipe.lock.yaml", dest / "recipe.lock.yaml")
    for sub in ("data", "rejected"):
        for f in sorted((src / sub).glob("*.parquet")):
            t = pq.read_table(f)
            text_mb = (pc.sum(pc.binary_length(t.column("text"))).as_py() or 0) / 1e6
            per_file = max(1, min(k, math.floor(file_text_mb / max(text_mb, 1e-9))))
            done = 0
            part = 0
            while done < k:
                n = min(per_file, k - done)
                name = f.name if part == 0 else f.name.replace("-", f"{part:03d}-", 1) if sub == "rejected" else f"{f.stem}{part:03d}.parquet"
                with pq.ParquetWriter(dest / sub / name, t.schema, compression="zstd") as w:
                    for c in range(done, done + n):
                        ids = pc.binary_join_element_wise(t.column("id"), pa.scalar(f"~{c}"), "")
                        w.write_table(t.set_column(t.column_names.index("id"), "id", ids), row_group_size=2000)
                done += n
                part += 1
    for key in ("input", "kept", "quarantined"):
        summary[key] *= k
    summary["rejected"] = {r: n * k for r, n in summary["rejected"].items()}
    for row in summary["steps"]:
        for key in ("in", "out", "rejected", "scope_in", "scope_out"):
            if key in row:
                row[key] *= k
    for e in (summary.get("sources") or {}).values():
        for key in ("input", "kept", "rejected", "quarantined", "bytes_in", "bytes_kept", "other_reasons"):
            e[key] *= k
        e["top_reasons"] = {r: n * k for r, n in e["top_reasons"].items()}
    (dest / "summary.json").write_text(json.dumps(summary, indent=2))
    return summary


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpora", default=str(corpora_dir()))
    ap.add_argument("--docs", type=int, default=4000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--scale", type=int, default=0, help="also time the report on an output of this many documents")
    args = ap.parse_args()
    work = WORK / "report_cost"
    recipe, texts = write_cli_inputs(build_cli_sources(Path(args.corpora)), work, args.docs)
    mb = sum(len(t.encode()) for t in texts.values()) / 1e6
    out = work / "out"
    load0 = os.getloadavg()
    with_r, without = [], []
    for i in range(args.repeats):  # interleaved: both see the same load
        for flags, acc in (([], with_r), (["--no-report"], without)):
            acc.append(_child(GRISTMILL + ["run", str(recipe), "-w", "1", "--no-progress", "--fresh", *flags]))
        print(f"run {i + 1}: with report {with_r[-1][0]:.2f} s ({with_r[-1][1]:.2f} s CPU), "
              f"--no-report {without[-1][0]:.2f} s ({without[-1][1]:.2f} s CPU)", flush=True)
    rep = [_child(GRISTMILL + ["report", str(out)]) for _ in range(args.repeats)]
    load1 = os.getloadavg()
    med = lambda xs, j: statistics.median(x[j] for x in xs)  # noqa: E731
    w_wall, w_cpu, n_wall, n_cpu = med(with_r, 0), med(with_r, 1), med(without, 0), med(without, 1)
    md = ["## The report's share of a run (issue 24, part 2)\n",
          f"Machine: {machine()}; load average {load0[0]:.1f} before, {load1[0]:.1f} after (1 min; the machine is "
          "shared, read the CPU columns). Script: `python benchmarks/bench_report.py "
          f"--docs {args.docs} --repeats {args.repeats}{f' --scale {args.scale}' if args.scale else ''}`.\n",
          f"{len(texts):,} held-out documents ({mb:.1f} MB, the corpus of `bench_heuristics.py --cli`), `gristmill run "
          f"chain.yaml -w 1` as a subprocess, medians of {args.repeats} interleaved runs.\n",
          "| run | wall s | CPU s |\n|---|---|---|\n"
          f"| with the report (default) | {w_wall:.2f} | {w_cpu:.2f} |\n"
          f"| `--no-report` | {n_wall:.2f} | {n_cpu:.2f} |\n"
          f"| **the report's share** | **{100 * (w_wall - n_wall) / w_wall:.0f}%** | **{100 * (w_cpu - n_cpu) / w_cpu:.0f}%** |\n"
          f"| `gristmill report OUT` alone (fresh process: imports included) | {med(rep, 0):.2f} | {med(rep, 1):.2f} |\n"]
    if args.scale:
        big = work / "scaled"
        t0 = time.perf_counter()
        s = scale_output(out, big, args.scale)
        print(f"scaled output of {s['input']:,} documents written in {time.perf_counter() - t0:.0f} s", flush=True)
        disk = sum(p.stat().st_size for p in big.rglob("*.parquet")) / 1e9
        files = sum(1 for _ in big.rglob("*.parquet"))
        wall, cpu, rss = _child(GRISTMILL + ["report", str(big)])
        size = (big / "report.html").stat().st_size / 1e6
        per_doc_cpu = n_cpu / args.docs
        run_cpu = per_doc_cpu * s["input"]
        md.append(f"\nAt {s['input']:,} documents (the output above replicated: {files} Parquet files, {disk:.1f} GB "
                  f"compressed): `gristmill report` took **{wall:.1f} s wall, {cpu:.1f} s CPU**, peak memory "
                  f"{rss:,.0f} MiB, page {size:.1f} MB. The run at that size, projected from the `--no-report` CPU "
                  f"time per document ({1e3 * per_doc_cpu:.2f} ms): {run_cpu:,.0f} s CPU on one core, so the report "
                  f"is **{100 * cpu / (run_cpu + cpu):.1f}%** of the run's CPU time.\n")
        shutil.rmtree(big, ignore_errors=True)
    write_fragment("report_cost", "\n".join(md))


if __name__ == "__main__":
    main()
