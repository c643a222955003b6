"""`gristmill quality ...`: train quality classifiers and annotate samples with an LLM."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import numpy as np
import typer

app = typer.Typer(name="quality", no_args_is_help=True,
                  help="Model-based quality: train classifiers (fast, embedding), annotate with an LLM.")


def _fail(msg: str, code: int = 2):
    from gristmill.cli.common import fail

    fail(msg, code)


@app.command("train")
def train_cmd(pos: list[str] = typer.Option([], "--pos", help="positive examples: JSONL/Parquet files, globs or gristmill output dirs (repeatable)"),
              neg: list[str] = typer.Option([], "--neg", help="negative examples, as --pos"),
              family: str = typer.Option("fast", "--family", help="fast (hashed bigrams + linear, DCLM) or embedding (MiniLM + linear head, FineWeb-Edu)"),
              out: Path = typer.Option(..., "-o", "--out", help="model file to write"),
              text_field: str = typer.Option("text", "--text-field", help="the field holding the text"),
              pos_where: Optional[str] = typer.Option(None, "--pos-where", help="filter positives by stored columns, e.g. \"quality_score >= 0.9\""),
              neg_where: Optional[str] = typer.Option(None, "--neg-where", help="filter negatives, as --pos-where"),
              from_annotations: Optional[Path] = typer.Option(None, "--from-annotations", help="train a 0-5 regressor on `quality annotate` output instead"),
              max_examples: int = typer.Option(200_000, "--max-examples", help="cap per class (a uniform prefix of each list)"),
              seed: int = typer.Option(0, "--seed")):
    """Train a quality model; its file carries family, data hash, held-out metrics and suggested thresholds."""
    from collections import Counter

    from gristmill.cli.common import console
    from gristmill.quality.examples import ExamplesError, load_annotations, load_texts
    from gristmill.quality.model import train

    counted: dict[str, Counter] = {}

    if family not in ("fast", "embedding"):
        _fail(f"--family {family!r}: choose fast or embedding")
    try:
        if from_annotations is not None:
            if pos or neg:
                _fail("--from-annotations trains on the annotation scores; leave out --pos/--neg")
            counted["annotations"] = Counter()
            texts, scores = load_annotations(from_annotations, text_field=text_field, counts=counted["annotations"])
            y = np.asarray(scores)
            task, sources = "regression", {"annotations": str(from_annotations)}
        else:
            if not pos or not neg:
                _fail("give both --pos and --neg (files, globs or gristmill output directories)")
            counted["positives"], counted["negatives"] = Counter(), Counter()
            p = load_texts(pos, text_field, pos_where, limit=max_examples, counts=counted["positives"])
            n = load_texts(neg, text_field, neg_where, limit=max_examples, counts=counted["negatives"])
            if not p or not n:
                _fail(f"no {'positive' if not p else 'negative'} examples found (check the paths and --{'pos' if not p else 'neg'}-where)")
            texts, y = p + n, np.concatenate([np.ones(len(p)), np.zeros(len(n))])
            task, sources = "classification", {"pos": pos, "neg": neg, "pos_where": pos_where, "neg_where": neg_where}
        for what, c in counted.items():
            console.print(example_counts(what, c, text_field), highlight=False)
        model = train(texts, y, family, task=task, seed=seed, sources=sources)
    except (ExamplesError, ValueError) as e:
        _fail(str(e))
    model.save(out)
    m = model.meta
    console.print(f"{family} {task} model on {m['examples']:,} examples: held-out " +
                  ", ".join(f"{k}={v}" for k, v in m["metrics"].items() if v is not None))
    console.print("suggested thresholds: " + json.dumps(m["suggested_thresholds"]))
    console.print(f"model: [bold]{out}[/]")


# why a record was not used, in words (the keys load_texts and load_annotations count)
_WHY = {"where": "filtered out by --{side}-where", "no_text": "no {field} string", "blank_text": "blank {field}",
        "over_max_examples": "past --max-examples", "no_score": "no score (a failed call)"}


def example_counts(what: str, c, text_field: str = "text") -> str:
    """``positives: 6,046 records read, 6,043 used; 3 not used: blank text 3``: every record accounted for."""
    side = "pos" if what == "positives" else "neg"
    why = {k: v for k, v in c.items() if k not in ("read", "used") and v}
    line = f"{what}: {c['read']:,} records read, {c['used']:,} used"
    if why:
        line += f"; {sum(why.values()):,} not used: " + ", ".join(
            f"{_WHY.get(k, k).format(side=side, field=text_field)} {v:,}" for k, v in sorted(why.items(), key=lambda kv: -kv[1]))
    return line


@app.command("info")
def info_cmd(model: Path = typer.Argument(..., help="a model file")):
    """Print a model file's metadata (family, data hash, metrics, thresholds)."""
    from gristmill.cli.common import console
    from gristmill.quality.model import ModelFileError, QualityModel

    try:
        m = QualityModel.load(model)
    except ModelFileError as e:
        _fail(str(e))
    console.print_json(json.dumps(m.meta))


