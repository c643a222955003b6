"""Mixtures, curricula and the stream: real curated outputs (made by `gristmill run`), a tokenizer
trained by `gristmill tokenizer train`, real DataLoaders, real exports read back."""
import json
import random
import struct
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch
import yaml
from torch.utils.data import DataLoader
from typer.testing import CliRunner

from conftest import stdlib_docs, write_jsonl
from gristmill.cli import app
from gristmill.mix.spec import MixtureError
from gristmill.stream import MixtureDataset, SourceExhausted

runner = CliRunner()


def cli(*args, ok=True):
    r = runner.invoke(app, [str(a) for a in args])
    if ok:
        assert r.exit_code == 0, (r.output, r.exception)
    return r


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """Three curated sources and a trained tokenizer, all made through the CLI."""
    root = tmp_path_factory.mktemp("stream")
    docs = stdlib_docs(5000, 20)
    for i, name in enumerate(("web", "books", "code")):
        write_jsonl(root / f"{name}.jsonl", docs[i::3])
        (root / f"{name}.yaml").write_text(yaml.safe_dump({
            "inputs": [{"paths": [str(root / f"{name}.jsonl")], "id_field": "id", "source": name}],
            "steps": [{"min_length": {"min_words": 20}}],
            "output": {"path": str(root / "out" / name), "batch_rows": 60},  # several row groups: a real shard order
        }))
        cli("run", root / f"{name}.yaml", "--workers", "1", "--no-progress")
    cli("tokenizer", "train", root / "out" / "web", root / "out" / "books", root / "out" / "code",
        "--vocab-size", "1500", "-o", root / "tok.json")
    return root


def write_mix(root: Path, name: str, body: dict) -> Path:
    body = {"tokenizer": str(root / "tok.json"), "seq_len": 64, "seed": 0, "shuffle_buffer": 16, **body}
    p = root / name
    p.write_text(yaml.safe_dump(body, sort_keys=False))
    return p


def src(root, name, **kw):
    return {"name": name, "path": str(root / "out" / name), **kw}


def stored(root: Path, name: str) -> pa.Table:
    """A source's documents in canonical order (the order doc ids number them)."""
    files = sorted((root / "out" / name / "data").glob("*.parquet"))
    return pa.concat_tables([pq.read_table(f) for f in files])


def ids_of(examples):
    return [ex["input_ids"].clone() for ex in examples]


def same(a, b):
    return len(a) == len(b) and all(torch.equal(x, y) for x, y in zip(a, b))


# -- resume -------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def mix2(world):
    return write_mix(world, "mix2.yaml", {"sources": [src(world, "web", weight=0.6, max_epochs=20),
                                                      src(world, "books", weight=0.4, max_epochs=20)]})


def test_resume_direct_iteration(world, mix2):
    ds = MixtureDataset(mix2, tokenizer=world / "tok.json", seq_len=64, seed=0)
    full = ids_of(x for _, x in zip(range(400), ds))
    rng = random.Random(7)
    for k in (rng.randrange(1, 400) for _ in range(3)):
        ds1 = MixtureDataset(mix2, tokenizer=world / "tok.json", seq_len=64, seed=0)
        it = iter(ds1)
        head = ids_of(next(it) for _ in range(k))
        state = json.loads(json.dumps(ds1.state_dict()))  # plain data: survives JSON
        ds2 = MixtureDataset(mix2, tokenizer=world / "tok.json", seq_len=64, seed=0)
        ds2.load_state_dict(state)
        it2 = iter(ds2)
        tail = ids_of(next(it2) for _ in range(400 - k))
        assert same(head + tail, full), k


@pytest.mark.parametrize("workers", [0, 2])
def test_resume_stateful_dataloader(world, mix2, workers):
    from torchdata.stateful_dataloader import StatefulDataLoader

    total, k = 50, random.Random(workers).randrange(5, 45)

    def loader(state=None):
        dl = StatefulDataLoader(MixtureDataset(mix2), batch_size=4, num_workers=workers)
        if state is not None:
            dl.load_state_dict(state)
        return dl

    full = [b["input_ids"] for _, b in zip(range(total), loader())]
    it = iter(dl := loader())
    head = [next(it)["input_ids"] for _ in range(k)]
    state = dl.state_dict()
    del it, dl
    torch.save(state, world / f"loader{workers}.pt")  # `mix report` reads the loader's state (every worker's inside)
    rows = json.loads(cli("mix", "report", mix2, world / f"loader{workers}.pt", "--json").output)
    assert sum(r["actual_tokens"] for r in rows) == k * 4 * 64
    it2 = iter(loader(state))
    tail = [next(it2)["input_ids"] for _ in range(total - k)]
    assert same(head + tail, full)


