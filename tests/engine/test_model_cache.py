"""The per-process model cache: ``quality_score`` loads its model once per process for a whole run
of many shards (not once per shard), and a model file rewritten in place is loaded afresh."""
from __future__ import annotations

import json
import os
import random

import numpy as np
import pyarrow.parquet as pq

from conftest import stdlib_docs, write_jsonl
from gristmill.engine import model_cache
from gristmill.engine.local import run
from gristmill.quality.model import train
from gristmill.recipe import load_recipe


def _model(path, flip: bool = False):
    good = [d["text"] for d in stdlib_docs(80)]
    rng = random.Random(0)
    bad = ["".join(rng.choice("qwxzjk!$ 0123") for _ in range(300)) for _ in range(80)]
    y = np.r_[np.ones(80), np.zeros(80)]
    train(good + bad, 1 - y if flip else y, "fast").save(path)


def _scores(out) -> dict:
    got = {}
    for sub in ("data", "rejected"):
        for p in (out / sub).glob("*.parquet"):
            t = pq.read_table(p, columns=["id", "quality_score"])
            got.update(zip(t.column("id").to_pylist(), t.column("quality_score").to_pylist()))
    return got


def test_quality_model_loads_once_per_process_and_never_stale(tmp_path):
    docs = stdlib_docs(120)
    for f in range(6):  # six input files: six shards, each scored in this process (-w 1)
        write_jsonl(tmp_path / f"part{f}.jsonl", [{"id": f"{f}-{i}", "text": d["text"]} for i, d in enumerate(docs[f::6])])
    model = tmp_path / "q.bin"
    _model(model)
    rp = tmp_path / "r.yaml"
    rp.write_text(f'input: {{paths: ["{tmp_path}/part*.jsonl"], id_field: id}}\n'
                  f'steps:\n  - quality_score: {{model: "{model}"}}\noutput: {{path: "{tmp_path}/o"}}\n')
    model_cache.clear()
    summary = run(load_recipe(rp), tmp_path / "o1", workers=1, log=lambda m: None)
    assert summary["input"] == 120
    assert model_cache.loads()["loads"] == {"quality_model": 1}  # recipe validation + 6 shards: one load
    first = _scores(tmp_path / "o1")
    assert len(first) == 120 and all(0 <= s <= 1 for s in first.values())

    # The same path, a retrained model (labels flipped): the next run must not score with the old one.
    _model(model, flip=True)
    os.utime(model, ns=(model.stat().st_atime_ns, model.stat().st_mtime_ns + 1_000_000))  # even on a coarse clock
    run(load_recipe(rp), tmp_path / "o2", workers=1, log=lambda m: None)
    assert model_cache.loads()["loads"] == {"quality_model": 2}
    second = _scores(tmp_path / "o2")
    assert sum(second[i] < 0.5 for i in second) > 100 and sum(first[i] > 0.5 for i in first) > 100
    assert json.loads((tmp_path / "o2" / "summary.json").read_text())["kept"] == 120


def test_cache_key_and_bound(tmp_path):
    model_cache.clear()
    calls = []
    paths = []
    for i in range(model_cache.MAX_MODELS + 1):
        p = tmp_path / f"m{i}"
        p.write_text(str(i))
        paths.append(p)
    load = lambda p: calls.append(p.name) or p.read_text()  # noqa: E731
    assert model_cache.cached("k", paths[0], load) == "0"
    assert model_cache.cached("k", paths[0], load) == "0"
    assert model_cache.cached("k", paths[0], load, extra=128) == "0"  # other load settings: another model
    assert calls == ["m0", "m0"]
    for p in paths[1:]:
        model_cache.cached("k", p, load)
    model_cache.cached("k", paths[0], load)  # evicted (least recently used) by the bound: loaded again
    assert calls.count("m0") == 3
    assert model_cache.loads()["loads"] == {"k": len(calls)}
