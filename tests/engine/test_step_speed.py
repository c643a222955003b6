"""Issue 24 part 1: the slow steps made fast without changing a byte of their output.

- ``normalize``: ftfy is skipped on ASCII segments (ftfy has nothing to fix there); the output
  equals ``ftfy.fix_text`` + the old whitespace regexes on real documents and on the hard cases
  (mojibake, C1 controls, terminal escapes, an escape split by ftfy's segment limit).
- ``quality_score`` (fast family): the compiled hashed-bigram kernel gives the same float32 scores
  as scikit-learn's ``HashingVectorizer`` path, bit for bit, through the CLI on real documents.
- ``gristmill steps NAME`` shows the step's measured speed from the packaged table.
"""
from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from conftest import stdlib_docs, write_jsonl
from gristmill.annotate import normalize as N
from gristmill.cli import app


def _real_texts() -> list[str]:
    """Real documents of every shape the step sees: stdlib docstrings, pydoc topics (long,
    many lines, some non-ASCII), the licenses on this machine, plus broken Unicode planted in
    otherwise clean lines."""
    from pydoc_data.topics import topics

    out = [d["text"] for d in stdlib_docs(200)]
    out += [topics[k] for k in sorted(topics)][:150]
    lic = Path("/usr/share/common-licenses")
    if lic.is_dir():
        out += [f.read_text(encoding="utf-8", errors="replace") for f in sorted(lic.iterdir()) if f.is_file()][:10]
    base = out[0]
    out += [
        base + "\nThe cafÃ© served crÃ¨me brÃ»lÃ©e\nand then ASCII again\n",  # mojibake on one line
        "plain line\n\x9cC1 control\x85 here\nplain",  # C1 controls ftfy maps
        "\x1b[36;44mcolored\x1b[0m text\nnext line",  # terminal escapes in ASCII text
        "\x1b[\x1b[0m1mnested escape\n",  # removing one escape makes another: ftfy's fixpoint
        "â€œquotedâ€\x9d and\ttabs\x0b and  spaces \r\n\r\n\r\n\r\nend \u00a0 \u3000x",
        "\ud800 lone surrogate\nand ASCII",
        "", "\n\n\n", "a" * 50 + "\n",
    ]
    return out


def _old_collapse(text: str) -> str:
    # collapse_whitespace before the guards (the reference)
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = re.sub(r"[^\S\n]+", " ", text)
    text = re.sub(r" ?\n ?", "\n", text)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip()


def _old_normalize(text: str, cfg) -> str:
    import ftfy

    text = ftfy.fix_text(text, config=cfg)
    if not unicodedata.is_normalized("NFC", text):
        text = unicodedata.normalize("NFC", text)
    return _old_collapse(N.remove_control_chars(text))


def test_ftfy_fast_path_is_identical_to_fix_text():
    import ftfy

    cfg = N.Normalize()._fixer_config()
    small = cfg._replace(max_decode_length=7)  # an escape cut in two by ftfy's segment limit
    for t in _real_texts():
        assert N.ftfy_fix(t, cfg) == ftfy.fix_text(t, config=cfg)
        assert N.ftfy_fix(t, small) == ftfy.fix_text(t, config=small)
        assert N.collapse_whitespace(t) == _old_collapse(t)
    edge = "ab\x1b[3" + "1mcd\n" + "x\x1b[0my"
    assert N.ftfy_fix(edge, small) == ftfy.fix_text(edge, config=small)


def test_ftfy_runs_only_on_lines_that_need_it(monkeypatch):
    """The old step called ftfy's per-segment fixer once per line of every document; now only
    for lines that are not plain ASCII."""
    import ftfy

    calls = []
    real = ftfy.fix_and_explain
    monkeypatch.setattr(ftfy, "fix_and_explain", lambda s, c=None, **k: calls.append(s) or real(s, c, **k))
    step = N.Normalize()
    clean = "\n".join(f"line {i} of a plain ASCII document." for i in range(500))
    assert step._fix(clean) == _old_collapse(clean)
    assert calls == []
    broken = clean + "\nthe cafÃ© line\n" + clean
    assert "café" in step._fix(broken)
    assert calls == ["the cafÃ© line\n"]


def _run(tmp_path: Path, steps: str, records: list[dict]) -> list[dict]:
    write_jsonl(tmp_path / "in.jsonl", records)
    (tmp_path / "r.yaml").write_text(f"inputs:\n  - paths: [\"{tmp_path}/in.jsonl\"]\nsteps:\n{steps}\n"
                                     f"output:\n  path: {tmp_path}/out\n")
    r = CliRunner().invoke(app, ["run", str(tmp_path / "r.yaml"), "-w", "2", "--no-progress", "--no-report"])
    assert r.exit_code == 0, r.output
    rows = []
    for p in sorted((tmp_path / "out" / "data").glob("*.parquet")):
        rows += pq.read_table(p).to_pylist()
    return sorted(rows, key=lambda r: r["id"])


