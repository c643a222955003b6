"""Memory of the dedup annotation lookup (``ClusterLookup``) as the number of clustered documents grows.

Every shard task of a run with exact or MinHash dedup loads the fitted ``result.parquet`` whole
(issue 24 part 4: it should be partitioned by shard so a task reads only its part). This measures
what that costs per task today: a synthetic ``result.parquet`` of N clustered documents (the
schema ``write_result`` writes: id hash, cluster name, size, code; cluster names as gristmill ids
of 12-20 characters), then a fresh child that builds ``ClusterLookup`` and looks up one batch of
8,192 ids; its peak RSS (VmHWM) above the imports.

    python benchmarks/bench_dedup_lookup.py [--sizes 1000000,10000000]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import WORK, machine, write_fragment  # noqa: E402

SRC = Path(__file__).resolve().parents[1] / "src"
CHILD = r"""
import json, sys
import pyarrow as pa
from gristmill.dedup._clusters import ClusterLookup
def hwm(): return int(next(l for l in open("/proc/self/status") if l.startswith("VmHWM")).split()[1]) / 1024
base = hwm()
lk = ClusterLookup(sys.argv[1])
lk.lookup(pa.array([f"doc-{i}" for i in range(8192)]))
print(json.dumps({"base_mib": base, "peak_mib": hwm()}))
"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="1000000,10000000")
    args = ap.parse_args()
    from gristmill.dedup._clusters import write_result

    work = WORK / "dedup_lookup"
    rows = []
    for n in [int(x) for x in args.sizes.split(",")]:
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        rng = np.random.default_rng(0)
        h = rng.integers(0, 2**63, n, dtype=np.uint64)
        names = pa.array([f"crawl-{k // 4:012d}" for k in range(n)], pa.string())
        write_result(work, h, names, np.full(n, 4, np.int64), (np.arange(n) % 4 != 0).astype(np.int8))
        size = (work / "result.parquet").stat().st_size
        del names, h
        p = subprocess.run([sys.executable, "-c", CHILD, str(work)], capture_output=True, text=True,
                           env={**os.environ, "PYTHONPATH": str(SRC)})
        if p.returncode:
            raise RuntimeError(p.stderr[-2000:])
        r = json.loads(p.stdout.strip().splitlines()[-1])
        rows.append((n, size, r))
        print(n, size, r, flush=True)
    shutil.rmtree(work, ignore_errors=True)
    lines = [f"### Dedup annotation lookup per task ({machine()})", "",
             "| clustered documents | result.parquet | task peak RSS | above imports |", "|---:|---:|---:|---:|"]
    lines += [f"| {n:,} | {s / 1e6:,.0f} MB | {r['peak_mib']:,.0f} MiB | {r['peak_mib'] - r['base_mib']:,.0f} MiB |" for n, s, r in rows]
    print("\n".join(lines))
    write_fragment("dedup_lookup", "\n".join(lines))


if __name__ == "__main__":
    main()
