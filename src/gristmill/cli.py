"""The `gristmill` command."""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Curate, deduplicate and mix LLM training data.")
console = Console(width=None if sys.stdout.isatty() else 120)  # CI logs: wide enough for reasons
err_console = Console(stderr=True)


def _fail(msg: str, code: int = 2) -> None:
    err_console.print(f"[bold red]error:[/] {msg}", highlight=False)
    raise typer.Exit(code)


@app.command()
def run(recipe: Path = typer.Argument(..., help="recipe YAML"),
        out: Optional[Path] = typer.Option(None, "-o", "--out", help="output directory (default: the recipe's output.path)"),
        workers: Optional[int] = typer.Option(None, "--workers", "-w", help="worker processes (default: number of cores)"),
        fresh: bool = typer.Option(False, "--fresh", help="delete an existing output and start over"),
        progress: Optional[bool] = typer.Option(None, "--progress/--no-progress", help="progress bar (default: on a terminal)"),
        engine: str = typer.Option("local", "--engine", help="local (worker processes) or ray (tasks on a Ray cluster)"),
        address: Optional[str] = typer.Option(None, "--address", help="with --engine ray: a running cluster (HOST:PORT or auto); default: start a local one")):
    """Run a recipe: read, annotate, select, dedup, write OUT/{data,rejected,quarantine}, summary.json."""
    from gristmill.engine.local import LedgerMismatch, WorkerDied, run as run_recipe
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
    except KeyboardInterrupt:
        _fail("interrupted; finished shards are saved: run the same command again to resume", code=130)
    print_summary(summary, str(target), console)
    console.print(f"output: [bold]{target}[/]  (data/, rejected/, quarantine/, summary.json, recipe.lock.yaml)")


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
    """List every step with its parameters and defaults."""
    from rich.table import Table

    from gristmill.step import GlobalStep, UnknownStep, all_steps, get_step

    items = all_steps()
    if markdown:
        for n, cls in items.items():
            doc = " ".join((cls.__doc__ or "").strip().split("\n\n")[0].split()).replace("|", "/")
            kind = "global" if issubclass(cls, GlobalStep) else "batch"
            print(f"| `{n}` | {kind} | {doc if len(doc) <= 170 else doc[:167].rsplit(' ', 1)[0] + ' …'} |")
        return
    if name:
        try:
            items = {name: get_step(name)}
        except UnknownStep as e:
            _fail(str(e))
    t = Table(show_lines=True)
    t.add_column("step", style="bold")
    t.add_column("kind")
    t.add_column("parameters (default)")
    t.add_column("what it does")
    for n, cls in items.items():
        params = "\n".join(f"{k} = {f.default!r}" if not f.is_required() else f"{k} (required)"
                           for k, f in cls.Config.model_fields.items())
        doc = (cls.__doc__ or "").strip()
        doc = doc if name else doc.split("\n\n")[0]
        from rich.markup import escape

        t.add_row(n, "global" if issubclass(cls, GlobalStep) else "batch", escape(params or "-"), escape(doc))
    console.print(t)


def _read_out(out: Path, rejected: bool):
    import pyarrow as pa
    import pyarrow.parquet as pq

    d = out / ("rejected" if rejected else "data")
    files = sorted(d.glob("*.parquet"))
    if not (out / "summary.json").exists() and not files:
        _fail(f"{out}: not a gristmill output (no summary.json); give the directory `gristmill run` wrote")
    tables = [pq.read_table(f) for f in files]
    if not tables:
        return None
    return pa.concat_tables(tables, promote_options="permissive")


@app.command()
def show(out: Path = typer.Argument(..., help="output directory of a run"),
         rejected: bool = typer.Option(False, "--rejected", help="show rejected documents"),
         reason: Optional[str] = typer.Option(None, "--reason", help="only this reject reason (step/rule, or a step name)"),
         cluster: Optional[str] = typer.Option(None, "--cluster", help="members of this duplicate cluster, kept and rejected"),
         n: int = typer.Option(5, "-n", help="how many"),
         chars: int = typer.Option(400, "--chars", help="characters of text to print")):
    """Print sample documents of a finished run."""
    import pyarrow as pa
    import pyarrow.compute as pc
    from rich.panel import Panel

    if cluster is not None:
        parts = [t for t in (_read_out(out, False), _read_out(out, True)) if t is not None]
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
    else:
        t = _read_out(out, rejected)
        if t is None:
            console.print("no documents")
            return
        if reason:
            col = pc.fill_null(t.column("reject_reason"), "") if "reject_reason" in t.column_names else None
            if col is None:
                _fail("--reason needs --rejected")
            m = pc.or_(pc.equal(col, reason), pc.starts_with(col, reason + "/"))
            t = t.filter(m)
    for row in t.slice(0, n).to_pylist():
        text = row.pop("text", "") or ""
        meta = ", ".join(f"{k}={v}" for k, v in row.items() if v is not None and k != "html")
        console.print(Panel(text[:chars] + ("…" if len(text) > chars else ""), title=str(row.get("id")), subtitle=meta[:300]))
    console.print(f"{min(n, t.num_rows)} of {t.num_rows:,} shown")


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
               fresh: bool = typer.Option(False, "--fresh", help="replace OUT if it exists")):
    """Re-apply selection with new thresholds from the stored columns, without recomputing them."""
    from gristmill.engine.local import LedgerMismatch
    from gristmill.engine.reselect import reselect
    from gristmill.recipe import RecipeError
    from gristmill.report.tables import print_summary

    try:
        summary = reselect(src, out, set_, fresh=fresh)
    except (RecipeError, RuntimeError) as e:
        _fail(str(e), code=3 if isinstance(e, LedgerMismatch) else 2)
    print_summary(summary, str(out), console)


@app.command()
def demo(out: Path = typer.Option(Path("out/demo"), "-o", "--out", help="where the demo output goes"),
         workers: Optional[int] = typer.Option(None, "--workers", "-w")):
    """Build the embedded demo corpus and run the demo recipe on it, then score the decisions against the labels."""
    from gristmill.demo_run import run_demo

    run_demo(out, workers, console)


def main():  # pragma: no cover
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
