"""Property-based (Hypothesis) test of the stream's resume: for generated mixtures (weights, seeds,
sequence lengths, shuffle buffers, document boundaries, curricula, sources that run out) and
generated stop points, a stream stopped, saved as plain JSON, loaded into a new MixtureDataset and
resumed (possibly several times) equals the uninterrupted stream example for example, token for
token. The sources are real curated outputs of `gristmill run`, the tokenizer one trained by
`gristmill tokenizer train`."""
import json

import pytest
import torch
import yaml
from hypothesis import HealthCheck, Phase, assume, event, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from conftest import stdlib_docs, write_jsonl
from gristmill.cli import app
from gristmill.mix.spec import MixtureError
from gristmill.stream import MixtureDataset, SourceExhausted

NAMES = ("web", "books", "code")
N = 160  # sequences compared per example


def cli(*args):
    r = CliRunner().invoke(app, [str(a) for a in args])
    assert r.exit_code == 0, r.output
    return r


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("prop_stream")
    docs = stdlib_docs(900, 20)
    for i, name in enumerate(NAMES):
        write_jsonl(root / f"{name}.jsonl", docs[i::3])
        (root / f"{name}.yaml").write_text(yaml.safe_dump({
            "inputs": [{"paths": [str(root / f"{name}.jsonl")], "id_field": "id", "source": name}],
            "steps": [{"min_length": {"min_words": 20}}],
            "output": {"path": str(root / "out" / name), "batch_rows": 50}}))
        cli("run", root / f"{name}.yaml", "--workers", "1", "--no-progress", "--no-report")
    cli("tokenizer", "train", *(root / "out" / n for n in NAMES), "--vocab-size", "400", "-o", root / "tok.json")
    return root


mixtures = st.fixed_dictionaries({
    "seq_len": st.sampled_from([8, 31, 64, 200]),
    "seed": st.integers(0, 2**31 - 1),
    "shuffle_buffer": st.integers(1, 40),
    "weights": st.lists(st.integers(1, 9), min_size=1, max_size=3),
    "max_epochs": st.integers(1, 3),
    "allow_repeat": st.booleans(),
    "boundaries": st.booleans(),
    "curriculum": st.booleans(),
    "first_phase_seqs": st.integers(1, 80),
})


def write_mixture(world, m: dict, k: int) -> tuple:
    srcs = [{"name": n, "path": str(world / "out" / n), "weight": w, "max_epochs": m["max_epochs"]}
            for n, w in zip(NAMES, m["weights"])]
    body = {"tokenizer": str(world / "tok.json"), "seq_len": m["seq_len"], "seed": m["seed"],
            "shuffle_buffer": m["shuffle_buffer"], "allow_repeat": m["allow_repeat"]}
    if m["curriculum"]:
        body["phases"] = [{"name": "warm", "tokens": m["first_phase_seqs"] * m["seq_len"], "sources": srcs},
                          {"name": "rest", "sources": [dict(s, weight=1) for s in reversed(srcs)]}]
    else:
        body["sources"] = srcs
    p = world / f"mix{k}.yaml"
    p.write_text(yaml.safe_dump(body, sort_keys=False))
    return p


def take(it, n: int) -> list[dict]:
    out = []
    for ex in it:
        out.append(ex)
        if len(out) == n:
            break
    return out


def same(a: dict, b: dict) -> bool:
    if a.keys() != b.keys():
        return False
    return all(torch.equal(a[k], b[k]) if isinstance(a[k], torch.Tensor) else a[k] == b[k] for k in a)


@settings(max_examples=20, deadline=None, database=None, phases=[Phase.explicit, Phase.generate, Phase.shrink], suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
          derandomize=True)
@given(m=mixtures, stops=st.lists(st.integers(1, N - 1), min_size=1, max_size=3, unique=True))
def test_resumed_stream_equals_the_uninterrupted_one(world, m, stops):
    mix = write_mixture(world, m, 0)
    kw = {"document_boundaries": m["boundaries"]}
    try:
        full = take(iter(MixtureDataset(mix, **kw)), N)
    except (MixtureError, SourceExhausted):  # a budget the sources cannot fill: refused, nothing to resume
        assume(False)
    event(f"stream ends before {N} sequences: {len(full) < N}")
    event(f"curriculum: {m['curriculum']}")
    got, state, done = [], None, 0
    for stop in sorted(stops) + [N]:
        ds = MixtureDataset(mix, **kw)
        if state is not None:
            ds.load_state_dict(state)
        got += take(iter(ds), stop - done)
        done = stop
        state = json.loads(json.dumps(ds.state_dict()))  # what a checkpoint keeps: plain data
        if len(got) < done:  # the stream ended (a source ran out): nothing more after a resume either
            ds2 = MixtureDataset(mix, **kw)
            ds2.load_state_dict(state)
            assert take(iter(ds2), 1) == []
            break
    assert len(got) == len(full)
    for i, (a, b) in enumerate(zip(full, got)):
        assert same(a, b), (i, sorted(stops))