def test_mix_report_into_a_runs_report(world, mix2, tmp_path):
    """The curation report shows the mixture a stream drew from the run: planned against actual."""
    import shutil

    ds = MixtureDataset(mix2)
    it = iter(ds)
    for _ in range(7):
        next(it)
    (tmp_path / "state.json").write_text(json.dumps(ds.state_dict()))
    assert not cli("mix", "report", mix2, tmp_path / "state.json", "--into", tmp_path, ok=False).exit_code == 0
    run_out = shutil.copytree(world / "out" / "web", tmp_path / "web")
    rows = json.loads(cli("mix", "report", mix2, tmp_path / "state.json", "--json").output)
    cli("mix", "report", mix2, tmp_path / "state.json", "--into", run_out)
    panel = json.loads((run_out / "mixture.json").read_text())["sources"]
    assert [(p["name"], p["actual_tokens"]) for p in panel] == [(r["source"], r["actual_tokens"]) for r in rows]
    assert sum(p["actual_tokens"] for p in panel) == 7 * 64
    html = (run_out / "report.html").read_text()
    assert "id='mixture'" in html and f"{rows[0]['actual_tokens']:,}" in html


def test_plain_dataloader_worker_counts(world, mix2):
    seen = {}
    for workers in (0, 1, 2):
        dl = DataLoader(MixtureDataset(mix2), batch_size=8, num_workers=workers)
        b = next(iter(dl))
        assert b["input_ids"].shape == (8, 64) and b["input_ids"].dtype == torch.long
        assert set(b["source"]) <= {"web", "books"}
        seen[workers] = b["input_ids"]
    assert torch.equal(seen[0], seen[1])  # one worker is the same single consumer as no worker


def test_resume_across_curriculum_boundary(world):
    mix = write_mix(world, "cur.yaml", {"phases": [
        {"name": "one", "tokens": 64 * 60, "sources": [src(world, "web", weight=0.7), src(world, "books", weight=0.3)]},
        {"name": "two", "tokens": 64 * 80, "sources": [src(world, "web", weight=0.3, where="word_count >= 40"),
                                                       src(world, "code", weight=0.5),
                                                       {"name": "replay", "replay": "one", "weight": 0.2}]},
    ]})
    full = list(MixtureDataset(mix))
    assert len(full) == 140
    assert [x["phase"] for x in full] == ["one"] * 60 + ["two"] * 80
    assert {x["source"] for x in full[60:]} == {"web", "code", "replay"}
    for k in (1, 59, 60, 61, 100):
        ds = MixtureDataset(mix)
        it = iter(ds)
        head = ids_of(next(it) for _ in range(k))
        ds2 = MixtureDataset(mix)
        ds2.load_state_dict(ds.state_dict())
        assert same(head + ids_of(ds2), ids_of(full)), k


# -- coverage -----------------------------------------------------------------------------------------


