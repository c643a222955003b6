"""Issue 24 part 4: the dedup fits write their result split by fit input (``result/NNNNN.parquet``),
and a shard task's lookup loads only its own part, with the decisions of the whole file; a workdir
without the parts (an older run) or an input changed since still reads the whole file."""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from gristmill.dedup._clusters import ClusterLookup, write_shard_results
from gristmill.engine.shard import ShardRunner, ShardTask, run_shard
from gristmill.io.readers import Batch
from gristmill.step import FitContext, get_step
from kill_harness import build_corpus, run_to_end, write_recipe

STEPS = [{"normalize": {}}, {"exact_dedup": {}}, {"minhash_dedup": {}}]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    d = tmp_path_factory.mktemp("shard_lookup")
    inputs = build_corpus(d / "in", n_files=4, docs_per_file=150)
    recipe = write_recipe(d / "recipe.yaml", inputs, steps=STEPS)
    rc, log = run_to_end(recipe, d / "out", timeout=300)
    assert rc == 0, log
    return d / "out"


def _fits(out: Path):
    for k, name in enumerate([n for st in STEPS[1:] for n in st], start=1):
        yield name, out / "_work" / f"fit-{k:02d}-{name}"


def test_the_run_writes_one_part_per_input_partitioning_the_result(run):
    for name, wd in _fits(run):
        index = json.loads((wd / "result" / "shards.json").read_text())["shards"]
        assert len(index) == 4, name
        # named as the engine names each shard task's input (engine/local.py: ShardTask.in_path), so the tasks find them
        k = int(wd.name.split("-")[1])
        sids = sorted(f.stem for f in (run / "data").glob("*.parquet"))
        assert [e[0] for e in index] == [str(run.resolve() / "_work" / f"s{k - 1}" / f"{sid}.parquet") for sid in sids], name
        whole = pq.read_table(wd / "result.parquet")
        assert whole.num_rows > 0 and (whole["code"].to_numpy() != 0).any(), f"{name}: no duplicates to look up"
        parts = [pq.read_table(wd / "result" / e[3]) for e in index]
        assert all(0 < t.num_rows < whole.num_rows for t in parts), name
        # ids are unique in this corpus: every result row is in exactly one input's part
        got = np.sort(np.concatenate([t["id_hash"].to_numpy() for t in parts]))
        assert np.array_equal(got, whole["id_hash"].to_numpy()), name


@pytest.fixture(scope="module")
def shards(run, tmp_path_factory):
    """Each shard of the run as a parquet input (id, source, text): its kept and its rejected rows as written
    by the engine, so exact and near duplicates sit across the four files."""
    d = tmp_path_factory.mktemp("shards")
    out = []
    for f in sorted((run / "data").glob("*.parquet")):
        rej = sorted((run / "rejected").glob(f"s*-{f.stem}-*.parquet"))
        cols = ["id", "source", "text"]
        t = pa.concat_tables([pq.read_table(x, columns=cols) for x in [f, *rej]])
        p = d / f.name
        pq.write_table(t, p)
        out.append(p)
    assert len(out) == 4
    return out


def _shard_outputs(root: Path) -> dict:
    return {f.relative_to(root).as_posix(): pq.read_table(f) for f in sorted(root.rglob("*.parquet"))}


@pytest.mark.parametrize("name", ["exact_dedup", "minhash_dedup"])
def test_a_shard_task_opens_only_its_part_and_decides_as_the_whole_file(shards, tmp_path, name):
    cls = get_step(name)
    wd = tmp_path / "fit"
    cls(cls.Config()).fit(FitContext(shards=shards, workdir=wd, workers=1, log=lambda m: None))
    index = json.loads((wd / "result" / "shards.json").read_text())["shards"]
    assert [e[0] for e in index] == [str(p) for p in shards]
    legacy = tmp_path / "legacy"  # the same fit as a run before the parts existed left it
    shutil.copytree(wd, legacy)
    shutil.rmtree(legacy / "result")

    def tasks(workdir: Path, root: Path):
        step = cls(cls.Config())
        step.bind(workdir)
        (root / "_manifest").mkdir(parents=True)
        for p in shards:
            task = ShardTask(stage=1, shard_id=p.stem, steps=[step], step_offset=0, run_root=str(root), final=True,
                             keep_rejected=True, batch_rows=50, in_path=str(p))
            run_shard(task)
            yield p, step._lookup()

    whole = pq.read_table(wd / "result.parquet").num_rows
    for (p, part), e in zip(tasks(wd, tmp_path / "new"), index):
        assert part.path == wd / "result" / e[3], f"{p.name}: the task did not open its own part"
        assert len(part.id_hash) < whole
    for _, lk in tasks(legacy, tmp_path / "old"):
        assert lk.path == legacy / "result.parquet"  # no parts: the whole file, as before
    new, old = _shard_outputs(tmp_path / "new"), _shard_outputs(tmp_path / "old")
    assert any(k.startswith("rejected/") for k in new), f"{name}: nothing rejected; the test would prove nothing"
    assert new.keys() == old.keys()
    for k in new:
        assert new[k].equals(old[k]), k

    # rows handed in by `select` (not read from a fit input): the whole file, never a shard's part
    step = cls(cls.Config())
    step.bind(wd)
    task = ShardTask(stage=1, shard_id="x", steps=[step], step_offset=0, run_root=str(tmp_path / "sel"), final=True,
                     keep_rejected=False, batch_rows=50, in_path=str(shards[0]))
    ShardRunner(task, batches=iter([Batch(pq.read_table(shards[0]))]))
    assert step._lookup().path == wd / "result.parquet"

    # a fit killed after result.parquet and before the parts: the resumed fit writes the same parts
    write_shard_results(legacy, shards)
    for e in index:
        assert pq.read_table(legacy / "result" / e[3]).equals(pq.read_table(wd / "result" / e[3]))
    # an input rewritten after the fit no longer matches its part: fall back to the whole file
    copy = tmp_path / "copy.parquet"
    shutil.copy2(shards[0], copy)
    assert ClusterLookup(wd, copy).path == wd / "result.parquet"
    st = shards[0].stat()
    try:
        os.utime(shards[0], ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
        assert ClusterLookup(wd, shards[0]).path == wd / "result.parquet"
    finally:
        os.utime(shards[0], ns=(st.st_atime_ns, st.st_mtime_ns))