def test_normalize_through_the_cli_matches_the_reference(tmp_path):
    texts = _real_texts()
    rows = _run(tmp_path, "  - normalize: {}", [{"id": f"d{i:04d}", "text": t} for i, t in enumerate(texts)])
    cfg = N.Normalize()._fixer_config()
    by_id = {r["id"]: r["text"] for r in rows}
    assert len(by_id) >= len(texts) - 3  # "", "\n\n\n" and the lone surrogate may not be documents
    for i, t in enumerate(texts):
        if f"d{i:04d}" in by_id:  # an empty document is not read as one
            assert by_id[f"d{i:04d}"] == _old_normalize(t, cfg), i


def test_murmurhash_matches_scikit_learn():
    native = pytest.importorskip("gristmill._native")
    if not hasattr(native, "murmur3_32"):
        pytest.skip("compiled module predates the kernel")
    from sklearn.utils import murmurhash3_32

    rng = np.random.default_rng(0)
    for n in list(range(0, 20)) + [63, 64, 65, 1000]:
        for _ in range(20):
            b = rng.integers(0, 256, n, dtype=np.uint8).tobytes()
            assert native.murmur3_32(b) == murmurhash3_32(b, seed=0, positive=False)


def _unicode_edge_texts() -> list[str]:
    return ["", "a", "I", "İstanbul ÇAĞ ǅungla x_y __ 12 ³² ٣٤ 中文字符 e\u0301t\u00e9 ß STRASSE",
            "\U0001F600 ab\U0001D400\U0001D401 cd \u2167\u2168 no-break\u00a0space", "word " * 3000]


def test_fast_family_kernel_is_bit_identical_to_scikit_learn():
    from gristmill.quality import model as M

    if getattr(M._native, "hashed_bigram_dot", None) is None:
        pytest.skip("compiled kernel not built: scikit-learn's path is the only one")
    texts = _real_texts() + _unicode_edge_texts()
    coef = np.random.default_rng(1).normal(size=M.FAST_FEATURES).astype(np.float32)
    fast = M.fast_dot(texts, coef)
    ref = M.fast_dot(texts, coef, native=False)
    assert fast.dtype == ref.dtype == np.float32
    assert np.array_equal(fast, ref)


def test_quality_score_cli_scores_equal_the_scikit_learn_path(tmp_path, monkeypatch):
    """Through a recipe with a model trained by `quality train`'s code: the stored scores equal
    the scikit-learn path's, and that path is not used at all (the old code called it)."""
    from gristmill.annotate.quality import QualityScore
    from gristmill.quality import model as M

    if getattr(M._native, "hashed_bigram_dot", None) is None:
        pytest.skip("compiled kernel not built")
    model_path = QualityScore.example_steps(tmp_path)[0]["quality_score"]["model"]
    texts = _real_texts()
    model = M.QualityModel.load(model_path)
    coef = model.arrays["coef"]
    ref_z = M.fast_dot(texts, coef, native=False) + float(model.arrays["intercept"][0])
    ref = (1.0 / (1.0 + np.exp(-ref_z))).astype(np.float32)

    import sklearn.feature_extraction.text as T

    def refuse(*a, **k):
        raise AssertionError("the scikit-learn vectorizer ran while scoring")

    monkeypatch.setattr(T.HashingVectorizer, "transform", refuse)
    rows = _run(tmp_path, f"  - quality_score: {{model: \"{model_path}\"}}",
                [{"id": f"d{i:04d}", "text": t} for i, t in enumerate(texts)])
    got = {r["id"]: r["quality_score"] for r in rows}
    assert len(got) >= len(texts) - 3  # "", "\n\n\n" and a lone surrogate may not be documents
    for i in range(len(texts)):
        if f"d{i:04d}" in got:
            assert np.float32(got[f"d{i:04d}"]) == ref[i], i


def test_steps_page_shows_the_measured_speed():
    """`gristmill steps NAME` prints the packaged per-step figure; every registered step is in the
    table, measured or named as not measured with the reason."""
    from gristmill.report.steps_page import step_speeds
    from gristmill.step import all_steps

    data = step_speeds()
    listed = set(data["steps"]) | set(data.get("not_measured", {}))
    shipped = {n for n, cls in all_steps().items() if cls.__module__.startswith("gristmill.")}  # not the tests' own steps
    assert shipped <= listed, shipped - listed
    row = data["steps"]["normalize"]
    r = CliRunner().invoke(app, ["steps", "normalize"], env={"COLUMNS": "200"})
    assert r.exit_code == 0, r.output
    assert "Measured speed" in r.output
    assert f"{row['docs_per_s']:,.0f} docs/s" in r.output.replace("\n", " ")
    assert data["load"] in r.output.replace("\n", " ")
