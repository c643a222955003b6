"""`gristmill card OUT`: a dataset card whose figures match the run's ledger and which `datasets` loads."""
import json
import re

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
import yaml
from typer.testing import CliRunner

from conftest import stdlib_docs, write_jsonl
from gristmill.cli import app
from gristmill.report.card import size_category

runner = CliRunner()
BENCH_Q = ("Return a new list containing all items from the iterable in ascending order; a custom key "
           "function can be supplied to customize the sort order, and the reverse flag can be set.")


def _front(text: str) -> dict:
    m = re.match(r"---\n(.*?)\n---\n", text, re.S)
    assert m, "no YAML front matter"
    return yaml.safe_load(m.group(1))


def _section(text: str, title: str) -> str:
    m = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", text, re.S | re.M)
    assert m, f"no section {title!r}"
    return m.group(1)


@pytest.fixture(scope="module")
def run_out(tmp_path_factory):
    """A real multi-source run through the CLI: two JSONL sources, PII, a short-doc filter,
    planted duplicates and a planted benchmark leak."""
    tmp = tmp_path_factory.mktemp("card")
    docs = stdlib_docs(160)
    web = [dict(d, url=f"https://example.org/{i}") for i, d in enumerate(docs[:90])]
    web += [dict(web[i], id=f"copy{i}") for i in range(7)]  # exact duplicates
    web.append({"id": "short", "text": "too short", "url": "https://example.org/s"})
    books = [dict(d, id=f"b{i}", text=d["text"] + f"\n\nWrite to author{i}@example.com or call.") for i, d in enumerate(docs[90:])]
    books[3]["text"] += "\n\n" + BENCH_Q
    books[5]["text"] += "\n\n" + BENCH_Q
    write_jsonl(tmp / "web.jsonl", web)
    write_jsonl(tmp / "books.jsonl", books)
    (tmp / "q.jsonl").write_text(json.dumps({"question": BENCH_Q}) + "\n")
    r = runner.invoke(app, ["decontam", "index", str(tmp / "q.jsonl"), "--fields", "question", "--n", "8", "-o", str(tmp / "idx")])
    assert r.exit_code == 0, r.output
    (tmp / "r.yaml").write_text(f"""
inputs:
  - {{paths: ["{tmp}/web.jsonl"], source: web, fields: [url]}}
  - {{paths: ["{tmp}/books.jsonl"], source: books}}
steps:
  - normalize: {{}}
  - language_id: {{languages: [en]}}
  - pii: {{}}
  - min_length: {{min_words: 20}}
  - decontaminate: {{index: "{tmp}/idx"}}
  - exact_dedup: {{}}
  - minhash_dedup: {{}}
  - substring_dedup: {{length: 20, min_remaining_words: 0}}
output: {{path: "{tmp}/out"}}
""")
    r = runner.invoke(app, ["run", str(tmp / "r.yaml"), "-w", "2", "--no-report", "--no-progress"])
    assert r.exit_code == 0, r.output
    out = tmp / "out"
    r = runner.invoke(app, ["card", str(out)])
    assert r.exit_code == 0, r.output
    return out


def test_card_figures_match_the_ledger(run_out):
    summary = json.loads((run_out / "summary.json").read_text())
    text = (run_out / "README.md").read_text()
    meta = _front(text)
    assert meta["size_categories"] == [size_category(summary["kept"])]
    assert "en" in meta["language"]
    assert meta["license"] == "unknown"  # the placeholder the user fills
    assert meta["configs"][0]["data_files"] == [{"split": "train", "path": "data/*.parquet"}]
    # every step, its counts and every reject reason, as in summary.json
    proc = _section(text, "Processing")
    lock = yaml.safe_load((run_out / "recipe.lock.yaml").read_text())
    for i, s in enumerate(summary["steps"], 1):
        block = re.search(rf"### {i}\. `{s['step']}`.*?(?=### |\Z)", proc, re.S).group(0)
        assert f"Documents in {s['in']:,}, out {s['out']:,}, rejected {s['rejected']:,}" in block
        for k in lock["steps"][i - 1][s["step"]]:
            assert f"{k}=" in block  # every parameter, thresholds included
    assert "**min_words=20**" in proc and "**min_score=0.5**" in proc
    for reason, n in summary["rejected"].items():
        assert f"| `{reason}` | {n:,} |" in proc
    assert summary["rejected"]["min_length/too_short"] >= 1
    # sources: kept and rejected per source from the files, summing to the ledger
    kept = pq.read_table(run_out / "data", columns=["source"]).column("source").to_pylist()
    src = _section(text, "Sources")
    for name in ("web", "books"):
        rej = sum(pq.read_table(p, columns=["source"]).column("source").to_pylist().count(name)
                  for p in (run_out / "rejected").glob("*.parquet"))
        assert re.search(rf"^\| {name} \| jsonl \| .*? \| {kept.count(name):,} \| {rej:,} \|", src, re.M), src
    assert kept.count("web") + kept.count("books") == summary["kept"]
    # dedup, PII, decontamination figures
    dd = _section(text, "Deduplication")
    ex = summary["reports"]["exact_dedup"]
    assert ex["removed"] == 7
    assert f"`exact_dedup`: documents removed {summary['rejected']['exact_dedup/duplicate']:,}" in dd
    assert f"clusters {ex['clusters']:,}" in dd
    sub = summary["reports"]["substring_dedup"]
    assert sub["spans_removed"] > 0  # stdlib docstrings share passages of 20+ tokens
    assert f"`substring_dedup`: documents removed 0, documents {sub['documents']:,}" in dd
    assert f"spans removed {sub['spans_removed']:,}," in dd and f"tokens removed {sub['tokens_removed']:,}," in dd
    pii = _section(text, "Personal and sensitive information")
    c = summary["counters"]["pii"]
    assert c["email"] >= 60 and f"in {c['docs_changed']:,} documents: email {c['email']:,}" in pii
    dc = _section(text, "Decontamination")
    cd = summary["counters"]["decontaminate"]
    assert cd["contaminated_docs"] == 2
    assert f"{cd['contaminated_docs']:,} documents matched" in dc and f"q {cd['benchmark:q']:,}" in dc
    assert f"{summary['rejected']['decontaminate/contaminated']:,} removed" in dc
    assert "Known limitations" in text and "MinHash LSH" in _section(text, "Known limitations")
    # the reproducing recipe is the lock, and it loads as a recipe
    repro = _section(text, "How to reproduce")
    recipe = yaml.safe_load(re.search(r"```yaml\n(.*?)```", repro, re.S).group(1))
    assert recipe["steps"] == lock["steps"] and recipe["inputs"] == lock["inputs"]
    from gristmill.recipe import recipe_from_dict
    recipe_from_dict(recipe, "card")


