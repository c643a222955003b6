"""Streaming a mixture: MixtureDataset vs raw Hugging Face `tokenizers` on the same text, same run.

1. Curated outputs: `gristmill run` (min_length only) on five real corpora (Brown, Moby Dick,
   sentences, State of the Union, the Python docs' reference text), each capped at --mb MB of text.
2. Two byte-level BPE tokenizers trained with `gristmill tokenizer train` (vocab 4k and 32k).
3. Throughput: one pass over all curated text. Peer: ``Tokenizer.encode_batch`` (and
   ``encode_batch_fast``) over the same texts already in memory, batches of 1,000 documents.
   Ours: MixtureDataset through a DataLoader with 0, 1 and 2 workers, reading the Parquet,
   shuffling, tokenizing, packing into 1,024-token sequences. Runs are interleaved; medians.
4. Memory: the loader's peak RSS (a fresh child) streaming the same number of tokens from the
   curated data and from 10x as much (ten copies of its Parquet files).
5. Export: tokens/s reading the nanoGPT and Megatron exports back into LongTensors, against the
   live stream in the same run.

    GRISTMILL_CORPORA=/work/corpora python benchmarks/bench_stream.py [--mb 4] [--repeat 3]
"""
from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import WORK, corpora_dir, machine, timed_child, write_fragment  # noqa: E402

CORPORA = {"brown": "text", "mobydick": "text", "sentences": "text", "sotu": "text", "pydocs": "reference"}


def gristmill(*args: str) -> None:
    p = subprocess.run([sys.executable, "-c", "from gristmill.cli import app; app()", *args], capture_output=True, text=True)
    if p.returncode:
        sys.exit(f"gristmill {' '.join(args)} failed:\n{p.stdout[-2000:]}{p.stderr[-2000:]}")


def build(work: Path, mb: float | None) -> list[Path]:
    """Curated outputs of the five corpora, each capped at ``mb`` MB of text (None: whole)."""
    tag = f"{mb:g}mb" if mb else "full"
    outs = []
    for name, field in CORPORA.items():
        src = corpora_dir() / f"{name}.jsonl"
        if not src.exists():
            sys.exit(f"{src} missing: set GRISTMILL_CORPORA to the corpora directory")
        capped = work / f"in-{tag}" / f"{name}.jsonl"
        capped.parent.mkdir(parents=True, exist_ok=True)
        budget = mb * 1e6 if mb else float("inf")
        with open(src) as f, open(capped, "w") as g:
            for line in f:
                d = json.loads(line)
                t = d.get(field) or ""
                if not t:
                    continue
                t = t[: int(min(budget, len(t)))]
                g.write(json.dumps({"id": d["id"], "text": t}) + "\n")
                budget -= len(t.encode())
                if budget <= 0:
                    break
        out = work / f"out-{tag}" / name
        recipe = work / f"{name}-{tag}.yaml"
        recipe.write_text(json.dumps({"input": {"paths": [str(capped)], "id_field": "id", "source": name},
                                      "steps": [{"min_length": {"min_words": 5}}], "output": {"path": str(out)}}))
        if not (out / "summary.json").exists():
            gristmill("run", str(recipe), "--workers", "2", "--no-progress")
        outs.append(out)
    return outs


THROUGHPUT_CHILD = r"""
import json, sys, time
from pathlib import Path
mode, mix, tokpath, outs = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
if mode.startswith("raw"):
    import pyarrow.parquet as pq
    from tokenizers import Tokenizer
    tok = Tokenizer.from_file(tokpath)
    texts = [t for o in outs for f in sorted((Path(o) / "data").glob("*.parquet"))
             for t in pq.read_table(f, columns=["text"]).column("text").to_pylist()]
    enc = tok.encode_batch_fast if mode == "raw_fast" else tok.encode_batch
    t0 = time.perf_counter()
    n = 0
    for i in range(0, len(texts), 1000):
        n += sum(len(e.ids) for e in enc(texts[i:i + 1000], add_special_tokens=False))
else:
    from torch.utils.data import DataLoader
    from gristmill.stream import MixtureDataset
    workers = int(mode.split("_")[1])
    t0 = time.perf_counter()  # dataset setup and worker start-up count: a trainer pays them too
    ds = MixtureDataset(mix, tokenizer=tokpath)
    n = 0
    for b in DataLoader(ds, batch_size=16, num_workers=workers):
        n += int(b["num_tokens"].sum())
print(json.dumps({"seconds": time.perf_counter() - t0, "tokens": n}))
"""

