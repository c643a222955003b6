"""Peak memory of streaming from a JSONL source of 10 MB, 100 MB and 1 GB (issue 20, one document layer).

The README promises that a stream's memory is bounded by its buffer, not by the data. A JSONL source
used to be one read unit, parsed whole by every consumer (and once more to count its rows). Now it is
line-aligned byte ranges of about 8 MB (gristmill.io.units). Each size is built from text generated
on the fly (seeded random words), streamed in a fresh child until the first 16 sequences of 64 tokens,
and deleted afterwards. The peer, in the same run: the same child on the code before the change
(``--before SRC``, e.g. /work/main/src, a checkout of the previous commit).

    python benchmarks/bench_stream_jsonl_memory.py [--sizes 10,100,1000] [--before /path/to/old/src]
"""
from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import WORK, machine, write_fragment  # noqa: E402

SRC = Path(__file__).resolve().parents[1] / "src"

CHILD = r"""
import json, sys, time
from gristmill.stream import MixtureDataset
def hwm():  # VmHWM: this process's own peak (ru_maxrss would carry the parent's across exec)
    return int(next(l for l in open("/proc/self/status") if l.startswith("VmHWM")).split()[1]) / 1024
base = hwm()
t0 = time.perf_counter()
ds = MixtureDataset(sys.argv[1])
built = time.perf_counter() - t0
it = iter(ds)
first = [next(it) for _ in range(16)]
print(json.dumps({"rss_mib": hwm(), "base_mib": base, "build_s": built, "first16_s": time.perf_counter() - t0,
                  "tokens": sum(int(x["num_tokens"]) for x in first)}))
"""


def words(rng: random.Random, n: int) -> list[str]:
    letters = "etaoinshrdlucmfwypvbgkjqxz"
    return ["".join(rng.choice(letters[: 6 + k % 20]) for _ in range(2 + k % 9)) for k in range(n)]


def write_jsonl(path: Path, mb: int, seed: int = 0) -> int:
    """About ``mb`` MB of documents of seeded random words (Zipf-like: early words are common)."""
    rng = random.Random(seed)
    vocab = words(rng, 5000)
    weights = [1 / (k + 1) for k in range(len(vocab))]
    # bodies are JSON-encoded once; a line is then one string format (a GB in seconds, not minutes)
    pool = [json.dumps(" ".join(rng.choices(vocab, weights, k=rng.randint(80, 600))))[1:-1] for _ in range(2000)]
    picks = [rng.randrange(len(pool)) for _ in range(1 << 16)]
    n, size, target = 0, 0, mb * 1_000_000
    with open(path, "w", buffering=1 << 22) as f:
        while size < target:
            lines = "".join(f'{{"id": "d{n + k}", "text": "{n + k} {pool[picks[(n + k) & 0xFFFF]]}"}}\n' for k in range(256))
            f.write(lines)
            size += len(lines)
            n += 256
    return n


def sample_tokenizer(work: Path) -> Path:
    """``work/tok.json``: a 2,000-token BPE trained (by the CLI) on 2 MB of the same kind of text."""
    sample = work / "sample.jsonl"
    write_jsonl(sample, 2, seed=1)
    subprocess.run([sys.executable, "-m", "gristmill.cli", "tokenizer", "train", str(sample), "--vocab-size", "2000",
                    "-o", str(work / "tok.json")], check=True, capture_output=True, env={**os.environ, "PYTHONPATH": str(SRC)})
    return work / "tok.json"


def child(mix: Path, src: Path, code: str = CHILD) -> dict:
    """Run ``code`` on ``mix`` in a fresh Python importing gristmill from ``src``; its last line as JSON."""
    env = {**os.environ, "PYTHONPATH": str(src)}
    p = subprocess.run([sys.executable, "-c", code, str(mix)], capture_output=True, text=True, env=env)
    if p.returncode:
        raise RuntimeError(p.stderr[-3000:])
    return json.loads(p.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="10,100,1000", help="MB, comma-separated")
    ap.add_argument("--before", default=None, help="src/ of the code before the change, run as the peer")
    args = ap.parse_args()
    work = WORK / "stream_jsonl_memory"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    try:
        sample_tokenizer(work)
        rows = []
        for mb in [int(x) for x in args.sizes.split(",")]:
            data = work / f"docs-{mb}mb.jsonl"
            t0 = time.perf_counter()
            ndocs = write_jsonl(data, mb)
            gen = time.perf_counter() - t0
            mix = work / f"mix-{mb}.yaml"
            mix.write_text(json.dumps({"tokenizer": str(work / "tok.json"), "seq_len": 64, "seed": 0, "shuffle_buffer": 1000,
                                       "sources": [{"name": "docs", "path": str(data), "weight": 1.0}]}))
            new = child(mix, SRC)
            old = child(mix, Path(args.before)) if args.before else None
            rows.append((mb, data.stat().st_size, ndocs, new, old))
            print(mb, gen, new, old, flush=True)
            data.unlink()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    lines = [f"### Stream memory vs JSONL source size ({machine()})", "",
             "| JSONL source | documents | peak RSS, byte-range units | time to 16 sequences | peak RSS, before (one unit per file) | time, before |",
             "|---:|---:|---:|---:|---:|---:|"]
    for mb, size, ndocs, new, old in rows:
        lines.append(f"| {size / 1e6:,.0f} MB | {ndocs:,} | {new['rss_mib']:,.0f} MiB | {new['first16_s']:.1f} s | "
                     + (f"{old['rss_mib']:,.0f} MiB | {old['first16_s']:.1f} s |" if old else "- | - |"))
    lines.append(f"\nRSS before streaming (imports): {rows[0][3]['base_mib']:,.0f} MiB. Each child builds MixtureDataset "
                 "(seq_len 64, shuffle buffer 1,000 documents, num_workers=0) and takes the first 16 sequences; "
                 "the time includes counting the source's records.\n")
    write_fragment("stream_jsonl_memory", "\n".join(lines))


if __name__ == "__main__":
    main()
