"""`gristmill mix plan` and `gristmill mix report`."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from gristmill.cli.common import console, fail as _fail, write_report as _write_report

app = typer.Typer(name="mix", no_args_is_help=True, help="Plan a mixture or curriculum, and report what a stream used.")


def _print(*args, **kw) -> None:
    console.print(*args, **kw)


def _load(mix: Path, tokenizer: Optional[Path], seq_len: Optional[int]):
    from gristmill.mix.spec import MixtureError, load_mixture
    from gristmill.stream.tokenizer import TokenizerError, load_tokenizer

    if seq_len is not None and seq_len < 2:
        _fail(f"--seq-len {seq_len}: a sequence needs at least 2 tokens")
    try:
        m = load_mixture(mix, tokenizer=str(tokenizer) if tokenizer else None, seq_len=seq_len)
        if not m.spec.tokenizer:
            _fail(f"{mix}: no tokenizer; set tokenizer: in the file or pass --tokenizer")
        tok, _ = load_tokenizer(m.spec.tokenizer, m.spec.eos)
    except (MixtureError, TokenizerError) as e:
        _fail(str(e))
    return m, tok


def _fmt(x, digits=0):
    return "-" if x is None else (f"{x:,.{digits}f}" if isinstance(x, float) else f"{x:,}")


@app.command()
def plan(mix: Path = typer.Argument(..., help="mixture or curriculum YAML"),
         tokenizer: Optional[Path] = typer.Option(None, "--tokenizer", "-t", help="HF tokenizers JSON (overrides tokenizer:)"),
         seq_len: Optional[int] = typer.Option(None, "--seq-len"),
         tokens: Optional[int] = typer.Option(None, "--tokens", help="total budget of a single-phase mixture"),
         as_json: bool = typer.Option(False, "--json", help="print the plan as JSON")):
    """Per source: documents, tokens, weight, planned tokens and epochs needed; warns past a cap."""
    from gristmill.mix.plan import plan_mixture

    m, tok = _load(mix, tokenizer, seq_len)
    rows = plan_mixture(m, tok, total_tokens=tokens)
    if as_json:
        print(json.dumps([r.to_dict() for r in rows], indent=1))
        return
    t = Table(title=f"mixture plan: {mix} (seq_len {m.spec.seq_len}, tokenizer {m.spec.tokenizer})")
    for c in ("phase", "source", "documents", "tokens", "weight", "planned tokens", "epochs needed", "max_epochs"):
        t.add_column(c, justify="left" if c in ("phase", "source") else "right")
    for r in rows:
        est = "" if r.exact else " (est.)"
        t.add_row(r.phase, r.source, _fmt(r.docs) + est, _fmt(r.tokens) + est, f"{r.weight:.3f}",
                  _fmt(r.planned_tokens) if r.planned_tokens is not None else "until stopped",
                  _fmt(r.epochs_needed, 2), str(r.max_epochs))
    _print(t)
    for r in rows:
        if r.warning:
            _print(f"[yellow]warning[/]: phase {r.phase!r} source {r.source!r}: {r.warning}", highlight=False)


def _read_state(p: Path):
    if p.is_dir():
        p = p / "meta.json"
    if not p.exists():
        _fail(f"{p}: not found; give a JSON or torch file of MixtureDataset/StatefulDataLoader state_dict(), or an export directory")
    try:
        return json.loads(p.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError):
        import torch

        try:
            return torch.load(p, map_location="cpu", weights_only=True)
        except Exception as e:
            _fail(f"{p}: neither JSON nor a torch.save file ({e})")


def _into_report(out: Path, mix: Path, rows: list[dict]) -> None:
    """OUT/mixture.json (read by the report's mixture panel), then the report again."""
    from gristmill.engine.atomic import atomic_write_json

    if not (out / "summary.json").exists():
        _fail(f"--into {out}: not a finished gristmill run (no summary.json); give the output directory of `gristmill run`")
    multi = len({r["phase"] for r in rows}) > 1
    sources = [{"name": f"{r['phase']}/{r['source']}" if multi else r["source"], **r} for r in rows]
    atomic_write_json(out / "mixture.json", {"mixture": str(mix), "sources": sources})

    _write_report(out)


@app.command()
def report(mix: Path = typer.Argument(..., help="the mixture the stream ran"),
           states: list[Path] = typer.Argument(..., help="state files (JSON or torch.save of state_dict(); one per rank) or export directories"),
           tokenizer: Optional[Path] = typer.Option(None, "--tokenizer", "-t"),
           as_json: bool = typer.Option(False, "--json"),
           tokens: Optional[int] = typer.Option(None, "--tokens", min=1, help="total budget of a single-phase mixture "
                                                "(as in `mix plan`): planned tokens are its weights times this"),
           into: Optional[Path] = typer.Option(None, "--into", help="a gristmill run's output directory: write "
                                               "mixture.json there and add the mixture panel to its report.html")):
    """Planned against actual tokens per source after streaming."""
    from gristmill.mix.plan import tokens_per_source
    from gristmill.mix.spec import MixtureError, load_mixture

    try:
        m = load_mixture(mix, tokenizer=str(tokenizer) if tokenizer else None)
    except MixtureError as e:
        _fail(str(e))
    if tokens is not None and len(m.phases) != 1:
        _fail(f"--tokens applies to a single-phase mixture; {mix} has {len(m.phases)} phases, each with its own tokens:")
    actual = tokens_per_source([_read_state(p) for p in states])
    if not actual:
        _fail(f"{', '.join(map(str, states))}: no MixtureDataset state inside (look for the key gristmill_mixture_state)")
    rows = []
    for ph in m.phases:
        got = actual.get(ph.name, {})
        total = sum(got.values())
        budget = tokens if tokens is not None else ph.tokens
        for s in ph.sources:
            a = got.get(s.name, 0)
            # whole tokens: the panel and the table print counts, not 120000.0
            planned = round(s.weight * (budget if budget is not None else total))
            rows.append({"phase": ph.name, "source": s.name, "weight": s.weight, "planned_tokens": planned,
                         "actual_tokens": a, "actual_share": a / total if total else 0.0,
                         "share_diff_pct_points": 100 * ((a / total if total else 0.0) - s.weight)})
    unknown = {(p, s) for p, d in actual.items() for s in d} - {(r["phase"], r["source"]) for r in rows}
    if unknown:
        _fail(f"the state names sources this mixture lacks: {sorted(unknown)}; give the mixture the stream ran")
    if into is not None:
        _into_report(into, mix, rows)
    if as_json:
        print(json.dumps(rows, indent=1))
        return
    t = Table(title=f"mixture report: {mix}")
    for c in ("phase", "source", "weight", "planned tokens", "actual tokens", "actual share", "diff (pp)"):
        t.add_column(c, justify="left" if c in ("phase", "source") else "right")
    for r in rows:
        t.add_row(r["phase"], r["source"], f"{r['weight']:.3f}", _fmt(r["planned_tokens"]), _fmt(r["actual_tokens"]),
                  f"{r['actual_share']:.4f}", f"{r['share_diff_pct_points']:+.2f}")
    _print(t)