@app.command("annotate")
def annotate_cmd(inputs: list[str] = typer.Argument(..., help="documents: JSONL/Parquet files, globs or gristmill output dirs"),
                 endpoint: str = typer.Option(..., "--endpoint", help="OpenAI-compatible base URL, e.g. http://127.0.0.1:8000/v1"),
                 model: str = typer.Option(..., "--model", help="model name the endpoint serves"),
                 out: Path = typer.Option(..., "-o", "--out", help="annotation directory (annotations.jsonl, summary.json, cache.sqlite)"),
                 sample: int = typer.Option(1000, "--sample", min=1, help="documents to label (a seeded uniform sample)"),
                 rubric: Optional[Path] = typer.Option(None, "--rubric", help="prompt file with {text}; default: FineWeb-Edu-style additive 0-5"),
                 text_field: str = typer.Option("text", "--text-field"),
                 concurrency: int = typer.Option(8, "--concurrency", min=1),
                 timeout: float = typer.Option(60.0, "--timeout", help="seconds per request"),
                 retries: int = typer.Option(3, "--retries", min=0),
                 api_key_env: str = typer.Option("OPENAI_API_KEY", "--api-key-env", help="environment variable holding the API key, if any"),
                 seed: int = typer.Option(0, "--seed")):
    """Label a sample of documents 0-5 with an LLM; failures are rows with their reason, never dropped."""
    import os

    from rich.progress import Progress

    from gristmill.cli.common import console
    from gristmill.quality.annotate import DEFAULT_RUBRIC, annotate, sample_documents
    from gristmill.quality.examples import ExamplesError

    try:
        docs = sample_documents(inputs, sample, seed, text_field)
        text = rubric.read_text() if rubric else DEFAULT_RUBRIC
        if not docs:
            _fail("no documents found in the inputs")
        with Progress(console=console, transient=True) as bar:
            task = bar.add_task("annotating", total=len(docs))
            summary = annotate(docs, out, base_url=endpoint, model=model, rubric=text, concurrency=concurrency,
                               timeout_s=timeout, max_retries=retries, api_key=os.environ.get(api_key_env),
                               progress=lambda: bar.advance(task))
    except (ExamplesError, ValueError, OSError) as e:
        _fail(str(e))
    console.print(f"{summary['documents']:,} documents: {summary['scored']:,} scored" +
                  "".join(f", {n:,} {k}" for k, n in summary["failed"].items()) +
                  f" ({summary['requests_sent']:,} requests, {summary['cached']:,} from cache)")
    console.print("scores: " + ", ".join(f"{k}: {v}" for k, v in summary["score_distribution"].items()))
    console.print(f"annotations: [bold]{out}/annotations.jsonl[/]")
    if summary["scored"] == 0:
        _fail("no document was scored; see the reasons above and in annotations.jsonl", code=1)
