"""Issue 21 part 1: `gristmill select` with a threshold before dedup re-fits exact_dedup and
minhash_dedup from the caches the run kept, and writes what a fresh `gristmill run` of the changed
recipe writes: the same kept ids, rejections with the same reasons, the same clusters and counts.
Tightening and loosening, on the demo corpus and on a corpus with planted (near-)duplicates whose
first copy a threshold removes or lets through, over several input files (shards)."""
import functools
import json
import random
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import yaml
from typer.testing import CliRunner

from conftest import write_jsonl
from gristmill.cli import app


def _run(recipe: dict, path: Path, out: Path) -> dict:
    recipe = {**recipe, "output": {**recipe["output"], "path": str(out)}}
    path.write_text(yaml.safe_dump(recipe, sort_keys=False))
    r = CliRunner().invoke(app, ["run", str(path), "-w", "2"], terminal_width=400)
    assert r.exit_code == 0, r.output
    return json.loads((out / "summary.json").read_text())


def _select(src: Path, dest: Path, *sets: str):
    args = ["select", str(src), "-o", str(dest)]
    for s in sets:
        args += ["--set", s]
    return CliRunner().invoke(app, args, terminal_width=400)


def _changed(recipe: dict, step: str, param: str, value) -> dict:
    out = yaml.safe_load(yaml.safe_dump(recipe))
    for st in out["steps"]:
        name = next(iter(st))
        if name == step:
            st[name] = {**(st[name] or {}), param: value}
    return out


def _outcome(d: Path) -> dict:
    """Everything a run decides, independent of file layout and timings."""
    kept = [pq.read_table(p) for p in sorted((d / "data").glob("*.parquet"))]
    kept = pa.concat_tables(kept, promote_options="permissive") if kept else None
    rejected = {}
    for p in sorted((d / "rejected").glob("*.parquet")):
        t = pq.read_table(p, columns=["id", "reject_reason"])
        rejected.update(zip(t["id"].to_pylist(), t["reject_reason"].to_pylist()))
    clusters = {}
    for c in ("exact_dup_cluster", "exact_dup_cluster_size", "dup_cluster", "dup_cluster_size"):
        if kept is not None and c in kept.column_names:
            clusters[c] = dict(zip(kept["id"].to_pylist(), kept[c].to_pylist()))
    s = json.loads((d / "summary.json").read_text())
    return {"kept": sorted(kept["id"].to_pylist()) if kept is not None else [], "rejected": rejected, "clusters": clusters,
            "counts": {k: s[k] for k in ("input", "kept", "rejected", "quarantined")},
            "steps": [(r["step"], r["in"], r["out"]) for r in s["steps"]], "reports": s.get("reports", {})}


def _same_as_a_fresh_run(tmp_path: Path, recipe: dict, src: Path, tag: str, step: str, param: str, value) -> dict:
    r = _select(src, tmp_path / f"sel_{tag}", f"{step}.{param}={value}")
    assert r.exit_code == 0, r.output
    _run(_changed(recipe, step, param, value), tmp_path / f"{tag}.yaml", tmp_path / f"run_{tag}")
    got, want = _outcome(tmp_path / f"sel_{tag}"), _outcome(tmp_path / f"run_{tag}")
    for k in want:
        assert got[k] == want[k], (tag, k)
    assert want["reports"], "the recipe has dedup steps; their reports must be compared"
    return json.loads((tmp_path / f"sel_{tag}" / "summary.json").read_text())


