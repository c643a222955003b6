"""Terminal tables for summaries (rich)."""
from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.table import Table


def print_summary(summary: dict, out: str | None = None, console: Console | None = None) -> None:
    console = console or Console()
    inp = summary["input"] or 1
    t = Table(title=f"gristmill run{f': {out}' if out else ''}", show_lines=False)
    t.add_column("outcome")
    t.add_column("documents", justify="right")
    t.add_column("%", justify="right")
    t.add_row("input", f"{summary['input']:,}", "100.0")
    t.add_row("[green]kept", f"{summary['kept']:,}", f"{100 * summary['kept'] / inp:.1f}")
    for reason, n in sorted(summary["rejected"].items(), key=lambda kv: -kv[1]):
        t.add_row(f"[red]rejected[/] {reason}", f"{n:,}", f"{100 * n / inp:.1f}")
    # The total always shows, even when the per-kind breakdown is missing or does not add up.
    q = summary.get("quarantined", 0)
    t.add_row("[bold yellow]quarantined[/]" if q else "quarantined", f"{q:,}", f"{100 * q / inp:.1f}")
    for err, n in summary.get("quarantine_errors", {}).items():
        # step_error means a step raised: a possible bug, shown in bold red rather than as bad input
        label = f"  [bold red]{err}[/] (a step raised)" if err == "step_error" else f"  [yellow]{err}[/]"
        t.add_row(label, f"{n:,}", f"{100 * n / inp:.1f}")
    console.print(t)
    print_sources(summary, console)
    scoped = any("sources" in row for row in summary["steps"])
    s = Table(title="steps", caption="in/out: every document that reached the step; a step limited by sources: "
              "passes the others untouched and saw only its scope" if scoped else None)
    for c in ("step", "in", "out", "rejected", "errors", *(("scope", "scope in/out") if scoped else ()), "seconds", "docs/s"):
        s.add_column(c, justify="left" if c in ("step", "scope") else "right")
    for row in summary["steps"]:
        secs = row["seconds"] + row.get("fit_seconds", 0)
        # the rate of the documents the step processed, not of those it passed untouched
        seen = row.get("scope_in", row["in"])
        rate = f"{seen / secs:,.0f}" if secs > 0 else "-"
        e = row.get("step_errors", 0)
        scope = (", ".join(row["sources"]), f"{row['scope_in']:,}/{row['scope_out']:,}") if "sources" in row else ("all", "")
        s.add_row(row["step"], f"{row['in']:,}", f"{row['out']:,}", f"{row['rejected']:,}", f"[bold red]{e:,}[/]" if e else "0",
                  *(scope if scoped else ()), f"{secs:.2f}", rate)
    if summary["steps"]:
        console.print(s)
    for step, c in summary.get("counters", {}).items():
        console.print(f"[bold]{step}[/]: " + ", ".join(f"{k}={v:,}" for k, v in sorted(c.items())))
    for step, rep in summary.get("reports", {}).items():
        items = report_items(rep)
        if items:
            console.print(f"[bold]{step}[/] report: " + escape(", ".join(items)))


def _mb(n: int) -> str:
    return f"{n / 1e6:,.2f}"


def print_sources(summary: dict, console: Console, top: int = 3) -> None:
    """Per-source ledger: what came in from each input and where it went, with its top reasons."""
    sources = summary.get("sources") or {}
    if not sources:
        return
    t = Table(title="by source")
    for c in ("source", "input", "kept", "%", "rejected", "quarantined", "MB in", "MB kept", "top reasons"):
        t.add_column(c, justify="left" if c in ("source", "top reasons") else "right")
    for name, e in sources.items():
        n = e["input"] or 1
        reasons = ", ".join(f"{r} {k:,} ({100 * k / n:.1f}%)" for r, k in list(e.get("top_reasons", {}).items())[:top])
        t.add_row(name, f"{e['input']:,}", f"{e['kept']:,}", f"{100 * e['kept'] / n:.1f}", f"{e['rejected']:,}",
                  f"{e['quarantined']:,}", _mb(e["bytes_in"]), _mb(e["bytes_kept"]), reasons or "-")
    console.print(t)


def _value(v) -> str | None:
    if isinstance(v, bool) or v is None:
        return str(v).lower() if v is not None else "none"
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, float):
        return f"{v:.6g}"
    if isinstance(v, str) and len(v) <= 60:
        return v
    return None


def report_items(rep: dict, limit: int = 8) -> list[str]:
    """``key=value`` for a global step's report: scalars, and one level of mappings as ``key[sub]``
    (quality_select's per-source thresholds; ``*`` is every source). Lists (example clusters) are
    left to the HTML report."""
    out = []
    for k, v in (rep or {}).items():
        if isinstance(v, dict):
            # empty bins (a dedup run's cluster sizes with no cluster of that size) say nothing
            subs = [(sk, _value(sv)) for sk, sv in v.items() if not (isinstance(sv, int) and not isinstance(sv, bool) and sv == 0)]
            subs = [(sk, sv) for sk, sv in subs if sv is not None]
            out += [f"{k}[{'all' if sk == '*' else sk}]={sv}" for sk, sv in subs[:limit]]
            if len(subs) > limit:
                out.append(f"{k}: {len(subs) - limit} more in summary.json")
        elif (sv := _value(v)) is not None:
            out.append(f"{k}={sv}")
    return out
