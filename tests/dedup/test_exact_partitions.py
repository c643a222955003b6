"""exact_dedup's hash-partitioned groupby run as tasks in worker processes: the same clusters and
decisions with one partition or many, and each partition task reads only its hash prefix."""
from __future__ import annotations

import os
import random
from pathlib import Path

import pyarrow as pa
import pyarrow.ipc as ipc
import pyarrow.parquet as pq

from gristmill.step import FitContext, get_step

STDLIB = Path(os.__file__).parent


def _fit(shards, wd: Path, workers: int, **cfg):
    cls = get_step("exact_dedup")
    step = cls(cls.Config(**cfg))
    step.fit(FitContext(shards=list(shards), workdir=wd, workers=workers, log=lambda m: None))
    return pq.read_table(wd / "result.parquet"), (wd / "report.json").read_text()


def test_exact_partitions_as_tasks_decide_the_same(tmp_path):
    words = " ".join(p.read_text(errors="replace") for p in sorted(STDLIB.glob("*.py"))[:20]).split()
    rng = random.Random(2)
    texts = []
    for i in range(600):
        s = rng.randrange(len(words) - 50)
        t = " ".join(words[s : s + 40])
        texts.append(t)
        for _ in range(rng.choice([0, 0, 0, 1, 3, 40])):  # copies differing in case and punctuation only
            texts.append(t.upper() + " !")
    paths = []
    for s in range(4):
        part = texts[s::4]
        p = tmp_path / f"s{s}.parquet"
        pq.write_table(pa.table({"id": [f"{s}-{i}" for i in range(len(part))], "text": part}), p)
        paths.append(p)
    for keep in ("first", "longest"):
        one, r1 = _fit(paths, tmp_path / f"one-{keep}", 1, keep=keep, partitions=1)
        many, r8 = _fit(paths, tmp_path / f"many-{keep}", 2, keep=keep, partitions=8)
        assert many.equals(one) and len(one) > 200
        strip = lambda r: r.replace('"partitions": 8', '"partitions": 1')  # noqa: E731
        assert strip(r8) == r1
    # each shard's spill holds one record batch per hash prefix: a partition task reads 1/8th
    for f in sorted((tmp_path / "many-first" / "spill").glob("*.arrow")):
        r = ipc.open_file(pa.memory_map(str(f)))
        assert r.num_record_batches == 8
        sizes = [r.get_batch(q).num_rows for q in range(8)]
        assert max(sizes) < sum(sizes) / 2