def test_demo_select_before_dedup_equals_a_fresh_run(tmp_path):
    from gristmill.demo import build_demo_corpus
    from gristmill.demo.run import demo_recipe_dict

    build_demo_corpus(tmp_path / "corpus", n_docs=400)
    recipe = demo_recipe_dict(tmp_path / "corpus", tmp_path / "out")
    base = _run(recipe, tmp_path / "demo.yaml", tmp_path / "out")
    cache = base["refit_cache"]
    assert cache["order"]["files"] >= 2 and cache["exact_dedup"]["bytes"] > 0 and cache["minhash_dedup"]["bytes"] > 0
    for tag, param, value in [("tight", "min_doc_words", 100), ("loose", "min_alpha_words_ratio", 0.7)]:
        s = _same_as_a_fresh_run(tmp_path, recipe, tmp_path / "out", tag, "gopher_quality", param, value)
        assert s["kept"] != base["kept"]  # the change matters, so the comparison is not vacuous
        assert set(s["refitted"]) == {"exact_dedup", "minhash_dedup"}


@functools.lru_cache(maxsize=1)
def _prose() -> tuple[str, ...]:
    """Prose documents of the standard library's docstrings, as the demo corpus harvests them
    (the raw docstrings are mostly code-laden, and gopher_quality rejects most of them)."""
    import sysconfig

    from gristmill.demo.stdlib_text import harvest

    prose, extra, _, _ = harvest(Path(sysconfig.get_paths()["stdlib"]), random.Random(3), 400, 0, 0)
    return tuple(t for t, _ in prose + extra if len(t.split()) >= 70)


