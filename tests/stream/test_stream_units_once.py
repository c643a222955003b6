"""Each read unit is read once per epoch in total, by the one DataLoader worker that owns it (issue
20): two workers read the source's bytes once between them, not once each, and every document is
still streamed exactly once."""
from __future__ import annotations

import json

import numpy as np
import yaml
from torch.utils.data import DataLoader, IterableDataset, get_worker_info
from typer.testing import CliRunner

from conftest import stdlib_docs
from gristmill.cli import app
from gristmill.io import units


def _rchar() -> int:
    """Bytes this process read through read(2) (page cache included: what the stream asked for)."""
    with open("/proc/self/io") as f:
        return next(int(l.split()[1]) for l in f if l.startswith("rchar"))


class Measured(IterableDataset):
    """The stream, followed by one record per worker of the bytes it read after its first example
    (imports and the tokenizer, read once per worker whatever the data, are behind that point; so
    are at most the one or two units of the first block)."""

    def __init__(self, ds):
        self.ds = ds

    def __iter__(self):
        it = iter(self.ds)
        first = next(it)
        start = _rchar()
        yield first
        yield from it
        yield {"read_bytes": _rchar() - start, "worker": get_worker_info().id}


def test_two_workers_read_each_unit_once_per_epoch(tmp_path, monkeypatch):
    from gristmill.stream import MixtureDataset

    docs = stdlib_docs(2000, 20)
    src = tmp_path / "docs.jsonl"
    src.write_text("".join(json.dumps({"id": d["id"], "text": d["text"]}) + "\n" for d in docs))
    r = CliRunner().invoke(app, ["tokenizer", "train", str(src), "--vocab-size", "800", "-o", str(tmp_path / "tok.json")])
    assert r.exit_code == 0, r.output
    mix = tmp_path / "mix.yaml"
    mix.write_text(yaml.safe_dump({"tokenizer": str(tmp_path / "tok.json"), "seq_len": 1024, "seed": 0, "shuffle_buffer": 16,
                                   "sources": [{"name": "docs", "path": str(src), "weight": 1.0}]}))
    monkeypatch.setattr(units, "UNIT_BYTES", 32 << 10)  # many units (the workers fork and keep it)
    ds = MixtureDataset(mix, document_boundaries=True)
    assert len(ds.mix.phases[0].sources[0].data.units) >= 8
    seen: list[int] = []
    read = {}
    for ex in DataLoader(Measured(ds), batch_size=None, num_workers=2):
        if "read_bytes" in ex:
            read[int(ex["worker"])] = int(ex["read_bytes"])
            continue
        ids = ex["doc_ids"].numpy()
        seen += np.unique(ids[(ids >= 0) & ex["doc_starts"].numpy()]).tolist()
    assert sorted(seen) == list(range(len(docs)))  # every document once in the epoch
    size = src.stat().st_size
    assert set(read) == {0, 1}
    # both workers together read the file about once (striding made each read all of it: ~2x).
    # rchar also counts the DataLoader's queue messages (~150 bytes a sequence: long sequences keep
    # them small) and a few KB per unit opened (the compression sniff)
    assert sum(read.values()) < 1.4 * size, (read, size)
    assert min(read.values()) > 0.2 * size  # and the units are shared out, not all on one worker
