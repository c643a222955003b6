"""Every registered step x text as ``string`` and ``large_string`` x every real reader, engine and CLI.

The steps come from the registry (``gristmill.step.all_steps()``), so a step added later joins this
matrix without being listed. Each cell runs the real engine on real files written by the test
(JSONL, Parquet with either string type, a text directory, a WARC of HTML pages) and checks that
no document was quarantined as a ``step_error``, that the ledger reconciles, that the step saw
every document, that its columns reach the output and that ``text`` keeps the one type
(:data:`gristmill.arrow.TEXT_TYPE`) wherever a step rewrites it.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from conftest import stdlib_docs, write_jsonl
from gristmill.arrow import TEXT_TYPE
from gristmill.engine.local import run
from gristmill.recipe import load_recipe
from gristmill.step import GlobalStep, all_steps

STEPS = all_steps()
# Steps whose input is a column only some readers give: html_extract reads ``html``, which the WARC
# reader fills and JSONL/Parquet inputs carry with ``fields: [html]``; a text directory has none.
NEEDS_HTML = {name for name, cls in STEPS.items() if "html_column" in cls.Config.model_fields}
READERS = ["jsonl", "parquet-string", "parquet-large_string", "text", "warc"]

BOILER = "Home | About | Products | Contact\nSHARE THIS ARTICLE\n3 likes\nPlease enable JavaScript to view the comments."


def _docs() -> list[dict]:
    """Real stdlib prose, plus the shapes that make each step act: boilerplate lines to remove,
    an exact and a near duplicate, a repeated paragraph, an e-mail address, mojibake, a short text."""
    # Paragraphs unwrapped to one line each, as web text is (C4 drops hard-wrapped lines that do
    # not end in punctuation, which would leave its later steps nothing).
    base = ["\n".join(" ".join(p.split()) for p in d["text"].split("\n\n")) for d in stdlib_docs(14)]
    texts = base[:10]
    texts.append(BOILER + "\n" + base[10])
    texts.append(base[0])  # exact duplicate
    texts.append(base[1].replace(" the ", " a ", 1))  # near duplicate
    texts.append(base[11] + "\n\n" + base[11].split("\n")[0])  # a repeated paragraph
    texts.append(base[12] + "\nWrite to jane.doe@example.org or call +1 415 555 0100.")
    texts.append("The caf\u00c3\u00a9 was closed.  " + base[13])
    texts.append("Too short.")
    urls = [f"https://docs.example.org/page{i}.html" for i in range(len(texts))]
    urls[-1] = "https://casino-poker.example.com/win"
    return [{"id": f"d{i:02d}", "text": t, "url": u,
             "html": f"<html><head><title>p{i}</title></head><body><main><p>"
                     + "</p><p>".join(_esc(p) for p in t.split("\n")) + "</p></main></body></html>"}
            for i, (t, u) in enumerate(zip(texts, urls))]


def _esc(s: str) -> str:
    import html
    return html.escape(s)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> dict[str, dict]:
    """One input spec per reader, over the same documents."""
    root = tmp_path_factory.mktemp("matrix_inputs")
    docs = _docs()
    specs = {}
    write_jsonl(root / "docs.jsonl", docs)
    specs["jsonl"] = {"paths": [str(root / "docs.jsonl")], "format": "jsonl", "id_field": "id", "fields": ["url", "html"]}
    for ty in ("string", "large_string"):
        t = pa.table({"id": [d["id"] for d in docs], "text": pa.array([d["text"] for d in docs], getattr(pa, ty)()),
                      "url": [d["url"] for d in docs], "html": [d["html"] for d in docs]})
        pq.write_table(t, root / f"docs_{ty}.parquet")
        specs[f"parquet-{ty}"] = {"paths": [str(root / f"docs_{ty}.parquet")], "format": "parquet", "id_field": "id",
                                  "fields": ["url", "html"]}
    tdir = root / "textdir"
    tdir.mkdir()
    for d in docs:
        (tdir / f"{d['id']}.txt").write_text(d["text"], encoding="utf-8")
    specs["text"] = {"paths": [str(tdir)], "format": "text"}
    from gristmill.io.warc import write_warc
    write_warc(root / "pages.warc.gz", [(d["url"], d["html"].encode("utf-8"), {"Content-Type": "text/html; charset=utf-8"})
                                        for d in docs])
    specs["warc"] = {"paths": [str(root / "pages.warc.gz")], "format": "warc"}
    return {"specs": specs, "n": len(docs)}


def _recipe(tmp_path: Path, spec: dict, steps: list[str]) -> Path:
    """``steps`` by name, each as its own example fragment (``Step.example_steps``: the configuration,
    model files and earlier steps it needs)."""
    data = {"input": spec, "steps": [frag for s in steps for frag in STEPS[s].example_steps(tmp_path)],
            "output": {"path": str(tmp_path / "out"), "keep_rejected": True}}
    p = tmp_path / "recipe.yaml"
    p.write_text(yaml.safe_dump(data, sort_keys=False))
    return p


def _check_output(out: Path, summary: dict, n_docs: int, step: str) -> None:
    assert summary["quarantine_errors"].get("step_error", 0) == 0, summary["quarantine_errors"]
    assert summary["quarantined"] == 0, summary["quarantine_errors"]
    assert summary["input"] == n_docs
    assert summary["input"] == summary["kept"] + sum(summary["rejected"].values()) + summary["quarantined"]
    row = next(r for r in summary["steps"] if r["step"] == step)
    assert row["in"] > 0 and row["in"] >= row["out"]
    assert summary["kept"] > 0, f"{step} kept nothing of {n_docs} real documents"
    files = sorted((out / "data").glob("*.parquet")) + sorted((out / "rejected").glob("*.parquet"))
    seen_text = 0
    for f in files:
        schema = pq.read_schema(f)
        assert schema.field("text").type == TEXT_TYPE, (f, schema.field("text").type)
        seen_text += pq.read_metadata(f).num_rows
    assert seen_text == n_docs  # every document is in data/ or rejected/
    kept = pa.concat_tables([pq.read_table(f) for f in sorted((out / "data").glob("*.parquet"))])
    assert kept.column("text").null_count == 0


@pytest.mark.parametrize("reader", READERS)
@pytest.mark.parametrize("step", sorted(STEPS))
def test_every_step_through_every_reader(step, reader, inputs, tmp_path):
    if step in NEEDS_HTML and reader == "text":
        pytest.skip(f"{step} reads the html column, which a text directory does not have")
    steps = [step]
    if reader == "warc" and step not in NEEDS_HTML:
        steps = [n for n in sorted(NEEDS_HTML)] + [step]  # WARC text is the extracted page
    summary = run(load_recipe(_recipe(tmp_path, inputs["specs"][reader], steps)), workers=1, progress=False,
                  log=lambda m: None)
    _check_output(tmp_path / "out", summary, inputs["n"], step)


@pytest.mark.parametrize("step", sorted(n for n, c in STEPS.items() if not issubclass(c, GlobalStep)))
def test_string_and_large_string_text_give_the_same_result(step, tmp_path):
    docs = _docs()
    outs = []
    for ty in (pa.string(), pa.large_string()):
        t = pa.table({"id": [d["id"] for d in docs], "text": pa.array([d["text"] for d in docs], ty),
                      "source": ["m"] * len(docs), "url": [d["url"] for d in docs], "html": [d["html"] for d in docs]})
        s = STEPS[step](STEPS[step].Config(**STEPS[step].example_steps(tmp_path)[-1][step]))
        a = s.annotate(t)
        reasons = s.select(a)
        outs.append((a, None if reasons is None else reasons.to_pylist()))
        # A step that rewrites text gives the one text type, whatever it was given.
        if a.column("text") != t.column("text").cast(a.schema.field("text").type):
            assert a.schema.field("text").type == TEXT_TYPE, (step, ty, a.schema.field("text").type)
    (a, ra), (b, rb) = outs
    assert ra == rb, step
    assert a.column_names == b.column_names
    for name in a.column_names:
        assert a.column(name).to_pylist() == b.column(name).to_pylist(), (step, name)


@pytest.mark.parametrize("reader", ["jsonl", "parquet-string", "text"])
def test_cli_runs_the_heuristic_chain_on_reader_output(reader, inputs, tmp_path):
    # The recipe of issue 8: every document that reached c4_quality was quarantined as a step_error
    # (binary_join has no large_string kernel), and the run kept nothing and exited 0.
    steps = ["gopher_repetition", "gopher_quality", "c4_quality", "fineweb_quality", "refinedweb_lines"]
    recipe = _recipe(tmp_path, inputs["specs"][reader], steps)
    p = subprocess.run([sys.executable, "-m", "gristmill.cli", "run", str(recipe), "-w", "1"],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr[-2000:]
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    for st in steps:
        row = next(r for r in summary["steps"] if r["step"] == st)
        assert row["in"] > 0, (st, summary["steps"])
    _check_output(tmp_path / "out", summary, inputs["n"], "c4_quality")