MODES = {"raw": "raw encode_batch (peer)", "raw_fast": "raw encode_batch_fast", "stream_0": "stream, 0 workers",
         "stream_1": "stream, 1 worker", "stream_2": "stream, 2 workers"}


def text_mb(outs: list[Path]) -> tuple[int, float]:
    import pyarrow.parquet as pq

    texts = [t for o in outs for f in sorted((o / "data").glob("*.parquet")) for t in pq.read_table(f, columns=["text"]).column("text").to_pylist()]
    return len(texts), sum(len(t.encode()) for t in texts) / 1e6


RSS_CHILD = r"""
import json, sys
from torch.utils.data import DataLoader
from gristmill.stream import MixtureDataset
mix, tok, tokens = sys.argv[1], sys.argv[2], int(sys.argv[3])
ds = MixtureDataset(mix, tokenizer=tok)
def hwm():  # VmHWM, not ru_maxrss: on Linux ru_maxrss carries the forking parent's peak across exec
    return int(next(l for l in open("/proc/self/status") if l.startswith("VmHWM")).split()[1]) / 1024
base = hwm()
n = 0
for ex in DataLoader(ds, batch_size=16, num_workers=0):
    n += int(ex["num_tokens"].sum())
    if n >= tokens:
        break
print(json.dumps({"rss_mib": hwm(), "rss_after_import_mib": base, "tokens": n}))
"""


