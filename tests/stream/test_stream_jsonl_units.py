"""A JSONL source is read in bounded units (issue 20, one document layer): line-aligned byte ranges
counted in one streaming pass, each parsed alone, so a stream holds one range, not the file. Every
document is streamed once per epoch and the stream still resumes exactly."""
from __future__ import annotations

import gzip
import json
import random

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from conftest import stdlib_docs
from gristmill.cli import app
from gristmill.io import units
from gristmill.io.units import UnitError, jsonl_units, read_jsonl_unit
from gristmill.mix.sources import Part, SourceError


def test_units_are_line_aligned_counted_and_read_alone(tmp_path):
    recs = [{"text": f"document {k} " + "word " * (k % 50), "k": k} for k in range(3000)]
    lines = [json.dumps(r) for r in recs]
    lines.insert(100, "")  # blank lines are not records (as for Arrow's reader)
    lines.insert(2000, "   \t")
    body = "\n".join(lines)  # and no newline after the last record
    f = tmp_path / "a.jsonl"
    f.write_text(body)
    us = jsonl_units(f, unit_bytes=20_000)
    assert len(us) > 5 and us[0][0] == 0 and us[-1][1] == len(body.encode())
    assert all(a2 == b1 for (_, b1, _), (a2, _, _) in zip(us, us[1:]))  # contiguous
    raw = body.encode()
    assert all(raw[b - 1:b] == b"\n" for _, b, _ in us[:-1])  # each ends at a line end
    assert sum(n for *_, n in us) == 3000
    got = [k for a, b, n in us for k in read_jsonl_unit(f, a, b, n).column("k").to_pylist()]
    assert got == list(range(3000))
    g = tmp_path / "a.jsonl.gz"
    g.write_bytes(gzip.compress(raw))
    assert jsonl_units(g, unit_bytes=20_000) == [(0, None, 3000)]  # compressed: one unit
    f.write_text(body.replace('"k": 7}', '"k": 7, "x": 1}\n{"text": "inserted"}'))  # changed after counting
    with pytest.raises(UnitError, match="changed|not JSON Lines"):
        for a, b, n in us:
            read_jsonl_unit(f, a, b, n)


def test_a_truncated_gzip_source_is_a_clear_error(tmp_path):
    g = tmp_path / "cut.jsonl.gz"
    g.write_bytes(gzip.compress(b'{"text": "a"}\n' * 1000)[:-30])
    with pytest.raises(SourceError, match="truncated"):
        Part(paths=[str(g)]).scan()


@pytest.fixture(scope="module")
def jsonl_world(tmp_path_factory):
    root = tmp_path_factory.mktemp("units")
    docs = stdlib_docs(2000, 20)
    with open(root / "docs.jsonl", "w") as fh:
        for d in docs:
            fh.write(json.dumps({"id": d["id"], "text": d["text"]}) + "\n")
    r = CliRunner().invoke(app, ["tokenizer", "train", str(root / "docs.jsonl"), "--vocab-size", "800", "-o", str(root / "tok.json")])
    assert r.exit_code == 0, r.output
    (root / "mix.yaml").write_text(yaml.safe_dump({"tokenizer": str(root / "tok.json"), "seq_len": 64, "seed": 0, "shuffle_buffer": 16,
                                                   "sources": [{"name": "docs", "path": str(root / "docs.jsonl"), "weight": 1.0}]}))
    return root, docs