def test_two_ranks_two_workers_see_every_document_once(world):
    from tokenizers import Tokenizer

    mix = write_mix(world, "cover.yaml", {"sources": [src(world, "books", weight=1.0)]})
    per_doc: dict[int, list[np.ndarray]] = {}
    starts: dict[int, int] = {}
    for rank in (0, 1):
        ds = MixtureDataset(mix, rank=rank, world_size=2, document_boundaries=True)
        for ex in DataLoader(ds, batch_size=None, num_workers=2):
            ids, toks, st = ex["doc_ids"].numpy(), ex["input_ids"].numpy(), ex["doc_starts"].numpy()
            for d in np.unique(ids[ids >= 0]):
                per_doc.setdefault(int(d), []).append(toks[ids == d])
                starts[int(d)] = starts.get(int(d), 0) + int(st[ids == d].sum())
    table = stored(world, "books")
    assert sorted(per_doc) == list(range(table.num_rows))  # by document number: none missed, none extra
    assert set(starts.values()) == {1}  # each document started exactly once across 2 ranks x 2 workers
    tok = Tokenizer.from_file(str(world / "tok.json"))
    eos = tok.token_to_id("<|endoftext|>")
    texts = table.column("text").to_pylist()
    decoded_ids = []
    for d, chunks in per_doc.items():
        toks = np.concatenate(chunks)
        assert toks[-1] == eos and (toks[:-1] != eos).all()
        assert tok.decode(toks[:-1].tolist()) == texts[d]  # by decoding
        decoded_ids.append(table.column("id")[d].as_py())
    assert sorted(decoded_ids) == sorted(table.column("id").to_pylist())  # by stored ids


def test_repeat_with_fresh_shuffle_then_cap(world):
    mix = write_mix(world, "rep.yaml", {"sources": [src(world, "code", weight=1.0, max_epochs=2)]})
    ds = MixtureDataset(mix, document_boundaries=True)
    order = []
    for ex in ds:
        ids, st = ex["doc_ids"].numpy(), ex["doc_starts"].numpy()
        order += ids[st].tolist()
    n = stored(world, "code").num_rows
    assert len(order) == 2 * n and sorted(order[:n]) == list(range(n)) and sorted(order[n:]) == list(range(n))
    assert order[:n] != order[n:]  # a fresh shuffle each epoch
    # a budget past the cap fails before any work, and again while streaming if the plan is bypassed
    over = write_mix(world, "over.yaml", {"tokens": 10_000_000, "sources": [src(world, "code", weight=1.0, max_epochs=2)]})
    with pytest.raises(MixtureError, match=r"over.yaml line \d+: .*max_epochs=2.*allow_repeat"):
        MixtureDataset(over)
    with pytest.raises(SourceExhausted, match="ran out after max_epochs=2"):
        for _ in MixtureDataset(over, check=False):
            pass
    ok = write_mix(world, "ok.yaml", {"tokens": 64 * 3000, "allow_repeat": True,
                                      "sources": [src(world, "code", weight=1.0, max_epochs=2)]})
    assert sum(1 for _ in MixtureDataset(ok)) == 3000


def test_shuffle_is_seeded(world, mix2):
    a = ids_of(x for _, x in zip(range(30), MixtureDataset(mix2, seed=1)))
    b = ids_of(x for _, x in zip(range(30), MixtureDataset(mix2, seed=1)))
    c = ids_of(x for _, x in zip(range(30), MixtureDataset(mix2, seed=2)))
    assert same(a, b) and not same(a, c)


def test_where_filter_selects_documents(world):
    mix = write_mix(world, "where.yaml", {"sources": [src(world, "web", weight=1.0, where="word_count >= 60 and word_count < 200")]})
    seen = set()
    for ex in MixtureDataset(mix, document_boundaries=True):
        ids = ex["doc_ids"].numpy()
        seen |= set(ids[ids >= 0].tolist())
    wc = stored(world, "web").column("word_count").to_numpy()
    assert seen == set(np.flatnonzero((wc >= 60) & (wc < 200)).tolist()) and 0 < len(seen) < len(wc)


# -- proportions ----------------------------------------------------------------------------------------


def test_proportions_over_a_million_tokens(world):
    weights = {"web": 0.5, "books": 0.3, "code": 0.2}
    mix = write_mix(world, "prop.yaml", {"seq_len": 256, "shuffle_buffer": 64, "tokens": 1_000_000, "allow_repeat": True,
                                         "sources": [src(world, n, weight=w) for n, w in weights.items()]})
    workers = 2
    sources = []
    tokens = {n: 0 for n in weights}
    for b in DataLoader(MixtureDataset(mix), batch_size=32, num_workers=workers):
        for s, k in zip(b["source"], b["num_tokens"].tolist()):
            sources.append(s)
            tokens[s] += k
    total = sum(tokens.values())
    assert total >= 999_000
    for n, w in weights.items():
        assert abs(tokens[n] / total - w) <= 0.01 * w, (n, tokens[n] / total)
    # the documented window bound (gristmill.stream.dataset): < 2 sequences per consumer per source
    arr = np.array(sources)
    for n, w in weights.items():
        c = np.concatenate([[0], np.cumsum(arr == n)])
        window = c[1000:] - c[:-1000]
        assert np.abs(window - w * 1000).max() < 2 * workers, n


