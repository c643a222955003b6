"""The `gristmill` command."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Curate, deduplicate and mix LLM training data.")
from gristmill.cli.common import console, err_console, fail as _fail, write_report as _write_report  # noqa: E402,F401


def _version(value: bool) -> None:
    if value:
        from gristmill import __version__

        print(f"gristmill {__version__}")
        raise typer.Exit()


@app.callback()
def _main(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="print the version and exit")):
    """Curate, deduplicate and mix LLM training data."""


@app.command()
def run(recipe: Path = typer.Argument(..., help="recipe YAML"),
        out: Optional[Path] = typer.Option(None, "-o", "--out", help="output directory (default: the recipe's output.path)"),
        workers: Optional[int] = typer.Option(None, "--workers", "-w", min=1, help="worker processes, 1 or more (default: number of cores)"),
        fresh: bool = typer.Option(False, "--fresh", help="delete an existing output and start over"),
        progress: Optional[bool] = typer.Option(None, "--progress/--no-progress", help="progress bar (default: on a terminal)"),
        report: bool = typer.Option(True, "--report/--no-report", help="write OUT/report.html"),
        engine: str = typer.Option("local", "--engine", help="local (worker processes) or ray (tasks on a Ray cluster)"),
        address: Optional[str] = typer.Option(None, "--address", help="with --engine ray: a running cluster (HOST:PORT or auto); default: start a local one")):
    """Run a recipe: read, annotate, select, dedup, write OUT/{data,rejected,quarantine}, summary.json."""
    from gristmill.engine.health import TooMuchQuarantined
    from gristmill.engine.ids import DuplicateIds
    from gristmill.engine.local import LedgerMismatch, StepFailed, WorkerDied, run as run_recipe
    from gristmill.engine.manifest import RecipeChanged
    from gristmill.recipe import RecipeError, load_recipe
    from gristmill.report.tables import print_summary

    try:
        r = load_recipe(recipe)
        target = out or Path(r.output.path)
        summary = _run_on(engine, address, lambda w: run_recipe(r, target, workers=w, fresh=fresh, progress=progress), workers)
    except (RecipeError, RecipeChanged, WorkerDied) as e:
        _fail(str(e))
    except LedgerMismatch as e:
        _fail(str(e), code=3)
    except DuplicateIds as e:
        _fail(str(e))
    except (StepFailed, TooMuchQuarantined) as e:
        if isinstance(e, TooMuchQuarantined) and (target / "summary.json").exists():
            print_summary(json.loads((target / "summary.json").read_text()), str(target), console)
        _fail(str(e), code=4)
    except KeyboardInterrupt:
        _fail("interrupted; finished shards are saved: run the same command again to resume", code=130)
    print_summary(summary, str(target), console)
    console.print(f"output: [bold]{target}[/]  (data/, rejected/, quarantine/, summary.json, recipe.lock.yaml)")
    if report:
        _write_report(target)


def _run_on(engine: str, address: str | None, go, workers: int | None):
    """Run ``go(workers)`` on the chosen engine: the local pool, or Ray tasks for every fan-out."""
    if engine == "local":
        if address:
            _fail("--address is for --engine ray")
        return go(workers)
    if engine != "ray":
        _fail(f"--engine {engine!r}: choose local or ray")
    from gristmill.engine.pool import use_backend
    from gristmill.engine.ray_engine import RayBackend

    try:
        backend = RayBackend(address)
    except RuntimeError as e:
        _fail(str(e))
    try:
        with use_backend(backend):
            err_console.print(f"ray: {backend.nodes()} node(s), {backend.cpus()} CPUs")
            return go(workers or backend.cpus())
    finally:
        backend.shutdown()


@app.command()
def steps(name: Optional[str] = typer.Argument(None, help="show one step in full"),
          markdown: bool = typer.Option(False, "--markdown", help="print the README's table of steps")):
    """List every step with its parameters and defaults; with NAME, one step as a page."""
    from gristmill.step import GlobalStep, UnknownStep, all_steps, get_step

    items = all_steps()
    if markdown:
        for n, cls in items.items():
            doc = " ".join((cls.__doc__ or "").strip().split("\n\n")[0].split()).replace("|", "/")
            kind = "global" if issubclass(cls, GlobalStep) else "batch"
            print(f"| `{n}` | {kind} | {doc if len(doc) <= 170 else doc[:167].rsplit(' ', 1)[0] + ' …'} |")
        return
    from gristmill.report.steps_page import print_list, print_step

    if name:
        try:
            cls = get_step(name)
        except UnknownStep as e:
            _fail(str(e))
        print_step(cls, console)
        return
    print_list(items, console)


@app.command()
def show(out: Path = typer.Argument(..., help="output directory of a run"),
         rejected: bool = typer.Option(False, "--rejected", help="show rejected documents"),
         reason: Optional[str] = typer.Option(None, "--reason", help="only this reject reason: step/rule, a step name, or a prefix (implies --rejected)"),
         cluster: Optional[str] = typer.Option(None, "--cluster", help="members of this duplicate cluster, kept and rejected"),
         n: int = typer.Option(5, "-n", min=1, help="how many"),
         chars: int = typer.Option(400, "--chars", min=0, help="characters of text to print")):
    """Print sample documents of a finished run; a rejected one leads with its reason and measured values."""
    import pyarrow as pa
    import pyarrow.compute as pc
    from rich.markup import escape
    from rich.panel import Panel

    from gristmill.report.show import filter_reason, load_summary, measured, read_part, step_params, visible

    if not (out / "summary.json").exists() and not (out / "data").is_dir():
        _fail(f"{out}: not a gristmill output (no summary.json); give the directory `gristmill run` wrote")
    summary, params = load_summary(out), step_params(out)
    if cluster is not None:
        kept_t, rej_t = read_part(out, False), read_part(out, True)
        parts = [t.append_column("_kept", pa.array([k] * t.num_rows, pa.bool_())) for t, k in ((kept_t, True), (rej_t, False)) if t is not None]
        t = pa.concat_tables(parts, promote_options="permissive") if parts else None
        cols = [c for c in (t.column_names if t is not None else []) if c.endswith("cluster")]
        if not cols:
            _fail(f"{out}: no duplicate-cluster column; run a dedup step first")
        mask = None
        for c in cols:
            m = pc.equal(pc.cast(t.column(c), pa.string()), cluster)
            mask = m if mask is None else pc.or_kleene(mask, m)
        t = t.filter(pc.fill_null(mask, False))
        if t.num_rows == 0:
            _fail(f"{out}: no documents in cluster {cluster!r}")
        t = t.take(pc.sort_indices(t, [("_kept", "descending")]))  # the kept member first
    else:
        t = read_part(out, rejected or reason is not None)
        if t is None:
            console.print("no documents")
            return
        if reason:
            try:
                t = filter_reason(t, reason)
            except ValueError as e:
                _fail(str(e))
    for row in t.slice(0, n).to_pylist():
        text = visible(str(row.pop("text", "") or ""))  # a document's escape sequences are shown, not run
        kept = row.pop("_kept", "reject_reason" not in row or row.get("reject_reason") is None)
        why = row.get("reject_reason")
        lines = []
        shown = {"id", "reject_reason", "reject_step", "html"}
        if why:
            vals, thresholds = measured(row, why, summary.get("step_columns", {}), params.get(why.split("/")[0], {}))
            head = f"[bold red]rejected: {escape(visible(why))}[/]"
            if vals:
                head += "   measured: " + ", ".join(f"[bold]{escape(c)}={escape(visible(_short(v)))}[/]" if i == 0 else f"{escape(c)}={escape(visible(_short(v)))}"
                                                      for i, (c, v) in enumerate(vals))
                shown |= {c for c, _ in vals}
            if thresholds:
                head += "   thresholds: " + escape(", ".join(thresholds))
            lines.append(head)
        elif cluster is not None:
            lines.append("[bold green]KEPT[/] (the member of this cluster that stays)")
        body = escape(text[:chars] + ("…" if len(text) > chars else ""))
        meta = ", ".join(f"{k}={_short(v)}" for k, v in row.items() if v is not None and k not in shown)
        title = escape(visible(str(row.get('id')))) + ("  [green]kept[/]" if kept and not why else "")
        console.print(Panel("\n".join([*lines, body]), title=title, subtitle=escape(visible(meta[:300])), title_align="left"))
    console.print(f"{min(n, t.num_rows)} of {t.num_rows:,} shown")


def _short(v) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    s = str(v)
    return s if len(s) <= 60 else s[:57] + "..."


@app.command()
def stats(out: Path = typer.Argument(..., help="output directory of a run")):
    """Print the summary table of a finished run again."""
    from gristmill.report.tables import print_summary

    f = out / "summary.json"
    if not f.exists():
        _fail(f"{out}: no summary.json; the run did not finish (re-run it to resume) or this is not an output directory")
    print_summary(json.loads(f.read_text()), str(out), console)


@app.command("select")
def select_cmd(src: Path = typer.Argument(..., help="a finished output directory"),
               out: Path = typer.Option(..., "-o", "--out", help="new output directory"),
               set_: list[str] = typer.Option([], "--set", help="STEP.PARAM=VALUE, e.g. min_length.min_words=80 (repeatable)"),
               fresh: bool = typer.Option(False, "--fresh", help="replace OUT if it exists"),
               workers: Optional[int] = typer.Option(None, "--workers", "-w", min=1, help="worker processes for a dedup re-fit (default: number of cores)"),
               report: bool = typer.Option(True, "--report/--no-report", help="write OUT/report.html")):
    """Re-apply selection with new thresholds from the stored columns, without recomputing them; a
    dedup step whose input changes is re-fitted from the caches the run kept."""
    from gristmill.engine.local import LedgerMismatch
    from gristmill.engine.reselect import reselect
    from gristmill.recipe import RecipeError
    from gristmill.report.tables import print_summary

    try:
        summary = reselect(src, out, set_, fresh=fresh, workers=workers)
    except (RecipeError, RuntimeError) as e:
        _fail(str(e), code=3 if isinstance(e, LedgerMismatch) else 2)
    print_summary(summary, str(out), console)
    if report:
        _write_report(out)


@app.command()
def demo(out: Path = typer.Option(Path("out/demo"), "-o", "--out", help="where the demo output goes"),
         workers: Optional[int] = typer.Option(None, "--workers", "-w", min=1, help="worker processes, 1 or more")):
    """Build the embedded demo corpus and run the demo recipe on it, then score the decisions against the labels."""
    from gristmill.demo.run import run_demo
    from gristmill.engine.health import TooMuchQuarantined
    from gristmill.engine.local import StepFailed, WorkerDied
    from gristmill.engine.manifest import RecipeChanged

    try:
        run_demo(out, workers, console)
    except (RecipeChanged, WorkerDied) as e:
        _fail(str(e))
    except (StepFailed, TooMuchQuarantined) as e:
        _fail(str(e), code=4)


from gristmill.cli.mix import app as _mix_app  # noqa: E402  (the sub-apps import this module's helpers)
from gristmill.cli.stream import export_app as _export_app, tokenizer_app as _tokenizer_app  # noqa: E402

app.add_typer(_mix_app)
app.add_typer(_tokenizer_app)
app.add_typer(_export_app)
from gristmill.cli.lab import app as _lab_app  # noqa: E402  (the lab's commands live in their own module)
app.add_typer(_lab_app, name="lab")


from gristmill.cli.synth import app as _synth_app  # noqa: E402

app.add_typer(_synth_app, name="synth")

from gristmill.cli.quality import app as _quality_app  # noqa: E402

app.add_typer(_quality_app)


@app.command("report")
def report_cmd(out: Path = typer.Argument(..., help="a finished output directory"),
               labels: Optional[Path] = typer.Option(None, "--labels", help="JSONL of {id, should: keep|drop}: precision and recall per reason"),
               per_reason: int = typer.Option(40, "--sample-per-reason", min=0, help="sampled documents per reason in the browser"),
               kept: int = typer.Option(120, "--sample-kept", min=0, help="sampled kept documents in the browser")):
    """Write OUT/report.html: funnel, reasons, distributions, clusters and a sample browser (one offline file);
    for a `lab search` or `tokenizer compare` output, its search and tokenizer panels."""
    from gristmill.report.html import write_report

    if not (out / "summary.json").exists():
        from gristmill.report.lab_page import is_lab_output, write_lab_report

        if is_lab_output(out):  # a `lab search` or `tokenizer compare` output: its own panels
            console.print(f"report: [bold]{write_lab_report(out)}[/]")
            return
        _fail(f"{out}: no summary.json here; run a recipe first (`gristmill run RECIPE -o {out}`), "
              "or give a `lab search` / `tokenizer compare` output")
    truth = None
    if labels is not None:
        truth = {}
        for n, line in enumerate(open(labels, encoding="utf-8"), 1):
            try:
                r = json.loads(line)
                truth[str(r["id"])] = r["should"]
            except (ValueError, KeyError, TypeError) as e:
                _fail(f"{labels} line {n}: expected a JSON object with 'id' and 'should' (keep|drop): {e}")
    path = write_report(out, truth=truth, sample_per_reason=per_reason, sample_kept=kept)
    console.print(f"report: [bold]{path}[/]")


@app.command("card")
def card_cmd(out: Path = typer.Argument(..., help="a finished output directory"),
             force: bool = typer.Option(False, "--force", help="replace a README.md gristmill did not write (kept as README.md.orig)")):
    """Write OUT/README.md: a dataset card (Hugging Face format) filled from the run's ledger and lock."""
    from gristmill.report.card import CardError, write_card

    try:
        path = write_card(out, force=force)
    except CardError as e:
        _fail(str(e))
    console.print(f"card: [bold]{path}[/]  (loads with datasets.load_dataset({str(out)!r}))")


from gristmill.cli.decontam import app as _decontam_app  # noqa: E402

app.add_typer(_decontam_app)


def main():  # pragma: no cover
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