def read_exports(mix: Path, tokpath: Path, work: Path, tokens: int, repeat: int) -> dict:
    import numpy as np
    import torch

    from gristmill.stream.export import read_megatron, read_nanogpt

    res = {}
    for fmt in ("nanogpt", "megatron"):
        d = work / f"export-{fmt}"
        shutil.rmtree(d, ignore_errors=True)
        gristmill("export", str(mix), "-o", str(d), "--format", fmt, "--tokens", str(tokens), "-t", str(tokpath), "--val-fraction", "0.01")
    L = json.loads((work / "export-nanogpt" / "meta.json").read_text())["seq_len"]
    times = {"nanogpt": [], "megatron": [], "stream": []}
    for _ in range(repeat):
        t = time.perf_counter()
        n = 0
        data = read_nanogpt(work / "export-nanogpt")["train"]
        for i in range(0, len(data) - L + 1, L):
            x = torch.from_numpy(data[i:i + L].astype(np.int64))  # nanoGPT train.py's get_batch conversion
            n += x.numel()
        times["nanogpt"].append(n / (time.perf_counter() - t))
        t = time.perf_counter()
        n = 0
        for seq in read_megatron(work / "export-megatron" / "train_text_document"):
            n += torch.from_numpy(seq.astype(np.int64)).numel()
        times["megatron"].append(n / (time.perf_counter() - t))
        from gristmill.stream import MixtureDataset

        ds = MixtureDataset(mix, tokenizer=tokpath, tokens=tokens)  # planning (token counts) not timed
        t = time.perf_counter()
        n = 0
        for ex in ds:
            n += ex["num_tokens"]
        times["stream"].append(n / (time.perf_counter() - t))
    return {k: statistics.median(v) for k, v in times.items()}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mb", type=float, default=4.0, help="MB of text per corpus")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--rss-tokens", type=int, default=2_000_000)
    args = ap.parse_args()
    work = WORK / "stream"
    work.mkdir(parents=True, exist_ok=True)
    outs = build(work, args.mb)
    n_docs, mb = text_mb(outs)
    lines = [f"## Streaming (MixtureDataset)\n", f"{machine()}; 2-core CI-class machine shared with other jobs (noisy): "
             f"medians of {args.repeat} interleaved runs, each in a fresh process. Text: {n_docs:,} curated documents, {mb:.1f} MB, from "
             f"{', '.join(CORPORA)} (`gristmill run`, min_length), {args.mb:g} MB cap per corpus.\n",
             "| tokenizer | peer / config | tokens/s | MB/s text | ratio to raw `encode_batch` |",
             "|---|---|---:|---:|---:|"]
    for vocab in (4096, 32768):
        tokpath = work / f"tok{vocab}.json"
        if not tokpath.exists():
            gristmill("tokenizer", "train", *map(str, outs), "--vocab-size", str(vocab), "-o", str(tokpath))
        mix = work / f"all{vocab}.yaml"
        mix.write_text(json.dumps({"sources": [{"name": "all", "path": [str(o) for o in outs], "weight": 1.0}],
                                   "tokenizer": str(tokpath), "seq_len": 1024, "seed": 0}))
        runs: dict[str, list[float]] = {}
        toks: dict[str, int] = {}
        for _ in range(args.repeat):
            for mode in MODES:
                r = timed_child(THROUGHPUT_CHILD, mode, str(mix), str(tokpath), *map(str, outs))
                toks[mode] = r["tokens"]
                runs.setdefault(mode, []).append(r["seconds"])
        base = statistics.median(runs["raw"])
        for mode, ts in runs.items():
            s = statistics.median(ts)
            lines.append(f"| BPE {vocab // 1024}k | {MODES[mode]} | {toks[mode] / s:,.0f} | {mb / s:.2f} | {base / s:.2f}x |")
        print("\n".join(lines[-5:]), flush=True)
    lines.append("\nThe raw peer's texts are already in memory and it counts encoder tokens only; the stream reads "
                 "Parquet, shuffles, adds one EOS per document and packs, and its time includes building the dataset "
                 "and starting DataLoader workers. `encode_batch` uses all cores (Rayon); a worker does too, as long as "
                 "the parent process did not call encode_batch before forking it (gristmill's planner avoids it).\n")

    # memory: same tokens from 1x (the whole corpora) and 10x the data
    tokpath = work / "tok4096.json"
    outs = build(work, None)
    big = work / "big-full" / "data"  # ten copies of the whole corpora's curated Parquet
    if not big.exists():
        tmp = work / "big-full.tmp" / "data"
        shutil.rmtree(tmp.parent, ignore_errors=True)
        tmp.mkdir(parents=True)
        for i in range(10):
            for o in outs:
                for f in sorted((o / "data").glob("*.parquet")):
                    shutil.copy(f, tmp / f"{i}-{o.name}-{f.name}")
        tmp.parent.rename(big.parent)
    sizes = {}
    for label, paths in (("1x", [str(o) for o in outs]), ("10x", [str(big.parent)])):
        mix = work / f"rss{label}.yaml"
        mix.write_text(json.dumps({"sources": [{"name": "all", "path": paths, "weight": 1.0}], "tokenizer": str(tokpath),
                                   "seq_len": 1024, "seed": 0}))
        from gristmill.mix.sources import expand_source_paths

        gb = sum(f.stat().st_size for f in expand_source_paths(paths)) / 1e6  # what the source reads: OUT/data/
        r = [timed_child(RSS_CHILD, str(mix), str(tokpath), str(args.rss_tokens)) for _ in range(2)]
        sizes[label] = (gb, statistics.median(x["rss_mib"] for x in r), statistics.median(x["rss_after_import_mib"] for x in r))
    lines += ["| data | Parquet on disk | loader peak RSS | RSS before streaming |", "|---|---:|---:|---:|"]
    for label, (gb, rss, base) in sizes.items():
        lines.append(f"| {label} | {gb:,.0f} MB | {rss:,.0f} MiB | {base:,.0f} MiB |")
    print("\n".join(lines[-3:]), flush=True)
    lines.append(f"\nEach child streams {args.rss_tokens:,} tokens (num_workers=0, shuffle buffer 1,000 documents).\n")

    ex = read_exports(work / "rss1x.yaml", tokpath, work, 2_000_000, args.repeat)
    lines += ["| reading | tokens/s | ratio to the live stream |", "|---|---:|---:|"]
    for k in ("nanogpt", "megatron", "stream"):
        lines.append(f"| {'live stream (peer)' if k == 'stream' else k + ' export'} | {ex[k]:,.0f} | {ex[k] / ex['stream']:.1f}x |")
    write_fragment("stream", "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
