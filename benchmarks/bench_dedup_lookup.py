"""Memory of the dedup annotation lookup (``ClusterLookup``) as the number of clustered documents grows.

A shard task of a run with exact or MinHash dedup used to load the fitted ``result.parquet`` whole;
the fits now also write it split by fit input (``result/NNNNN.parquet``, issue 24 part 4) and a
task loads only its shard's part. This measures both per task: a synthetic ``result.parquet`` of
N clustered documents (the schema ``write_result`` writes: id hash, cluster name, size, code;
cluster names as gristmill ids of 12-20 characters) over shards of ``--shard-docs`` clustered
documents each (parquet files of their ids, as a fit's inputs), the parts ``write_shard_results``
makes of it (timed: the fit's extra step), then a fresh child that builds ``ClusterLookup`` (whole
file, then the first shard's part) and looks up one batch of 8,192 of the shard's ids; its peak
RSS (VmHWM) above the imports.

    python benchmarks/bench_dedup_lookup.py [--sizes 1000000,10000000] [--shard-docs 100000]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import WORK, machine, write_fragment  # noqa: E402

SRC = Path(__file__).resolve().parents[1] / "src"
CHILD = r"""
import json, sys
import pyarrow.parquet as pq
from gristmill.dedup._clusters import ClusterLookup
def hwm(): return int(next(l for l in open("/proc/self/status") if l.startswith("VmHWM")).split()[1]) / 1024
shard = sys.argv[2] or None
ids = pq.read_table(sys.argv[3])["id"].slice(0, 8192)
base = hwm()
lk = ClusterLookup(sys.argv[1], shard)
lk.lookup(ids)
print(json.dumps({"base_mib": base, "peak_mib": hwm(), "rows": len(lk.id_hash)}))
"""


def _child(work: Path, shard: str, probe: Path) -> dict:
    p = subprocess.run([sys.executable, "-c", CHILD, str(work), shard, str(probe)], capture_output=True, text=True,
                       env={**os.environ, "PYTHONPATH": str(SRC)})
    if p.returncode:
        raise RuntimeError(p.stderr[-2000:])
    return json.loads(p.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="1000000,10000000")
    ap.add_argument("--shard-docs", type=int, default=100_000, help="clustered documents per shard (fit input)")
    args = ap.parse_args()
    from gristmill.dedup._clusters import id_hashes, write_result, write_shard_results

    work = WORK / "dedup_lookup"
    rows = []
    for n in [int(x) for x in args.sizes.split(",")]:
        shutil.rmtree(work, ignore_errors=True)
        (work / "in").mkdir(parents=True)
        shards, hs = [], []
        for s0 in range(0, n, args.shard_docs):  # the fit's inputs: each shard's ids, hashed as the fit does
            ids = pa.array([f"doc-{i}" for i in range(s0, min(n, s0 + args.shard_docs))], pa.string())
            hs.append(id_hashes(ids))
            shards.append(work / "in" / f"{len(shards):05d}.parquet")
            pq.write_table(pa.table({"id": ids}), shards[-1])
        h = np.concatenate(hs)
        del hs
        names = pa.array([f"crawl-{k // 4:012d}" for k in range(n)], pa.string())
        write_result(work, h, names, np.full(n, 4, np.int64), (np.arange(n) % 4 != 0).astype(np.int8))
        size = (work / "result.parquet").stat().st_size
        del names, h
        t0 = time.perf_counter()
        write_shard_results(work, shards)
        split_s = time.perf_counter() - t0
        whole = _child(work, "", shards[0])
        part = _child(work, str(shards[0]), shards[0])
        rows.append((n, size, len(shards), split_s, whole, part))
        print(n, size, len(shards), round(split_s, 1), whole, part, flush=True)
    shutil.rmtree(work, ignore_errors=True)
    lines = [f"### Dedup annotation lookup per task ({machine()}; shards of {args.shard_docs:,} clustered documents)", "",
             "| clustered documents | result.parquet | shards | splitting it (fit, one process) | task above imports: whole file "
             "| task above imports: its part | part rows |", "|---:|---:|---:|---:|---:|---:|---:|"]
    lines += [f"| {n:,} | {s / 1e6:,.0f} MB | {k} | {t:,.1f} s | {w['peak_mib'] - w['base_mib']:,.0f} MiB "
              f"| {p['peak_mib'] - p['base_mib']:,.0f} MiB | {p['rows']:,} |" for n, s, k, t, w, p in rows]
    print("\n".join(lines))
    write_fragment("dedup_lookup", "\n".join(lines))


if __name__ == "__main__":
    main()
