"""Bytes read per epoch and peak memory of a 2-worker DataLoader over one JSONL source (issue 20).

With striding, every DataLoader worker read every read unit for its stride of rows, so W workers
read a source W times per epoch; units are now dealt to workers and each is read once. A fresh child
streams one whole epoch (no budget, max_epochs 1) through ``DataLoader(num_workers=2)``; each worker
reports the bytes it read through read(2) (``rchar`` in /proc/self/io, page cache included) and its
peak RSS (VmHWM). The peer, in the same run: the same child on the code before the change
(``--before SRC``).

    python benchmarks/bench_stream_io.py [--mb 40] [--before /path/to/old/src]
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import WORK, machine, write_fragment  # noqa: E402
from bench_stream_jsonl_memory import child, sample_tokenizer, write_jsonl  # noqa: E402

SRC = Path(__file__).resolve().parents[1] / "src"

CHILD = r"""
import json, sys, time
from torch.utils.data import DataLoader, IterableDataset, get_worker_info
from gristmill.stream import MixtureDataset
def proc(field, f="/proc/self/status"):
    return next(int(l.split()[1]) for l in open(f) if l.startswith(field))
class Measured(IterableDataset):
    def __init__(self, ds): self.ds = ds
    def __iter__(self):
        start = proc("rchar", "/proc/self/io")
        yield from self.ds
        yield {"read": proc("rchar", "/proc/self/io") - start, "hwm_mib": proc("VmHWM") / 1024, "worker": get_worker_info().id}
t0 = time.perf_counter()
ds = MixtureDataset(sys.argv[1])
out, seqs = [], 0
for ex in DataLoader(Measured(ds), batch_size=None, num_workers=2):
    if "read" in ex: out.append(ex)
    else: seqs += 1
print(json.dumps({"workers": out, "sequences": seqs, "seconds": time.perf_counter() - t0}))
"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mb", type=int, default=40)
    ap.add_argument("--before", default=None, help="src/ of the code before the change, run as the peer")
    args = ap.parse_args()
    work = WORK / "stream_io"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    try:
        sample_tokenizer(work)
        data = work / "docs.jsonl"
        ndocs = write_jsonl(data, args.mb)
        mix = work / "mix.yaml"
        mix.write_text(json.dumps({"tokenizer": str(work / "tok.json"), "seq_len": 1024, "seed": 0, "shuffle_buffer": 1000,
                                   "sources": [{"name": "docs", "path": str(data), "weight": 1.0}]}))
        size = data.stat().st_size
        runs = [("units dealt to workers", child(mix, SRC, CHILD))]
        if args.before:
            runs.append(("before: rows strided", child(mix, Path(args.before), CHILD)))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    lines = [f"### Stream bytes read per epoch, 2 DataLoader workers ({machine()})", "",
             f"One JSONL source of {size / 1e6:,.0f} MB ({ndocs:,} documents, 8 MB read units), one epoch, seq_len 1024, "
             "shuffle buffer 1,000.", "",
             "| stream | bytes read (both workers) | x source | worker peak RSS | sequences | wall |", "|---|---:|---:|---:|---:|---:|"]
    for name, r in runs:
        read = sum(w["read"] for w in r["workers"])
        hwm = " / ".join(f"{w['hwm_mib']:,.0f}" for w in sorted(r["workers"], key=lambda w: w["worker"]))
        lines.append(f"| {name} | {read / 1e6:,.1f} MB | {read / size:.2f} | {hwm} MiB | {r['sequences']:,} | {r['seconds']:.0f} s |")
    print("\n".join(lines))
    write_fragment("stream_io", "\n".join(lines))


if __name__ == "__main__":
    main()
