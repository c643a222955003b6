"""Model-based quality through the CLI: train both families on real text against real-looking
junk, score and select in recipes (min_score, top_percent, per source), and fail clearly on a
missing or corrupt model. The factoid step separates fact listings from explanations."""
from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from conftest import stdlib_docs, write_jsonl

GRISTMILL = [sys.executable, "-m", "gristmill"]


def _cli(*args, ok=True):
    r = subprocess.run(GRISTMILL + [str(a) for a in args], capture_output=True, text=True)
    if ok:
        assert r.returncode == 0, r.stdout + r.stderr
    return r


def _junk(n: int, seed: int) -> list[str]:
    from gristmill.demo.noise import boilerplate, gibberish, spam

    rng = random.Random(seed)
    return [[spam, boilerplate, gibberish][i % 3](rng) for i in range(n)]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("quality")
    docs = [d["text"] for d in stdlib_docs(300)]
    write_jsonl(tmp / "good.jsonl", [{"text": t} for t in docs[:150]])
    write_jsonl(tmp / "bad.jsonl", [{"text": t} for t in _junk(150, 1)])
    # the corpus to curate: unseen good documents and unseen junk, in two sources
    write_jsonl(tmp / "web.jsonl", [{"id": f"g{i}", "text": t} for i, t in enumerate(docs[150:250])] +
                [{"id": f"j{i}", "text": t} for i, t in enumerate(_junk(100, 2))])
    write_jsonl(tmp / "books.jsonl", [{"id": f"b{i}", "text": t} for i, t in enumerate(docs[250:300])])
    return tmp


def test_train_fast_and_select(data):
    r = _cli("quality", "train", "--pos", data / "good.jsonl", "--neg", data / "bad.jsonl", "--family", "fast", "-o", data / "fast.bin")
    assert "auc=" in r.stdout
    meta = json.loads(_cli("quality", "info", data / "fast.bin").stdout)
    assert meta["family"] == "fast" and meta["metrics"]["auc"] >= 0.9 and len(meta["training_data_hash"]) == 16
    assert "best_f1" in meta["suggested_thresholds"]
    recipe = data / "r.yaml"
    recipe.write_text(f"""
inputs:
  - {{paths: ["{data}/web.jsonl"], id_field: id, source: web}}
  - {{paths: ["{data}/books.jsonl"], id_field: id, source: books}}
steps:
  - quality_score: {{model: "{data}/fast.bin"}}
  - quality_select: {{min_score: 0.5}}
output: {{path: "{data}/out", keep_rejected: true}}
""")
    _cli("run", recipe, "-w", "1", "--no-progress", "--no-report")
    kept = set(pq.read_table(data / "out" / "data").column("id").to_pylist())
    junk_kept = sum(k.startswith("j") for k in kept)
    good_kept = sum(k[0] in "gb" for k in kept)
    assert junk_kept <= 5 and good_kept >= 140  # unseen documents, unseen junk seeds
    rej = pq.read_table(data / "out" / "rejected")
    assert set(rej.column("reject_reason").to_pylist()) == {"quality_select/low_quality"}
    # top_percent per source: half of each source survives
    recipe.write_text(recipe.read_text().replace("{min_score: 0.5}", "{top_percent: 50, per_source: true}").replace("/out\"", "/top\""))
    _cli("run", recipe, "-w", "1", "--no-progress", "--no-report")
    kept = pq.read_table(data / "top" / "data").column("source").to_pylist()
    assert abs(kept.count("web") - 100) <= 2 and abs(kept.count("books") - 25) <= 2


def test_train_embedding(data):
    r = _cli("quality", "train", "--pos", data / "good.jsonl", "--neg", data / "bad.jsonl", "--family", "embedding",
             "-o", data / "emb.bin", "--max-examples", "60")
    meta = json.loads(_cli("quality", "info", data / "emb.bin").stdout)
    assert meta["family"] == "embedding" and meta["metrics"]["auc"] >= 0.9, r.stdout
    from gristmill.quality.model import QualityModel

    m = QualityModel.load(data / "emb.bin")
    s = m.score([stdlib_docs(300)[-1]["text"], _junk(1, 9)[0]])
    assert s[0] > s[1]


