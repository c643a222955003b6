"""The tokenizer as a hyperparameter (issue 21 part 3): `gristmill tokenizer compare` and `lab ablate` with
a tokenizer per arm, compared in bits per byte."""
import json
import math

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from conftest import stdlib_docs, write_jsonl
from gristmill.cli import app
from gristmill.lab.tokenizer_compare import heldout

# German and Greek sentences: non-ASCII characters a small English-trained BPE has never merged
DE = "Über die Brücke gehen wir täglich, weil die Straße im Süden gesperrt ist und niemand weiß warum."
EL = "Η γλώσσα είναι ένα σύστημα επικοινωνίας που χρησιμοποιούν οι άνθρωποι κάθε μέρα στη ζωή τους."


def _sources(tmp_path):
    prose = [d["text"] for d in stdlib_docs(300)]
    write_jsonl(tmp_path / "prose.jsonl", [{"text": t} for t in prose])
    texts = [f"{DE} Nummer {i}." for i in range(60)] + [f"{EL} Αριθμός {i}." for i in range(60)]
    langs = ["de"] * 60 + ["el"] * 60
    pq.write_table(pa.table({"text": texts, "language": langs}), tmp_path / "multi.parquet")
    return prose, texts, langs


def test_compare_measures_each_tokenizer_per_source_and_language(tmp_path):
    prose, texts, langs = _sources(tmp_path)
    # a tokenizer file: trained by `gristmill tokenizer train` on the prose alone
    r = CliRunner().invoke(app, ["tokenizer", "train", str(tmp_path / "prose.jsonl"), "--vocab-size", "400",
                                 "-o", str(tmp_path / "own.json")])
    assert r.exit_code == 0, r.output
    out = tmp_path / "cmp"
    r = CliRunner().invoke(app, ["tokenizer", "compare", str(tmp_path / "prose.jsonl"), str(tmp_path / "multi.parquet"),
                                 "-t", "bytes", "-t", "bpe:512", "-t", str(tmp_path / "own.json"),
                                 "--heldout-share", "0.2", "-o", str(out)])
    assert r.exit_code == 0, r.output
    assert "bytes/token" in r.output and "language=el" in r.output
    res = json.loads((out / "tokenizer_compare.json").read_text())
    assert res == json.loads(json.dumps(res))  # plain JSON
    assert set(res["tokenizers"]) == {"bytes", "bpe:512", "own.json"}
    assert (out / "bpe-512.json").is_file() and res["tokenizers"]["bpe:512"]["vocab_size"] == 512
    g = res["groups"]
    assert {"all", "source=prose", "source=multi", "language=de", "language=el", "source=multi language=el"} <= set(g)

    # independent counts over the same held-out documents
    held_multi = [(t, lang) for t, lang in zip(texts, langs) if heldout(t, 0.2)]
    el = [t for t, lang in held_multi if lang == "el"]
    assert el and g["language=el"]["bytes"]["documents"] == len(el)
    el_bytes = sum(len(t.encode()) for t in el)
    b = g["language=el"]["bytes"]
    assert b["bytes_per_token"] == 1.0 and b["tokens"] == el_bytes
    assert b["fertility"] == el_bytes / sum(len(t.split()) for t in el)
    # every byte of a Greek letter is a piece of a 2-byte character: the byte tokenizer's fallback share
    assert math.isclose(b["byte_fallback_rate"], sum(1 for t in el for c in t.encode() if c >= 128) / el_bytes)
    held_prose = [t for t in prose if heldout(t, 0.2)]
    p = g["source=prose"]
    assert p["bytes"]["documents"] == len(held_prose)
    # a BPE trained on this text compresses it
    assert p["bpe:512"]["bytes_per_token"] > 1.5
    # same words, fewer tokens: fertility falls by exactly the compression
    assert math.isclose(p["bytes"]["fertility"] / p["bpe:512"]["fertility"], p["bpe:512"]["bytes_per_token"])
    # the English-only tokenizer has no merges for Greek: it falls back to bytes there, not on the prose
    assert g["language=el"]["own.json"]["byte_fallback_rate"] > 0.3 > p["own.json"]["byte_fallback_rate"]
    from tokenizers import Tokenizer

    own = Tokenizer.from_file(str(tmp_path / "own.json"))
    ids = {i for t in el for i in own.encode(t, add_special_tokens=False).ids}
    assert g["language=el"]["own.json"]["vocab_used"] == len(ids)
    assert math.isclose(g["language=el"]["own.json"]["vocab_use"], len(ids) / own.get_vocab_size(with_added_tokens=True))
    for row in (x for grp in g.values() for x in grp.values()):
        assert row["unknown_rate"] == 0.0 and 0 < row["vocab_use"] <= 1  # byte-level: nothing is unknown
    # and the report shows the panel
    r = CliRunner().invoke(app, ["report", str(out)])
    assert r.exit_code == 0, r.output
    page = (out / "report.html").read_text()
    assert "tokenizer compare" in page and "language=el" in page and f"{p['bpe:512']['bytes_per_token']:.3f}" in page