def _planted(tmp_path: Path) -> list[Path]:
    """Prose in three files, with copies whose first occurrence a threshold decides about: noisy
    versions (numbers between the words: gopher's alpha-words ratio ~0.67) placed before clean exact
    and near copies, short near-copies (min_length), and copies across files."""
    rng = random.Random(7)
    docs = [{"text": t} for t in _prose()[:160]]
    recs = [{"id": f"d{k}", "text": d["text"]} for k, d in enumerate(docs)]

    def noisy(t):
        return " ".join(f"{w} {k}" if k % 2 == 0 else w for k, w in enumerate(t.split()))

    def near(t, k):  # a word changed and a few added: Jaccard of 5-grams stays above 0.75 for these lengths
        w = t.split()
        w[rng.randrange(len(w))] = f"x{k}"
        return " ".join(w + ["and", "so", "on", f"y{k}", "as", "before"])

    for k in range(0, 40, 2):  # noisy first, clean exact copy and near copy later
        recs.insert(rng.randrange(len(recs) // 3), {"id": f"noisy{k}", "text": noisy(docs[k]["text"])})
        recs.append({"id": f"exact{k}", "text": docs[k]["text"].replace(" ", "  ") + " !"})
        recs.append({"id": f"near{k}", "text": near(docs[k]["text"], k)})
    for k in range(40, 60):  # near copies of near copies: clusters that min_length splits
        recs.append({"id": f"nn{k}", "text": near(near(docs[k]["text"], k), k + 1)})
    for k in range(60, 70):  # noisy copies only: loosening lets the pair in together
        recs.append({"id": f"noisyA{k}", "text": noisy(docs[k]["text"])})
        recs.append({"id": f"noisyB{k}", "text": noisy(docs[k]["text"]) + " ."})
    third = len(recs) // 3
    return [write_jsonl(tmp_path / f"part{i}.jsonl", recs[i * third: (i + 1) * third if i < 2 else None]) for i in range(3)]


def test_planted_duplicates_select_equals_a_fresh_run_tightening_and_loosening(tmp_path):
    files = _planted(tmp_path)
    recipe = {"inputs": [{"paths": [str(f)], "id_field": "id", "source": f.stem} for f in files],
              "steps": [{"gopher_quality": {}}, {"exact_dedup": {}}, {"min_length": {"min_words": 100}}, {"minhash_dedup": {}}],
              "output": {"path": "x", "keep_rejected": True}}
    base = _run(recipe, tmp_path / "base.yaml", tmp_path / "out")
    assert base["rejected"]["gopher_quality/too_few_alpha_words"] >= 30
    assert base["rejected"]["exact_dedup/duplicate"] >= 10 and base["rejected"]["minhash_dedup/near_duplicate"] >= 10
    cases = [
        ("loose", "gopher_quality", "min_alpha_words_ratio", 0.6, {"exact_dedup", "minhash_dedup"}),
        ("tight", "gopher_quality", "min_doc_words", 120, {"exact_dedup", "minhash_dedup"}),
        ("short", "min_length", "min_words", 150, {"minhash_dedup"}),  # between the two: exact's decisions stand
        ("long", "min_length", "min_words", 60, {"minhash_dedup"}),
    ]
    before = _outcome(tmp_path / "out")
    dups = lambda o: {i for i, r in o["rejected"].items() if r.endswith("duplicate")}  # noqa: E731
    for tag, step, param, value, refitted in cases:
        s = _same_as_a_fresh_run(tmp_path, recipe, tmp_path / "out", tag, step, param, value)
        assert set(s["refitted"]) == refitted, tag
        # dedup itself decided differently (not only the changed step), so the re-fit is exercised
        assert dups(_outcome(tmp_path / f"sel_{tag}")) != dups(before), tag
        # MinHash took the Jaccard of the pairs the run had checked from its cache (outputs equal above)
        assert _pairs(tmp_path / f"sel_{tag}", "cached") > 0 and _pairs(tmp_path / f"run_{tag}", "cached") == 0, tag
    assert _pairs(tmp_path / "out", "pairs") > 0 and base["refit_cache"]["minhash_dedup"]["files"] >= 7  # keys and ids per shard, checked pairs


def _pairs(out: Path, key: str) -> int:
    """A figure of MinHash's candidate-pair phase summed over its partitions (pairs, dropped, cached)."""
    files = list((out / "_work").glob("fit-*-minhash_dedup/pairs/q*.json"))
    assert files, out
    return sum(json.loads(f.read_text()).get(key, 0) for f in files)


def test_a_damaged_read_order_is_refused_and_nothing_is_left_behind(tmp_path):
    files = _planted(tmp_path)
    recipe = {"inputs": [{"paths": [str(f)], "id_field": "id"} for f in files],
              "steps": [{"gopher_quality": {}}, {"exact_dedup": {}}],
              "output": {"path": "x", "keep_rejected": True}}
    _run(recipe, tmp_path / "base.yaml", tmp_path / "out")
    order = sorted((tmp_path / "out" / "_work" / "order").glob("*.parquet"))[0]
    t = pq.read_table(order)
    pq.write_table(t.slice(1), order)  # one document's place in the read order is gone
    r = _select(tmp_path / "out", tmp_path / "sel", "gopher_quality.min_doc_words=120")
    msg = " ".join(r.output.split())
    assert r.exit_code == 2 and "does not list every document" in msg and "gristmill run" in msg, msg
    assert "nothing was written" in msg and not (tmp_path / "sel").exists()


def test_quality_select_top_percent_is_refitted_with_dedup(tmp_path):
    """quality_select's top_percent threshold is a quantile over the documents reaching it: a change
    before it moves the quantile, and select re-fits it from the stored quality_score column."""
    from gristmill.annotate.quality import QualitySelect

    files = _planted(tmp_path)
    steps = QualitySelect.example_steps(tmp_path)
    recipe = {"inputs": [{"paths": [str(f)], "id_field": "id"} for f in files],
              "steps": [{"gopher_quality": {}}, *steps, {"exact_dedup": {}}],
              "output": {"path": "x", "keep_rejected": True}}
    base = _run(recipe, tmp_path / "base.yaml", tmp_path / "out")
    assert base["rejected"]["quality_select/low_quality"] > 0
    for tag, param, value in [("tight", "min_doc_words", 120), ("loose", "min_alpha_words_ratio", 0.6)]:
        s = _same_as_a_fresh_run(tmp_path, recipe, tmp_path / "out", tag, "gopher_quality", param, value)
        assert set(s["refitted"]) == {"quality_select", "exact_dedup"}
        assert s["reports"]["quality_select"] != base["reports"]["quality_select"]  # the quantile moved
