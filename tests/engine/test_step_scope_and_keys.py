"""Issue 19 items 10 and 12: a global step with `sources:` fits only on its sources; a step used
twice is keyed by its position in the summary, the ledger and the rejections."""
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml

from conftest import stdlib_docs, write_jsonl
from gristmill.engine.local import run
from gristmill.recipe import load_recipe


def _two_sources(tmp_path: Path, web_docs, books_docs) -> list[dict]:
    write_jsonl(tmp_path / "web.jsonl", web_docs)
    write_jsonl(tmp_path / "books.jsonl", books_docs)
    return [{"paths": [str(tmp_path / "web.jsonl")], "source": "web", "fields": ["score", "url"]},
            {"paths": [str(tmp_path / "books.jsonl")], "source": "books", "fields": ["score", "url"]}]


def _run(tmp_path: Path, inputs, steps, name="r", workers=1) -> tuple[dict, Path]:
    out = tmp_path / f"out-{name}"
    f = tmp_path / f"{name}.yaml"
    f.write_text(yaml.safe_dump({"inputs": inputs, "steps": steps, "output": {"path": str(out)}}, sort_keys=False))
    return run(load_recipe(f), out, workers=workers, progress=False, log=lambda m: None), out


def _kept_by_source(out: Path) -> dict[str, int]:
    t = pq.read_table(out / "data")
    src = t.column("source").to_pylist()
    return {s: src.count(s) for s in sorted(set(src))}


def test_quality_select_top_percent_with_sources_fits_on_its_sources_only(tmp_path):
    base = stdlib_docs(200)
    web = [{**d, "id": f"w{i}", "score": float(i), "url": f"https://w/{i}"} for i, d in enumerate(base[:100])]
    books = [{**d, "id": f"b{i}", "score": 1000.0 + i, "url": f"https://b/{i}"} for i, d in enumerate(base[100:])]
    s, out = _run(tmp_path, _two_sources(tmp_path, web, books),
                  [{"quality_select": {"top_percent": 50, "column": "score", "sources": ["web"]}}], workers=2)
    kept = _kept_by_source(out)
    assert kept["books"] == 100  # outside the scope: untouched
    assert 48 <= kept["web"] <= 52, kept  # half of web, by web's own scores
    web_kept = sorted(r["score"] for r in pq.read_table(out / "data").to_pylist() if r["source"] == "web")
    assert web_kept[0] >= 48.0
    assert s["input"] == 200 == s["kept"] + sum(s["rejected"].values())


def test_dedup_with_sources_never_compares_against_other_sources(tmp_path):
    base = stdlib_docs(100)
    # web: 90 distinct texts and 10 repeats of its own; books: the same 100 texts as web's originals
    web = [{**d, "id": f"w{i}", "score": 0.0, "url": f"https://w/{i}"} for i, d in enumerate(base[:90] + base[:10])]
    books = [{**d, "id": f"b{i}", "score": 0.0, "url": f"https://b/{i}"} for i, d in enumerate(base)]
    inputs = _two_sources(tmp_path, web, books)
    for step in ("exact_dedup", "minhash_dedup", "paragraph_dedup"):
        _, alone = _run(tmp_path, inputs[:1], [{step: {}}], name=step + "-web-alone")
        # books read first: a fit that saw them would keep each book and drop its web copy
        s, out = _run(tmp_path, inputs[::-1], [{step: {"sources": ["web"]}}], name=step)
        kept = _kept_by_source(out)
        assert kept["books"] == 100 and kept["web"] == _kept_by_source(alone)["web"] <= 90, (step, kept, s["rejected"])
        web_docs = lambda d: sorted((r["id"], r["text"]) for r in pq.read_table(d / "data").to_pylist() if r["source"] == "web")  # noqa: E731
        assert web_docs(out) == web_docs(alone), step  # same decisions and same rewritten text as web on its own
        assert all(r["source"] == "web" for r in pq.read_table(out / "rejected").to_pylist())


