"""The compiled MinHash kernel (``_native.minhash_signatures``) against the numpy path it replaced:
bit-identical signatures on real text and on edge cases, and the same minhash_dedup output through
the CLI with either backend."""
from __future__ import annotations

import json
import os
import random

import numpy as np
import pyarrow as pa
import pytest
from typer.testing import CliRunner

from gristmill.dedup import _shingle
from gristmill.dedup._normalize import shingle_text
from gristmill.dedup._shingle import perm_params, shingle_hashes, signatures, signatures_from_text

from conftest import stdlib_docs, write_jsonl

native = pytest.mark.skipif(
    getattr(_shingle._native, "minhash_signatures", None) is None and os.environ.get("GRISTMILL_REQUIRE_NATIVE") != "1",
    reason="gristmill._native not built")


def _edge_texts(seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    fixed = ["", " ", "one", "two words", "a b c d", "x" * 100 + " y " + "z" * 70, "  a  b   c d e f  ",
             "é" * 9 + " " + "ab" * 8, "abcdefgh ijklmnop qrstuvwx", "abcdefg", "abcdefghi " * 7,
             "日本語 のテキスト です ね 本当 に"]
    alphabet = "ab  éz\u3000x0123456789"  # spaces at several densities, multi-byte characters
    rand = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 90))) for _ in range(600)]
    return fixed + rand


@native
@pytest.mark.parametrize("ngram,num_perm,seed", [(5, 128, 1), (1, 16, 7), (3, 200, 42), (13, 64, 3)])
def test_kernel_bit_identical_to_numpy(ngram, num_perm, seed):
    assert getattr(_shingle._native, "minhash_signatures", None) is not None, "the compiled kernel did not build or load"
    texts = [shingle_text(d["text"]) for d in stdlib_docs(300)] + _edge_texts(seed)
    a, b = perm_params(num_perm, seed)
    h, offs = shingle_hashes(texts, ngram)
    want = signatures(h, offs, a, b)
    got, counts = signatures_from_text(texts, ngram, a, b)
    assert got.dtype == np.uint32 and got.shape == want.shape
    assert np.array_equal(got, want)
    assert np.array_equal(counts, np.diff(offs))
    # an Arrow slice (non-zero offset, as a batch of a bigger table) and the fallback agree too
    arr = pa.array(texts, type=pa.large_string()).slice(5, 200)
    got_slice, _ = signatures_from_text(arr, ngram, a, b)
    assert np.array_equal(got_slice, want[5:205])
    assert np.array_equal(signatures_from_text(arr, ngram, a, b, native=False)[0], want[5:205])


@native
def test_kernel_empty_and_null_inputs():
    a, b = perm_params(8, 1)
    for texts in ([], ["", ""], [None, "a b"], pa.array(["x y z"], pa.string())):
        got, counts = signatures_from_text(texts, 5, a, b)
        h, offs = shingle_hashes(texts, 5)
        assert np.array_equal(got, signatures(h, offs, a, b)) and np.array_equal(counts, np.diff(offs))


@native
def test_kernel_rejects_offsets_outside_the_buffer():
    from gristmill import _native

    K = np.ones(5, np.uint64)
    a = np.ones(4, np.uint32)
    with pytest.raises(ValueError, match="outside the buffer"):
        _native.minhash_signatures(np.zeros(4, np.uint8), np.array([0, 9], np.int64), 5, K, a, a)
    with pytest.raises(ValueError, match="must not decrease"):
        _native.minhash_signatures(np.zeros(4, np.uint8), np.array([0, 3, 1, 4], np.int64), 5, K, a, a)


@native
def test_minhash_dedup_same_output_with_and_without_kernel(tmp_path, monkeypatch):
    from gristmill.cli import app

    rng = random.Random(0)
    docs = stdlib_docs(200)
    recs = [{"id": d["id"], "text": d["text"]} for d in docs]
    for i, d in enumerate(docs[:60]):  # near duplicates: one word in ~30 replaced
        w = d["text"].split(" ")
        for _ in range(max(1, len(w) // 30)):
            w[rng.randrange(len(w))] = "changed"
        recs.append({"id": f"near-{i}", "text": " ".join(w)})
    src = write_jsonl(tmp_path / "in.jsonl", recs)
    outs = {}
    for name, mod in (("kernel", _shingle._native), ("numpy", None)):
        monkeypatch.setattr(_shingle, "_native", mod)
        out = tmp_path / name
        recipe = tmp_path / f"{name}.yaml"
        recipe.write_text(f"input: {{paths: ['{src}']}}\nsteps:\n  - minhash_dedup: {{}}\n"
                          f"output: {{path: '{out}', keep_rejected: true}}\n")
        r = CliRunner().invoke(app, ["run", str(recipe), "-w", "1", "--no-report"])
        assert r.exit_code == 0, r.output
        outs[name] = out
    import pyarrow.parquet as pq

    kept = {k: sorted(pq.read_table(v / "data").column("id").to_pylist()) for k, v in outs.items()}
    summ = {k: json.loads((v / "summary.json").read_text()) for k, v in outs.items()}
    assert summ["kernel"]["rejected"].get("minhash_dedup/near_duplicate", 0) >= 20  # most of the 60 planted near duplicates
    assert summ["kernel"]["rejected"] == summ["numpy"]["rejected"]
    assert summ["kernel"]["reports"]["minhash_dedup"] == summ["numpy"]["reports"]["minhash_dedup"]
    assert kept["kernel"] == kept["numpy"] and len(kept["kernel"]) == summ["kernel"]["kept"]