def test_compare_refuses_bad_specs_before_work(tmp_path):
    _sources(tmp_path)
    for spec, msg in (("bpe:12", "257.."), ("bpe4000", "bpe:N"), ("nope.json", "no such file")):
        r = CliRunner().invoke(app, ["tokenizer", "compare", str(tmp_path / "prose.jsonl"), "-t", spec, "-o", str(tmp_path / "o")])
        assert r.exit_code == 2 and msg in r.output, (spec, r.output)
    r = CliRunner().invoke(app, ["tokenizer", "compare", str(tmp_path / "prose.jsonl"), "-t", "bytes", "--heldout-share", "1.5",
                                 "-o", str(tmp_path / "o")])
    assert r.exit_code == 2 and "--heldout-share" in r.output
    assert not (tmp_path / "o").exists()


@pytest.mark.slow  # four short training runs
def test_ablate_tokenizer_per_arm_in_bits_per_byte_at_equal_bytes(tmp_path):
    d = stdlib_docs(300)
    write_jsonl(tmp_path / "train.jsonl", d[:250])
    (tmp_path / "held").mkdir()
    write_jsonl(tmp_path / "held" / "docs.jsonl", d[250:])
    (tmp_path / "abl.yaml").write_text("""
model: {preset: tiny, n_layer: 1, d_model: 32, n_head: 2}
bytes: 6000
seeds: [0, 1]
seq_len: 32
batch_size: 4
threads: 1
eval: {heldout: ["held/*.jsonl"], max_bytes: 3000, points: 2}
arms:
  bytes: {data: train.jsonl, tokenizer: bytes}
  bpe: {data: train.jsonl, tokenizer: "bpe:512"}
""")
    r = CliRunner().invoke(app, ["lab", "ablate", str(tmp_path / "abl.yaml"), "-o", str(tmp_path / "out"), "--no-progress"])
    assert r.exit_code == 0, r.output
    res = json.loads((tmp_path / "out" / "results.json").read_text())
    assert res["budget"] == "bytes"
    a, b = res["arms"]["bytes"], res["arms"]["bpe"]
    assert a["tokenizer"] == "bytes" and b["tokenizer"].endswith("bpe-512-bpe.json") and b["vocab_size"] == 512
    # equal text: the BPE arm trains on fewer tokens, as many fewer as its bytes per token says
    assert a["tokens"] == 6000 and b["bytes_per_token"] > 1.3
    assert b["tokens"] == round(6000 / b["bytes_per_token"])
    run = json.loads((tmp_path / "out" / "runs" / "bpe" / "seed0" / "config.json").read_text())
    assert run["tokens"] == b["tokens"] and run["tokenizer"] == b["tokenizer"]
    # bits per BYTE for the BPE arm too: an untrained model is near uniform over its vocabulary, so at step 0
    # it pays log2(V) bits per token, i.e. log2(V) / (bytes per token) per byte (per token it would be log2 V)
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(b["tokenizer"])
    from gristmill.lab.data import read_texts

    held = read_texts([str(tmp_path / "held" / "docs.jsonl")])
    kept, n = [], 0
    for t in held:
        if n >= 3000:
            break
        kept.append(t)
        n += len(t.encode()) + 1
    ntok = sum(len(e.ids) + 1 for e in tok.encode_batch(kept, add_special_tokens=False))
    for arm, v, tokens_per_byte in ((b, 512, ntok / n), (a, 257, 1.0)):
        start = arm["seeds"]["0"]["curve"]["mean_bpb"][0]
        assert math.isclose(start, math.log2(v) * tokens_per_byte, rel_tol=0.06), (start, math.log2(v) * tokens_per_byte)
    # and the curves are on bytes seen, the verdict table names the tokenizers
    assert b["seeds"]["0"]["curve"]["bytes"][-1] >= 6000 * 0.9
    assert "vs_first" in b and b["vs_first"]["mean"]["verdict"] in ("better", "worse", "within noise")
    assert "bytes/token" in r.output and "bpe-512-bpe.json" in r.output


def test_ablate_budget_and_tokenizer_errors(tmp_path):
    write_jsonl(tmp_path / "t.jsonl", stdlib_docs(20))
    base = "model: tiny\neval: {heldout: [t.jsonl]}\n"
    for body, msg in (("tokens: 10\nbytes: 10\narms: {a: t.jsonl}\n", "exactly one budget"),
                      ("arms: {a: t.jsonl}\n", "exactly one budget"),
                      ("bytes: 10\narms: {a: {data: t.jsonl, tokenizer: nope.json}}\n", "arms.a.tokenizer"),
                      ("bytes: 10\narms: {a: {data: t.jsonl, tokenizer: {train: {vocab_size: 400, from: b}}}}\n", "is not an arm")):
        (tmp_path / "a.yaml").write_text(base + body)
        r = CliRunner().invoke(app, ["lab", "ablate", str(tmp_path / "a.yaml"), "-o", str(tmp_path / "o")])
        assert r.exit_code == 2 and msg in r.output, (body, r.output)
