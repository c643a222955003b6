"""minhash_dedup's partitioned phases (bucketing per (band, key partition), pairs per node range,
connected components over label partitions, star clusters per component group) decide exactly as
one in-memory pass over all pairs, on data with chains and big clusters; and no task's input is
more than a partition."""
from __future__ import annotations

import os
import random
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from gristmill.dedup._lsh_partitions import read_band_row
from gristmill.dedup._star import star_clusters
from gristmill.dedup._unionfind import connected_components
from gristmill.dedup.minhash import _priority
from gristmill.step import FitContext, get_step

STDLIB = Path(os.__file__).parent


@pytest.fixture(scope="module")
def shards(tmp_path_factory):
    """~700 documents of stdlib words: distinct passages, chains (each a 4-word shift of the one
    before, so neighbours are near duplicates and the ends are not), and big clusters of near
    copies with exact copies among them (more than the 32 bucket anchors)."""
    words = " ".join(p.read_text(errors="replace") for p in sorted(STDLIB.glob("*.py"))[:60]).split()
    rng = random.Random(5)
    rows = []
    while len(rows) < 700:
        start = rng.randrange(len(words) - 400)
        rows.append(" ".join(words[start : start + 150]))
        kind = rng.random()
        if kind < 0.15:
            rows += [" ".join(words[start + 4 * k : start + 4 * k + 150]) for k in range(1, rng.randrange(4, 16))]
        elif kind < 0.2:
            for k in range(rng.randrange(35, 70)):
                w = words[start : start + 150]
                if k % 3:
                    w = list(w)
                    w[rng.randrange(len(w))] = f"x{k}"
                rows.append(" ".join(w))
    d = tmp_path_factory.mktemp("mhp")
    paths = []
    for s in range(4):
        part = rows[s::4]
        p = d / f"shard{s}.parquet"
        pq.write_table(pa.table({"id": [f"s{s}-{i}" for i in range(len(part))], "text": part,
                                 "q": [float((i * 37) % 11) for i in range(len(part))]}), p)
        paths.append(p)
    return paths


def _fit(shards, wd: Path, workers: int = 1, **cfg):
    cls = get_step("minhash_dedup")
    step = cls(cls.Config(**cfg))
    step.fit(FitContext(shards=list(shards), workdir=wd, workers=workers, log=lambda m: None))
    return pq.read_table(wd / "result.parquet"), (wd / "report.json").read_text()


@pytest.mark.parametrize("cfg", [{}, {"clustering": "components"}, {"clustering": "kept_star", "keep": "max_score", "score_column": "q"}],
                         ids=["star", "components", "kept_star"])
def test_partitioned_phases_decide_as_one_pass(shards, tmp_path, cfg):
    one, one_report = _fit(shards, tmp_path / "one", **cfg)  # one partition: one task per band, one for pairs, ...
    wd = tmp_path / "many"
    many, many_report = _fit(shards, wd, workers=2, partition_docs=70, **cfg)  # 14 partitions, in worker processes
    assert many.equals(one) and many_report == one_report
    assert len(one) > 300  # chains and big clusters were found

    n = sum(pq.ParquetFile(p).metadata.num_rows for p in shards)
    P = -(-n // 70)
    R = -(-n // P)
    # the same labels as the in-memory algorithms over all verified pairs at once
    pairs = [np.load(wd / "pairs" / f"q{q:05d}.npy") for q in range(P)]
    sims = [np.load(wd / "pairs" / f"q{q:05d}.sim.npy") for q in range(P)]
    edges, sim = np.concatenate(pairs), np.concatenate(sims)
    mode = cfg.get("clustering", "star")
    if mode == "components":
        ref = connected_components(n, edges)
    else:
        starts = np.concatenate([[0], np.cumsum([pq.ParquetFile(p).metadata.num_rows for p in shards])])
        metas = [wd / "sig" / f"{i:05d}.meta.parquet" for i in range(len(shards))]
        ref = star_clusters(n, edges, lambda nodes: _priority(nodes, n, metas, starts, cfg.get("keep", "first")), sim,
                            fixed_from=n, centers="keep" if mode == "kept_star" else "connected")
    got = np.arange(n)
    for g in range(P):
        nl = np.load(wd / "clusters" / f"g{g:05d}.npy")
        got[nl[:, 0]] = nl[:, 1]
    assert np.array_equal(got, ref)
    sizes = np.bincount(ref, minlength=n)
    assert sizes.max() >= 35  # a big cluster
    if mode == "components":  # a chain: some component's ends are not a verified pair
        assert any(sizes[l] >= 5 for l in np.unique(ref))

    # bounded: every task's input is one partition, never the whole corpus / all pairs
    for q, e in enumerate(pairs):  # pair partition q holds the pairs whose smaller node is in range q
        assert ((e.min(axis=1) >= q * R) & (e.min(axis=1) < (q + 1) * R)).all()
    assert max(len(e) for e in pairs) < len(edges) / 2
    key_files = sorted((wd / "sig").glob("*.keys.npy"))
    for j in (0, 7):  # bucketing task (band j, partition p) holds the keys with key % P == p
        keys = np.concatenate([read_band_row(f, j) for f in key_files])
        held = np.bincount((keys % np.uint64(P)).astype(np.int64), minlength=P)
        assert held.sum() == n and held.max() <= 3 * 70
    labels = list((wd / "cc").glob("g*.npy"))
    assert labels and all(len(np.load(f)) <= R for f in labels)


def test_partitioned_fit_resumes_after_a_kill_in_any_phase(shards, tmp_path):
    clean, report = _fit(shards, tmp_path / "clean", partition_docs=100)
    import shutil

    for phase in ("edges", "pairs", "cc", "groups", "clusters", "decide"):
        wd = tmp_path / phase
        shutil.copytree(tmp_path / "clean", wd)
        for f in ("result.parquet", "report.json"):
            (wd / f).unlink()
        later = ["edges", "pairs", "cc", "groups", "clusters", "decide"]
        for d in later[later.index(phase) + 1 :]:
            shutil.rmtree(wd / d)
        # as after a kill: the phase's done-marker (cc) and half its units (all files of one
        # task's output share a stem; the marker is written last) are gone
        (wd / "cc" / "done.json").unlink(missing_ok=phase != "cc")
        units = sorted({f.name.split(".")[0] for f in (wd / phase).iterdir()})
        for f in list((wd / phase).iterdir()):
            if f.name.split(".")[0] in units[len(units) // 2 :]:
                f.unlink()
        got, rep = _fit(shards, wd, partition_docs=100)
        assert got.equals(clean) and rep == report, phase