def test_bad_model_and_inputs_fail_clearly(data, tmp_path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text(f"""
input: {{paths: ["{data}/web.jsonl"]}}
steps:
  - quality_score: {{model: "{tmp_path}/missing.bin"}}
output: {{path: "{tmp_path}/o"}}
""")
    r = _cli("run", recipe, ok=False)
    assert r.returncode == 2 and "no such quality model" in " ".join(r.stderr.split())
    (tmp_path / "missing.bin").write_bytes(b"PK\x03\x04 not really a zip")
    r = _cli("run", recipe, ok=False)
    assert r.returncode == 2 and "corrupt" in " ".join(r.stderr.split())
    r = _cli("quality", "train", "--pos", data / "good.jsonl", "--neg", data / "bad.jsonl", "--text-field", "body", "-o", tmp_path / "m.bin", ok=False)
    assert r.returncode == 2 and "no field 'body'" in " ".join(r.stderr.split())
    r = _cli("quality", "train", "--pos", data / "nope*.jsonl", "--neg", data / "bad.jsonl", "-o", tmp_path / "m.bin", ok=False)
    assert r.returncode == 2 and "no such file" in " ".join(r.stderr.split())
    recipe.write_text(recipe.read_text().replace(f'quality_score: {{model: "{tmp_path}/missing.bin"}}', "quality_select: {min_score: 0.5, top_percent: 10}"))
    r = _cli("run", recipe, ok=False)
    assert r.returncode == 2 and "exactly one of min_score or top_percent" in " ".join(r.stderr.split())


FACTS = ("Results, Saturday March 14, 1998: Arsenal 3-1 Chelsea; Leeds 0-0 Everton; Villa 2-1 Derby. "
         "Attendance 38,211. Scorers: Bergkamp 12', Overmars 55', Wright 78'. Table: Arsenal 54 pts, Manchester United 52 pts, "
         "Liverpool 49 pts. Next fixture: April 2, 1998 at Highbury.\n- Population of Leeds (1991): 680,722\n- Founded: 1919\n")


def test_factoid_step(data, tmp_path):
    expl = [d["text"] for d in stdlib_docs(40)]
    write_jsonl(tmp_path / "mix.jsonl", [{"id": f"e{i}", "text": t} for i, t in enumerate(expl)] +
                [{"id": f"f{i}", "text": FACTS.replace("1998", str(1990 + i))} for i in range(10)])
    recipe = tmp_path / "r.yaml"
    recipe.write_text(f"""
input: {{paths: ["{tmp_path}/mix.jsonl"], id_field: id}}
steps:
  - factoid: {{max_factoid_score: 0.85}}
output: {{path: "{tmp_path}/o", keep_rejected: true}}
""")
    _cli("run", recipe, "-w", "1", "--no-progress", "--no-report")
    rej = pq.read_table(tmp_path / "o" / "rejected")
    assert set(rej.column("id").to_pylist()) == {f"f{i}" for i in range(10)}
    kept = pq.read_table(tmp_path / "o" / "data")
    assert max(kept.column("factoid_score").to_pylist()) < 0.85 < min(rej.column("factoid_score").to_pylist())


def test_train_accounts_for_every_record(tmp_path):
    """Issue 20 item 9: 3 of 6,046 examples dropped by `quality train` were not explained. Every
    record read is used or counted under a reason, printed per class."""
    docs = [d["text"] for d in stdlib_docs(80)]
    pos = [{"text": t} for t in docs[:60]] + [{"text": "   "}, {"text": ""}, {"text": None}, {"body": "no text field"}]
    write_jsonl(tmp_path / "pos.jsonl", pos)
    neg = [{"text": t, "n": i} for i, t in enumerate(_junk(50, 3))]
    write_jsonl(tmp_path / "neg.jsonl", neg)
    r = _cli("quality", "train", "--pos", tmp_path / "pos.jsonl", "--neg", tmp_path / "neg.jsonl", "--neg-where", "n >= 10",
             "--max-examples", "55", "-o", tmp_path / "m.bin")
    out = " ".join(r.stdout.split())
    # positives: 64 read; 60 texts, capped at 55 (5 past the cap), 2 blank, 2 with no text string
    assert "positives: 64 records read, 55 used; 9 not used: past --max-examples 5, " in out
    assert "blank text 2" in out and "no text string 2" in out
    assert "negatives: 50 records read, 40 used; 10 not used: filtered out by --neg-where 10" in out
    assert "model on 95 examples" in out
