"""Item 4 of issue 8: `gristmill select` never quarantines what dedup never saw: it refuses (before
writing) when new thresholds change what reaches a global step, writes recipe.lock.yaml with the
new thresholds, and rejects a --set it cannot apply, with did-you-mean."""
import json
import re

import pyarrow.parquet as pq
import yaml
from typer.testing import CliRunner

from conftest import stdlib_docs, write_jsonl
from gristmill.cli import app


def corpus(tmp_path):
    docs = stdlib_docs(120)
    recs = [{"id": f"d{k}", "text": d["text"]} for k, d in enumerate(docs)]
    # numbers between the words: gopher's alpha-words ratio falls to about 0.67
    noisy = [" ".join(f"{w} {k}" if k % 2 == 0 else w for k, w in enumerate(d["text"].split())) for d in docs[:30]]
    recs += [{"id": f"n{k}", "text": t} for k, t in enumerate(noisy)]
    recs += [{"id": f"ncopy{k}", "text": t} for k, t in enumerate(noisy[:5])]  # duplicates of rejected documents
    recs += [{"id": f"dcopy{k}", "text": docs[40 + k]["text"]} for k in range(5)]  # duplicates of kept ones
    return write_jsonl(tmp_path / "a.jsonl", recs)


def run_recipe(tmp_path, name, steps):
    p = tmp_path / f"{name}.yaml"
    p.write_text(yaml.safe_dump({"input": {"paths": [str(tmp_path / "a.jsonl")], "id_field": "id"}, "steps": steps,
                                 "output": {"path": str(tmp_path / name)}}, sort_keys=False))
    r = CliRunner().invoke(app, ["run", str(p), "-w", "1"])
    assert r.exit_code == 0, r.output
    return json.loads((tmp_path / name / "summary.json").read_text())


def select(src, dest, *sets):
    args = ["select", str(src), "-o", str(dest)]
    for s in sets:
        args += ["--set", s]
    return CliRunner().invoke(app, args, terminal_width=400)


def test_before_dedup_without_a_cache_is_refused_before_writing(tmp_path):
    """Select re-fits dedup from the caches a run keeps (tests/test_reselect_refit.py); without one
    (an output from before them, or a step that keeps none) it still refuses, before writing."""
    import shutil

    corpus(tmp_path)
    s = run_recipe(tmp_path, "out", [{"gopher_quality": {}}, {"exact_dedup": {}}])
    assert s["rejected"]["gopher_quality/too_few_alpha_words"] > 30 and s["kept"] > 20
    shutil.rmtree(tmp_path / "out" / "_work" / "order")  # as an output written before select could re-fit
    r = select(tmp_path / "out", tmp_path / "loose", "gopher_quality.min_alpha_words_ratio=0.6")
    assert r.exit_code == 2
    msg = " ".join(r.output.split())
    assert re.search(r"\d+ documents that the source run rejected before the global step 'exact_dedup'", msg)
    assert "gopher_quality/too_few_alpha_words" in msg and "`gristmill run`" in msg and "nothing was written" in msg
    assert "keeps no record of its read order" in msg
    assert not (tmp_path / "loose").exists()
    run_recipe(tmp_path, "para", [{"gopher_quality": {}}, {"paragraph_dedup": {}}])
    r = select(tmp_path / "para", tmp_path / "tight", "gopher_quality.min_doc_words=400")
    msg = " ".join(r.output.split())
    assert r.exit_code == 2 and "would now be rejected before it" in msg and "paragraph_dedup keeps no re-fit cache" in msg
    assert not (tmp_path / "tight").exists()