# -- export ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["nanogpt", "megatron"])
def test_export_round_trip(world, mix2, fmt):
    from gristmill.stream.export import export_sequences, read_megatron, read_nanogpt

    out = world / f"export-{fmt}"
    cli("export", mix2, "-o", out, "--format", fmt, "--tokens", 64 * 500, "--val-fraction", 0.01)
    stream = [ex["input_ids"].numpy() for ex in MixtureDataset(mix2, tokens=64 * 500)]
    back = export_sequences(out)
    assert len(back) == len(stream) == 500
    assert all(np.array_equal(a, b) for a, b in zip(stream, back))
    meta = json.loads((out / "meta.json").read_text())
    if fmt == "nanogpt":
        parts = read_nanogpt(out)
        assert parts["train"].dtype == np.uint16 and len(parts["val"]) == 5 * 64  # every 100th sequence
        assert len(parts["train"]) + len(parts["val"]) == 500 * 64
    else:
        idx = (out / "train_text_document.idx").read_bytes()
        assert idx[:9] == b"MMIDIDX\x00\x00"
        version, code, n_seq, n_doc = struct.unpack("<QBQQ", idx[9:34])
        assert (version, code, n_seq, n_doc) == (1, 8, 495, 496)  # uint16 is code 8; doc indices 0..n
        ds = read_megatron(out / "train_text_document")
        assert list(ds.document_indices) == list(range(496))
        assert int(ds.pointers[-1]) == 2 * int(ds.lengths[:-1].sum())
    report = cli("mix", "report", mix2, out, "--json")
    rows = {r["source"]: r for r in json.loads(report.output)}
    assert sum(r["actual_tokens"] for r in rows.values()) == meta["tokens"] == 500 * 64
    assert abs(rows["web"]["actual_share"] - 0.6) < 0.01


def test_report_from_a_saved_state(world, mix2):
    ds = MixtureDataset(mix2)
    it = iter(ds)
    for _ in range(100):
        next(it)
    torch.save(ds.state_dict(), world / "state.pt")
    rows = json.loads(cli("mix", "report", mix2, world / "state.pt", "--json").output)
    assert {r["source"]: r["actual_tokens"] for r in rows} == {"web": 60 * 64, "books": 40 * 64}


def test_plan_counts_tokens_with_the_tokenizer(world, mix2):
    from tokenizers import Tokenizer

    rows = json.loads(cli("mix", "plan", mix2, "--tokens", 100_000, "--json").output)
    tok = Tokenizer.from_file(str(world / "tok.json"))
    texts = stored(world, "web").column("text").to_pylist()
    web = next(r for r in rows if r["source"] == "web")
    assert web["exact"] and web["docs"] == len(texts)
    assert web["tokens"] == sum(len(e.ids) + 1 for e in tok.encode_batch(texts, add_special_tokens=False))
    assert web["planned_tokens"] == pytest.approx(60_000) and web["epochs_needed"] == pytest.approx(60_000 / web["tokens"])
    out = cli("mix", "plan", mix2, "--tokens", 100_000_000).output
    assert "warning" in out and "max_epochs=20" in out


# -- bad input ------------------------------------------------------------------------------------------