def test_a_step_used_twice_is_keyed_by_position_everywhere(tmp_path):
    base = stdlib_docs(60)
    # web: 10 pairs share a url (different texts), 10 pairs share a text (different urls)
    web = [{**d, "id": f"w{i}", "score": 0.0, "url": f"https://w/{i}"} for i, d in enumerate(base[:40])]
    web += [{**base[40 + i], "id": f"u{i}", "score": 0.0, "url": f"https://w/{i}"} for i in range(10)]
    web += [{**base[i], "id": f"t{i}", "score": 0.0, "url": f"https://t/{i}"} for i in range(10, 20)]
    inputs = _two_sources(tmp_path, web, [])[:1]
    s, out = _run(tmp_path, inputs, [{"exact_dedup": {"key": "url"}}, {"min_length": {"min_words": 1}}, {"exact_dedup": {"key": "text"}}])
    assert s["rejected"] == {"exact_dedup#1/duplicate": 10, "exact_dedup#2/duplicate": 10}, s["rejected"]
    assert [r["step"] for r in s["steps"]] == ["exact_dedup#1", "min_length", "exact_dedup#2"]
    assert [r.get("name") for r in s["steps"]] == ["exact_dedup", None, "exact_dedup"]
    assert [r["rejected"] for r in s["steps"]] == [10, 0, 10]
    assert set(s["step_columns"]) >= {"exact_dedup#1", "exact_dedup#2"}
    assert set(s.get("reports", {})) <= {"exact_dedup#1", "exact_dedup#2"}
    rej = pq.read_table(out / "rejected").to_pylist()
    assert sorted(r["reject_step"] for r in rej) == ["exact_dedup#1"] * 10 + ["exact_dedup#2"] * 10
    assert sorted(r["text"] for r in rej if r["reject_step"] == "exact_dedup#1") == sorted(d["text"] for d in base[40:50])
    assert all(r["reject_reason"] == r["reject_step"] + "/duplicate" for r in rej)
    lock = yaml.safe_load((out / "recipe.lock.yaml").read_text())
    assert [next(iter(st)) for st in lock["steps"]] == ["exact_dedup", "min_length", "exact_dedup"]
    assert [st["exact_dedup"]["key"] for st in (lock["steps"][0], lock["steps"][2])] == ["url", "text"]
    # re-selection reads the keyed reasons back: a loosened min_length changes nothing here
    from gristmill.engine.reselect import reselect

    s2 = reselect(out, tmp_path / "resel", ["min_length.min_words=2"])
    assert s2["rejected"] == s["rejected"] and s2["kept"] == s["kept"]
    # a step used once keeps its plain name, as in outputs and docs before keys
    s3, _ = _run(tmp_path, inputs, [{"exact_dedup": {"key": "url"}}], name="once")
    assert s3["rejected"] == {"exact_dedup/duplicate": 10} and s3["steps"][0]["step"] == "exact_dedup" and "name" not in s3["steps"][0]


def test_step_versions_are_locked_and_a_resume_after_an_upgrade_is_refused(tmp_path, monkeypatch):
    """Issue 20: a step's version and gristmill's are in recipe.lock.yaml and the run's fingerprint;
    an output started by other code is never resumed (it would mix two algorithms)."""
    import gristmill
    from gristmill.engine.manifest import RecipeChanged
    from gristmill.step import get_step

    base = stdlib_docs(40)
    inputs = _two_sources(tmp_path, [{**d, "score": 0.0, "url": "u"} for d in base], [])[:1]
    steps = [{"min_length": {"min_words": 5}}, {"exact_dedup": {}}, {"exact_dedup": {"key": "url"}}]
    s, out = _run(tmp_path, inputs, steps)
    lock = yaml.safe_load((out / "recipe.lock.yaml").read_text())
    assert lock["step_versions"] == {"min_length": 1, "exact_dedup#1": 1, "exact_dedup#2": 1}
    assert lock["gristmill_version"] == gristmill.__version__
    assert json.loads((out / "_manifest/versions.json").read_text())["gristmill"] == gristmill.__version__
    recipe = load_recipe(tmp_path / "r.yaml")
    assert run(recipe, out, workers=1, progress=False, log=lambda m: None)["kept"] == s["kept"]  # same code: complete
    fp = recipe.fingerprint()

    monkeypatch.setattr(get_step("exact_dedup"), "version", 2)  # the step's algorithm changed in an upgrade
    assert load_recipe(tmp_path / "r.yaml").fingerprint() != fp
    (out / "summary.json").unlink()  # as if the run had been interrupted before the upgrade
    with pytest.raises(RecipeChanged, match=r"step exact_dedup#1 version 1 then, 2 now; step exact_dedup#2 version 1 then, 2 now"):
        run(load_recipe(tmp_path / "r.yaml"), out, workers=1, progress=False, log=lambda m: None)
    monkeypatch.undo()
    monkeypatch.setattr("gristmill.recipe.__version__", "999.0")
    with pytest.raises(RecipeChanged, match=r"gristmill .* then, 999.0 now"):
        run(load_recipe(tmp_path / "r.yaml"), out, workers=1, progress=False, log=lambda m: None)
    monkeypatch.undo()
    s2 = run(load_recipe(tmp_path / "r.yaml"), out, workers=1, progress=False, log=lambda m: None)  # resumes with the same code
    assert s2["kept"] == s["kept"]