def test_card_loads_with_datasets_offline(run_out, tmp_path, monkeypatch):
    datasets = pytest.importorskip("datasets")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    summary = json.loads((run_out / "summary.json").read_text())
    ds = datasets.load_dataset(str(run_out), cache_dir=str(tmp_path / "hf"))
    assert list(ds) == ["train"] and ds["train"].num_rows == summary["kept"]
    ids = set(pq.read_table(run_out / "data", columns=["id"]).column("id").to_pylist())
    assert set(ds["train"]["id"]) == ids
    rej = datasets.load_dataset(str(run_out), "rejected", cache_dir=str(tmp_path / "hf"))
    assert rej["train"].num_rows == sum(summary["rejected"].values())
    assert "reject_reason" in rej["train"].column_names


def test_card_never_overwrites_a_foreign_readme(run_out, tmp_path):
    out = tmp_path / "out"  # same name: the card is the same
    import shutil
    shutil.copytree(run_out, out)
    ours = (out / "README.md").read_text()
    # an unedited card of ours is regenerated freely
    assert runner.invoke(app, ["card", str(out)]).exit_code == 0
    assert (out / "README.md").read_text() == ours
    # a README someone wrote is refused, untouched
    (out / "README.md").write_text("# my own notes\n")
    r = runner.invoke(app, ["card", str(out)])
    assert r.exit_code == 2 and "not written by gristmill" in r.output
    assert (out / "README.md").read_text() == "# my own notes\n"
    # --force keeps it beside the new card
    assert runner.invoke(app, ["card", str(out), "--force"]).exit_code == 0
    assert (out / "README.md.orig").read_text() == "# my own notes\n"
    assert (out / "README.md").read_text() == ours
    # a card the user edited (licence filled in) is refused; --force regenerates it keeping the licence
    (out / "README.md").write_text(ours.replace("license: unknown", "license: cc-by-4.0"))
    r = runner.invoke(app, ["card", str(out)])
    assert r.exit_code == 2 and "edited" in r.output
    assert runner.invoke(app, ["card", str(out), "--force"]).exit_code == 0
    new = (out / "README.md").read_text()
    assert _front(new)["license"] == "cc-by-4.0" and "`cc-by-4.0`, as filled in" in new
    assert (out / "README.md.orig.1").exists()


def test_card_refuses_what_is_not_an_output(tmp_path):
    r = runner.invoke(app, ["card", str(tmp_path)])
    assert r.exit_code == 2 and "not a finished gristmill output" in r.output
    assert not (tmp_path / "README.md").exists()


def test_fresh_removes_a_stale_unedited_card_and_keeps_a_users_readme(run_out, tmp_path, monkeypatch):
    import shutil

    from gristmill.engine.manifest import RunDir

    monkeypatch.chdir(tmp_path)
    out = tmp_path / "out"
    shutil.copytree(run_out, out)
    assert (out / "README.md").exists()
    RunDir(out).remove_own_files()
    assert not (out / "README.md").exists()  # its figures described the old run
    shutil.rmtree(out)
    shutil.copytree(run_out, out)
    (out / "README.md").write_text("# my notes about this folder\n")
    RunDir(out).remove_own_files()
    assert (out / "README.md").read_text() == "# my notes about this folder\n"