def test_select_after_the_global_step_matches_a_fresh_run_and_writes_the_lock(tmp_path):
    corpus(tmp_path)
    s = run_recipe(tmp_path, "out", [{"exact_dedup": {}}, {"gopher_quality": {}}])
    fresh = run_recipe(tmp_path, "fresh", [{"exact_dedup": {}}, {"gopher_quality": {"min_alpha_words_ratio": 0.6}}])
    assert fresh["kept"] > s["kept"]
    r = select(tmp_path / "out", tmp_path / "re", "gopher_quality.min_alpha_words_ratio=0.6")
    assert r.exit_code == 0, r.output
    re_s = json.loads((tmp_path / "re/summary.json").read_text())
    assert re_s["kept"] == fresh["kept"] and re_s["rejected"] == fresh["rejected"] and re_s["quarantined"] == 0
    assert sorted(pq.read_table(tmp_path / "re/data").column("id").to_pylist()) == \
        sorted(pq.read_table(tmp_path / "fresh/data").column("id").to_pylist())
    lock = yaml.safe_load((tmp_path / "re/recipe.lock.yaml").read_text())
    assert lock["steps"][1]["gopher_quality"]["min_alpha_words_ratio"] == 0.6
    assert lock["reselected_from"] == str(tmp_path / "out") and lock["output"]["path"] == str(tmp_path / "re")
    assert [row["step"] for row in re_s["steps"]] == ["exact_dedup", "gopher_quality"] and re_s["steps"][1]["in"] > 0
    assert "gopher_quality" in r.output  # the steps table is printed
    # the re-selected output can itself be re-selected, and shown
    r = select(tmp_path / "re", tmp_path / "re2", "gopher_quality.min_alpha_words_ratio=0.8")
    assert r.exit_code == 0, r.output
    assert json.loads((tmp_path / "re2/summary.json").read_text())["kept"] == s["kept"]


def test_a_set_select_cannot_apply_is_an_error_with_suggestions(tmp_path):
    corpus(tmp_path)
    run_recipe(tmp_path, "out", [{"normalize": {}}, {"gopher_quality": {}}, {"minhash_dedup": {}}])
    cases = {
        "minhash_dedup.bands=10": "minhash_dedup is a global step",
        "normalize.fix_unicode=false": "normalize never rejects a document",
        "gopher_quality.stop_words=[a]": "gopher_quality.stop_words changes what the step computes",
        "gopher_quality.min_alpha_word_ratio=0.6": "gopher_quality has no parameter 'min_alpha_word_ratio' (did you mean 'min_alpha_words_ratio'?)",
        "gopher_qualty.min_doc_words=10": "no step 'gopher_qualty'",
    }
    for arg, expect in cases.items():
        r = select(tmp_path / "out", tmp_path / "x", arg)
        msg = " ".join(r.output.split())
        assert r.exit_code == 2 and expect in msg, (arg, msg)
        assert not (tmp_path / "x").exists()
    r = select(tmp_path / "out", tmp_path / "x", "gopher_qualty.min_doc_words=10")
    assert "(did you mean 'gopher_quality'?)" in " ".join(r.output.split())


def _perturbed(value):
    if isinstance(value, bool):
        return not value
    if isinstance(value, (int, float)):
        return value * 0.5 + 1 if isinstance(value, float) else value + 3
    if isinstance(value, list):
        return ["de", "fr"]
    return None


def test_parameters_select_may_change_do_not_change_the_annotation():
    """The rule behind `--set` checks (read from the source) against behaviour: for every batch step
    that annotates plain text, changing a parameter select may apply leaves annotate's output as is."""
    import pyarrow as pa

    from conftest import stdlib_docs
    from gristmill.engine.reselect import not_reselectable
    from gristmill.step import GlobalStep, all_steps

    docs = stdlib_docs(40)
    table = pa.table({"id": [d["id"] for d in docs], "text": pa.array([d["text"] for d in docs], pa.large_string()),
                      "source": ["s"] * len(docs)})
    checked = 0
    for name, cls in all_steps().items():
        if issubclass(cls, GlobalStep) or not cls.__module__.startswith("gristmill."):
            continue
        try:
            base = cls().annotate(table)
        except Exception:  # noqa: BLE001 - needs other columns (html, url): not a plain-text step
            continue
        for param, f in cls.Config.model_fields.items():
            if not_reselectable(cls, param):
                continue
            default = f.default_factory() if f.default_factory else f.default
            new = _perturbed(default)
            if new is None:
                continue
            try:
                cfg = cls.Config(**{param: new})
            except ValueError:  # outside the parameter's bounds (a probability above 1): a valid change
                cfg = cls.Config(**{param: default * 0.5})
            step = cls(cfg)
            assert step.annotate(table).equals(base), f"{name}.{param} changes annotate, yet select would apply it"
            checked += 1
    assert checked >= 15
