"""`gristmill decontam ...`: build a benchmark n-gram index, write labelled probes, measure precision."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from gristmill.cli.common import console, fail as _fail

app = typer.Typer(name="decontam", no_args_is_help=True,
                  help="Benchmark decontamination: build an n-gram index for the `decontaminate` step, and measure its "
                       "precision and recall per benchmark on labelled probes.")


def _files(patterns: list, what: str) -> list[Path]:
    from gristmill.io.paths import JSONL, PARQUET, PathsError, expand

    # expanded as recipe inputs are (gristmill.io.paths), so a quoted glob or a directory works too
    try:
        return [f for f, _ in expand([str(f) for f in patterns], JSONL + PARQUET)]
    except PathsError as e:
        _fail(f"{what}: {e}")


def _fields(fields: str) -> list[str]:
    return [f.strip() for f in fields.split(",") if f.strip()]


def _print_eval(ev: dict) -> None:
    console.print(f"probes: {ev['probes']:,} ({ev['clean_probes']:,} innocent boilerplate); counters: "
                  + ", ".join(f"{k} {v:,}" for k, v in ev["counters"].items()))
    console.print("| benchmark | flagged | precision | recall (verbatim+edited) | verbatim | edited | paraphrase | false positives from |")
    console.print("|---|---|---|---|---|---|---|---|")
    fmt = (lambda x: "-" if x is None else f"{x:.3f}")
    for name, r in ev["benchmarks"].items():
        k = r["recall_by_kind"]
        fps = ", ".join(f"{s} ({c})" for s, c in sorted(r["false_positive_sources"].items(), key=lambda kv: -kv[1])[:4]) or "-"
        console.print(f"| {name} | {r['flagged']} | {fmt(r['precision'])} | {fmt(r['recall'])} | {fmt(k['verbatim'])} | "
                      f"{fmt(k['edited'])} | {fmt(k['paraphrase'])} | {fps} |", markup=False)


@app.command("index")
def index_cmd(files: list[Path] = typer.Argument(..., help="benchmark files (JSON Lines, .jsonl.gz or Parquet); one benchmark per file"),
              fields: str = typer.Option(..., "--fields", help="comma-separated fields to index, e.g. question,answer"),
              n: int = typer.Option(13, "--n", help="words per n-gram: 13 as GPT-3, 8 as Llama 3"),
              out: Path = typer.Option(..., "-o", "--out", help="index directory"),
              reference: list[str] = typer.Option([], "--reference", help="documents (e.g. the corpus to decontaminate, or a "
                                                  "sample): n-grams frequent in them are left out of the index (repeatable)"),
              reference_field: str = typer.Option("text", "--reference-field", help="the reference documents' text field"),
              ignore_above: int = typer.Option(10, "--ignore-above", help="leave out n-grams found in more than this many "
                                               "reference documents (GPT-3: 10)"),
              probes: Optional[Path] = typer.Option(None, "--probes", help="probe file from `gristmill decontam probes`: "
                                                    "measure precision and recall per benchmark now, stored in meta.json")):
    """Hash every word n-gram of the benchmarks' fields into a compact sorted index."""
    from gristmill.annotate.contamination import IndexError_, build_index
    from gristmill.annotate.contamination_probes import evaluate, read_probes
    from gristmill.engine.atomic import atomic_write_text

    files = _files(files, "benchmark files")
    refs = _files(reference, "--reference") if reference else None
    try:
        pr = read_probes(probes) if probes else None  # a bad probe file fails before the index is built
        meta = build_index(files, out, _fields(fields), n=n, reference=refs, ignore_above=ignore_above,
                           reference_field=reference_field)
    except IndexError_ as e:
        _fail(str(e))
    for b in meta["benchmarks"]:
        extra = f", {b['ignored_frequent']:,} left out as frequent in the reference" if "ignored_frequent" in b else ""
        console.print(f"{b['benchmark']}: {b['records']:,} records, {b['ngrams']:,} {n}-grams{extra}")
    if "reference" in meta:
        r = meta["reference"]
        console.print(f"reference: {r['documents']:,} documents; {r['ignored_ngrams']:,} n-grams in more than "
                      f"{r['ignore_above']} of them left out")
    if pr is not None:
        ev = evaluate(out, pr)
        meta["probe_eval"] = ev
        atomic_write_text(Path(out) / "meta.json", json.dumps(meta, indent=2))
        _print_eval(ev)
    console.print(f"index: [bold]{out}[/] ({meta['ngrams']:,} distinct {n}-grams)")


@app.command("probes")
def probes_cmd(files: list[Path] = typer.Argument(..., help="benchmark files, as for `decontam index`"),
               fields: str = typer.Option(..., "--fields", help="the fields the index is built from"),
               hosts: list[str] = typer.Option(..., "--hosts", help="real documents to plant into (JSONL/Parquet, repeatable)"),
               out: Path = typer.Option(..., "-o", "--out", help="probe file to write (JSON Lines)"),
               n: int = typer.Option(13, "--n", help="the index's n: items under 2n words are skipped"),
               host_field: str = typer.Option("text", "--host-field", help="the hosts' text field"),
               per_benchmark: int = typer.Option(20, "--per-benchmark", help="items per benchmark, each planted three ways"),
               seed: int = typer.Option(0, "--seed")):
    """Write labelled probes: benchmark items planted verbatim, edited and paraphrased into real
    documents (leaks), and innocent boilerplate (licences, disclaimers, quotations, code idioms)."""
    from gristmill.annotate.contamination import IndexError_
    from gristmill.annotate.contamination_probes import benchmark_items, build_probes, host_texts, write_probes

    try:
        items = benchmark_items(_files(files, "benchmark files"), _fields(fields))
        probes = build_probes(items, host_texts(_files(hosts, "--hosts"), host_field), n, per_benchmark, seed=seed)
    except (IndexError_, ValueError) as e:
        _fail(str(e))
    write_probes(probes, out)
    leaks = sum(p["probe_label"] == "leak" for p in probes)
    console.print(f"probes: [bold]{out}[/] ({leaks:,} leaks of {len(items)} benchmarks, {len(probes) - leaks:,} innocent)")


@app.command("eval")
def eval_cmd(index: Path = typer.Argument(..., help="index directory from `gristmill decontam index`"),
             probes: Path = typer.Argument(..., help="probe file from `gristmill decontam probes`"),
             min_matches: int = typer.Option(1, "--min-matches", help="as the decontaminate step's min_matches"),
             as_json: bool = typer.Option(False, "--json", help="print JSON")):
    """Precision and recall per benchmark of INDEX on labelled PROBES, beside the step's counters."""
    from gristmill.annotate.contamination import IndexError_
    from gristmill.annotate.contamination_probes import evaluate, read_probes

    try:
        ev = evaluate(index, read_probes(probes), min_matches)
    except IndexError_ as e:
        _fail(str(e))
    if as_json:
        typer.echo(json.dumps(ev, indent=2))
    else:
        _print_eval(ev)