BAD = [
    ({"sources": [{"name": "a", "path": "/nonexistent/out", "weight": 1}]}, r"line 5: sources\.0\.path: path '/nonexistent/out' does not exist"),
    ({"sources": [{"name": "a", "path": "EMPTY", "weight": 1}]}, r"line 5: sources\.0\.path: .*holds no"),
    ({"sources": [{"name": "a", "path": "WEB", "weight": 1, "where": "quality_scor >= 0.5"}]},
     r"line 7: sources\.0\.where: column 'quality_scor' is not stored.*stored columns"),
    ({"sources": [{"name": "a", "path": "WEB", "where": "word_cont > 3", "weight": 1}]}, r"did you mean 'word_count'"),
    ({"sources": [{"name": "a", "path": "WEB", "weight": -1}]}, r"line \d+: sources\.0\.weight: .*greater than or equal to 0"),
    ({"sources": [{"name": "a", "path": "WEB", "weight": 0}, {"name": "b", "path": "WEB", "weight": 0}]}, r"all weights are zero"),
    ({"seq_len": 1, "sources": [{"name": "a", "path": "WEB", "weight": 1}]}, r"line \d+: seq_len: .*greater than or equal to 2"),
    ({"tokenizer": "GARBAGE", "sources": [{"name": "a", "path": "WEB", "weight": 1}]}, r"does not load"),
    ({"sources": [{"name": "a", "path": "WEB", "wieght": 1}]}, r"did you mean 'weight'"),
    ({"phases": [{"name": "p1", "tokens": 1000, "sources": [{"name": "a", "path": "WEB", "weight": 1}]},
                 {"name": "p2", "sources": [{"name": "r", "replay": "p0", "weight": 1}]}]}, r"no earlier phase 'p0' \(did you mean 'p1'\?\)"),
]


@pytest.mark.parametrize("body,pattern", BAD)
def test_bad_input_fails_early_with_file_line_and_fix(world, body, pattern):
    import re

    empty = world / "empty_out"
    (empty / "data").mkdir(parents=True, exist_ok=True)
    garbage = world / "garbage.json"
    garbage.write_text("{not a tokenizer")
    text = yaml.safe_dump({"tokenizer": str(world / "tok.json"), "seq_len": 64, **body}, sort_keys=False)
    text = text.replace("EMPTY", str(empty)).replace("WEB", str(world / "out" / "web")).replace("GARBAGE", str(garbage))
    p = world / "bad.yaml"
    p.write_text(text)
    r = cli("mix", "plan", p, ok=False)
    assert r.exit_code == 2, r.output
    msg = " ".join(r.output.split())
    assert re.search(pattern, msg), msg
    assert "bad.yaml" in msg or "GARBAGE" in pattern or "garbage.json" in msg
    with pytest.raises(MixtureError, match=pattern.replace("line 5: ", "line 5: ")):
        MixtureDataset(p)


def test_seq_len_argument_and_budget_errors(world, mix2):
    with pytest.raises(MixtureError, match="at least 2"):
        MixtureDataset(mix2, seq_len=1)
    r = cli("export", mix2, "-o", world / "x", "--format", "parquet", ok=False)
    assert r.exit_code == 2 and "nanogpt or megatron" in r.output


# -- the ready example ----------------------------------------------------------------------------------


def test_openelm_style_recipe_and_mixture_as_shipped(tmp_path, monkeypatch):
    """recipes/openelm-style.yaml and its mixture, unchanged, on inputs laid out where they expect them."""
    import gzip
    import sysconfig
    from importlib import resources

    monkeypatch.chdir(tmp_path)
    docs = stdlib_docs(5000, 20)
    for d in ("web", "books", "wiki", "code"):
        Path("data", d).mkdir(parents=True)
    write_jsonl(Path("data/web/part-0.jsonl.gz"), docs[0::3], opener=gzip.open)
    write_jsonl(Path("data/wiki/part-0.jsonl"), docs[1::3])
    for i in range(0, len(docs[2::3]), 10):  # "books": chapters of ten docstrings each
        Path("data/books", f"book{i:04d}.txt").write_text("\n\n".join(d["text"] for d in docs[2::3][i:i + 10]))
    code = sorted(Path(sysconfig.get_paths()["stdlib"]).glob("[a-m]*.py"))[:40]
    write_jsonl(Path("data/code/part-0.jsonl"), [{"id": p.name, "text": p.read_text(encoding="utf-8")} for p in code])
    recipes = resources.files("gristmill").joinpath("recipes")
    cli("run", recipes.joinpath("openelm-style.yaml"), "--workers", "1", "--no-progress")
    cli("tokenizer", "train", "out/openelm", "--vocab-size", "1000", "-o", "tok.json")
    mix = recipes.joinpath("openelm-style.mix.yaml")
    rows = json.loads(cli("mix", "plan", mix, "--tokenizer", "tok.json", "--seq-len", "256", "--json").output)
    assert {r["source"] for r in rows} == {"web", "books", "wiki", "code"} and all(r["docs"] > 0 for r in rows)
    ds = MixtureDataset(str(mix), tokenizer="tok.json", seq_len=256)  # no tokenizer in the file: chosen here
    got = [ex["source"] for ex in ds]  # no budget: the stream ends when its first source runs out
    assert len(got) > 50
    for name, w in {"web": 0.6, "books": 0.15, "wiki": 0.1, "code": 0.15}.items():
        assert abs(got.count(name) - len(got) * w) < 2
    with pytest.raises(MixtureError, match="no tokenizer"):
        MixtureDataset(str(mix))