def test_a_jsonl_source_streams_every_document_once_from_many_units(jsonl_world, monkeypatch):
    from tokenizers import Tokenizer
    from torch.utils.data import DataLoader

    from gristmill.stream import MixtureDataset

    root, docs = jsonl_world
    monkeypatch.setattr(units, "UNIT_BYTES", 16 << 10)
    part = Part(paths=[str(root / "docs.jsonl")])
    part.scan()
    assert len(part.units) >= 8 and sum(u[2] for u in part.units) == len(docs)
    per_doc: dict[int, list[np.ndarray]] = {}
    ds = MixtureDataset(root / "mix.yaml", document_boundaries=True)
    for ex in DataLoader(ds, batch_size=None, num_workers=2):
        ids, toks = ex["doc_ids"].numpy(), ex["input_ids"].numpy()
        for d in np.unique(ids[ids >= 0]):
            per_doc.setdefault(int(d), []).append(toks[ids == d])
    assert sorted(per_doc) == list(range(len(docs)))
    tok = Tokenizer.from_file(str(root / "tok.json"))
    for d in random.Random(0).sample(sorted(per_doc), 50):
        assert tok.decode(np.concatenate(per_doc[d])[:-1].tolist()) == docs[d]["text"]


def test_a_jsonl_source_in_units_resumes_exactly(jsonl_world, monkeypatch):
    from gristmill.stream import MixtureDataset

    root, _ = jsonl_world
    monkeypatch.setattr(units, "UNIT_BYTES", 16 << 10)
    ds = MixtureDataset(root / "mix.yaml")
    full = [x["input_ids"].clone() for _, x in zip(range(300), ds)]
    for k in (37, 151):
        ds1 = MixtureDataset(root / "mix.yaml")
        it = iter(ds1)
        head = [next(it)["input_ids"].clone() for _ in range(k)]
        ds2 = MixtureDataset(root / "mix.yaml")
        ds2.load_state_dict(json.loads(json.dumps(ds1.state_dict())))
        it2 = iter(ds2)
        tail = [next(it2)["input_ids"].clone() for _ in range(300 - k)]
        assert all((a == b).all() for a, b in zip(head + tail, full)) and len(head + tail) == len(full), k


def test_a_line_too_long_to_be_a_document_is_a_clear_error_not_unbounded_memory(tmp_path, monkeypatch):
    monkeypatch.setattr(units, "MAX_LINE", 1 << 20)
    f = tmp_path / "one.jsonl"
    f.write_bytes(b'{"text": "' + b"x" * (3 << 20) + b'"}\n')
    with pytest.raises(UnitError, match="a line of more than 1 MB"):
        jsonl_units(f, unit_bytes=1 << 16)


def test_a_mixture_source_in_the_wrong_format_says_what_it_is(tmp_path):
    rows = "".join(json.dumps({"text": f"doc {k}"}) + "\n" for k in range(10))
    (tmp_path / "wide.jsonl").write_bytes(rows.encode("utf-16"))
    with pytest.raises(SourceError, match="UTF-16.*iconv"):
        Part(paths=[str(tmp_path / "wide.jsonl")]).scan()


def test_units_property_every_record_once_in_order(tmp_path):
    """Property: for any mix of record sizes, blank lines, CRLF endings and a missing final newline,
    and any unit size, the units tile the file, count its records exactly and read them back in order."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    line = st.one_of(st.integers(0, 3000).map(lambda n: json.dumps({"text": "w" * n, "n": n})),
                     st.sampled_from(["", "  ", "\t"]))

    @settings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck))
    @given(lines=st.lists(line, min_size=0, max_size=60), crlf=st.booleans(), final_newline=st.booleans(),
           unit=st.integers(64, 20_000))
    def check(lines, crlf, final_newline, unit):
        body = ("\r\n" if crlf else "\n").join(lines) + (("\r\n" if crlf else "\n") if final_newline and lines else "")
        f = tmp_path / "p.jsonl"
        f.write_bytes(body.encode())
        us = jsonl_units(f, unit_bytes=unit)
        want = [json.loads(x)["n"] for x in lines if x.strip()]
        assert sum(n for *_, n in us) == len(want)
        assert us[0][0] == 0 and us[-1][1] == len(body.encode()) and all(b == a2 for (_, b, _), (a2, _, _) in zip(us, us[1:]))
        got = []
        for a, b, n in us:
            t = read_jsonl_unit(f, a, b, n)
            got += t.column("n").to_pylist() if n else []
        assert got == want

    check()