def _dist_worker(rank: int, world: int, init: str, mix: str, out: str):
    import torch.distributed as dist

    dist.init_process_group("gloo", init_method=init, rank=rank, world_size=world)
    try:
        ds = MixtureDataset(mix, document_boundaries=True)  # no rank=: taken from torch.distributed
        ids = []
        for ex in ds:
            d, st = ex["doc_ids"].numpy(), ex["doc_starts"].numpy()
            ids += d[st].tolist()
        Path(out, f"{rank}.json").write_text(json.dumps(ids))
    finally:
        dist.destroy_process_group()


def test_ranks_come_from_torch_distributed(world, tmp_path):
    import multiprocessing as mp

    mix = write_mix(world, "dist.yaml", {"sources": [src(world, "books", weight=1.0)]})
    ctx = mp.get_context("fork")  # the children inherit the imports: seconds, not a fresh torch import each
    procs = [ctx.Process(target=_dist_worker, args=(r, 2, f"file://{tmp_path / 'store'}", str(mix), str(tmp_path)))
             for r in (0, 1)]
    for p in procs:
        p.start()
    try:
        for p in procs:
            p.join(120)
            assert p.exitcode == 0
    finally:
        for p in procs:
            if p.is_alive():
                p.kill()
    r0, r1 = (json.loads((tmp_path / f"{r}.json").read_text()) for r in (0, 1))
    n = stored(world, "books").num_rows
    assert r0 and r1 and not set(r0) & set(r1) and sorted(r0 + r1) == list(range(n))


def test_same_data_in_two_phases_continues_its_cursor(world):
    mix = write_mix(world, "cont.yaml", {"phases": [
        {"name": "a", "tokens": 64 * 40, "sources": [src(world, "books", weight=1.0)]},
        {"name": "b", "tokens": 64 * 40, "sources": [src(world, "books", weight=0.5), src(world, "code", weight=0.5)]},
    ]})
    started = []
    for ex in MixtureDataset(mix, document_boundaries=True):
        if ex["source"] == "books":
            ids, st = ex["doc_ids"].numpy(), ex["doc_starts"].numpy()
            started += ids[st].tolist()
    assert len(started) > 10 and len(started) == len(set(started))  # phase b did not start books over


def test_mix_report_tokens_budget_in_whole_numbers(world, mix2, tmp_path):
    """Issue 20 item 9: the mixture panel printed planned tokens as 120000.0 and `--tokens` was ignored."""
    import shutil

    ds = MixtureDataset(mix2)
    it = iter(ds)
    for _ in range(10):
        next(it)
    (tmp_path / "state.json").write_text(json.dumps(ds.state_dict()))
    rows = json.loads(cli("mix", "report", mix2, tmp_path / "state.json", "--tokens", "120000", "--json").output)
    assert [(r["source"], r["planned_tokens"]) for r in rows] == [("web", 72000), ("books", 48000)]
    assert all(isinstance(r["planned_tokens"], int) for r in rows)
    table = cli("mix", "report", mix2, tmp_path / "state.json", "--tokens", "120000").output
    assert "72,000" in table and "72000.0" not in table
    run_out = shutil.copytree(world / "out" / "web", tmp_path / "web")
    cli("mix", "report", mix2, tmp_path / "state.json", "--tokens", "120000", "--into", run_out)
    html = (run_out / "report.html").read_text()
    panel = html[html.index("id='mixture'"):]
    panel = panel[:panel.index("</section>")]
    assert "72,000" in panel and "48,000" in panel and ".0<" not in panel
